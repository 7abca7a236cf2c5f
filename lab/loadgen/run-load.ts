import { createRng, freshSeed, hash32 } from '../../shared/src/random';
import { OrdersApi, type PostResult } from './adapters/orders-api';
import {
  backoffMs,
  isRetryableStatus,
  type LoadPlan,
  type PlannedOrder,
  planLoad,
} from './domain/plan';
import { CustomerScheduler, slotTime } from './domain/schedule';

export interface LoadOptions {
  apiUrl: string;
  apiKey?: string;
  orders: number;
  customers: number;
  /** Requests in flight at most. */
  concurrency: number;
  /** Orders started per second; 0 = as fast as the concurrency allows. */
  rate: number;
  retryRate: number;
  seed?: number;
  runId?: string;
  /** Attempts per POST on 429/503/network errors before the order counts as an error. */
  maxAttempts?: number;
  requestTimeoutMs?: number;
  onProgress?: (p: LoadProgress) => void;
}

export interface LoadProgress {
  done: number;
  total: number;
  accepted: number;
  errors: number;
  elapsedMs: number;
}

export interface LoadSummary {
  runId: string;
  seed: number;
  /** POST requests sent, backoff retries and client retries included. */
  sent: number;
  /** Distinct orders the API accepted (202). */
  accepted: number;
  /** Simulated client retries sent (repeated POSTs of an accepted order). */
  retries: number;
  /** Client retries that came back with a different orderId (must be 0: the key is the id). */
  retryMismatches: number;
  /** Retries after 429/503/network errors, and after a 409 that said when to come back (Retry-After). */
  backoffRetries: number;
  /** Orders given up on (4xx, or retries exhausted) plus client retries answered wrongly. */
  errors: number;
  /** First few error lines, for the person at the terminal. */
  errorSamples: string[];
  elapsedMs: number;
  /** Accepted orders per second over the run. */
  ratePerSec: number;
  /** orderIds the API returned, per customer in sequence order. */
  orderIds: string[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function describe(r: PostResult): string {
  if (r.networkError) return `network error ${r.networkError}`;
  const msg = (r.body as { message?: string } | undefined)?.message;
  return `HTTP ${r.status}${msg ? `: ${msg}` : ''}`;
}

/** A run id when the user gives none: readable, sortable, unique enough for a lab. */
export function defaultRunId(seed: number, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `load-${stamp}-${(seed >>> 0).toString(36)}`;
}

/** Sends a planned load against any API url; the demo and the benches call this in-process. */
export async function runLoad(options: LoadOptions): Promise<LoadSummary> {
  const seed = options.seed ?? freshSeed();
  const runId = options.runId ?? defaultRunId(seed);
  const plan: LoadPlan = planLoad({
    runId,
    orders: options.orders,
    customers: options.customers,
    retryRate: options.retryRate,
    seed,
  });
  const api = new OrdersApi({
    apiUrl: options.apiUrl,
    runId,
    ...(options.apiKey ? { apiKey: options.apiKey } : {}),
    ...(options.requestTimeoutMs ? { timeoutMs: options.requestTimeoutMs } : {}),
  });
  const jitter = createRng(hash32(`${seed}:backoff`));
  const maxAttempts = options.maxAttempts ?? 8;
  const summary: LoadSummary = {
    runId,
    seed,
    sent: 0,
    accepted: 0,
    retries: 0,
    retryMismatches: 0,
    backoffRetries: 0,
    errors: 0,
    errorSamples: [],
    elapsedMs: 0,
    ratePerSec: 0,
    orderIds: [],
  };
  const ids: (string | undefined)[][] = plan.customers.map((l) => l.map(() => undefined));

  const fail = (line: string) => {
    summary.errors++;
    if (summary.errorSamples.length < 5) summary.errorSamples.push(line);
  };

  /** One POST with backoff on throttling and transient failures. */
  const postWithBackoff = async (order: PlannedOrder): Promise<PostResult> => {
    for (let attempt = 0; ; attempt++) {
      summary.sent++;
      const r = await api.post(order.body, order.idempotencyKey);
      // A 409 with Retry-After: an earlier try of this key may still be sending the order (its
      // answer was lost to a timeout); the producer says when the record will answer.
      const inProgress = r.status === 409 && r.retryAfterMs !== undefined;
      const retryable = r.status === 0 || isRetryableStatus(r.status) || inProgress;
      if (!retryable || attempt + 1 >= maxAttempts) return r;
      summary.backoffRetries++;
      await sleep(r.retryAfterMs ?? backoffMs(attempt, jitter()));
    }
  };

  const start = Date.now();
  const total = plan.totalOrders;
  let started = 0;
  let done = 0;
  const scheduler = new CustomerScheduler(plan.customers.map((l) => l.length));
  const report = () =>
    options.onProgress?.({
      done,
      total,
      accepted: summary.accepted,
      errors: summary.errors,
      elapsedMs: Date.now() - start,
    });

  const worker = async () => {
    for (;;) {
      const next = await scheduler.take();
      if (!next) return;
      const order = plan.customers[next.customer]![next.index]!;
      const at = slotTime(start, started++, options.rate);
      const wait = at - Date.now();
      if (wait > 0) await sleep(wait);
      try {
        const r = await postWithBackoff(order);
        if (r.status === 202) {
          const orderId = (r.body as { orderId?: string }).orderId;
          summary.accepted++;
          ids[next.customer]![next.index] = orderId;
          for (let k = 0; k < order.clientRetries; k++) {
            summary.retries++;
            const again = await postWithBackoff(order);
            if (again.status !== 202 || (again.body as { orderId?: string }).orderId !== orderId) {
              summary.retryMismatches++;
              fail(`client retry of ${order.idempotencyKey}: ${describe(again)}`);
            }
          }
        } else {
          fail(`${order.idempotencyKey}: ${describe(r)}`);
        }
      } finally {
        done++;
        scheduler.done(next.customer);
        report();
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  } finally {
    api.close();
  }
  summary.elapsedMs = Date.now() - start;
  summary.ratePerSec =
    summary.elapsedMs > 0
      ? Math.round((summary.accepted / (summary.elapsedMs / 1000)) * 10) / 10
      : 0;
  summary.orderIds = ids.flat().filter((x): x is string => typeof x === 'string');
  return summary;
}
