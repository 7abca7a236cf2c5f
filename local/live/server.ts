import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LIVE_PATH } from '../edge';
import { parseMetricLine } from './emf';
import { livePageHtml } from './page';
import { type LiveLimits, LiveState } from './state';

/**
 * The live view of the local cloud, served on the edge under LIVE_PATH: the page, its event
 * stream (server-sent events: one `snapshot` on connect and after a new run starts, then a
 * `delta` at most every `flushMs` while orders apply) and the same snapshot as JSON. It reads the
 * consumers' metric lines as the function runtime hands them over; it never asks anything of
 * the pipeline, so watching costs the run nothing but the serialisation.
 *
 * Browser protection is the edge's (local/browser-guard.ts): a request whose Origin or Referer
 * is not allowed, a cross-site fetch, or a Host naming neither loopback nor the configured host
 * is refused before it gets here. The page's own stream passes because the page sends no
 * Referer (no-referrer policy) and a same-origin EventSource sends no Origin.
 */

const EVENTS_PATH = `${LIVE_PATH}/events`;
const STATE_PATH = `${LIVE_PATH}/state`;

export interface LiveViewOptions {
  /** Most event streams open at once; more are answered 503. Default 16. */
  maxClients?: number;
  /** How often changes are pushed, ms. Default 200. */
  flushMs?: number;
  /** Comment line keeping idle streams open through proxies and idle timeouts, ms. Default 15 s. */
  heartbeatMs?: number;
  limits?: LiveLimits;
}

export interface LiveView {
  readonly state: LiveState;
  /** Feeds one line a function wrote; true when it was a pipeline metric line. */
  ingest(line: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Ends every stream and stops the timers. */
  close(): void;
}

/** What every answer carries: nothing may frame, sniff or leak the page. */
const BASE_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'x-frame-options': 'DENY',
} as const;

export function createLiveView(options: LiveViewOptions = {}): LiveView {
  const state = new LiveState(options.limits);
  const maxClients = options.maxClients ?? 16;
  const clients = new Set<ServerResponse>();

  const send = (res: ServerResponse, event: string, data: unknown) => {
    // JSON.stringify never emits a raw newline, so one `data:` line holds the whole message.
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const broadcast = (event: string, data: unknown) => {
    for (const res of clients) send(res, event, data);
  };

  const flush = setInterval(() => {
    const delta = state.takeDelta();
    if (delta && clients.size > 0) broadcast('delta', delta);
  }, options.flushMs ?? 200);
  flush.unref();
  const heartbeat = setInterval(() => {
    for (const res of clients) res.write(': keep-alive\n\n');
  }, options.heartbeatMs ?? 15_000);
  heartbeat.unref();

  const answer = (res: ServerResponse, status: number, type: string, body: string, extra = {}) => {
    res.writeHead(status, {
      ...BASE_HEADERS,
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      ...extra,
    });
    res.end(body);
  };

  const openStream = (req: IncomingMessage, res: ServerResponse) => {
    if (clients.size >= maxClients) {
      answer(res, 503, 'text/plain; charset=utf-8', 'too many live streams open\n', {
        'retry-after': '5',
      });
      return;
    }
    res.writeHead(200, {
      ...BASE_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      connection: 'keep-alive',
    });
    // The browser reconnects after 2 s when the stream drops, and gets a fresh snapshot.
    res.write('retry: 2000\n\n');
    send(res, 'snapshot', state.snapshot());
    clients.add(res);
    const drop = () => clients.delete(res);
    req.on('close', drop);
    res.on('close', drop);
    res.on('error', drop);
  };

  return {
    state,
    ingest(line) {
      const parsed = parseMetricLine(line);
      if (!parsed) return false;
      if (state.ingest(parsed) === 'reset') {
        // A new run: every page starts over from its snapshot, not from a delta of the old run.
        state.clearPending();
        broadcast('snapshot', state.snapshot());
      }
      return true;
    },
    handle(req, res) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        req.resume();
        answer(res, 405, 'text/plain; charset=utf-8', 'only GET\n', { allow: 'GET, HEAD' });
        return;
      }
      const raw = req.url ?? '';
      const q = raw.indexOf('?');
      const path = q < 0 ? raw : raw.slice(0, q);
      if (path === LIVE_PATH || path === `${LIVE_PATH}/`) {
        const nonce = randomBytes(16).toString('base64');
        answer(res, 200, 'text/html; charset=utf-8', livePageHtml(nonce, EVENTS_PATH), {
          'content-security-policy': [
            "default-src 'none'",
            `script-src 'nonce-${nonce}'`,
            `style-src 'nonce-${nonce}'`,
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
          ].join('; '),
        });
        return;
      }
      if (path === EVENTS_PATH && req.method === 'GET') {
        openStream(req, res);
        return;
      }
      if (path === STATE_PATH) {
        answer(res, 200, 'application/json', JSON.stringify(state.snapshot()));
        return;
      }
      answer(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    },
    close() {
      clearInterval(flush);
      clearInterval(heartbeat);
      for (const res of clients) res.end();
      clients.clear();
    },
  };
}
