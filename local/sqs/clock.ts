/**
 * The emulator's clock. Real time by default; tests move it forward with `advance(ms)` so a
 * 60-second visibility timeout or a 5-minute deduplication window passes in microseconds.
 * Long polls waiting on the clock are woken by `advance` as well as by new messages.
 *
 * The offset also lives in shared memory (`shared`), so the local cloud's function workers can
 * read the same time as SQS: Powertools decides expiry with `Date.now()` inside the function, and
 * a 2-hour-later retry must be 2 hours later for the queue and for the idempotency record alike.
 */
export class Clock {
  private offsetMs = 0;
  private functionsOffsetMs = 0;
  private readonly listeners = new Set<() => void>();
  /**
   * The functions' offset: whole milliseconds ahead of real time, as a BigInt64 (read with
   * Atomics in other threads).
   */
  readonly shared = new SharedArrayBuffer(8);
  private readonly sharedOffset = new BigInt64Array(this.shared);

  now(): number {
    return Date.now() + this.offsetMs;
  }

  /**
   * Moves time forward by `ms`, for the queues and (unless `functions` is false) for the
   * functions. Moving only the queues' time is how a scenario shows a visibility timeout running
   * out while a function is still inside its own timeout (as with a visibility timeout shorter
   * than the function's); from then on the queues stay that far ahead.
   */
  advance(ms: number, { functions = true }: { functions?: boolean } = {}): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('advance(ms) needs a finite ms >= 0');
    this.offsetMs += ms;
    if (functions) {
      this.functionsOffsetMs += ms;
      Atomics.store(this.sharedOffset, 0, BigInt(Math.round(this.functionsOffsetMs)));
    }
    for (const listener of [...this.listeners]) listener();
  }

  /** How far the clock is ahead of real time. */
  get offset(): number {
    return this.offsetMs;
  }

  onAdvance(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
