import type { OrderInput } from '../../../../shared/src/order';
import type { OrderMessage } from '../../../../shared/src/order-message';
import type { AcceptedOrder } from './ports';

/**
 * The message an accepted order puts on both queues: the order as the client sent it, plus what
 * acceptance decided (its id, its run, its sequence, when). The input is spread, not listed
 * field by field: the message schema is the input's plus acceptance's, so a field the input
 * gains is sent by construction, and a field acceptance must add fails to compile until it does.
 * (A retry's input is the accepted one: the same payload hash, or a 422 before this.)
 *
 * Built against the schema's type, not parsed: every value already passed the schema's own parts
 * (the input orderInputSchema, the ids orderIdSchema/runIdSchema, a counter's sequence its strict
 * read), so a parse per request would check the same values twice.
 */
export function orderMessage(
  input: OrderInput,
  accepted: Pick<AcceptedOrder, 'orderId' | 'runId' | 'acceptedAt'> & { sequence: number },
): OrderMessage {
  const message = {
    orderId: accepted.orderId,
    runId: accepted.runId,
    ...input,
    sequence: accepted.sequence,
    acceptedAt: accepted.acceptedAt,
  } satisfies OrderMessage;
  // Fails to compile while any key of the message schema, an optional one included, is set
  // neither by the input nor above: `satisfies` alone lets an optional key go unsent.
  const everyKey: Record<Exclude<keyof OrderMessage, keyof typeof message>, never> = {};
  void everyKey;
  return message;
}
