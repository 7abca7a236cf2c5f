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
  /** One entry per `on` call: the same function added twice is two listeners, released apart. */
  private readonly listeners = new Set<{ listener: (value: T) => void }>();

  /** Whether `fire` has been called. */
  get fired(): boolean {
    return this.isFired;
  }

  /**
   * Calls every listener with `value` the first time; later calls do nothing. A listener released
   * by an earlier one while it fires is not called. One that throws does not keep the others from
   * being called: the first error is thrown once all have run.
   */
  fire(value: T): void {
    if (this.isFired) return;
    this.isFired = true;
    this.value = value;
    const entries = [...this.listeners];
    let failure: { error: unknown } | undefined;
    for (const entry of entries) {
      if (!this.listeners.has(entry)) continue;
      this.listeners.delete(entry);
      try {
        entry.listener(value);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
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
    const entry = { listener };
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }
}
