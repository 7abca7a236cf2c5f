/**
 * The emulator's clock. Real time by default; tests move it forward with `advance(ms)` so a
 * 60-second visibility timeout or a 5-minute deduplication window passes in microseconds.
 * Long polls waiting on the clock are woken by `advance` as well as by new messages.
 */
export class Clock {
  private offsetMs = 0;
  private readonly listeners = new Set<() => void>();

  now(): number {
    return Date.now() + this.offsetMs;
  }

  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('advance(ms) needs a finite ms >= 0');
    this.offsetMs += ms;
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
