import type { QueueKind } from '../../../../shared/src/queue-kind';
import { keyedUniform } from '../../../../shared/src/random';
import { QueueUnavailableError } from './ports';

/** The producer's injected faults, all off by default; decided by the seed and order id alone. */
export interface ProducerFaultConfig {
  seed: number;
  /**
   * Fraction of orders whose first send to a queue reaches SQS (the message is enqueued) while
   * SQS's answer never reaches the producer: a timed-out or dropped response. The producer cannot
   * know the send happened, answers 503, and the client's retry sends it again.
   */
  lostSendAnswerRate: number;
}

export const NO_PRODUCER_FAULTS: ProducerFaultConfig = { seed: 0, lostSendAnswerRate: 0 };

/** Whether SQS's answer to the first send of `orderId` to `queue` is lost. */
export function sendAnswerLost(
  config: ProducerFaultConfig,
  orderId: string,
  queue: QueueKind,
): boolean {
  return (
    config.lostSendAnswerRate > 0 &&
    keyedUniform(config.seed, `lost-answer:${queue}:${orderId}`) < config.lostSendAnswerRate
  );
}

/** The injected lost answer: to the producer, a send whose outcome it cannot know. */
export class SendAnswerLostError extends QueueUnavailableError {
  constructor(queue: QueueKind) {
    super(queue);
    this.message = `the answer of SQS to a send to ${queue} was lost (injected)`;
    this.name = 'SendAnswerLostError';
  }
}
