/**
 * The network errors of a try that reached nothing, no request sent, which the cut-off counts:
 * ECONNREFUSED (nothing listening at the address), EHOSTUNREACH and ENETUNREACH (no route to the
 * host or its network: an API whose machine or network is gone is as gone as one whose process
 * is; the try had been retried to its deadline, orders / concurrency x 120 s). Not a DNS failure
 * (ENOTFOUND, EAI_AGAIN: a name, not the API), a timeout or a reset (a connection may have been
 * made, the request sent).
 */
export const UNREACHABLE_ERRORS: readonly string[] = [
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
];

/** Whether a try's network error (PostResult.networkError) counts toward the cut-off. */
export function reachedNothing(networkError: string | undefined): boolean {
  return networkError !== undefined && UNREACHABLE_ERRORS.includes(networkError);
}

/**
 * Whether the API is gone: every POST of the load, across all its workers, reached nothing
 * (reachedNothing: a connection refused, or no route to the host or network) for a whole window,
 * and no other outcome in between. Any
 * other outcome, an HTTP answer of any status (a 500, a 409 with Retry-After) or a network error
 * after a connection (a lost answer, a reset, a timeout), ends the run of refusals: the API, or
 * something in front of it, is there, and the orders go on being retried to their deadline.
 * A try that started before the first refusal of the run and has not ended yet holds the verdict
 * too (it may be connected, its answer on its way). Time is given, not read: no I/O here.
 */
export class RefusalWatch {
  /** When the first refusal of the current run of refusals came; undefined when none. */
  private since: number | undefined;
  private refusals = 0;
  /** The start of each try not ended yet, by its id. */
  private readonly pending = new Map<number, number>();
  private nextId = 0;
  /** Set once the window has passed with refusals only: from then on, nothing is sent. */
  gone: { since: number; at: number; refusals: number } | undefined;

  constructor(private readonly windowMs: number) {}

  /** A try starts now: its id, for `end`. */
  start(now: number): number {
    const id = this.nextId++;
    this.pending.set(id, now);
    return id;
  }

  /** The try `id` ended now, refused (reachedNothing) or not; whether the API is gone. */
  end(id: number, refused: boolean, now: number): boolean {
    this.pending.delete(id);
    if (this.gone) return true;
    if (!refused) {
      this.since = undefined;
      this.refusals = 0;
      return false;
    }
    if (this.since === undefined) this.since = now;
    this.refusals++;
    for (const startedAt of this.pending.values()) if (startedAt < this.since) return false;
    if (now - this.since < this.windowMs) return false;
    this.gone = { since: this.since, at: now, refusals: this.refusals };
    return true;
  }
}
