import { z } from 'zod';

/**
 * The order a client POSTs. The same schema validates requests in the producer and feeds the
 * REST API's request model (`orderJsonSchema`), so the API and the handler reject the same input.
 */

const ID_PATTERN = /^[A-Za-z0-9_.:-]+$/;

export const orderItemSchema = z.strictObject({
  sku: z.string().min(1).max(64).regex(ID_PATTERN, 'sku may use letters, digits and _ . : -'),
  quantity: z.int().min(1).max(1000),
  unitPrice: z.number().min(0).max(1_000_000),
});

/**
 * An order's list of items, of the item schema given: the API's strict one, or the tolerant one
 * a reader of the order message uses (shared/src/order-message.ts). The list's limits are one.
 */
export const orderItemsOf = <T extends z.ZodType>(item: T) => z.array(item).min(1).max(50);

export const orderInputSchema = z.strictObject({
  customerId: z
    .string()
    .min(1)
    .max(64)
    .regex(ID_PATTERN, 'customerId may use letters, digits and _ . : -'),
  items: orderItemsOf(orderItemSchema),
  amount: z.number().positive().max(100_000_000),
  currency: z.string().regex(/^[A-Z]{3}$/, 'currency must be a 3-letter ISO 4217 code, e.g. EUR'),
  /** Per-customer sequence; assigned at acceptance when the client sends none. */
  sequence: z.int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
});

export type OrderItem = z.infer<typeof orderItemSchema>;
export type OrderInput = z.infer<typeof orderInputSchema>;

/** Idempotency-Key header / orderId: what a client may choose as its order id. */
export const orderIdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be 1-64 letters, digits, _ or -');

/** X-Run-Id header: groups the orders of one load run for the report. */
export const runIdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be 1-64 letters, digits, _ or -');

export interface FieldError {
  /** JSON path of the offending field, e.g. `items[0].quantity`; empty for the whole body. */
  path: string;
  message: string;
}

export type ValidationResult =
  | { ok: true; value: OrderInput }
  | { ok: false; errors: FieldError[] };

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** Cents-level check that the amount is what the items add up to. */
function itemsTotal(items: readonly OrderItem[]): number {
  return Math.round(items.reduce((sum, i) => sum + i.quantity * i.unitPrice, 0) * 100) / 100;
}

export function validateOrder(body: unknown): ValidationResult {
  const parsed = orderInputSchema.safeParse(body);
  if (!parsed.success) {
    return {
      ok: false,
      errors: parsed.error.issues.map((issue) => ({
        path: formatPath(issue.path),
        message: issue.message,
      })),
    };
  }
  const total = itemsTotal(parsed.data.items);
  if (Math.abs(total - parsed.data.amount) > 0.005) {
    return {
      ok: false,
      errors: [
        {
          path: 'amount',
          message: `amount ${parsed.data.amount} does not match the items' total ${total}`,
        },
      ],
    };
  }
  return { ok: true, value: parsed.data };
}

/**
 * JSON Schema (draft-04, what API Gateway models accept) of the order body, generated from the
 * zod schema so the API's request validator and the producer cannot drift apart.
 */
export function orderJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(orderInputSchema, { target: 'draft-4' }) as Record<string, unknown>;
  return schema;
}
