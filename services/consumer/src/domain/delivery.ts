import type { OrderMessage } from '../../../../shared/src/order-message';

/** One receive of one order message, as the consumer sees it. */
export interface Delivery {
  message: OrderMessage;
  messageId: string;
  receiveCount: number;
  sequenceNumber?: string;
  sentAt: number;
  firstReceivedAt: number;
}

/** A record whose body is not an order message: it fails every receive and ends in the DLQ. */
export class MalformedMessageError extends Error {
  constructor(messageId: string, reason: string) {
    super(`message ${messageId} is not an order message: ${reason}`);
    this.name = 'MalformedMessageError';
  }
}
