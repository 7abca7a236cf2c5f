/**
 * Something that happens at most once in a process and that a listener may ask about after it
 * happened: the reader of stdout or stderr gone (output.ts), the launcher gone (signals.ts).
 * Listeners added before it fires are called when it fires, in the order they were added; one
 * added after is called on the next turn of the event loop (setImmediate), never from inside
 * `on`, so whoever adds it has finished what it was doing (a stop handler that returns its
 * release function first) when the listener runs.
 */
export class Latch<T = void> {
  private isFired = false;
  private value: T | undefined;
  private readonly listeners = new Set<(value: T) => void>();

  /** Whether `fire` has been called. */
  get fired(): boolean {
    return this.isFired;
  }

  /** Calls every listener with `value` the first time; later calls do nothing. */
  fire(value: T): void {
    if (this.isFired) return;
    this.isFired = true;
    this.value = value;
    for (const listener of [...this.listeners]) listener(value);
    this.listeners.clear();
  }

  /**
   * Calls `listener` once with the value it fired with: when it fires, or on the next turn of the
   * event loop if it already has. Returns a function that removes it.
   */
  on(listener: (value: T) => void): () => void {
    if (this.isFired) {
      const timer = setImmediate(listener, this.value as T);
      return () => clearImmediate(timer);
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
