import { z } from 'zod';
import { orderIdSchema, orderInputSchema, runIdSchema } from './order';

/**
 * The order message: the body the producer puts on both queues, the consumers parse, and the
 * report reads back from a DLQ. It is the order the API accepted (its fields and rules come from
 * `orderInputSchema`, so a message can hold nothing the API would have refused) plus what
 * acceptance decided: the order id, the run, the sequence (always set once accepted) and when.
 *
 * Unknown top-level keys are dropped rather than refused, as today's consumers do: a reader
 * tolerates a field a newer writer adds. The fields it knows must hold what the API allows.
 */
export const orderMessageSchema = z.object({
  ...orderInputSchema.shape,
  orderId: orderIdSchema,
  runId: runIdSchema,
  sequence: orderInputSchema.shape.sequence.unwrap(),
  /** Epoch milliseconds when the producer accepted the order. */
  acceptedAt: z.int().min(0),
});

export type OrderMessage = z.infer<typeof orderMessageSchema>;

/** What a reader needs to attribute a message to its run, even one whose other fields are bad. */
export const orderMessageRefSchema = orderMessageSchema.pick({ orderId: true, runId: true });

export type OrderMessageRef = z.infer<typeof orderMessageRefSchema>;
