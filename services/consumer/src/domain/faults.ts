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
  /**
   * Fraction of orders whose first receive crashes the function (the process exits) right after
   * the effect committed, before Powertools marks its record COMPLETED: the record stays
   * IN_PROGRESS and the whole batch comes back after the visibility timeout.
   */
  crashAfterEffectRate: number;
  /**
   * Orders whose id starts with this fail on every receive AFTER the idempotent step returned (a
   * later step that keeps failing until the consumer is fixed): the effect is committed, yet the
   * message ends in the DLQ. Empty disables it.
   */
  failAfterEffectPrefix: string;
}

export const NO_FAULTS: FaultConfig = {
  seed: 0,
  firstAttemptFailureRate: 0,
  slowRate: 0,
  slowMs: 0,
  poisonPrefix: '',
  crashAfterEffectRate: 0,
  failAfterEffectPrefix: '',
};

export interface FaultDecision {
  /** Why the delivery must fail before the effect, or undefined. */
  failure?: 'poison' | 'first-attempt';
  /** Milliseconds the effect's work stalls (0 for none). */
  delayMs: number;
  /** The function dies once the effect committed, before Powertools saves COMPLETED. */
  crashAfterEffect: boolean;
  /** The delivery fails after the idempotent step returned. */
  failAfterEffect: boolean;
}

/**
 * Seeded per order id, not per delivery, so the FIFO and standard consumers see the same faults
 * for the same order and a rerun with the same seed repeats them. Only the first receive is hit
 * (except the two prefix faults), so every injected transient fault heals on SQS's redelivery.
 */
export function decideFaults(
  config: FaultConfig,
  orderId: string,
  receiveCount: number,
): FaultDecision {
  const failAfterEffect =
    config.failAfterEffectPrefix !== '' && orderId.startsWith(config.failAfterEffectPrefix);
  if (config.poisonPrefix !== '' && orderId.startsWith(config.poisonPrefix)) {
    return { failure: 'poison', delayMs: 0, crashAfterEffect: false, failAfterEffect };
  }
  if (receiveCount > 1) return { delayMs: 0, crashAfterEffect: false, failAfterEffect };
  const delayMs =
    config.slowRate > 0 && keyedUniform(config.seed, `slow:${orderId}`) < config.slowRate
      ? config.slowMs
      : 0;
  const crashAfterEffect =
    config.crashAfterEffectRate > 0 &&
    keyedUniform(config.seed, `crash:${orderId}`) < config.crashAfterEffectRate;
  const fail =
    config.firstAttemptFailureRate > 0 &&
    keyedUniform(config.seed, `fail:${orderId}`) < config.firstAttemptFailureRate;
  return fail
    ? { failure: 'first-attempt', delayMs, crashAfterEffect, failAfterEffect }
    : { delayMs, crashAfterEffect, failAfterEffect };
}

/** An injected failure; the message goes back to the queue like any processing error. */
export class InjectedFaultError extends Error {
  constructor(
    readonly kind: 'poison' | 'first-attempt' | 'after-effect',
    orderId: string,
  ) {
    super(`injected ${kind} failure for order ${orderId}`);
    this.name = 'InjectedFaultError';
  }
}
