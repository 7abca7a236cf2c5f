import type { QueueKind } from '../../../../shared/src/queue-kind';

export type QueueStatus = 'accepted' | 'delivered' | 'processed' | 'dlq';

export interface QueueView {
  status: QueueStatus;
  deliveries: number;
  effects: number;
}

export interface QueueFacts {
  deliveries: number;
  effects: number;
  finalFailures: number;
}

/** A committed effect wins over everything; a final failure means SQS moved it to the DLQ. */
export function queueStatus(facts: QueueFacts): QueueView {
  const status: QueueStatus =
    facts.effects > 0
      ? 'processed'
      : facts.finalFailures > 0
        ? 'dlq'
        : facts.deliveries > 0
          ? 'delivered'
          : 'accepted';
  return { status, deliveries: facts.deliveries, effects: facts.effects };
}

export type QueueViews = Record<QueueKind, QueueView>;
