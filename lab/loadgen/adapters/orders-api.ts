import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { OrderInput } from '../../../shared/src/order';
import { reachedNothing } from '../domain/unreachable';

/** One POST /orders, as the HTTP contract defines it. Network failures come back as status 0. */
export interface PostResult {
  status: number;
  body: unknown;
  /** Set when no HTTP answer arrived (refused, reset, timeout). */
  networkError?: string;
  /** The answer's Retry-After in ms, when it gave one in seconds (a 409 for a request in progress). */
  retryAfterMs?: number;
}

/**
 * The most of an answer's body the client keeps (the producer's answers are under 1 KiB, a
 * gateway's error page a few): the rest is not read, and the connection is closed. An answer whose
 * body never ended was read whole until the try's timeout, 4.9 GB in 30 s on 127.0.0.1.
 */
export const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * A failed try's error, as PostResult.networkError names it: its code (its name or message when
 * it has none). A host name with several addresses (localhost: ::1 and 127.0.0.1) is tried at
 * each in turn, and when none takes the connection Node's error is an AggregateError whose code
 * is the first address's alone: ENETUNREACH or EADDRNOTAVAIL where ::1 has no route, ETIMEDOUT
 * where its attempt ran out, beside 127.0.0.1's ECONNREFUSED. No address took the connection and
 * no request was sent; when one of them refused it, the try is ECONNREFUSED (nothing listening
 * where the API can be reached), as a name with one address gives it, so the load's unreachable
 * cut-off (run-load.ts) counts it. When none refused it, the first address's code stands only if
 * every address reached nothing (no route: reachedNothing, which the cut-off counts); otherwise
 * the first other one's (ETIMEDOUT: an attempt ran out, which it does not).
 */
export function networkErrorOf(err: unknown): string {
  if (err === null || typeof err !== 'object') return String(err);
  const e = err as Error & { code?: string; errors?: unknown };
  if (Array.isArray(e.errors)) {
    const codes = e.errors.map((x) => (x as { code?: unknown } | null)?.code);
    if (codes.includes('ECONNREFUSED')) return 'ECONNREFUSED';
    const other = codes.findIndex((c) => !(typeof c === 'string' && reachedNothing(c)));
    if (other >= 0 && reachedNothing(e.code)) return networkErrorOf(e.errors[other]);
  }
  return e.code ?? e.name ?? e.message;
}

export interface OrdersApiOptions {
  apiUrl: string;
  apiKey?: string;
  runId: string;
  timeoutMs?: number;
}

/**
 * The load generator's client: node:http with keep-alive, not the global fetch. The load runs in
 * the same thread as the local cloud it drives, and fetch (undici: WHATWG streams, an
 * AbortSignal and its timer per request, its own parser) was 7% of that thread's CPU in a
 * profile of bench:pipeline, more than the emulator itself took (docs/benchmarks.md); the requests
 * on the wire are the same.
 */
export class OrdersApi {
  private readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;

  constructor(private readonly options: OrdersApiOptions) {
    this.url = new URL(`${options.apiUrl.replace(/\/+$/, '')}/orders`);
    const https = this.url.protocol === 'https:';
    // Connections stay open between orders, as fetch's pool kept them; the load's concurrency
    // bounds how many there are.
    this.agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.send = https ? httpsRequest : httpRequest;
  }

  async post(order: OrderInput, idempotencyKey: string): Promise<PostResult> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'idempotency-key': idempotencyKey,
      'x-run-id': this.options.runId,
    };
    if (this.options.apiKey) headers['x-api-key'] = this.options.apiKey;
    const { retryAfter, ...result } = await this.exchange(JSON.stringify(order), headers);
    return retryAfter !== undefined && /^\d+$/.test(retryAfter)
      ? { ...result, retryAfterMs: Number(retryAfter) * 1000 }
      : result;
  }

  /**
   * GET /orders/{id} of an id no order has, with the run's headers: whether anything answers at
   * this url, and what (404 from the producer, 403 from a gateway with no such route or no key).
   */
  async probe(orderId: string, timeoutMs = 10_000): Promise<PostResult> {
    const headers: Record<string, string> = { 'x-run-id': this.options.runId };
    if (this.options.apiKey) headers['x-api-key'] = this.options.apiKey;
    const url = new URL(`${this.url.href}/${encodeURIComponent(orderId)}`);
    const { retryAfter: _unused, ...result } = await this.exchange(undefined, headers, {
      url,
      timeoutMs,
    });
    return result;
  }

  /**
   * One request's answer: its status and body (parsed where it is JSON; a gateway error page is
   * not, and its text is kept for the error line) and its Retry-After as sent, or status 0 and
   * the network error when no HTTP answer arrived.
   */
  private async exchange(
    body: string | undefined,
    headers: Record<string, string>,
    target: { url?: URL; timeoutMs?: number } = {},
  ): Promise<PostResult & { retryAfter?: string }> {
    try {
      const { status, text, retryAfter } = await this.request(body, headers, target);
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // Not JSON: keep the text.
      }
      return { status, body: parsed, ...(retryAfter !== undefined ? { retryAfter } : {}) };
    } catch (err) {
      return { status: 0, body: undefined, networkError: networkErrorOf(err) };
    }
  }

  /** Closes the kept-alive connections (a run that ends leaves no socket holding the process). */
  close(): void {
    this.agent.destroy();
  }

  private request(
    body: string | undefined,
    headers: Record<string, string>,
    target: { url?: URL; timeoutMs?: number } = {},
  ): Promise<{ status: number; text: string; retryAfter?: string }> {
    const timeoutMs = target.timeoutMs ?? this.options.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      let answered = false;
      const req = this.send(
        target.url ?? this.url,
        {
          method: body === undefined ? 'GET' : 'POST',
          agent: this.agent,
          headers:
            body === undefined
              ? headers
              : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        },
        (res: IncomingMessage) => {
          answered = true;
          const chunks: Buffer[] = [];
          let bytes = 0;
          const done = () => {
            const retryAfter = res.headers['retry-after'];
            resolve({
              status: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              ...(retryAfter !== undefined ? { retryAfter } : {}),
            });
          };
          res.on('data', (chunk: Buffer) => {
            if (bytes >= MAX_ANSWER_BYTES) return;
            const kept = chunk.subarray(0, MAX_ANSWER_BYTES - bytes);
            chunks.push(kept);
            bytes += kept.length;
            if (bytes >= MAX_ANSWER_BYTES) {
              // Enough to say what the answer was; the rest is not read.
              done();
              req.destroy();
            }
          });
          res.on('end', done);
          res.on('error', reject);
          // A body cut off by the connection: no 'end', and on some Node versions no 'error'.
          res.on('close', () => {
            if (!res.complete) {
              reject(Object.assign(new Error('answer cut off'), { code: 'ECONNRESET' }));
            }
          });
        },
      );
      // An upgrade nobody asked for (101 Switching Protocols): Node destroys the socket and emits
      // neither 'response' nor 'error', and the try waited forever; once nothing else held the
      // event loop, the load exited 0 without a summary. It is an answer, and not a 202.
      req.on('upgrade', (res: IncomingMessage, socket: Socket) => {
        answered = true;
        socket.destroy();
        resolve({ status: res.statusCode ?? 0, text: '' });
      });
      // The whole exchange, connection included, within timeoutMs (what fetch's
      // AbortSignal.timeout bounded): a server that accepts and never answers ends the try.
      const timer = setTimeout(
        () => req.destroy(Object.assign(new Error('request timed out'), { name: 'TimeoutError' })),
        timeoutMs,
      );
      req.on('close', () => {
        clearTimeout(timer);
        // Closed with no answer and no error said (whatever the cause): a lost answer, not a
        // try that waits forever. After an answer or an error this settles nothing.
        if (!answered) {
          reject(
            Object.assign(new Error('connection closed with no answer'), { code: 'ECONNRESET' }),
          );
        }
      });
      req.on('error', reject);
      req.end(body);
    });
  }
}
