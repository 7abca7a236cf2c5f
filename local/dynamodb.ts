import { readFile } from 'node:fs/promises';
import {
  Agent,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import { dirname } from 'node:path';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { declaredOver } from './body';
import {
  ANSWER_AFTER_OWED_SOURCE,
  CLOSE_ANSWERS,
  DEFAULT_LIMITS,
  type RequestListener,
  type ServerLimits,
  splitTarget,
} from './edge';
import { buildBundle, bundleText, NoBundleDirectory } from './function-bundle';
import { THREAD_STATS_SOURCE, type ThreadStats } from './thread-stats';

/**
 * DynamoDB for the local cloud: dynalite, in memory by default or on disk under `dataDir`, in a
 * worker thread of its own. It used to run on the main event loop beside the edge, the SQS
 * emulator, the gateway and the event source mappings, and a CPU profile of the pipeline showed
 * that loop 91% busy (dynalite 15% of it) while the second core waited; in its own thread its
 * item work and its sockets run beside them.
 *
 * It listens on a private port on 127.0.0.1: the local cloud's own clients (the functions, the
 * report of a local run) talk to it there directly, and the edge forwards every other DynamoDB
 * request to it, so a user still sees one endpoint. The private port serves SDKs only: a
 * request a browser made (any Origin, Referer or cross-site Sec-Fetch-Site) or one whose Host is
 * not that address has its connection closed unanswered before dynalite sees it, so the port
 * adds nothing a web page could reach that the edge's browser guard refuses.
 *
 * Known gaps (by design, not worked around): no TTL expiry, no TransactWriteItems, no
 * UpdateTimeToLive.
 */

/**
 * What was asked of DynamoDB, counted where the requests are served: requests by API operation,
 * and the read and write request units AWS would bill for them (on-demand), by item operation.
 * Units come from dynalite's own item-size arithmetic (DynamoDB's: 1 WRU per started KB written,
 * the larger of the item before and after; 1 RRU per started 4 KB of a strongly consistent read,
 * half for an eventually consistent one). A conditional write whose condition fails is billed
 * too (1 WRU for items under 1 KB, which every ledger item is); dynalite computes nothing for
 * it, so those are counted apart.
 */
export interface DynamoDbUsage {
  requests: Record<string, number>;
  readUnits: Record<string, number>;
  writeUnits: Record<string, number>;
  conditionalCheckFailures: Record<string, number>;
}

export interface LocalDynamoDb {
  /** The private endpoint (`http://127.0.0.1:<port>`) the local cloud's own clients use. */
  url: string;
  /** The edge's listener: forwards the request to the private endpoint. */
  handle: RequestListener;
  usage(): DynamoDbUsage;
  /** The worker thread's event-loop utilisation since it started. */
  eventLoopUtilization(): EventLoopUtilization;
  /** CPU time and heap of the worker thread; undefined once it has stopped. */
  threadStats(): Promise<ThreadStats | undefined>;
  /** Whether the thread serves: what the health check reports for DynamoDB. */
  state(): DynamoDbState;
  /** How often the thread was restarted after it ended unexpectedly. */
  restarts(): number;
  /**
   * Ends the thread abruptly, as a crash inside it would; the supervisor then restarts it. For
   * the tests of that path: no request can do this.
   */
  killThread(): Promise<void>;
  close(): Promise<void>;
}

/**
 * `restarting`: the thread ended unexpectedly and a new one is starting (its in-memory tables are
 * gone); `failed`: it could not be started again.
 */
export type DynamoDbState = 'running' | 'restarting' | 'failed' | 'stopped';

/** Operations counted by name; anything else (none the SDK sends) is counted as `other`. */
export const OPERATIONS = [
  'BatchGetItem',
  'BatchWriteItem',
  'CreateTable',
  'DeleteItem',
  'DeleteTable',
  'DescribeTable',
  'DescribeTimeToLive',
  'GetItem',
  'ListTables',
  'ListTagsOfResource',
  'PutItem',
  'Query',
  'Scan',
  'TagResource',
  'UntagResource',
  'UpdateItem',
  'UpdateTable',
  'UpdateTimeToLive',
  'other',
] as const;

/** Young-generation cap of DynamoDB's thread, MiB. */
const YOUNG_GENERATION_MB = 16;

/** Counter rows of the shared buffer, each OPERATIONS.length wide. */
const COUNTERS = ['requests', 'readUnits', 'writeUnits', 'conditionalCheckFailures'] as const;

/**
 * The worker's code: plain CommonJS, so the thread loads only dynalite. It counts into a buffer
 * shared with the main thread (single writer), so reading the counters costs no message.
 */
const WORKER_SOURCE = `
// An attribute may be named __proto__, and DynamoDB stores and returns it like any other.
// dynalite builds items, maps and updates in plain objects by assignment (obj[name] = value: its
// request validation, checkTypes in validations/index.js, copies every Item, Key, M and
// expression value onto a {} so): for the name __proto__ that calls Object.prototype's
// __proto__ setter, which replaces the object's prototype and stores nothing, so PutItem and an
// UpdateItem creating the item dropped the attribute without a word, a key attribute of that
// name could not be read back, and projecting it from an item without it answered {}. Without the accessor, which is what Node's --disable-proto=delete
// does (a flag a worker thread cannot take), such an assignment makes an own property like any
// other name, and reading the name from an item without it gives undefined, not the prototype.
// Only this thread's objects are affected: nothing here needs the accessor (Object.getPrototypeOf
// and Object.setPrototypeOf stay), and JSON.parse always made __proto__ an own property.
delete Object.prototype.__proto__;
const { parentPort, workerData } = require('node:worker_threads');
// The prototype engine is TypeScript: tsx compiles it on load (dynalite needs nothing).
if (workerData.tsxPath) require(workerData.tsxPath).register();
// Every JSON text this thread reads is read with each object key as written. V8's JSON.parse on
// Node 24 and 26 (nodejs/node#63785) can read a key written with an escape as a key an earlier
// parse in this thread met at that place: an attribute named with a double quote, which the SDK
// writes escaped, came back named with a backslash after an item that had one there. dynalite
// parses each request body with JSON.parse, and its store (memory-level, or classic-level on
// disk) each item it reads, whose attribute names are the client's as JSON.stringify wrote them:
// with only the requests read right, a stored item was still misread. So JSON.parse, here only,
// is the project's parseJson (shared/src/json-keys.ts, bundled by the main thread: jsonKeysScript):
// JSON.parse's value and SyntaxError, each key read as written. Installed before the store's code
// loads, since its json encoding keeps the JSON.parse it finds then; parseJson's own calls reach
// V8's.
if (workerData.jsonKeys) {
  const Module = require('node:module');
  const jsonKeys = new Module(workerData.jsonKeys.path);
  jsonKeys.filename = workerData.jsonKeys.path;
  jsonKeys._compile(workerData.jsonKeys.script, workerData.jsonKeys.path);
  const parseJson = jsonKeys.exports.parseJson;
  const engineParse = JSON.parse;
  let reading = false;
  JSON.parse = function parse(text, reviver) {
    if (reading || reviver !== undefined) return engineParse.apply(JSON, arguments);
    reading = true;
    try {
      return parseJson(typeof text === 'string' ? text : '' + text);
    } finally {
      reading = false;
    }
  };
}
// dynalite keeps its in-memory tables in memory-level, which by default stores every key and
// value as a Buffer. A small Buffer is a slice of an 8 KB slab that other allocations share, and
// one stored slice keeps its whole slab alive: in the 2,000-order demo this thread held 32 MB of
// slabs for about 9 MB of items (docs/benchmarks.md). Stored as strings, an item costs its own
// size, in the heap. The order is the same: dynalite's keys are ASCII (hex-encoded key values
// behind ASCII table and index names), for which string order is byte order; values are JSON.
// It is patched before dynalite loads, since dynalite takes MemoryLevel from the module then.
const memoryLevel = require(workerData.memoryLevelPath);
const BufferStoredLevel = memoryLevel.MemoryLevel;
memoryLevel.MemoryLevel = class StringStoredLevel extends BufferStoredLevel {
  constructor(location, options) {
    const opts = typeof location === 'object' && location !== null ? location : options;
    super(Object.assign({}, opts, { storeEncoding: 'utf8' }));
  }
};
// Requests that held this thread for seconds to forever in dynalite's own code (its condition
// parser, exponential in nested parentheses; its set operations, quadratic) cost linear time in
// patched copies of those files, installed before dynalite loads them (dynalite-patches.cjs);
// so does BatchGetItem's, which left a table named __proto__ out of its answer.
require(workerData.dynalitePatchesPath).installDynalitePatches(workerData.dynaliteDir);
// DynamoDB refuses an expression over 4 KB, measured in bytes as sent ("Expression size has
// exceeded the maximum allowed size"); dynalite takes any length, and parses every byte on this
// thread. Checked where dynalite's actions check their expressions (through the module object).
const validations = require(workerData.dynaliteValidationsPath);
const validateExpressions = validations.validateExpressions;
const EXPRESSIONS = ['UpdateExpression', 'ConditionExpression', 'KeyConditionExpression', 'FilterExpression', 'ProjectionExpression'];
validations.validateExpressions = function (data) {
  for (const name of EXPRESSIONS) {
    const size = typeof data[name] === 'string' ? Buffer.byteLength(data[name]) : 0;
    if (size > workerData.maxExpressionBytes) {
      return 'Invalid ' + name + ': Expression size has exceeded the maximum allowed size; expression size: ' + size;
    }
  }
  const problem = validateExpressions.apply(this, arguments);
  if (problem === undefined && data._updates) boundListIndexes(data._updates.sections);
  return problem;
};
// An update that sets a list element past the end appends it, in index order (DynamoDB's rule).
// dynalite does it by assigning the index in a sparse array and then copying out what is set:
// time linear in the index, so SET l[4000000000] = :v held this thread for minutes (30 million,
// 1 s). No list in an item of at most 400 KB has as many elements as it has bytes, so every index
// from that bound on is past the end of any list: they are renumbered from the bound, in their
// order, which changes no answer and bounds the copy.
const LIST_INDEX_BOUND = workerData.maxItemBytes;
function boundListIndexes(sections) {
  if (!Array.isArray(sections)) return;
  const far = [];
  for (const section of sections) {
    for (const part of section.path || []) if (typeof part === 'number' && part >= LIST_INDEX_BOUND) far.push(part);
  }
  if (far.length === 0) return;
  const rank = new Map([...new Set(far)].sort((a, b) => a - b).map((index, i) => [index, LIST_INDEX_BOUND + i]));
  // In place: the update's list of paths (for ReturnValues) holds the same arrays.
  for (const section of sections) {
    const path = section.path || [];
    for (let i = 0; i < path.length; i++) if (rank.has(path[i])) path[i] = rank.get(path[i]);
  }
}
const engine = require(workerData.enginePath);
const dynalite = engine.default || engine;
const db = require(workerData.dynaliteDbPath);
const ops = workerData.operations;
const width = ops.length;
const counters = new Float64Array(workerData.counters);
const index = (op) => { const i = ops.indexOf(op); return i < 0 ? width - 1 : i; };
const REQUESTS = 0, READ = 1, WRITE = 2, FAILED = 3;
const bump = (row, op, n) => { counters[row * width + index(op)] += n; };

// dynalite's actions call db.addConsumedCapacity through the module object for every item they
// read or write and report the result only when the client asked; counted here either way.
const addConsumedCapacity = db.addConsumedCapacity;
db.addConsumedCapacity = (data, isRead, newItem, oldItem) => {
  const asked = data.ReturnConsumedCapacity === 'TOTAL' || data.ReturnConsumedCapacity === 'INDEXES';
  const answer = addConsumedCapacity(asked ? data : Object.assign({}, data, { ReturnConsumedCapacity: 'TOTAL' }), isRead, newItem, oldItem);
  const units = answer ? answer.CapacityUnits : 0;
  if (isRead) bump(READ, 'GetItem', units);
  else bump(WRITE, data.Item !== undefined ? 'PutItem' : data.UpdateExpression !== undefined || data.AttributeUpdates !== undefined ? 'UpdateItem' : 'DeleteItem', units);
  return asked ? answer : undefined;
};

// dynalite opens its store (LevelDB on disk) in the background and never says when, or that it
// failed: the store dynalite creates is kept, so the thread listens only once it has opened.
let store;
const createStore = db.create;
db.create = function () { store = createStore.apply(this, arguments); return store; };
const server = dynalite(Object.assign(workerData.dataDir ? { path: workerData.dataDir } : {}, {
  // Tables become ACTIVE at once: the pipeline creates them at start-up and uses them right away.
  createTableMs: 0, deleteTableMs: 0, updateTableMs: 0,
}));
const listener = server.listeners('request')[0];
server.removeAllListeners('request');
const report = (what, err) => parentPort.postMessage({ log: what + ': ' + ((err && err.stack) || String(err)) });
// Responses not yet finished: if something escapes every handler below, nobody knows which of
// them it belonged to, so each is ended (a reset connection, which the SDKs retry) rather than
// left hanging.
const inFlight = new Set();
// The thread's last resort: dynalite throws from event listeners and callbacks, and an uncaught
// exception would end this thread and every in-memory table with it.
process.on('uncaughtException', (err) => {
  report('uncaught, still serving; ' + inFlight.size + ' unfinished responses reset', err);
  for (const res of inFlight) res.destroy();
  inFlight.clear();
});
process.on('unhandledRejection', (err) => report('unhandled rejection, still serving', err));
const answer = (res, status, type, message) => {
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify(message === undefined ? { __type: type } : { __type: type, message });
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};
// JSON nesting far beyond any request DynamoDB takes (32 levels of attribute values are 64 of
// JSON, in an envelope of at most 6): dynalite's validation recurses once per level, and about
// 20,000 levels overflow the stack.
const MAX_JSON_DEPTH = workerData.maxJsonDepth;
// DynamoDB's limit on a request body, dynalite's own (MAX_REQUEST_BYTES in its index.js): 413
// above it.
const MAX_REQUEST_BYTES = workerData.maxRequestBytes;
// A body declared over the limit is answered as dynalite answers one it has read past it (413,
// no body), at once, and the connection closed: the client sends none of it after an
// Expect: 100-continue, and reading it otherwise would only hold the connection.
const tooLarge = (res) => {
  res.writeHead(413, { 'content-length': 0, connection: 'close' });
  res.end();
};
// Counts brackets outside strings, chunk by chunk, without recursion and without parsing.
const depthScanner = () => {
  let depth = 0, inString = false, escaped = false;
  return (chunk) => {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (b === 0x5c) escaped = true;
        else if (b === 0x22) inString = false;
      } else if (b === 0x22) inString = true;
      else if (b === 0x7b || b === 0x5b) { if (++depth > MAX_JSON_DEPTH) return true; }
      else if (b === 0x7d || b === 0x5d) depth--;
    }
    return false;
  };
};
// Refused without an answer: a page learns nothing, and no SDK ever sends what is refused.
const refuse = (req) => {
  req.socket.destroy();
};
let expectedHost;
server.on('request', (req, res) => {
  const h = req.headers;
  if (h.origin !== undefined || h.referer !== undefined || h['sec-fetch-site'] === 'cross-site' || h['sec-fetch-site'] === 'same-site') {
    return refuse(req);
  }
  if (h.host !== undefined && h.host !== expectedHost) {
    return refuse(req);
  }
  const target = typeof h['x-amz-target'] === 'string' ? h['x-amz-target'] : '';
  const op = target.slice(target.indexOf('.') + 1);
  bump(REQUESTS, op, 1);
  // The SDKs always POST to "/"; dynalite hands any other target to url.parse, which throws on
  // some (//a:b@[x). A query string stays: it carries a presigned request's signature.
  const q = req.url.indexOf('?');
  if ((q < 0 ? req.url : req.url.slice(0, q)) !== '/') {
    req.resume();
    return answer(res, 400, 'com.amazon.coral.service#UnknownOperationException');
  }
  if (Number(h['content-length'] ?? 0) > MAX_REQUEST_BYTES) return tooLarge(res);
  inFlight.add(res);
  res.once('close', () => inFlight.delete(res));
  const end = res.end;
  // Only a 400 can be a failed condition; its body names the exception.
  res.end = function (chunk) {
    if (res.statusCode === 400 && typeof chunk === 'string' && chunk.includes('ConditionalCheckFailedException')) bump(FAILED, op, 1);
    return end.apply(this, arguments);
  };
  // Every event dynalite listens to passes here: the body is measured before dynalite reads it,
  // and what its listeners throw is answered on this request's own response.
  const tooDeep = depthScanner();
  let refused = false;
  const emit = req.emit;
  const run = (self, args) => {
    try {
      return emit.apply(self, args);
    } catch (err) {
      // What throws while the body is read is dynalite's synchronous validation meeting a shape
      // it did not expect (null where an attribute value belongs): the client's mistake, which
      // DynamoDB answers as a body it cannot deserialize.
      if (err instanceof TypeError) {
        answer(res, 400, 'com.amazon.coral.service#SerializationException', 'The request body does not have the shape of ' + op + "'s input: " + err.message);
        return false;
      }
      report(op + ' threw, answered InternalServerError', err);
      answer(res, 500, 'com.amazonaws.dynamodb.v20120810#InternalServerError', 'Internal server error');
      return false;
    }
  };
  // dynalite appends each chunk to the body so far with Buffer.concat, copying the whole body per
  // chunk: a 10 MB BatchWriteItem held this thread 3-7 s. The chunks are held here and handed to
  // it as one, at the end, or as soon as they pass its own limit (it then answers 413 at once).
  const held = [];
  let heldBytes = 0;
  let passing = false;
  const release = (self) => {
    passing = true;
    const body = held.length === 1 ? held[0] : Buffer.concat(held, heldBytes);
    held.length = 0;
    return run(self, ['data', body]);
  };
  req.emit = function (event, chunk) {
    if (refused && (event === 'data' || event === 'end')) return false;
    if (event === 'data' && tooDeep(chunk)) {
      refused = true;
      answer(res, 400, 'com.amazon.coral.validate#ValidationException', 'Nesting Levels have exceeded supported limits: the request nests JSON deeper than ' + MAX_JSON_DEPTH + ' levels');
      return false;
    }
    if (event === 'data' && !passing) {
      held.push(chunk);
      heldBytes += chunk.length;
      return heldBytes > MAX_REQUEST_BYTES ? release(this) : true;
    }
    if (event === 'end' && !passing && held.length > 0) release(this);
    return run(this, arguments);
  };
  listener(req, res);
  // dynalite rethrows a request stream error (a client that disconnects mid-body) from its
  // 'error' listener, which would end this thread: the connection is gone, so only the response
  // is left to drop.
  for (const l of req.listeners('error')) req.off('error', l);
  req.on('error', () => res.destroy());
});
// Node answers Expect: 100-continue with 100 Continue by itself unless told otherwise: a body
// declared over the limit gets its 413 instead (from the request handler, after its checks).
server.on('checkContinue', (req, res) => {
  if (!(Number(req.headers['content-length'] ?? 0) > MAX_REQUEST_BYTES)) res.writeContinue();
  server.emit('request', req, res);
});
// The limits every server of the local cloud has (edge.ts ServerLimits): slow or greedy
// clients cannot hold connections and buffers.
server.headersTimeout = workerData.limits.headersTimeoutMs;
server.requestTimeout = workerData.limits.requestTimeoutMs;
server.keepAliveTimeout = workerData.limits.keepAliveTimeoutMs;
server.maxConnections = workerData.limits.maxConnections;
server.connectionsCheckingInterval = Math.max(50, Math.min(1000, Math.floor(workerData.limits.headersTimeoutMs / 2)));
// A bad request or a CONNECT pipelined after a request is answered as on every server of the
// local cloud, after the answers owed before it, and closes the connection (edge.ts,
// ANSWER_AFTER_OWED_SOURCE): without a 'connect' listener Node destroyed the connection at once,
// and a ListTables written before the CONNECT lost its answer.
const closeAnswers = workerData.closeAnswers;
answerAfterOwed(
  server,
  (code) => (Object.hasOwn(closeAnswers.clientError, code) ? closeAnswers.clientError[code] : closeAnswers.other),
  closeAnswers.connect,
);
server.once('error', (err) => parentPort.postMessage({ error: { message: err.message, code: err.code } }));
// The prototype engine creates no dynalite store; an in-memory one opens at once.
Promise.resolve(store && store.db.open()).then(() => {
  server.listen(workerData.port, '127.0.0.1', () => {
    const port = server.address().port;
    expectedHost = '127.0.0.1:' + port;
    parentPort.postMessage({ port });
  });
}, (err) => {
  // classic-level's own error says only that the store is not open; its cause says why.
  const cause = err.cause || err;
  const why = cause.message + (cause.code === 'LEVEL_LOCKED' ? ' (another process has them open: a local cloud already running?)' : '');
  parentPort.postMessage({ error: { message: 'cannot open its tables at ' + workerData.dataDir + ': ' + why, code: 'STORE_NOT_OPEN' } });
});
${THREAD_STATS_SOURCE}
${ANSWER_AFTER_OWED_SOURCE}
parentPort.on('message', (msg) => {
  if (msg && msg.stats !== undefined) return parentPort.postMessage({ stats: msg.stats, value: threadStats() });
  if (msg !== 'close') return;
  // dynalite closes its store (on disk: flushes and releases the lock) from server.close().
  server.closeAllConnections();
  server.close(() => parentPort.postMessage('closed'));
});
`;

/** Hop-by-hop headers (RFC 9110 7.6.1) are the connection's, not the request's. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);

/** The edge's browser guard has already judged these; the private port refuses any of them. */
const BROWSER = new Set([
  'origin',
  'referer',
  'sec-fetch-site',
  'sec-fetch-mode',
  'sec-fetch-dest',
]);

function forwardable(
  headers: IncomingHttpHeaders,
  drop?: ReadonlySet<string>,
): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(k) && !drop?.has(k)) out[k] = v;
  }
  return out;
}

/** DynamoDB's own answer when the service cannot take a request; SDKs retry it. */
function unavailable(res: ServerResponse): void {
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify({
    __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError',
    message: 'Internal server error',
  });
  res.writeHead(500, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** The thread's answer to a body over MAX_REQUEST_BYTES (dynalite's: 413, no body). */
function tooLarge(res: ServerResponse): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(413, { 'content-length': 0, connection: 'close' });
  res.end();
}

export class DynamoDbStartError extends Error {
  readonly expose = true;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DynamoDbStartError';
  }
}

/**
 * DynamoDB's answer to a request target other than `/` (the thread gives the same one). Which code
 * AWS itself gives is not documented; no SDK sends one.
 */
function refuseTarget(res: ServerResponse): void {
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify({ __type: 'com.amazon.coral.service#UnknownOperationException' });
  res.writeHead(400, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * DynamoDB's limit on an expression string: "The maximum length of any expression string is 4 KB"
 * (developer guide, Constraints, expression parameters), counted in bytes as sent; 4,096 are
 * taken and 4,097 refused (as recorded against AWS by DynamoDB conformance suites).
 */
export const MAX_EXPRESSION_BYTES = 4096;

/**
 * DynamoDB's limit on a request body, 16 MB: the API reference names it for BatchWriteItem ("The
 * total request size exceeds 16 MB" is refused), and dynalite refuses any body over it with 413
 * and no body. What AWS answers to an HTTP body over it is not documented; the local cloud
 * answers dynalite's 413, at once for a declared Content-Length over it (also instead of
 * 100 Continue), through the edge and on the private port.
 */
export const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

/** The deepest JSON the thread passes to dynalite (see MAX_JSON_DEPTH in the worker). */
export const MAX_JSON_DEPTH = 100;

/**
 * Which store serves DynamoDB: dynalite (the default everywhere), or the in-memory prototype of
 * the pipeline's subset (dynamodb-prototype/), for measuring only: see docs/benchmarks.md.
 */
export const DYNAMODB_ENGINES = ['dynalite', 'prototype'] as const;
export type DynamoDbEngine = (typeof DYNAMODB_ENGINES)[number];

/** shared/src/json-keys.ts as one CommonJS script, and the path it is compiled as (its bundle's). */
export interface JsonKeysScript {
  path: string;
  script: string;
}

/** The module DynamoDB's thread reads JSON with. */
export const JSON_KEYS_SOURCE = require.resolve('../shared/src/json-keys');

const jsonKeysBuilds = new Map<string, Promise<JsonKeysScript>>();

/**
 * shared/src/json-keys.ts (or `source`) for DynamoDB's thread, which loads no TypeScript: bundled
 * as the functions are (buildBundle), into the same cache of bundles kept across processes
 * (`cacheDir`, by default theirs), so a process that finds it built from unchanged inputs runs
 * no esbuild at all, and any change to the module, or to what resolving and compiling it read,
 * builds it again. A process that cannot write the bundle anywhere (the temp directory read-only)
 * builds it in memory. Each thread compiles the script from the text read here, once per process. It
 * was bundled by esbuild in every process (123 ms on this machine, and an esbuild service left
 * running for the process's life); tsx loading it in the thread cost every thread start 0.4-0.6 s
 * (docs/benchmarks.md); a second copy written by hand would drift from the one the rest of the
 * project reads with.
 */
export function jsonKeysScript(
  source: string = JSON_KEYS_SOURCE,
  cacheDir?: string,
): Promise<JsonKeysScript> {
  const key = `${source}\0${cacheDir ?? ''}`;
  let pending = jsonKeysBuilds.get(key);
  if (!pending) {
    pending = (async () => {
      let bundle: Awaited<ReturnType<typeof buildBundle>>;
      try {
        bundle = await buildBundle(source, cacheDir);
      } catch (err) {
        if (!(err instanceof NoBundleDirectory)) throw err;
        // No directory to keep the bundle in: the temp directory read-only or full (the cache's
        // and this process's fallback directory are both in it). The thread needs the text only,
        // compiled as the module's own path: the bundle esbuild built before no file of it could
        // be written (a full disk, the cache directory already there) goes with the error, used
        // without the line naming its map (written nowhere); only a build that did not get that
        // far is built in memory, as every process did before the cache. (It was built a second
        // time: esbuild twice for the one script.)
        const built = err.built?.text;
        const script =
          built === undefined
            ? await bundleText(source)
            : built.replace(/\/\/# sourceMappingURL=\S+\s*$/, '');
        return { path: source, script };
      }
      // Recorded before the thread starts (a hash of one small module and the settings files
      // above it, a few ms), so the next process finds it even if this one ends soon.
      await bundle.recorded;
      return { path: bundle.file, script: await readFile(bundle.file, 'utf8') };
    })();
    jsonKeysBuilds.set(key, pending);
    // A failed build is tried again by the next start.
    pending.catch(() => jsonKeysBuilds.delete(key));
  }
  return pending;
}

export async function startDynamoDb({
  dataDir,
  log = () => undefined,
  limits,
  onRestart,
  engine = 'dynalite',
  bundleCacheDir,
}: {
  engine?: DynamoDbEngine;
  /** Where json-keys.ts's bundle is kept across processes (jsonKeysScript); the functions' cache by default. */
  bundleCacheDir?: string;
  dataDir?: string;
  log?: (line: string) => void;
  limits?: ServerLimits;
  /**
   * Called once the thread has been restarted after it ended unexpectedly (its in-memory tables
   * are gone), e.g. to create the tables again.
   */
  onRestart?: () => void | Promise<void>;
} = {}): Promise<LocalDynamoDb> {
  if (engine === 'prototype' && dataDir !== undefined) {
    throw new DynamoDbStartError(
      'the DynamoDB prototype keeps its tables in memory only: no dataDir',
    );
  }
  const width = OPERATIONS.length;
  const shared = new SharedArrayBuffer(COUNTERS.length * width * Float64Array.BYTES_PER_ELEMENT);
  const counters = new Float64Array(shared);
  let state: DynamoDbState = 'running';
  let restarts = 0;
  let stopping = false;

  const jsonKeys =
    engine === 'dynalite'
      ? await jsonKeysScript(JSON_KEYS_SOURCE, bundleCacheDir).catch((err: unknown) => {
          throw new DynamoDbStartError(
            `could not bundle shared/src/json-keys.ts for DynamoDB's thread: ${(err as Error).message}`,
            { cause: err },
          );
        })
      : undefined;

  /** One thread listening on `port` (0: a free one); resolves once it listens. */
  const spawn = async (port: number) => {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // V8's default young generation let this thread hold 32 MB of it under load (its heap 67 MB
      // at the demo's peak, docs/benchmarks.md); the items it stores live long and are promoted
      // anyway, so a smaller one costs scavenges of short-lived request garbage only. Inert in a
      // node started with `--optimize-for-size`, as the npm scripts start it: V8 then keeps the
      // young generation at 2 MB whatever this says (local/node-flags.ts).
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
      workerData: {
        limits: { ...DEFAULT_LIMITS, ...limits },
        closeAnswers: CLOSE_ANSWERS,
        enginePath:
          engine === 'prototype'
            ? require.resolve('./dynamodb-prototype/server')
            : require.resolve('dynalite'),
        tsxPath: engine === 'prototype' ? require.resolve('tsx/cjs/api') : undefined,
        // The prototype reads requests with parseJson itself.
        jsonKeys,
        dynaliteDbPath: require.resolve('dynalite/db'),
        // The copy of dynalite whose files it patches (./dynalite-patches.cjs says why).
        dynaliteDir: dirname(require.resolve('dynalite')),
        dynalitePatchesPath: require.resolve('./dynalite-patches.cjs'),
        dynaliteValidationsPath: require.resolve('dynalite/validations'),
        maxExpressionBytes: MAX_EXPRESSION_BYTES,
        maxRequestBytes: MAX_REQUEST_BYTES,
        // DynamoDB's item size limit, 400 KB.
        maxItemBytes: 400 * 1024,
        // The copy dynalite itself loads (npm may nest one under it).
        memoryLevelPath: require.resolve('memory-level', { paths: [require.resolve('dynalite')] }),
        dataDir,
        port,
        maxJsonDepth: MAX_JSON_DEPTH,
        operations: OPERATIONS,
        counters: shared,
      },
    });
    const exit = new Promise<number>((resolve) => worker.once('exit', resolve));
    worker.on('error', (err) => log(`dynamodb: error: thread failed: ${err.stack ?? err.message}`));
    worker.on('message', (msg: { log?: string }) => {
      if (msg?.log !== undefined) log(`dynamodb: error: ${msg.log}`);
    });
    const listening = await new Promise<number>((resolve, reject) => {
      worker.on('message', (msg: { port?: number; error?: { message: string } }) => {
        if (msg?.port !== undefined) resolve(msg.port);
        else if (msg?.error) reject(new DynamoDbStartError(`dynalite: ${msg.error.message}`));
      });
      worker.once('error', (err) => reject(new DynamoDbStartError(err.message, { cause: err })));
      void exit.then(() => reject(new DynamoDbStartError('dynalite worker exited at start-up')));
    }).catch(async (err: unknown) => {
      await worker.terminate();
      throw err;
    });
    return { worker, exit, port: listening };
  };

  let current = await spawn(0);
  const port = current.port;
  const url = `http://127.0.0.1:${port}`;

  /**
   * A thread that ends although nobody stopped it (an exception its last resort could not
   * catch, running out of memory) took every in-memory table with it. It is started again on
   * the same port, so every client keeps its endpoint, and that loss is said loudly; a thread
   * that cannot be started again leaves DynamoDB failed, which the health check reports.
   */
  const supervise = (thread: typeof current): void => {
    void thread.exit.then(async (code) => {
      if (stopping) return;
      state = 'restarting';
      log(
        `dynamodb: error: its thread ended unexpectedly (exit code ${code}); restarting it on port ${port}. ` +
          (dataDir
            ? `The tables on disk at ${dataDir} are reopened; writes in flight are lost.`
            : 'Every in-memory table and item is LOST.'),
      );
      try {
        current = await spawn(port);
      } catch (err) {
        state = 'failed';
        log(
          `dynamodb: error: could not restart its thread (${(err as Error).message}); DynamoDB stays down until the local cloud is restarted`,
        );
        return;
      }
      if (stopping) {
        await current.worker.terminate();
        return;
      }
      restarts++;
      state = 'running';
      supervise(current);
      log(`dynamodb: thread restarted on ${url} (restart ${restarts})`);
      try {
        await onRestart?.();
      } catch (err) {
        log(`dynamodb: error: after the restart: ${(err as Error).message}`);
      }
    });
  };
  supervise(current);

  // One keep-alive pool for everything the edge forwards.
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    // The SDKs always POST to "/": anything else is refused here rather than forwarded (the
    // thread refuses it too, for clients of the private port).
    if (splitTarget(req.url).path !== '/') {
      req.resume();
      refuseTarget(res);
      return;
    }
    // Refused before a byte of it is read or forwarded (the thread would refuse it too).
    if (declaredOver(req, MAX_REQUEST_BYTES)) {
      tooLarge(res);
      return;
    }
    const headers = { ...forwardable(req.headers, BROWSER), host: `127.0.0.1:${port}` };
    // The body is framed here, whatever the method. Transfer-Encoding is hop-by-hop, and Node's
    // client chunks a body of its own accord only for POST, PUT and PATCH: a chunked body of any
    // other method (GET, DELETE, OPTIONS...) went out unframed on a keep-alive connection, and
    // the thread read its bytes as a second request, which ran while the edge answered 404.
    // Framed, the thread reads it as this request's body, and dynalite answers the method as it
    // does on its own port. (Node's server takes no request with both framings.)
    if (req.headers['transfer-encoding'] !== undefined) headers['transfer-encoding'] = 'chunked';
    // Whether the thread answered before the edge had read the whole body (see below).
    let answeredEarly = false;
    const upstream = request(
      { host: '127.0.0.1', port, method: req.method, path: req.url, headers, agent },
      (answer) => {
        const out = forwardable(answer.headers);
        // dynalite answers once it has read a body, so an answer before that is a refusal (the
        // thread's to JSON nested too deep, at the first chunk that shows it; dynalite's 413).
        // The rest of the body is no longer forwarded: Node's HTTP client stops listening for
        // its socket's 'drain' once the answer is complete, so a body still being piped to the
        // thread stalled for good, the edge stopped reading the client's connection in the
        // middle of it, and the client's next request on that connection, sent behind the body,
        // waited for the request timeout (408 after 30 s; found in review). A declared length
        // (at most MAX_REQUEST_BYTES, checked above) is read to its end and dropped, and the
        // connection serves on; a chunked body, of no known length, has its connection closed
        // after the answer. The forwarded request, cut off mid-body, takes its socket with it.
        if (!req.complete) {
          answeredEarly = true;
          req.unpipe(upstream);
          req.resume();
          if (req.headers['content-length'] === undefined) out.connection = 'close';
        }
        res.writeHead(answer.statusCode ?? 500, out);
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      },
    );
    upstream.on('error', (err) => {
      log(
        `dynamodb: forwarding ${req.headers['x-amz-target'] ?? req.method} failed: ${err.message}`,
      );
      if (res.headersSent) res.destroy();
      else unavailable(res);
    });
    // A client that goes away mid-request takes the forwarded request with it.
    req.on('error', () => upstream.destroy());
    res.on('close', () => {
      if (!res.writableFinished || answeredEarly) upstream.destroy();
    });
    req.pipe(upstream);
  };

  const usage = (): DynamoDbUsage => {
    const out = Object.fromEntries(
      COUNTERS.map((name, row) => {
        const m: Record<string, number> = {};
        OPERATIONS.forEach((op, i) => {
          const v = counters[row * width + i]!;
          if (v !== 0) m[op] = v;
        });
        return [name, m];
      }),
    );
    return out as unknown as DynamoDbUsage;
  };

  let closing: Promise<void> | undefined;
  return {
    url,
    handle,
    usage,
    state: () => state,
    restarts: () => restarts,
    eventLoopUtilization: () => current.worker.performance.eventLoopUtilization(),
    threadStats: () =>
      new Promise((resolve) => {
        const { worker } = current;
        if (state !== 'running') return resolve(undefined);
        const tag = String(Math.random());
        const onMessage = (msg: { stats?: string; value?: ThreadStats }) => {
          if (msg?.stats !== tag) return;
          worker.off('message', onMessage);
          resolve(msg.value);
        };
        worker.on('message', onMessage);
        worker.postMessage({ stats: tag });
      }),
    killThread: async () => {
      await current.worker.terminate();
    },
    close: () => {
      closing ??= (async () => {
        stopping = true;
        agent.destroy();
        const { worker, exit } = current;
        if (state !== 'running') {
          state = 'stopped';
          await worker.terminate();
          return;
        }
        state = 'stopped';
        const closed = new Promise<void>((resolve) => {
          worker.on('message', (msg) => {
            if (msg === 'closed') resolve();
          });
        });
        worker.postMessage('close');
        // An on-disk store flushes on close; a thread that does not answer is stopped anyway.
        await Promise.race([closed, exit, new Promise((r) => setTimeout(r, 5000).unref())]);
        await worker.terminate();
      })();
      return closing;
    },
  };
}
