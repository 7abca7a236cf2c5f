import type { SQSRecord } from 'aws-lambda';
import type { OrderMessage } from '../../../../shared/src/ledger';

/** A record whose body is not an order message; it can only fail until it reaches the DLQ. */
export class MalformedMessageError extends Error {
  constructor(messageId: string, reason: string) {
    super(`message ${messageId} is not an order: ${reason}`);
    this.name = 'MalformedMessageError';
  }
}

export interface ReceivedOrder {
  message: OrderMessage;
  messageId: string;
  receiveCount: number;
  sequenceNumber?: string;
  sentAt: number;
  firstReceivedAt: number;
}

const num = (value: string | undefined): number => {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
};

export function readRecord(record: SQSRecord): ReceivedOrder {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    throw new MalformedMessageError(record.messageId, 'body is not JSON');
  }
  const m = body as Partial<OrderMessage> | null;
  if (
    !m ||
    typeof m.orderId !== 'string' ||
    typeof m.runId !== 'string' ||
    typeof m.customerId !== 'string' ||
    typeof m.sequence !== 'number'
  ) {
    throw new MalformedMessageError(
      record.messageId,
      'orderId, runId, customerId and sequence are required',
    );
  }
  const a = record.attributes;
  return {
    message: m as OrderMessage,
    messageId: record.messageId,
    receiveCount: Math.max(1, num(a.ApproximateReceiveCount)),
    ...(a.SequenceNumber ? { sequenceNumber: a.SequenceNumber } : {}),
    sentAt: num(a.SentTimestamp),
    firstReceivedAt: num(a.ApproximateFirstReceiveTimestamp),
  };
}
