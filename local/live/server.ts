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
  /** Most event streams open at once; another is told `busy` and retries later. Default 16. */
  maxClients?: number;
  /** How often changes are pushed, ms. Default 200. */
  flushMs?: number;
  /** Comment line keeping idle streams open through proxies and idle timeouts, ms. Default 15 s. */
  heartbeatMs?: number;
  /**
   * Bytes a stream may hold unsent beyond its latest snapshot before it is cut (default 1 MiB):
   * a page that stops reading then costs at most this, and when it reads again it reconnects to
   * a fresh snapshot instead of catching up on stale deltas.
   */
  maxBufferedBytes?: number;
  /**
   * How long a stream may hold unsent bytes without the reader taking any of them before it is
   * cut, ms (default 10 s): a page that takes nothing more holds its slot (one of maxClients)
   * only this long once its connection's buffers are full, however little is written to it
   * after. A slow reader that keeps taking bytes is not cut by this, as long as the kernel makes
   * room in the connection within stallMs (it does so in large steps: a page taking 64 KiB every
   * 50 ms was seen taking nothing for over half a second).
   */
  stallMs?: number;
  limits?: Partial<LiveLimits>;
  /** Called after each metric line is taken: a test drives flushes from it, not from a timer. */
  onIngest?: (view: LiveView) => void;
}

export interface LiveView {
  readonly state: LiveState;
  /** Feeds one line a function wrote; true when it was a pipeline metric line. */
  ingest(line: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Pushes the pending changes now (the timer does it every flushMs). */
  flush(): void;
  /** Event streams open now. */
  streams(): number;
  /** Ends every stream and stops the timers; a stream asked for after is told to retry later. */
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

const STREAM_HEADERS = {
  ...BASE_HEADERS,
  'content-type': 'text/event-stream; charset=utf-8',
  connection: 'keep-alive',
} as const;

/** The browser reconnects this long after a stream drops, and gets a fresh snapshot. */
const RETRY_MS = 2000;
/** A page told the server is busy waits longer before it tries again. */
const BUSY_RETRY_MS = 5000;

export function createLiveView(options: LiveViewOptions = {}): LiveView {
  const state = new LiveState(options.limits);
  const maxClients = options.maxClients ?? 16;
  const maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
  const stallMs = options.stallMs ?? 10_000;
  /**
   * Each open stream: the unsent bytes it may hold before it is cut; the unsent bytes it held at
   * the last look plus those written since; since when (ms) the reader has taken none of a
   * backlog, if so.
   */
  const clients = new Map<
    ServerResponse,
    { allowance: number; unsent: number; stalledSince?: number }
  >();

  const drop = (res: ServerResponse) => {
    clients.delete(res);
    // Destroy, not end: ending would queue behind the bytes the reader is not taking.
    res.destroy();
  };
  const write = (
    res: ServerResponse,
    chunk: string,
    snapshot = false,
    bytes = Buffer.byteLength(chunk),
  ) => {
    const client = clients.get(res);
    if (!client) return;
    // What is still unsent from earlier writes is what the reader did not take (checked before
    // this write: the response holds a fresh write back until the next tick anyway).
    if (res.writableLength === 0) client.allowance = maxBuffered;
    if (res.writableLength > client.allowance) {
      drop(res);
      return;
    }
    // A snapshot can be larger than the bound (2 queues x 200 customers x 500 points), and it
    // is what the page needs: it may sit unsent on top of the bound, not on top of a backlog.
    if (snapshot) client.allowance = bytes + maxBuffered;
    res.write(chunk);
    client.unsent += bytes;
  };
  const message = (event: string, data: unknown) =>
    // JSON.stringify never emits a raw newline, so one `data:` line holds the whole message.
    `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  const broadcast = (event: string, data: unknown) => {
    if (clients.size === 0) return;
    const chunk = message(event, data);
    const bytes = Buffer.byteLength(chunk);
    for (const res of [...clients.keys()]) write(res, chunk, event === 'snapshot', bytes);
  };
  const flushNow = () => {
    const delta = state.takeDelta();
    if (delta) broadcast('delta', delta);
  };

  const flush = setInterval(flushNow, options.flushMs ?? 200);
  flush.unref();
  const heartbeat = setInterval(() => {
    for (const res of [...clients.keys()]) write(res, ': keep-alive\n\n');
  }, options.heartbeatMs ?? 15_000);
  heartbeat.unref();
  // Bytes unsent in the process mean the connection's own buffers are full. A stream whose
  // backlog shrank since the last look (less unsent than then plus what was written since) has
  // a reader taking bytes; one whose reader took none for stallMs is cut, whether
  // or not anything more is written to it (the bound on bytes above is reached only while
  // changes keep coming).
  const stallCheck = setInterval(
    () => {
      const now = Date.now();
      for (const [res, client] of [...clients]) {
        const unsent = res.writableLength;
        if (unsent === 0 || unsent < client.unsent) client.stalledSince = undefined;
        else if (client.stalledSince === undefined) client.stalledSince = now;
        else if (now - client.stalledSince >= stallMs) {
          drop(res);
          continue;
        }
        client.unsent = unsent;
      }
    },
    Math.max(10, Math.min(1000, stallMs / 4)),
  );
  stallCheck.unref();

  const answer = (res: ServerResponse, status: number, type: string, body: string, extra = {}) => {
    res.writeHead(status, {
      ...BASE_HEADERS,
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      ...extra,
    });
    res.end(body);
  };

  let closed = false;

  const openStream = (req: IncomingMessage, res: ServerResponse) => {
    if (closed) {
      // Stopping: a stream now would get no delta and no heartbeat, and would hold the edge's
      // close until its grace ran out. The page tries again after the retry delay, and finds
      // the next cloud if one starts on this port.
      res.writeHead(200, STREAM_HEADERS);
      res.end(`retry: ${RETRY_MS}\n\n`);
      return;
    }
    if (clients.size >= maxClients) {
      // EventSource gives up for good on any answer but 200 text/event-stream: a 503 would
      // leave the page saying "retrying" forever. A short stream that says why, with a retry
      // delay, makes it try again on its own.
      res.writeHead(200, STREAM_HEADERS);
      res.end(`retry: ${BUSY_RETRY_MS}\n\n${message('busy', { maxStreams: maxClients })}`);
      return;
    }
    // Whatever is pending goes to the streams already open first: the snapshot below already
    // holds those applies, and a delta after it would draw them twice on this page.
    flushNow();
    res.writeHead(200, STREAM_HEADERS);
    clients.set(res, { allowance: maxBuffered, unsent: 0 });
    write(res, `retry: ${RETRY_MS}\n\n`);
    write(res, message('snapshot', state.snapshot()), true);
    const forget = () => clients.delete(res);
    req.on('close', forget);
    res.on('close', forget);
    res.on('error', forget);
  };

  const view: LiveView = {
    state,
    ingest(line) {
      const parsed = parseMetricLine(line);
      if (!parsed) return false;
      if (state.ingest(parsed) === 'reset') {
        // A new run: every page starts over from its snapshot, not from a delta of the old run.
        state.clearPending();
        broadcast('snapshot', state.snapshot());
      }
      options.onIngest?.(view);
      return true;
    },
    flush: flushNow,
    streams: () => clients.size,
    handle(req, res) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        req.resume();
        answer(res, 405, 'text/plain; charset=utf-8', 'this path answers GET and HEAD only\n', {
          allow: 'GET, HEAD',
        });
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
      if (path === EVENTS_PATH) {
        if (req.method === 'GET') openStream(req, res);
        else {
          // HEAD: the headers a GET would get, and no stream.
          res.writeHead(200, STREAM_HEADERS);
          res.end();
        }
        return;
      }
      if (path === STATE_PATH) {
        answer(res, 200, 'application/json', JSON.stringify(state.snapshot()));
        return;
      }
      answer(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    },
    close() {
      closed = true;
      clearInterval(flush);
      clearInterval(heartbeat);
      clearInterval(stallCheck);
      for (const res of clients.keys()) res.end();
      clients.clear();
    },
  };
  return view;
}
