import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseJson } from '../../shared/src/json-keys';
import { freshSeed } from '../../shared/src/random';
import { httpUrl, parseHostHeader } from '../address';
import { collectBody } from '../body';
import { createLimitedServer } from '../edge';
import { ACTIONS, type Action, type Context, Params } from './actions';
import { queueAt } from './actions/context';
import { Clock } from './clock';
import { errors, SqsError } from './errors';
import {
  type FaultConfig,
  FaultDice,
  type FaultPreset,
  type FaultsInput,
  resolveFaults,
} from './faults';
import { MoveTasks } from './move-tasks';
import {
  jsonError,
  parseJsonRequest,
  parseQueryRequest,
  queryError,
  queryResponse,
} from './protocol';
import { LIMITS, type LostDelete, type Queue, type QueueWork } from './queue';
import type { Input } from './wire';

export { Clock } from './clock';
export { FAULT_PRESETS, type FaultConfig, type FaultPreset, PRESETS } from './faults';

export interface SqsEmulatorOptions {
  /** Master seed of the fault model; random (and reported as `seed`) when absent. */
  seed?: number;
  faults?: FaultPreset | Partial<FaultConfig>;
  clock?: Clock;
  region?: string;
  accountId?: string;
  log?: (msg: string, data?: object) => void;
  /**
   * The in-flight quotas (LIMITS.maxInFlightStandard and maxInFlightFifo, AWS's 120,000, when
   * absent): a test lowers them to reach them with a few messages.
   */
  maxInFlight?: { standard?: number; fifo?: number };
}

export interface SqsEmulator {
  handle(req: IncomingMessage, res: ServerResponse): void;
  listen(port?: number, host?: string): Promise<{ url: string; port: number }>;
  close(): Promise<void>;
  clock: Clock;
  seed: number;
  faults(): FaultConfig;
  setFaults(faults: FaultPreset | Partial<FaultConfig>): void;
  /** Receipt handles held right now (in flight, not deleted) on the named queues. */
  heldReceipts(queueNames: readonly string[]): string[];
  /**
   * How much longer (ms, on this emulator's clock) the receive that answered `receiptHandle`
   * holds its message on the queue at `queueUrl`: 0 once it holds it no more; undefined when
   * this emulator has no such queue or the value is none of its handles. The local cloud hands
   * it, bound to each mapped queue, to its own event source mappings (deployPipeline's
   * `sqsHoldLeft`); no SQS action, not on the wire.
   */
  holdLeft(queueUrl: string, receiptHandle: string): number | undefined;
  /** The deletes the surviving-copy fault lost on the named queue (none if unknown). */
  lostDeletes(queueName: string): readonly LostDelete[];
  /** The work the named queue did (see QueueWork), for tests that count it; undefined if none. */
  queueWork(queueName: string): Readonly<QueueWork> | undefined;
  /** How many long polls wait on the named queue right now (undefined if no such queue). */
  queueWaiters(queueName: string): number | undefined;
  /**
   * Runs one action in this process as a JSON-protocol request with this body would run: the
   * same checks and the same run, without HTTP. The answer is a copy in the wire's JSON shape
   * (nothing in it is the emulator's own state); a refusal throws the SqsError the JSON protocol
   * would answer with. `host` is the Host header a client would send (queue URLs in answers
   * name it); `clientGone` says when the caller stopped waiting (a long poll then takes nothing,
   * as for a client whose connection closed), and `onClientGone` tells it at that moment (a
   * waiting long poll then leaves its queue's waiters at once).
   */
  call(
    action: string,
    input: Input,
    options?: {
      host?: string;
      clientGone?: () => boolean;
      onClientGone?: (listener: () => void) => () => void;
    },
  ): Promise<unknown>;
}

const YEAR_MS = 366 * 24 * 3600 * 1000;

/**
 * What makes a Host header no host for queue URLs, or undefined. Read by the edge's reader
 * (local/address.ts parseHostHeader: parseHost, and a bare IPv6 address refused), so that a
 * Host means the same on the edge and here: this check had its own pattern, which refused an
 * empty port (`localhost:`, `[::1]:`) the edge takes and took `[127.0.0.1]`, port 0 and
 * 65536-99999, which the edge refuses (found in review). One rule more than the edge's: a name,
 * since HTTP allows an empty Host (`Host:`, `:`) and a queue URL without a host names no queue.
 */
function hostRefusal(host: string): string | undefined {
  const parts = parseHostHeader(host);
  if (typeof parts === 'string') return parts;
  if (parts.name === '') return 'names no host';
  return undefined;
}

const MAX_CLOCK_STEP_MS = YEAR_MS;
const MAX_CLOCK_OFFSET_MS = 100 * YEAR_MS;

/** Bodies over this are refused before parsing: the largest valid request is a 1 MiB batch. */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

/** The emulator's control endpoints, and the methods they answer. */
const CONTROL_PATHS: ReadonlySet<string> = new Set(['/_emulator/clock', '/_emulator/faults']);
const CONTROL_METHODS = 'GET, HEAD, POST';

/**
 * The actions a `GET /?Action=` may run. A page can make a browser send a GET without Origin,
 * Referer or Fetch Metadata (older browsers, `referrerpolicy="no-referrer"`), so nothing that
 * changes state runs over GET; no SDK or CLI sends SQS requests as GET.
 */
const READ_ONLY_ACTIONS: ReadonlySet<string> = new Set([
  'GetQueueUrl',
  'GetQueueAttributes',
  'ListQueues',
  'ListQueueTags',
  'ListDeadLetterSourceQueues',
  'ListMessageMoveTasks',
]);

export function createSqsEmulator(options: SqsEmulatorOptions = {}): SqsEmulator {
  const clock = options.clock ?? new Clock();
  const seed = options.seed ?? freshSeed();
  let faults = resolveFaults(options.faults);
  let closed = false;
  const queues = new Map<string, Queue>();
  const deletedAt = new Map<string, number>();
  const moveTasks = new MoveTasks();
  const dice = new FaultDice(seed);
  const accountId = options.accountId ?? '000000000000';
  const region = options.region ?? 'us-east-1';
  const maxInFlight = {
    standard: options.maxInFlight?.standard ?? LIMITS.maxInFlightStandard,
    fifo: options.maxInFlight?.fifo ?? LIMITS.maxInFlightFifo,
  };
  let server: Server | undefined;

  const send = (
    res: ServerResponse,
    status: number,
    body: string,
    headers: Record<string, string>,
  ) => {
    if (res.headersSent || res.destroyed) return;
    headers['content-length'] = String(Buffer.byteLength(body));
    res.writeHead(status, headers);
    res.end(body);
  };

  const control = (req: IncomingMessage, res: ServerResponse, body: Buffer, path: string) => {
    const json = { 'content-type': 'application/json' };
    if (!CONTROL_PATHS.has(path)) {
      return send(res, 404, JSON.stringify({ message: `no control endpoint ${path}` }), json);
    }
    // Read with GET (or HEAD), changed with POST. Any other method had been answered 200 as a
    // read, its body dropped (a PUT {"advanceMs":1000} left the clock where it was; found in
    // review): refused before its body is looked at, and nothing changes.
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'POST') {
      return send(
        res,
        405,
        JSON.stringify({
          message: `${path} answers GET (read) and POST (change); not ${req.method}`,
        }),
        { ...json, allow: CONTROL_METHODS },
      );
    }
    // A page can POST text/plain anywhere without a CORS preflight; a JSON content type it
    // cannot send cross-origin, so a control request must carry one.
    const contentType = String(req.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    if (req.method === 'POST' && contentType.toLowerCase() !== 'application/json') {
      return send(
        res,
        415,
        JSON.stringify({
          message: 'control endpoints take a JSON body (content-type: application/json)',
        }),
        json,
      );
    }
    try {
      const input = body.length ? (parseJson(body.toString()) as Record<string, unknown>) : {};
      if (path === '/_emulator/clock') {
        if (req.method === 'POST') {
          if (typeof input !== 'object' || input === null || Array.isArray(input)) {
            throw new TypeError('the body must be a JSON object, such as {"advanceMs": 1000}');
          }
          const ms = input.advanceMs ?? 0;
          // A clock far enough ahead loses the milliseconds every deadline adds to it (at 1e308,
          // now + 20 s is now): long polls would return at once and pollers spin. A year a
          // request, and a century in all, is more than any test or demo needs.
          if (
            typeof ms !== 'number' ||
            !Number.isSafeInteger(ms) ||
            ms < 0 ||
            ms > MAX_CLOCK_STEP_MS ||
            clock.offset + ms > MAX_CLOCK_OFFSET_MS
          ) {
            throw new RangeError(
              `advanceMs must be an integer from 0 to ${MAX_CLOCK_STEP_MS} (a year), ${MAX_CLOCK_OFFSET_MS} in all`,
            );
          }
          clock.advance(ms);
        }
        return send(res, 200, JSON.stringify({ now: clock.now(), offsetMs: clock.offset }), json);
      }
      if (path === '/_emulator/faults') {
        if (req.method === 'POST') faults = resolveFaults(input as FaultsInput);
        return send(res, 200, JSON.stringify({ seed, faults }), json);
      }
      return send(res, 404, JSON.stringify({ message: `no control endpoint ${path}` }), json);
    } catch (err) {
      return send(res, 400, JSON.stringify({ message: (err as Error).message }), json);
    }
  };

  // One context per Host header (queue URLs answer with the host the client used): built once,
  // not per request, as every request of a client carries the same host.
  const contexts = new Map<string, Context>();
  const contextFor = (host: string): Context => {
    let ctx = contexts.get(host);
    if (!ctx) {
      // The host goes into every queue URL answered: one that is not a host and port (`x/y`, an
      // empty one) would hand out URLs that name no queue here.
      const refusal = hostRefusal(host);
      if (refusal !== undefined) {
        throw errors.invalidParameter(`The Host header ${JSON.stringify(host)} ${refusal}.`);
      }
      ctx = {
        clock,
        accountId,
        region,
        faults: () => faults,
        dice,
        queues,
        deletedAt,
        origin: `http://${host}`,
        moveTasks,
        closed: () => closed,
        maxInFlight,
        ...(options.log ? { log: options.log } : {}),
      };
      if (contexts.size < 64) contexts.set(host, ctx);
    }
    return ctx;
  };

  // Every check first: a request that fails changes nothing.
  const run = (op: Action, ctx: Context, params: Params) => op.run(ctx, op.validate(ctx, params));

  const dispatch = async (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const requestId = randomUUID();
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const pathname = q < 0 ? rawUrl : rawUrl.slice(0, q);
    if (pathname.startsWith('/_emulator/')) return control(req, res, body, pathname);
    const target = req.headers['x-amz-target'];
    const isJson = typeof target === 'string';
    try {
      // An HTTP/1.0 client may send no Host: its queue URLs name the address and port it
      // connected to (a bare 127.0.0.1 named port 80, where no emulator listens).
      const ctx = contextFor(
        req.headers.host ??
          new URL(httpUrl(req.socket.localAddress ?? '127.0.0.1', req.socket.localPort ?? 80)).host,
      );
      let action: string;
      let input: Input;
      if (isJson) {
        // AWS's JSON protocol is a POST to "/" and every SDK sends it so; AWS documents no
        // answer for another method. Refused before any action is looked up or run, as an
        // operation this endpoint does not know: the answer for an unknown X-Amz-Target, in the
        // JSON shape the client reads. GET stays for the Query protocol's read-only actions.
        if (req.method !== 'POST' || !target.startsWith('AmazonSQS.')) {
          throw errors.unknownOperation();
        }
        action = target.slice('AmazonSQS.'.length);
        input = parseJsonRequest(body);
      } else {
        ({ action, input } = parseQueryRequest(
          body,
          q < 0 ? '' : rawUrl.slice(q),
          // A path other than `/` is the queue URL's path, judged by queueFromUrl's rule like a
          // QueueUrl parameter. The host is not compared, so it is a fixed one here: a Host
          // header may hold a '/' and would otherwise add a path segment of its own.
          pathname === '/' ? undefined : `http://localhost${pathname}`,
        ));
      }
      const op = Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
      if (!op) throw isJson ? errors.unknownOperation() : errors.invalidAction(action);
      if (req.method === 'GET' && !READ_ONLY_ACTIONS.has(action))
        throw errors.changeOverGet(action);
      const socket = req.socket;
      const output = await run(
        op,
        ctx,
        new Params(
          input,
          isJson ? 'json' : 'query',
          () => socket.destroyed,
          (listener) => {
            socket.once('close', listener);
            return () => socket.off('close', listener);
          },
        ),
      );
      if (isJson) {
        send(res, 200, JSON.stringify(output), {
          'content-type': 'application/x-amz-json-1.0',
          'x-amzn-requestid': requestId,
        });
      } else {
        send(res, 200, queryResponse(action, output, requestId), {
          'content-type': 'text/xml',
          'x-amzn-requestid': requestId,
        });
      }
    } catch (err) {
      const e = err instanceof SqsError ? err : errors.internal();
      if (!(err instanceof SqsError))
        options.log?.('sqs: internal error', { error: String((err as Error)?.stack ?? err) });
      if (isJson) {
        send(res, e.status, jsonError(e), {
          'content-type': 'application/x-amz-json-1.0',
          'x-amzn-requestid': requestId,
          ...(e.queryCompatible ? { 'x-amzn-query-error': `${e.queryCode};${e.fault}` } : {}),
        });
      } else {
        send(res, e.status, queryError(e, requestId), {
          'content-type': 'text/xml',
          'x-amzn-requestid': requestId,
        });
      }
    }
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    // Answered as soon as the body is known to be too large, and the connection closed: reading
    // the rest would only let the client hold the connection and its buffers.
    // In the protocol the client spoke (its X-Amz-Target says JSON; a Query client reads XML),
    // with the model's error for an oversized request; the action is in the unread body, so the
    // message names only the size.
    const refuse = (bytes: number) => {
      const e = errors.requestTooLong(bytes, MAX_REQUEST_BYTES);
      const requestId = randomUUID();
      if (typeof req.headers['x-amz-target'] === 'string') {
        send(res, e.status, jsonError(e), {
          'content-type': 'application/x-amz-json-1.0',
          'x-amzn-requestid': requestId,
          'x-amzn-query-error': `${e.queryCode};${e.fault}`,
          connection: 'close',
        });
      } else {
        send(res, e.status, queryError(e, requestId), {
          'content-type': 'text/xml',
          'x-amzn-requestid': requestId,
          connection: 'close',
        });
      }
    };
    collectBody(req, MAX_REQUEST_BYTES, {
      body: (body) => void dispatch(req, res, body),
      tooLarge: refuse,
    });
    req.on('error', () => res.destroy());
  };

  const emulator: SqsEmulator = {
    handle,
    clock,
    seed,
    faults: () => faults,
    setFaults(f) {
      faults = resolveFaults(f);
    },
    heldReceipts(queueNames) {
      return queueNames.flatMap((name) => queues.get(name)?.heldReceipts() ?? []);
    },
    holdLeft(queueUrl, receiptHandle) {
      return queueAt({ queues, accountId }, queueUrl)?.holdLeft(receiptHandle);
    },
    lostDeletes(queueName) {
      return queues.get(queueName)?.lostDeletes() ?? [];
    },
    queueWaiters(queueName) {
      return queues.get(queueName)?.waiters.size;
    },
    queueWork(queueName) {
      return queues.get(queueName)?.work;
    },
    async call(action, input, { host = '127.0.0.1', clientGone, onClientGone } = {}) {
      // As a closed server refuses the connection: a caller that retries backs off on its
      // timers instead of meeting an instant answer from a queue that no longer serves.
      if (closed) {
        throw Object.assign(new Error('the SQS emulator is closed'), { code: 'ECONNREFUSED' });
      }
      const op = Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
      if (!op) throw errors.unknownOperation();
      // The body a client would have sent, parsed as the server parses one: no object of the
      // caller's is shared with the queues, and the answer is what a client would have read.
      const body = Buffer.from(JSON.stringify(input));
      const params = new Params(parseJsonRequest(body), 'json', clientGone, onClientGone);
      const output = await run(op, contextFor(host), params);
      return JSON.parse(JSON.stringify(output));
    },
    async listen(port = 0, host = '127.0.0.1') {
      server = createLimitedServer(handle);
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, host, () => resolve());
      });
      const addr = server.address() as AddressInfo;
      return { url: httpUrl(host, addr.port), port: addr.port };
    },
    async close() {
      closed = true;
      moveTasks.stopAll();
      for (const q of queues.values()) q.wake();
      if (server) {
        const s = server;
        server = undefined;
        s.closeAllConnections?.();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };
  return emulator;
}
