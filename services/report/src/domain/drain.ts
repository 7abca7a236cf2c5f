/**
 * Waiting for a run to finish: SQS has no "done" signal, so a run counts as drained when both
 * queues report no visible, in-flight or delayed messages and the ledger has stopped growing
 * for a few polls (a consumer may still be committing the last batch after its delete).
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
  const start = now();
  let last: DrainSnapshot | undefined;
  let quiet = 0;
  for (;;) {
    const snap = await options.poll();
    const empty = Object.values(snap.queued).every((n) => n === 0);
    quiet = empty && last !== undefined && last.ledgerItems === snap.ledgerItems ? quiet + 1 : 0;
    last = snap;
    options.onProgress?.(snap, now() - start);
    if (quiet >= needed) return snap;
    if (now() - start >= options.timeoutMs) {
      const q = Object.entries(snap.queued)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      throw new DrainTimeoutError(
        `queues did not drain within ${Math.round(options.timeoutMs / 1000)} s (${q}, ledger items ${snap.ledgerItems}); rerun later or pass --no-wait`,
        snap,
      );
    }
    await sleep(interval);
  }
}
