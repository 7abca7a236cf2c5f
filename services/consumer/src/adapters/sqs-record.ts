import type { SQSRecord } from 'aws-lambda';
import type { OrderMessage } from '../../../../shared/src/ledger';
import { type Delivery, MalformedMessageError } from '../domain/delivery';

const isString = (v: unknown): v is string => typeof v === 'string' && v !== '';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The delivery an SQS record carries; throws MalformedMessageError when its body is no order. */
export function parseDelivery(record: SQSRecord): Delivery {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    throw new MalformedMessageError(record.messageId, 'body is not JSON');
  }
  const m = body as Partial<OrderMessage> | null;
  if (
    m === null ||
    typeof m !== 'object' ||
    !isString(m.orderId) ||
    !isString(m.runId) ||
    !isString(m.customerId) ||
    !isNumber(m.sequence) ||
    !isNumber(m.acceptedAt) ||
    !Array.isArray(m.items)
  ) {
    throw new MalformedMessageError(
      record.messageId,
      'orderId, runId, customerId, sequence, acceptedAt and items are required',
    );
  }
  const attrs = record.attributes;
  const sentAt = Number(attrs.SentTimestamp);
  const firstReceivedAt = Number(attrs.ApproximateFirstReceiveTimestamp);
  return {
    message: m as OrderMessage,
    messageId: record.messageId,
    receiveCount: Number(attrs.ApproximateReceiveCount) || 1,
    ...(attrs.SequenceNumber ? { sequenceNumber: attrs.SequenceNumber } : {}),
    sentAt: Number.isFinite(sentAt) ? sentAt : 0,
    firstReceivedAt: Number.isFinite(firstReceivedAt) ? firstReceivedAt : 0,
  };
}
