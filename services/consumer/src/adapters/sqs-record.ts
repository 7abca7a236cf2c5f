import { parse } from '@aws-lambda-powertools/parser';
import { SqsRecordSchema } from '@aws-lambda-powertools/parser/schemas/sqs';
import type { SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { parseJson } from '../../../../shared/src/json-keys';
import { orderMessageSchema } from '../../../../shared/src/order-message';
import { codePointPrefix } from '../../../../shared/src/text';
import { type Delivery, MalformedMessageError } from '../domain/delivery';

/**
 * A body's JSON, as Powertools' JSONStringified reads it (the same issue when it is no JSON), but
 * through parseJson: V8's JSON.parse (Node 24 and 26, nodejs/node#63785) can read an escaped key
 * as a key an earlier message in this warm environment had at that place, so that of
 * `"amount":5,"\u0061mount":7` the 5 was taken where the JSON says 7, or a field written with an
 * escape went missing and the message was dead-lettered.
 */
const jsonBody = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return parseJson(text);
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          message: `Invalid JSON - ${(error as Error).message}`,
          fatal: true,
        });
        return z.NEVER;
      }
    })
    .pipe(schema);

/** An SQS record whose body is an order message (Powertools' record schema + the shared one). */
const OrderRecordSchema = SqsRecordSchema.extend({ body: jsonBody(orderMessageSchema) });

/**
 * The delivery an SQS record carries; throws MalformedMessageError when it is not an order.
 *
 * Every record is parsed here, before the batch runs, rather than by the batch processor's own
 * parser integration: the consumer records every receive before any record of the batch runs
 * (so the report sees the duplicates idempotency hides), which needs the order of each record
 * first, and the processor would hand the record handler a parsed copy instead of the event's
 * record that identifies the receive.
 */
export function parseDelivery(record: SQSRecord): Delivery {
  const parsed = parse(record, undefined, OrderRecordSchema, true);
  if (!parsed.success) {
    throw new MalformedMessageError(record.messageId, describeIssues(parsed.error));
  }
  const { body, attributes } = parsed.data;
  // Lambda sets ApproximateReceiveCount on every SQS record, and the receive count decides what
  // a failure means (its last allowed receive, a DLQ move) and how the report tells a retry from
  // a queue copy: a record without a whole count of at least 1 is refused, not read as a first.
  const receiveCount = Number(attributes.ApproximateReceiveCount);
  if (!/^[1-9][0-9]{0,9}$/.test(attributes.ApproximateReceiveCount)) {
    throw new MalformedMessageError(
      record.messageId,
      `attributes.ApproximateReceiveCount: expected a whole number of at least 1, got ${codePointPrefix(String(JSON.stringify(attributes.ApproximateReceiveCount)), 40)}`,
    );
  }
  const sentAt = Number(attributes.SentTimestamp);
  const firstReceivedAt = Number(attributes.ApproximateFirstReceiveTimestamp);
  return {
    message: body,
    messageId: record.messageId,
    receiveCount,
    ...(attributes.SequenceNumber ? { sequenceNumber: attributes.SequenceNumber } : {}),
    sentAt: Number.isFinite(sentAt) ? sentAt : 0,
    firstReceivedAt: Number.isFinite(firstReceivedAt) ? firstReceivedAt : 0,
  };
}

/** The schema's complaints, field by field (`body.orderId: ...`), for the failure's log line. */
function describeIssues(error: Error): string {
  // Powertools' ParseError carries the schema's issues as its cause.
  const issues = error.cause as { path?: PropertyKey[]; message: string }[] | undefined;
  if (!Array.isArray(issues) || issues.length === 0) return error.message;
  return issues
    .slice(0, 5)
    .map((i) => `${(i.path ?? []).map(String).join('.') || '(record)'}: ${i.message}`)
    .join('; ');
}
