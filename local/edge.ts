import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpUrl, readRequestHost } from './address';
import { declaredOver } from './body';
import {
  ALLOW_ORIGINS_ENV,
  applyCors,
  type BrowserGuard,
  createBrowserGuard,
} from './browser-guard';
import { queryErrorBody } from './sqs/protocol';

/**
 * The edge: one port that speaks to any AWS SDK or the AWS CLI pointed at it with
 * `AWS_ENDPOINT_URL`, like LocalStack's 4566. AWS tells its services apart by host name; one
 * local port cannot, so requests are routed by protocol instead: the JSON protocols name their
 * service in `X-Amz-Target`, and the SQS Query protocol (AWS CLI v2 from Debian, older SDKs) is a
 * form POST (or GET) carrying `Action=`.
 */

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface EdgeBackends {
  sqs: RequestListener;
  dynamodb: RequestListener;
  /**
   * Extra fields for the health document, e.g. the seed and `components` (name to state); a
   * component `failed` or `restarting` makes the answer a 503.
   */
  health?: () => Record<string, unknown>;
  /** The live page and its event stream (local/live), under LIVE_PATH. */
  live?: RequestListener;
  /**
   * The body a backend refuses as soon as its declared Content-Length is over this (SQS's 4 MiB):
   * a client that sends `Expect: 100-continue` with such a length gets the refusal instead of
   * `100 Continue`, before it sends any of the body.
   */
  maxBodyBytes?: Partial<Record<Route, number>>;
}

export interface Edge {
  server: Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

export const HEALTH_PATH = '/_localcloud/health';
/** The live view's page, stream and snapshot (local/live/server.ts). */
export const LIVE_PATH = '/_localcloud/live';

export type Route = 'sqs' | 'dynamodb' | 'health' | 'live' | 'unknown';

/** The path and query of a request target, without URL parsing (which throws on `//[`). */
export function splitTarget(target: string | undefined): { path: string; query: URLSearchParams } {
  const raw = target ?? '/';
  const q = raw.indexOf('?');
  return q < 0
    ? { path: raw, query: new URLSearchParams() }
    : { path: raw.slice(0, q), query: new URLSearchParams(raw.slice(q + 1)) };
}

/** Which backend a request is for, decided from its headers alone (the body is not read here). */
export function routeRequest(req: Pick<IncomingMessage, 'method' | 'url' | 'headers'>): Route {
  const target = req.headers['x-amz-target'];
  const targetValue = Array.isArray(target) ? target[0] : target;
  if (targetValue) {
    if (targetValue.startsWith('DynamoDB_20120810.')) return 'dynamodb';
    if (targetValue.startsWith('AmazonSQS.')) return 'sqs';
    return 'unknown';
  }
  const { path, query } = splitTarget(req.url);
  // HEAD as GET (Node sends the headers only): health probes such as `curl -I` use it.
  if ((req.method === 'GET' || req.method === 'HEAD') && path === HEALTH_PATH) return 'health';
  if (path === LIVE_PATH || path.startsWith(`${LIVE_PATH}/`)) return 'live';
  // The emulator's control endpoints (clock, faults), so tests in another process can drive it.
  if (path.startsWith('/_emulator/')) return 'sqs';
  const contentType = String(req.headers['content-type'] ?? '').toLowerCase();
  if (req.method === 'POST' && contentType.startsWith('application/x-www-form-urlencoded')) {
    return 'sqs';
  }
  if (req.method === 'GET' && query.has('Action')) return 'sqs';
  return 'unknown';
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * AWS's answer to a failure on its side, for a backend that threw: the client may retry, and
 * the process goes on serving everyone else.
 */
function internalError(res: ServerResponse): void {
  sendJson(
    res,
    500,
    { __type: 'InternalError', message: 'We encountered an internal error. Please try again.' },
    { 'x-amzn-query-error': 'InternalError;Receiver' },
  );
}

/**
 * The edge's own refusal (a bad Host, the browser guard's), answered in the protocol the request
 * speaks. A Query-protocol SQS request (a form POST or a GET with `Action=`, no `X-Amz-Target`)
 * gets SQS's XML `ErrorResponse`: its clients (the AWS CLI v2 from Debian, older SDKs) parse an
 * error body as XML only, and a JSON one is a parse failure to them ("Unable to parse response
 * ... invalid XML received. Further retries may succeed", botocore), not the error. Without a
 * code, the element is left out: they report the message under `Unknown`, as the JSON protocol's
 * SDKs do for a body without `__type`. Every other request gets the JSON body.
 */
function refuse(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  message: string,
  code?: string,
): void {
  req.resume();
  const queryProtocol =
    req.headers['x-amz-target'] === undefined &&
    routeRequest(req) === 'sqs' &&
    !splitTarget(req.url).path.startsWith('/_emulator/');
  const queryError: Record<string, string> =
    code === undefined ? {} : { 'x-amzn-query-error': `${code};Sender` };
  if (!queryProtocol) {
    sendJson(res, status, code === undefined ? { message } : { __type: code, message }, queryError);
    return;
  }
  if (res.headersSent || res.destroyed) return;
  const text = queryErrorBody('Sender', code, message, randomUUID());
  res.writeHead(status, {
    'content-type': 'text/xml',
    'content-length': Buffer.byteLength(text),
    ...queryError,
  });
  res.end(text);
}

/** Component states in which a component does not serve (a restart in progress, or given up). */
export const UNAVAILABLE_STATES: ReadonlySet<unknown> = new Set(['failed', 'restarting']);

/** The components of a health document that do not serve: any of them makes it a 503. */
function unavailableComponents(doc: Record<string, unknown>): string[] {
  const components = doc.components;
  if (typeof components !== 'object' || components === null) return [];
  return Object.entries(components)
    .filter(([, state]) => UNAVAILABLE_STATES.has(state))
    .map(([name]) => name);
}

export interface EdgeHandlerOptions {
  log?: (line: string) => void;
  /** Decides whether a browser may make this request (see browser-guard.ts); all pass when absent. */
  guard?: BrowserGuard;
}

export function createEdgeHandler(
  backends: EdgeBackends,
  { log = () => undefined, guard }: EdgeHandlerOptions = {},
): RequestListener {
  const dispatch: RequestListener = (req, res) => {
    const route = routeRequest(req);
    switch (route) {
      case 'dynamodb':
        backends.dynamodb(req, res);
        return;
      case 'sqs':
        backends.sqs(req, res);
        return;
      case 'health': {
        const doc = backends.health?.() ?? {};
        const down = unavailableComponents(doc);
        sendJson(
          res,
          down.length > 0 ? 503 : 200,
          down.length > 0
            ? { status: 'unavailable', unavailable: down, ...doc }
            : { status: 'ok', ...doc },
        );
        return;
      }
      case 'live':
        if (backends.live) {
          backends.live(req, res);
          return;
        }
        req.resume();
        sendJson(res, 404, {
          message: 'no live view: the pipeline is not deployed (--services-only)',
        });
        return;
      default: {
        // Drain the body so keep-alive clients can reuse the connection after the error.
        req.resume();
        sendJson(res, 400, {
          __type: 'UnknownServiceException',
          message:
            'the local cloud edge serves SQS (X-Amz-Target: AmazonSQS.* or a form POST with Action=) ' +
            `and DynamoDB (X-Amz-Target: DynamoDB_20120810.*); got ${req.method} ${req.url}` +
            (req.headers['x-amz-target']
              ? ` with X-Amz-Target: ${req.headers['x-amz-target']}`
              : ''),
        });
      }
    }
  };
  return (req, res) => {
    // A Host sent twice, or that is no host and port (malformed IPv6 brackets, an IPv6 address
    // without them, a port that is no TCP port), is a malformed request (RFC 9112 3.2, address.ts
    // readRequestHost): 400 before any route; SQS would name that Host in queue URLs. A plain 400
    // with a message and no `__type`: AWS documents no error code for it, and no SDK knows one.
    // Its HTTP front ends refuse a request that breaks HTTP before any service reads it, with a
    // bare 400 (ELB: "HTTP 400: BAD_REQUEST", an HTML page); docs/fidelity.md. Read once: the
    // browser guard decides on this reading.
    const host = readRequestHost(req.rawHeaders);
    if (!host.ok) {
      log(`edge: refused ${req.method} ${req.url}: ${host.problem}`);
      refuse(req, res, 400, host.problem);
      return;
    }
    const verdict = guard?.(req, host) ?? { ok: true };
    if (!verdict.ok) {
      log(`edge: refused ${req.method} ${req.url}: ${verdict.reason}`);
      refuse(
        req,
        res,
        403,
        `${verdict.reason}: the local cloud answers browsers only from origins allowed with --allow-origin or ${ALLOW_ORIGINS_ENV}`,
        'AccessDenied',
      );
      return;
    }
    if (verdict.corsOrigin && applyCors(req, res, verdict.corsOrigin)) return;
    try {
      dispatch(req, res);
    } catch (err) {
      log(`edge: ${req.method} ${req.url}: ${(err as Error)?.stack ?? String(err)}`);
      req.resume();
      internalError(res);
    }
  };
}

/**
 * The last resort for the process that hosts the local cloud: an exception that escaped every
 * request handler (a library throwing from an event listener) is logged, and the process goes
 * on serving, since every queue and message lives in its memory. Returns the uninstaller.
 */
export function installLastResortGuard(log: (line: string) => void): () => void {
  const onError = (err: unknown) =>
    log(`error: uncaught, still serving: ${(err as Error)?.stack ?? String(err)}`);
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  return () => {
    process.off('uncaughtException', onError);
    process.off('unhandledRejection', onError);
  };
}

/** The address to listen on is not one of this machine's (or its name does not resolve). */
export class AddressNotAvailableError extends Error {
  readonly expose = true;
  constructor(what: string, host: string, options?: ErrorOptions) {
    super(
      `cannot listen on ${host} for the ${what}: not an address of this machine (${(options?.cause as NodeJS.ErrnoException | undefined)?.code ?? 'unavailable'})`,
      options,
    );
    this.name = 'AddressNotAvailableError';
  }
}

/**
 * What a server gives one client before it gives up on it: a client that sends its headers or
 * its body too slowly would otherwise hold a connection and its buffers for as long as it likes,
 * and enough of them would starve everyone else.
 */
export interface ServerLimits {
  /** Time to receive a request's headers (Node answers 408 and closes). */
  headersTimeoutMs?: number;
  /**
   * Time to receive a whole request. Only the request: answering may take longer (a long poll
   * waits up to 20 s for a message).
   */
  requestTimeoutMs?: number;
  /** Connections open at once; one more is closed as soon as it is accepted. */
  maxConnections?: number;
  /** How long an idle keep-alive connection is kept. */
  keepAliveTimeoutMs?: number;
}

export const DEFAULT_LIMITS: Required<ServerLimits> = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  // Far above what the pipeline opens (two mappings with 64 sockets each, the producer's
  // environments, the load generator), far below the file descriptors a process gets.
  maxConnections: 1024,
  // Longer than the SDK keeps an idle socket, so the server is not the one closing it mid-reuse.
  keepAliveTimeoutMs: 65_000,
};

/**
 * Node's own answers to a connection whose bytes are no longer HTTP (its defaults, by error code),
 * each closing the connection; any other code is a 400.
 */
const CLIENT_ERROR_STATUS: ReadonlyMap<string | undefined, readonly [number, string]> = new Map([
  ['HPE_HEADER_OVERFLOW', [431, 'Request Header Fields Too Large']],
  ['HPE_CHUNK_EXTENSIONS_OVERFLOW', [413, 'Payload Too Large']],
  ['ERR_HTTP_REQUEST_TIMEOUT', [408, 'Request Timeout']],
]);

/** The answer to CONNECT: no server of the local cloud is a proxy. */
const CONNECT_ANSWER =
  'HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, POST\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';

function clientErrorAnswer(code: string | undefined): string {
  const [status, reason] = CLIENT_ERROR_STATUS.get(code) ?? [400, 'Bad Request'];
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`;
}

/**
 * What answerAfterOwed(server, clientErrorAnswer, connectAnswer) does, as plain JavaScript: the
 * edge and the API (createLimitedServer) evaluate this text, and DynamoDB's thread, whose server
 * is dynalite's, runs the same text, so every server of the local cloud closes a connection the
 * same way. (A compiled function's own text is no source for a worker: thread-stats.ts.)
 *
 * Bytes that are not HTTP after a request that was (a pipelined request's Content-Length
 * shorter than its body, garbage after it): Node answers 400 and closes the connection at once,
 * and when the request before was still being answered (an SQS action answers after its body
 * is read), that 400 went out first and the request's own answer was lost. The client read
 * "400 Bad Request" for a request that had run (a CreateQueue that made its queue; found by
 * the edge fuzzer). The error's answer now waits for the answers owed before it, in order, as
 * HTTP/1.1 requires of a pipelined connection; nothing after the bad bytes is read.
 *
 * CONNECT asks a proxy for a tunnel, and none of these servers is one. Without a listener Node
 * destroys the connection at once: the client got no answer, and the answers still owed to
 * requests pipelined before it on that connection were lost with it (a CreateQueue or an order
 * that had run, answered by a reset; a ListTables on DynamoDB's private port). It gets a 405
 * after those answers, as the bytes that are not HTTP above do; nothing after it is read.
 */
export const ANSWER_AFTER_OWED_SOURCE = `function answerAfterOwed(server, clientErrorAnswer, connectAnswer) {
  // The responses each connection still owes, in the order of its requests; counted before any
  // other listener sees the request.
  const owed = new WeakMap();
  server.prependListener('request', (req, res) => {
    let pending = owed.get(req.socket);
    if (!pending) {
      pending = new Map();
      owed.set(req.socket, pending);
    }
    const set = pending;
    set.set(res, req);
    // A response emits 'close' once, after its 'finish' or when its connection is gone.
    res.once('close', () => set.delete(res));
  });
  const answering = new WeakSet();
  // Writes text() and closes the connection, once the answers owed before it have gone out.
  const closeWith = (socket, text) => {
    if (answering.has(socket)) return;
    answering.add(socket);
    const answer = () => {
      const last = text();
      if (last === undefined || !socket.writable) {
        socket.destroy();
        return;
      }
      socket.end(last);
      // A client that never reads is not waited for.
      setTimeout(() => socket.destroy(), 1000).unref();
    };
    // Only requests read to their end are owed an answer first: one whose own body broke off
    // (a bad chunk size) is the request refused here, and nobody will answer it otherwise.
    const pending = [...(owed.get(socket) || [])]
      .filter(([res, req]) => req.complete && !res.writableFinished)
      .map(([res]) => res);
    if (pending.length === 0) return answer();
    socket.pause();
    let left = pending.length;
    const settled = () => {
      if (--left === 0) answer();
    };
    for (const res of pending) {
      if (res.destroyed) settled();
      else res.once('close', settled);
    }
  };
  server.on('clientError', (err, socket) =>
    closeWith(socket, () => (err.code === 'ECONNRESET' ? undefined : clientErrorAnswer(err.code))),
  );
  server.on('connect', (_req, socket) => {
    // Node takes its own error listener off a socket it hands over: a reset would throw.
    socket.on('error', () => socket.destroy());
    closeWith(socket, () => connectAnswer);
  });
}`;

/** ANSWER_AFTER_OWED_SOURCE evaluated here. */
const answerAfterOwed = new Function(`${ANSWER_AFTER_OWED_SOURCE}\nreturn answerAfterOwed;`)() as (
  server: Server,
  clientErrorAnswer: (code: string | undefined) => string,
  connectAnswer: string,
) => void;

/** The arguments DynamoDB's thread gives answerAfterOwed: the same answers as every server's. */
export const CLOSE_ANSWERS = {
  /** Node's error code -> its answer, for the codes CLIENT_ERROR_STATUS names; any other: `other`. */
  clientError: Object.fromEntries(
    [...CLIENT_ERROR_STATUS.keys()].map((code) => [code, clientErrorAnswer(code)]),
  ) as Record<string, string>,
  other: clientErrorAnswer(undefined),
  connect: CONNECT_ANSWER,
};

/** An HTTP server with the limits above; every server of the local cloud is made here. */
export function createLimitedServer(listener: RequestListener, limits: ServerLimits = {}): Server {
  const l = { ...DEFAULT_LIMITS, ...limits };
  const server = createServer(
    {
      headersTimeout: l.headersTimeoutMs,
      requestTimeout: l.requestTimeoutMs,
      keepAliveTimeout: l.keepAliveTimeoutMs,
      // Node checks the two timeouts only this often: at most half the shorter one.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(l.headersTimeoutMs / 2))),
    },
    listener,
  );
  server.maxConnections = l.maxConnections;
  // Every header within Node's 16 KiB reaches the handlers: by default Node keeps the first 2,000
  // and drops the rest without a word, and 2,000 short headers fit in 16 KiB, so a second Host,
  // Idempotency-Key or Content-Type written after 2,000 others was never seen by the checks that
  // refuse a header given twice. The 16 KiB bound the count (at most about 4,000 headers).
  server.maxHeadersCount = 0;
  // A bad request or a CONNECT is answered after the answers owed before it, and closes the
  // connection (ANSWER_AFTER_OWED_SOURCE says why).
  answerAfterOwed(server, clientErrorAnswer, CONNECT_ANSWER);
  return server;
}

export class PortInUseError extends Error {
  readonly expose = true;
  constructor(what: string, host: string, port: number, flag: string, options?: ErrorOptions) {
    super(
      `${what} port ${host}:${port} is already in use; pick another with ${flag} (0 for a free one)`,
      options,
    );
    this.name = 'PortInUseError';
  }
}

/**
 * Listens on host:port (0 = a free port); rejects with PortInUseError when taken, naming `flag`,
 * the `npm start` flag that sets this port.
 */
export function listen(
  server: Server,
  port: number,
  host: string,
  what: string,
  flag: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(
        err.code === 'EADDRINUSE'
          ? new PortInUseError(what, host, port, flag, { cause: err })
          : err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN'
            ? new AddressNotAvailableError(what, host, { cause: err })
            : err,
      );
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Closes a server and, after a grace period, the keep-alive connections still open on it. */
export function closeServer(server: Server, graceMs = 1000): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

export async function startEdge(
  backends: EdgeBackends,
  {
    port = 4566,
    host = '127.0.0.1',
    log,
    allowedOrigins = [],
    limits,
  }: {
    port?: number;
    host?: string;
    log?: (line: string) => void;
    /** Origins a browser page may call from (none by default); `*` allows any. */
    allowedOrigins?: readonly string[];
    limits?: ServerLimits;
  } = {},
): Promise<Edge> {
  const guard = createBrowserGuard({ allowedOrigins, host });
  const server = createLimitedServer(
    createEdgeHandler(backends, { guard, ...(log ? { log } : {}) }),
    limits,
  );
  // Node answers `Expect: 100-continue` with 100 Continue by itself unless told otherwise.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const limit = backends.maxBodyBytes?.[routeRequest(req)];
    if (limit === undefined || !declaredOver(req, limit)) res.writeContinue();
    server.emit('request', req, res);
  });
  const actualPort = await listen(server, port, host, 'edge', '--port');
  return {
    server,
    port: actualPort,
    url: httpUrl(host, actualPort),
    close: () => closeServer(server),
  };
}
