import { keyedUniform } from '../../../../shared/src/random';

/** Injected faults, all off by default; each decision depends on the seed and order id alone. */
export interface FaultConfig {
  seed: number;
  /** Fraction of orders whose first receive fails (the retry succeeds). */
  firstAttemptFailureRate: number;
  /** Fraction of orders whose first receive runs longer than the visibility timeout. */
  slowRate: number;
  slowMs: number;
  /** Orders whose id starts with this always fail and end in the DLQ; empty disables it. */
  poisonPrefix: string;
}

export const NO_FAULTS: FaultConfig = {
  seed: 0,
  firstAttemptFailureRate: 0,
  slowRate: 0,
  slowMs: 0,
  poisonPrefix: '',
};

export interface FaultDecision {
  /** Why the delivery must fail, or undefined. */
  failure?: 'poison' | 'first-attempt';
  /** Milliseconds the effect's work stalls (0 for none). */
  delayMs: number;
}

/**
 * Seeded per order id, not per delivery, so the FIFO and standard consumers see the same faults
 * for the same order and a rerun with the same seed repeats them. Only the first receive is hit
 * (except poison), so every injected transient fault heals on SQS's redelivery.
 */
export function decideFaults(
  config: FaultConfig,
  orderId: string,
  receiveCount: number,
): FaultDecision {
  if (config.poisonPrefix !== '' && orderId.startsWith(config.poisonPrefix)) {
    return { failure: 'poison', delayMs: 0 };
  }
  if (receiveCount > 1) return { delayMs: 0 };
  const delayMs =
    config.slowRate > 0 && keyedUniform(config.seed, `slow:${orderId}`) < config.slowRate
      ? config.slowMs
      : 0;
  const fail =
    config.firstAttemptFailureRate > 0 &&
    keyedUniform(config.seed, `fail:${orderId}`) < config.firstAttemptFailureRate;
  return fail ? { failure: 'first-attempt', delayMs } : { delayMs };
}

/** An injected failure; the message goes back to the queue like any processing error. */
export class InjectedFaultError extends Error {
  constructor(
    readonly kind: 'poison' | 'first-attempt',
    orderId: string,
  ) {
    super(`injected ${kind} failure for order ${orderId}`);
    this.name = 'InjectedFaultError';
  }
}
