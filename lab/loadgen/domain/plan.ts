import type { OrderInput } from '../../../shared/src/order';
import { createRng, hash32, keyedUniform } from '../../../shared/src/random';

/**
 * What a load run sends, decided by the seed alone: the same seed and sizes give the same orders,
 * the same customers, the same client retries. No I/O here, so it is tested without a server.
 */

export interface PlanOptions {
  runId: string;
  orders: number;
  customers: number;
  /** Probability in [0, 1] that the client POSTs an accepted order a second time (same key). */
  retryRate: number;
  seed: number;
}

export interface PlannedOrder {
  /** Sent as Idempotency-Key, so a client retry maps to the same order. */
  idempotencyKey: string;
  body: OrderInput & { sequence: number };
  /** Repeated POSTs of this order after it was accepted (simulated client retries). */
  clientRetries: number;
}

export interface LoadPlan {
  runId: string;
  seed: number;
  /** One list per customer, in sequence order (1, 2, 3, ...). */
  customers: PlannedOrder[][];
  totalOrders: number;
  totalClientRetries: number;
}

const SKUS = ['sku-apple', 'sku-bread', 'sku-cheese', 'sku-dates', 'sku-eggs', 'sku-flour'];

export function customerId(runKey: string, index: number, width: number): string {
  return `cust-${runKey}-${String(index).padStart(width, '0')}`;
}

/** Short, stable per-run tag: keeps ids inside the API's 64-character limit for any run id. */
export function runKey(runId: string): string {
  return hash32(runId).toString(36);
}

export function planLoad(options: PlanOptions): LoadPlan {
  const { orders, customers, retryRate, seed, runId } = options;
  if (!Number.isInteger(orders) || orders < 0)
    throw new RangeError('orders must be a non-negative integer');
  if (!Number.isInteger(customers) || customers < 1)
    throw new RangeError('customers must be at least 1');
  if (!(retryRate >= 0 && retryRate <= 1)) throw new RangeError('retryRate must be within [0, 1]');
  const key = runKey(runId);
  const width = String(customers - 1).length;
  // One stream for the order contents, and retries decided per key: changing the retry rate
  // does not change which items an order carries.
  const rng = createRng(hash32(`${seed}:items`));
  const lists: PlannedOrder[][] = Array.from({ length: customers }, () => []);
  let retries = 0;
  for (let i = 0; i < orders; i++) {
    const c = i % customers;
    const list = lists[c]!;
    const sequence = list.length + 1;
    const cid = customerId(key, c, width);
    const count = 1 + Math.floor(rng() * 3);
    const items = Array.from({ length: count }, () => ({
      sku: SKUS[Math.floor(rng() * SKUS.length)]!,
      quantity: 1 + Math.floor(rng() * 5),
      unitPrice: (100 + Math.floor(rng() * 4900)) / 100,
    }));
    // Cents arithmetic so the amount is exactly the producer's items total.
    const cents = items.reduce((sum, it) => sum + it.quantity * Math.round(it.unitPrice * 100), 0);
    const idempotencyKey = `o-${key}-${c}-${sequence}`;
    const clientRetries = keyedUniform(seed, idempotencyKey) < retryRate ? 1 : 0;
    retries += clientRetries;
    list.push({
      idempotencyKey,
      body: { customerId: cid, items, amount: cents / 100, currency: 'EUR', sequence },
      clientRetries,
    });
  }
  return { runId, seed, customers: lists, totalOrders: orders, totalClientRetries: retries };
}

/** Exponential backoff with full jitter (AWS's advice for retrying throttled calls). */
export function backoffMs(attempt: number, rand: number, baseMs = 50, capMs = 5000): number {
  return Math.floor(rand * Math.min(capMs, baseMs * 2 ** attempt));
}

/**
 * Which HTTP outcomes a client retries with the same Idempotency-Key: throttling (429), the
 * gateway's failed or timed-out integration (502, 504), a queue the producer could not reach
 * (503), and the producer's own 500 (a DynamoDB call that failed or ran out of time). A 500 is
 * retried too: the key makes the retry safe, and the order may already be recorded with its sends
 * not made, which only a retry of the key makes (given up, it would be accepted and never sent).
 */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 500 || status === 503 || status === 502 || status === 504;
}
