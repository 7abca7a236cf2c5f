/**
 * Hands out customers so that each customer has at most one order in flight (its next order goes
 * only after the previous one was accepted) while different customers interleave.
 */
export class CustomerScheduler {
  private readonly ready: number[] = [];
  private readonly next: number[];
  private waiting: (() => void)[] = [];
  private inFlight = 0;

  constructor(private readonly sizes: readonly number[]) {
    this.next = sizes.map(() => 0);
    sizes.forEach((n, i) => {
      if (n > 0) this.ready.push(i);
    });
  }

  /** The next customer and the index of its next order; undefined when every order is done. */
  async take(): Promise<{ customer: number; index: number } | undefined> {
    for (;;) {
      const c = this.ready.shift();
      if (c !== undefined) {
        this.inFlight++;
        return { customer: c, index: this.next[c]! };
      }
      if (this.inFlight === 0) return undefined;
      await new Promise<void>((r) => this.waiting.push(r));
    }
  }

  /** The customer's order finished (accepted or given up): its next order becomes ready. */
  done(customer: number): void {
    this.inFlight--;
    this.next[customer]!++;
    if (this.next[customer]! < this.sizes[customer]!) this.ready.push(customer);
    const w = this.waiting;
    this.waiting = [];
    for (const r of w) r();
  }
}

/** Evenly spaced start times for a target rate; 0 or less means as fast as possible. */
export function slotTime(startMs: number, index: number, ratePerSec: number): number {
  return ratePerSec > 0 ? startMs + (index * 1000) / ratePerSec : startMs;
}
