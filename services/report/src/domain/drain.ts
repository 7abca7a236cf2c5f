/**
 * Waiting for a run to finish: SQS has no "done" signal, so a run counts as drained when both
 * queues report no visible, in-flight or delayed messages and the ledger has stopped growing
 * for a few polls (a consumer may still be committing the last batch after its delete).
 *
 * What it relies on, exactly: `stablePolls` polls in a row (2, `intervalMs` apart: 1 s for the
 * report on the local cloud; spanning `quietMs`, 60 s, on AWS) each of which reads every queue's depth as 0 and the ledger's count the same as the
 * poll before. The depth is the sum of ApproximateNumberOfMessages, ...NotVisible and ...Delayed,
 * each as SQS answered it (adapters/queues.ts queueDepth refuses an answer missing one or not a
 * whole number, rather than reading it as 0); a poll that is not quiet starts the count again,
 * and the first poll is never quiet (nothing to compare the ledger with). AWS calls the three
 * counts approximate, and its own test of an empty queue is all three at 0 "for several
 * minutes" with the producers stopped (SQS Developer Guide, "Confirming that a queue is
 * empty"): this wait trusts instead that a queue still holding messages does not read 0 twice
 * in a row while the ledger stands still. When it ends too early, the orders still queued are
 * counted `lost` (neither processed nor in a DLQ) in that report, and the report can be run again
 * later. `quietMs` asks more: the quiet polls must also span that long, from the first quiet
 * poll of the run to the last (the report asks 60 s on AWS, see generate.ts DRAIN_WAIT).
 */

export interface DrainSnapshot {
  /** Messages per queue: visible + not visible + delayed. */
  queued: Record<string, number>;
  /** Ledger items of the run so far. */
  ledgerItems: number;
}

export interface DrainOptions {
  poll: () => Promise<DrainSnapshot>;
  timeoutMs: number;
  intervalMs?: number;
  /** Consecutive quiet polls needed (empty queues and an unchanged ledger). */
  stablePolls?: number;
  /** The time those quiet polls must span, from the first to the last (default 0). */
  quietMs?: number;
  onProgress?: (snapshot: DrainSnapshot, elapsedMs: number) => void;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export class DrainTimeoutError extends Error {
  readonly expose = true;
  constructor(
    message: string,
    readonly last: DrainSnapshot | undefined,
  ) {
    super(message);
    this.name = 'DrainTimeoutError';
  }
}

export async function waitForDrain(options: DrainOptions): Promise<DrainSnapshot> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = options.now ?? Date.now;
  const interval = options.intervalMs ?? 1000;
  const needed = options.stablePolls ?? 2;
  const quietMs = options.quietMs ?? 0;
  const start = now();
  let last: DrainSnapshot | undefined;
  let quiet = 0;
  /** When the first quiet poll of the current run of them was made. */
  let quietSince = 0;
  for (;;) {
    const snap = await options.poll();
    const polledAt = now();
    const empty = Object.values(snap.queued).every((n) => n === 0);
    quiet = empty && last !== undefined && last.ledgerItems === snap.ledgerItems ? quiet + 1 : 0;
    if (quiet === 1) quietSince = polledAt;
    last = snap;
    options.onProgress?.(snap, polledAt - start);
    if (quiet >= needed && polledAt - quietSince >= quietMs) return snap;
    if (now() - start >= options.timeoutMs) {
      const q = Object.entries(snap.queued)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      const quietFor =
        quiet > 0 && quietMs > 0
          ? `; quiet for ${Math.round((polledAt - quietSince) / 1000)} s of the ${Math.round(quietMs / 1000)} s it needs`
          : '';
      throw new DrainTimeoutError(
        `queues did not drain within ${Math.round(options.timeoutMs / 1000)} s (${q}, ledger items ${snap.ledgerItems}${quietFor}); rerun later or pass --no-wait`,
        snap,
      );
    }
    await sleep(interval);
  }
}
