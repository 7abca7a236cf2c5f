import type { OrderInput } from '../../../shared/src/order';

/** One POST /orders, as the HTTP contract defines it. Network failures come back as status 0. */
export interface PostResult {
  status: number;
  body: unknown;
  /** Set when no HTTP answer arrived (refused, reset, timeout). */
  networkError?: string;
}

export interface OrdersApiOptions {
  apiUrl: string;
  apiKey?: string;
  runId: string;
  timeoutMs?: number;
}

export class OrdersApi {
  private readonly url: string;

  constructor(private readonly options: OrdersApiOptions) {
    this.url = `${options.apiUrl.replace(/\/+$/, '')}/orders`;
  }

  async post(order: OrderInput, idempotencyKey: string): Promise<PostResult> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'idempotency-key': idempotencyKey,
      'x-run-id': this.options.runId,
    };
    if (this.options.apiKey) headers['x-api-key'] = this.options.apiKey;
    try {
      const res = await fetch(this.url, {
        method: 'POST',
        headers,
        body: JSON.stringify(order),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // A gateway error page is not JSON; keep the text for the error line.
      }
      return { status: res.status, body };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      return { status: 0, body: undefined, networkError: e.cause?.code ?? e.name ?? e.message };
    }
  }
}
