import { z } from 'zod';
import {
  orderIdSchema,
  orderInputSchema,
  orderItemSchema,
  orderItemsOf,
  runIdSchema,
} from './order';

/**
 * The order message: the body the producer puts on both queues, the consumers parse, and the
 * report reads back from a DLQ. It is the order the API accepted (its fields and rules come from
 * `orderInputSchema`) plus what acceptance decided: the order id, the run, the sequence (always
 * set once accepted) and when. The amount's match with the items' total is `validateOrder`'s
 * check at the API, not part of the schema: a reader takes the amount as the producer sent it.
 *
 * Unknown keys are dropped rather than refused, at every level (the message and each item): a
 * reader tolerates a field a newer writer adds, so a producer deployed first sends nothing its
 * consumers dead-letter. The fields it knows must hold what the API allows. The API's own input
 * stays strict: a client's unknown field is a 400.
 */
/**
 * The latest time a message or the ledger may hold, epoch ms: the end of ECMAScript's time values
 * (8.64e15 ms, 100,000,000 days after 1970), the last instant a Date holds. The report refuses a
 * ledger time past it; the consumer refuses a message whose acceptedAt is past it, which it
 * would copy into the effect it writes (a whole number up to 2^53 - 1 was taken, and failed the
 * report of its whole run).
 */
export const LATEST_TIME_MS = 8.64e15;

export const orderMessageSchema = z.object({
  ...orderInputSchema.shape,
  items: orderItemsOf(z.object(orderItemSchema.shape)),
  orderId: orderIdSchema,
  runId: runIdSchema,
  sequence: orderInputSchema.shape.sequence.unwrap(),
  /** Epoch milliseconds when the producer accepted the order. */
  acceptedAt: z.int().min(0).max(LATEST_TIME_MS),
});

export type OrderMessage = z.infer<typeof orderMessageSchema>;

/** What a reader needs to attribute a message to its run, even one whose other fields are bad. */
export const orderMessageRefSchema = orderMessageSchema.pick({ orderId: true, runId: true });

export type OrderMessageRef = z.infer<typeof orderMessageRefSchema>;
