import { randomUUID } from 'node:crypto';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { BuildFailure, codeMessage, FRAME_FIELDS, FunctionBuild } from './function-bundle';
import { LogLines } from './log-lines';
import { THREAD_STATS_SOURCE, type ThreadStats } from './thread-stats';

/**
 * Runs a Lambda handler module the way Lambda does: each execution environment is a worker
 * thread with its own `process.env` and module scope (so two functions built from the same module
 * with different env, like the FIFO and standard consumers, never share state), one invocation at
 * a time per environment, environments created on demand up to the function's concurrency and
 * reused warm. A timed-out invocation fails and its environment is discarded, as Lambda does;
 * only a worker can be stopped mid-flight, the main thread could not be.
 */

export interface FunctionDefinition {
  name: string;
  /** Absolute path of the handler module (TypeScript is loaded with tsx). */
  modulePath: string;
  exportName?: string;
  env: Record<string, string>;
  timeoutSeconds: number;
  memorySizeMb: number;
  /** Environments kept at most; invocations beyond wait for a free one. */
  maxEnvironments: number;
  region: string;
  /**
   * Receives each line a handler writes to stdout or stderr; a line over 262,118 bytes comes in
   * marked pieces of at most that many bytes (local/log-lines.ts).
   */
  onLog?: (functionName: string, line: string) => void;
  /**
   * A drivable clock's offset (ms ahead of real time, one BigInt64 in shared memory): the
   * handler's `Date.now()` adds it, so time skipped on the local cloud's clock passes inside the
   * functions too. Timeouts stay on real time.
   */
  clockOffset?: SharedArrayBuffer;
  /**
   * Nice value each environment's worker thread gives itself as it starts (Linux only, where
   * nice is per thread; elsewhere nothing changes): the local runtime's placement of the
   * function, not part of it. 0 or absent leaves the thread at the process's priority.
   */
  nice?: number;
}

/** Linux's lowest priority; raising nice needs no privilege, lowering it below 0 would. */
export const MAX_NICE = 19;

/** Refuses a nice value the runtime would not apply as asked: integers 0 (off) to 19. */
export function checkNice(value: unknown, name = 'nice'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_NICE) {
    throw new RangeError(
      `${name} must be an integer from 0 (unchanged) to ${MAX_NICE}, got ${JSON.stringify(value) ?? String(value)}`,
    );
  }
  return value;
}

export type FunctionConfiguration = Pick<
  FunctionDefinition,
  'name' | 'modulePath' | 'timeoutSeconds' | 'memorySizeMb' | 'env'
> & { arn: string };

/**
 * A failed invocation's error, as Lambda's Node.js runtime sends it back: the thrown value's
 * name, message and stack cut into lines (`trace`), or what the runtime says instead
 * (serialiseError in the environment).
 */
export interface InvocationError {
  errorType: string;
  errorMessage: string;
  trace?: string[];
}

export type InvocationResult =
  | { ok: true; result: unknown; durationMs: number }
  | { ok: false; error: InvocationError; timedOut: boolean; durationMs: number };

export class FunctionInitError extends Error {
  readonly expose = true;
  constructor(name: string, error: InvocationError) {
    super(`function ${name} failed to initialise: ${error.errorType}: ${error.errorMessage}`);
    this.name = 'FunctionInitError';
  }
}

/**
 * How the runtime's process ended, in the words of Lambda's service: its error type, and the
 * status Go's os.ProcessState prints for it (aws-lambda-runtime-interface-emulator,
 * internal/lambda-managed-instances/supervisor/model/process.go, ProcessTermination.String).
 */
export interface RuntimeExit {
  errorType: 'Runtime.ExitError' | 'Runtime.OutOfMemory';
  /** "exit status <code>", or "signal: killed" for a process ended for its memory. */
  status: string;
}

/** The runtime's process exited by itself with `code`. */
export const exitStatus = (code: number): RuntimeExit => ({
  errorType: 'Runtime.ExitError',
  status: `exit status ${code}`,
});

/**
 * The environment outgrew its memory: Lambda kills the runtime's process (SIGKILL), and its
 * service answers Runtime.OutOfMemory, "Runtime exited with error: signal: killed" (the
 * emulator's shutdown.go: an OOM-killed runtime is ErrorRuntimeOutOfMemory with
 * "runtime exited with error: " and the termination's status; not verified on AWS). Here the
 * environment's heap reached its cap (ERR_WORKER_OUT_OF_MEMORY), the closest a worker has.
 */
export const OUT_OF_MEMORY: RuntimeExit = {
  errorType: 'Runtime.OutOfMemory',
  status: 'signal: killed',
};

/** An environment that ended before its module had loaded (see createEnvironment). */
class EnvironmentFailed extends Error {
  constructor(
    readonly error: InvocationError,
    /** How its thread ended, when it ended by itself or for its memory (exitError). */
    readonly exit?: RuntimeExit,
  ) {
    super(error.errorMessage);
  }
}

/**
 * Lambda's answer when the runtime's process exits under an invocation (or in the init it runs
 * for one): Runtime.ExitError, "RequestId: <id> Error: Runtime exited with error: exit status
 * <code>", the wording of Lambda's service, not of the runtime (the payload
 * `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: d88fc138-... Error: Runtime exited
 * with error: exit status 137"}` in aws/aws-lambda-dotnet#480; "RequestId: ... Error: Runtime
 * exited with error: exit status 1" then "Runtime.ExitError" in Node functions' logs), or
 * Runtime.OutOfMemory and "signal: killed" for one ended for its memory (OUT_OF_MEMORY). Without
 * a request (warm(), an init no invocation waits for) the message has no RequestId part.
 */
export function exitError(exit: number | RuntimeExit, requestId?: string): InvocationError {
  const { errorType, status } = typeof exit === 'number' ? exitStatus(exit) : exit;
  const exited = `Runtime exited with error: ${status}`;
  return {
    errorType,
    errorMessage: requestId === undefined ? exited : `RequestId: ${requestId} Error: ${exited}`,
  };
}

/**
 * The error type an INIT_REPORT line names for an init that failed: what the runtime posted to
 * /init/error when it names a Runtime or Function error (Runtime.ImportModuleError,
 * Runtime.HandlerNotFound), else Runtime.Unknown (Function.Unknown for another Function. type):
 * the emulator's GetValidRuntimeOrFunctionErrorType, applied to the header the runtime posts
 * (rapi/handler/initerror.go), so a module that throws an Error is "Runtime.Unknown". The
 * platform's own errors (an exit, a timeout, the local cloud's LocalCloud.StartError) are named
 * as they are.
 */
function initReportErrorType(error: InvocationError): string {
  const type = error.errorType;
  if (/^(Sandbox|LocalCloud)\./.test(type)) return type;
  if (/(Runtime|Function)\.[A-Z][a-zA-Z]+/.test(type)) return type;
  return type.startsWith('Function.') ? 'Function.Unknown' : 'Runtime.Unknown';
}

/**
 * A thrown value as one line of text for a log, whatever it is: the main thread gets a worker's
 * uncaught error as the thread threw it (any value), and must not throw reading it.
 */
function describeThrown(err: unknown): string {
  try {
    if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
    return String(err);
  } catch {
    return 'a value that cannot be described';
  }
}

export class FunctionStoppedError extends Error {
  constructor(name: string) {
    super(`function ${name} is stopped`);
    this.name = 'FunctionStoppedError';
  }
}

/**
 * A bundle that does not build, reported as Lambda reports a module that does not load: a
 * module or import that cannot be found is Runtime.ImportModuleError, anything else esbuild found
 * in the code (syntax) Runtime.UserCodeSyntaxError. A bundle that could not be made ready for the
 * environments (no directory to write it in: NoBundleDirectory), or that esbuild itself failed to
 * build (its service stopped or never started, "The service was stopped: write EPIPE", or this
 * runtime's plugin failing: an error with no message about the code), is no fault of the
 * function's code but of the local cloud: LocalCloud.StartError, with the message saying what
 * failed.
 */
function buildError(failure: Error): InvocationError {
  if (!(failure instanceof BuildFailure)) {
    return { errorType: 'LocalCloud.StartError', errorMessage: failure.message };
  }
  // esbuild's own error, under the BuildFailure that keeps what the build read.
  const err = failure.cause instanceof Error ? failure.cause : failure;
  // A build that failed on the code carries esbuild's messages about it, each naming no plugin.
  const text = codeMessage(failure);
  if (text === undefined) {
    return {
      errorType: 'LocalCloud.StartError',
      errorMessage: `esbuild failed to build the function's bundle: ${err.message}`,
    };
  }
  const missing = /^Could not resolve "(.*)"/.exec(text);
  if (missing) {
    return {
      errorType: 'Runtime.ImportModuleError',
      errorMessage: `Error: Cannot find module '${missing[1]}'`,
    };
  }
  return { errorType: 'Runtime.UserCodeSyntaxError', errorMessage: text };
}

/**
 * The largest response a synchronous invocation may return, in bytes of the JSON Lambda sends
 * back: Lambda's quota says 6 MB, and its error names this figure (6 MiB and 100 bytes); a larger
 * one fails the invocation with Function.ResponseSizeTooLarge (docs/fidelity.md).
 */
export const MAX_RESPONSE_BYTES = 6_291_556;

/** Lambda's error for a response over MAX_RESPONSE_BYTES; the environment sends it as JSON. */
const TOO_LARGE: InvocationError = {
  errorType: 'Function.ResponseSizeTooLarge',
  errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
};

/**
 * Lambda's init limit, in seconds: its init phase "is limited to 10 seconds", and an init that
 * runs over is tried again within the first invocation, under the function timeout
 * (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html). Lambda counts
 * it on an environment with its CPU share to itself; see LOCAL_INIT_LIMIT_SECONDS for the limit
 * applied here.
 */
export const INIT_LIMIT_SECONDS = 10;

/**
 * The longest an environment here may take to load its module, in seconds of wall-clock time,
 * unless the function's timeout is longer: Lambda's 10 s with a margin of six. An environment
 * here shares two cores with the edge, SQS, DynamoDB, every other environment and whatever else
 * the machine runs, and starts at nice 10 (DEFAULT_FUNCTION_NICE in local/cloud.ts): with four
 * busy loops at nice 0 on two cores, loading the consumer's bundle (under 1.2 s otherwise) took
 * 5.3 to 9.6 s, and over 10 s in two rounds of four, each failing every function's warm() with
 * Sandbox.Timedout (three environments at once, as npm start starts them). Counted at Lambda's
 * 10 s, a start on a busy CI machine failed; the limit is only there so that a module that never
 * finishes loading fails instead of holding everything for good, and 60 s still does that.
 */
export const LOCAL_INIT_LIMIT_SECONDS = 60;

/**
 * What nodejs24.x answers for a handler written for a callback: its runtime interface client
 * reads the handler's declared parameters (`handler.length`) when it loads the module, and one
 * with three or more (event, context, callback), not marked for response streaming, fails the
 * init with Runtime.CallbackHandlerDeprecated and this message (aws-lambda-nodejs-runtime-
 * interface-client, src/function/callback-deprecation.ts and src/context/constants.ts; the
 * nodejs22.x runtime called such a handler with a callback). A handler that is not async is
 * called as any other: what it returns (a value or a promise) is awaited and is the response, as
 * that client's BufferedInvokeProcessor does; there is no callback to wait for, and no waiting for
 * an empty event loop.
 */
export const CALLBACK_HANDLER_MESSAGE =
  'ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24. You need to modify this function to use a supported handler signature to use Node.js 24 or later. For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.';

/** Young-generation cap of every environment, MiB (see createEnvironment). */
const YOUNG_GENERATION_MB = 8;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
// First, before the module loads: the init phase runs at the same priority as invocations. On
// Linux nice is per thread and setpriority(2) with pid 0 means the calling thread, so this
// lowers only this environment's thread. Not by a thread id read from /proc: /proc numbers
// threads in its own pid namespace, which need not be this process's (a sandbox, or
// unshare -p without a fresh /proc), and the id then names no thread here, or another one.
// A thread already at a lower priority (the whole process started with nice) keeps it: going
// back up needs privilege.
let niceError;
if (workerData.nice > 0 && process.platform === 'linux') {
  try {
    const os = require('node:os');
    if (os.getPriority(0) < workerData.nice) os.setPriority(0, workerData.nice);
  } catch (err) {
    niceError = (err && err.message) || String(err);
  }
}
const realNow = Date.now;
// Bytes written to stdout and stderr so far, as the main thread reads them: each reply says how
// far the invocation's output went, so the runtime ends a line left without a newline there.
// Counted for a write the stream took (one it refuses throws before it is counted), in the bytes
// the main thread gets: Buffer.byteLength is exact for UTF-8 (console.log's) and the other
// one-to-one encodings, but only estimates hex and base64 (invalid characters are no bytes at
// all), so a string in those is counted as the Buffer the stream will make of it.
// A string in an encoding Buffer does not know ('buffer', which a Writable lets through) throws
// here, in the function, as Node's stdout throws it on Lambda: passed on, the main thread's
// side of the stream threw decoding it, uncaught, and stopped the process.
const written = [0, 0];
const estimated = new Set(['hex', 'base64', 'base64url']);
[process.stdout, process.stderr].forEach((stream, i) => {
  const write = stream.write;
  stream.write = function (chunk, encoding) {
    let bytes = 0;
    if (typeof chunk === 'string') {
      const named = typeof encoding === 'string' ? encoding : 'utf8';
      bytes = estimated.has(named.toLowerCase()) || !Buffer.isEncoding(named)
        ? Buffer.from(chunk, named).length
        : Buffer.byteLength(chunk, named);
    } else if (chunk && typeof chunk.byteLength === 'number') {
      bytes = chunk.byteLength;
    }
    const taken = write.apply(this, arguments);
    written[i] += bytes;
    return taken;
  };
});
// Set to 1 when this thread ends itself at an invocation's deadline (see below).
const timedOutFlag = new Int32Array(workerData.timedOut);
// The clock's offset is one piece of shared memory for every function of the cloud: taken out of
// workerData before the module loads, and read with an Atomics.load taken now, so the function's
// code reaches it neither there nor by replacing Atomics.load (which Date.now would have handed
// the array). Written, it moved Date.now in every function's environments.
const clockOffset = workerData.clockOffset;
delete workerData.clockOffset;
const atomicsLoad = Atomics.load;
if (clockOffset) {
  const offset = new BigInt64Array(clockOffset);
  Date.now = () => realNow() + Number(atomicsLoad(offset, 0));
}
let handler;
// The module failed to load (initError is what it threw, which may be undefined or null).
let initFailed = false;
let initError;
// Its JSON, made once, when the ready message goes.
let initErrorJson;
// Where each error was made, as V8 places it (see errorSource): its first frame with a file,
// taken when its stack is first made. And the bundle's path, and its map's lookup from a
// position in the bundle to one in a source (0-based lines and columns), once the bundle loads.
const madeAt = new WeakMap();
let bundleFile;
let mapPosition = () => undefined;
// Stack traces name TypeScript lines, as --enable-source-maps makes the deployed functions' do.
// The bundle's source map arrives decoded, in memory every environment of the process shares
// (function-bundle.ts): Node's own source-map support, or a map parsed here, held about 20 MB of
// each environment's heap from its first stack trace on.
const mapStackTraces = (bundle, frames) => {
  const path = require('node:path');
  const dir = path.dirname(bundle);
  const rows = new Int32Array(frames.rows);
  const count = rows.length / ${FRAME_FIELDS};
  // The last mapped position at or before (line, column), as Node's SourceMap.findEntry finds it.
  const find = (line, column) => {
    let lo = 0;
    let hi = count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const l = rows[mid * ${FRAME_FIELDS}];
      if (l < line || (l === line && rows[mid * ${FRAME_FIELDS} + 1] <= column)) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found;
  };
  const frame = (f) => {
    const at = f.getFileName() === bundle ? find(f.getLineNumber() - 1, f.getColumnNumber() - 1) : -1;
    if (at < 0) return String(f);
    const row = at * ${FRAME_FIELDS};
    const source = frames.sources[rows[row + 2]];
    if (typeof source !== 'string') return String(f);
    const where = path.resolve(dir, source) + ':' + (rows[row + 3] + 1) + ':' + (rows[row + 4] + 1);
    const name = f.getFunctionName();
    const type = f.getTypeName();
    const method = f.getMethodName();
    const label = name ? (type && method && !f.isToplevel() ? type + '.' + name : name) : type && method ? type + '.' + method : '';
    const prefix = (f.isAsync() ? 'async ' : '') + (f.isConstructor() ? 'new ' : '');
    return label ? prefix + label + ' (' + where + ')' : prefix + where;
  };
  bundleFile = bundle;
  mapPosition = (line, column) => {
    const at = find(line, column);
    if (at < 0) return undefined;
    const row = at * ${FRAME_FIELDS};
    const source = frames.sources[rows[row + 2]];
    if (typeof source !== 'string') return undefined;
    return { file: path.resolve(dir, source), line: rows[row + 3], column: rows[row + 4] };
  };
  Error.prepareStackTrace = (err, frames) => {
    try {
      const first = frames.find((f) => typeof f.getFileName() === 'string');
      if (first && ((typeof err === 'object' && err !== null) || typeof err === 'function')) {
        madeAt.set(err, { file: first.getFileName(), line: first.getLineNumber(), column: first.getColumnNumber() });
      }
    } catch {}
    let head;
    try { head = String(err); } catch { head = 'Error'; }
    // A frame the table cannot map (a source index out of range, a map that does not fit the
    // bundle) stays as V8 wrote it: a stack trace must never throw.
    const safe = (f) => {
      try { return frame(f); } catch { return String(f); }
    };
    return head + frames.map((f) => '\\n    at ' + safe(f)).join('');
  };
};
// The handler nodejs24.x's loader finds for the handler string (src/function/handler-resolver.ts):
// the export path's names followed one by one through objects, in the module and then in its
// default export. The deployed functions' handler string is 'index.' and the export's name
// (aws-lambda-nodejs's NodejsFunction, which bundles the module as index.js).
const findIn = (name, mod) =>
  name.split('.').reduce((nested, key) => (nested && typeof nested === 'object' ? nested[key] : undefined), mod);
// A bundle held in memory (no directory could be written: function-bundle.ts, bundleInMemory),
// compiled as a CommonJS module of its path, as require would compile the file there. Its text
// is kept for the lines Node writes for a rejection nothing handles (errorSource), which read the
// bundle's line from it instead of the file.
let bundleSource;
const compileBundle = (file, text) => {
  const Module = require('node:module');
  const m = new Module(file, null);
  m.filename = file;
  m.paths = Module._nodeModulePaths(require('node:path').dirname(file));
  bundleSource = text;
  m._compile(text, file);
  m.loaded = true;
  return m.exports;
};
const notFound = (message) => Object.assign(new Error(message), { name: 'Runtime.HandlerNotFound' });
const load = (msg) => {
  if (msg.loadError) {
    initFailed = true;
    initError = Object.assign(new Error(msg.loadError.errorMessage), { name: msg.loadError.errorType });
  } else {
    try {
      mapStackTraces(msg.load, msg.frames);
      const mod = msg.text === undefined ? require(msg.load) : compileBundle(msg.load, msg.text);
      const handlerString = 'index.' + workerData.exportName;
      let found = findIn(workerData.exportName, mod);
      if (!found && typeof mod === 'object' && mod !== null && 'default' in mod) {
        found = findIn(workerData.exportName, mod.default);
      }
      if (!found) {
        initFailed = true;
        initError = notFound(handlerString + ' is undefined or not exported');
      } else if (typeof found !== 'function') {
        initFailed = true;
        initError = notFound(handlerString + ' is not a function');
      } else if (found.length >= 3) {
        // A handler that declares a third parameter (callback) fails the init on nodejs24.x, the
        // deployed functions' runtime, whatever it does with it: CALLBACK_ERROR_NODEJS24_ABOVE.
        initFailed = true;
        initError = Object.assign(new Error(${JSON.stringify(CALLBACK_HANDLER_MESSAGE)}), { name: 'Runtime.CallbackHandlerDeprecated' });
      } else {
        handler = found;
      }
    } catch (err) {
      // Whatever the module threw, undefined and null included.
      initFailed = true;
      initError = err;
    }
  }
  // Posted a turn later: an exception or a rejection the module's top level left for the next
  // turn ends the environment first (see processEnds), and the init with it.
  loading = true;
  setImmediateFirst(() => {
    if (!loading) return;
    if (!initFailed) {
      loading = false;
      parentPort.postMessage({ ready: true, niceError });
      return;
    }
    // nodejs24.x's createRuntime (src/utils/runtime-setup.ts): it logs the error ('Init Error',
    // made an Error first by intoError), posts it to /init/error as formatError makes it, and
    // throws it again; its entry point leaves that promise unawaited (src/index.ts, ignition()),
    // so the rejection is one nothing handles and Node ends the process (status 1). When making
    // that Error throws (a value String() cannot read), the error that threw is the rejection,
    // and nothing is logged or posted: the environment exits while its module loads.
    let error;
    try {
      error = intoError(initError);
    } catch (thrown) {
      rejectUnhandled(thrown);
      return;
    }
    try {
      process.stderr.write(logLine('Init Error', error) + '\\n');
    } catch {}
    initErrorJson = serialiseError(initError);
    loading = false;
    parentPort.postMessage({ ready: true, initError: initErrorJson, niceError });
    rejectUnhandled(initError);
  });
};
// A rejection with nothing to handle it, as the runtime's unawaited entry promise leaves one.
const rejectUnhandled = (reason) => {
  Promise.reject(reason);
};
// The module is loading: its ready message has not been posted yet.
let loading = false;
const setImmediateFirst = setImmediate;
${THREAD_STATS_SOURCE}
// Taken before the function's module loads, which could replace them.
const RuntimeError = Error;
const stringify = JSON.stringify;
const byteLength = Buffer.byteLength;
const isNativeError = require('node:util').types.isNativeError;
// Over the bytes a synchronous invoke may return (a result's JSON, or an error's).
const tooLarge = (json) => json.length > ${MAX_RESPONSE_BYTES} || byteLength(json) > ${MAX_RESPONSE_BYTES};
const TOO_LARGE = ${JSON.stringify(JSON.stringify(TOO_LARGE))};
// What the nodejs24.x runtime sends back for a thrown or rejected value (its runtime interface
// client's formatError, src/utils/error.ts, posted by its RAPID client's postInvocationError and
// postInitError): a value that is instanceof Error as { errorType: name, errorMessage: message,
// trace: stack cut into lines, or [] without one } (DEL written %7F; a name or message that is
// undefined or null is left out); any other value, undefined and null included, as its typeof and
// String(value), with an empty trace; and when reading any of that throws (a getter, a Proxy's
// trap, a name or message that is no string, a String() that throws), a fixed answer with an
// empty trace. Posted for an init error too (postInitError). Nothing here may throw: a throw out
// of this thread's message handler ended the environment.
const PROBLEM = 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack';
const formatError = (err) => {
  try {
    if (err instanceof RuntimeError) {
      return {
        errorType: err.name?.replaceAll('\\x7F', '%7F'),
        errorMessage: err.message?.replaceAll('\\x7F', '%7F'),
        trace: err.stack?.replaceAll('\\x7F', '%7F').split('\\n') || [],
      };
    }
    return { errorType: typeof err, errorMessage: String(err), trace: [] };
  } catch {
    return { errorType: 'handled', errorMessage: PROBLEM, trace: [] };
  }
};
// The error's JSON, as Lambda sends it back. Lambda holds an error to the same size as a
// result: its runtime API reads an error body through the same capped copy as a response, and
// one over the limit is Function.ResponseSizeTooLarge (aws-lambda-runtime-interface-emulator,
// internal/lambda/core/directinvoke; not verified on AWS). A string too long for JavaScript to
// make is over it too.
const serialiseError = (thrown) => {
  let json;
  try {
    json = stringify(formatError(thrown));
  } catch {
    return TOO_LARGE;
  }
  return tooLarge(json) ? TOO_LARGE : json;
};
// The line Lambda's Node.js runtime logs for an error, after its label (its text logger's
// console.error(label, toFormatted(intoError(err))), nodejs24.x's src/logging/log-patch.ts and
// src/utils/error.ts): 'Invoke Error' and 'Init Error': a space, a tab
// and the error's JSON, where an Error is its name as errorType, its message as errorMessage, its
// code, its own enumerable properties (any Error among them the same way) and its stack cut into
// lines as 'stack'; one JSON.stringify throws on (a cycle, a BigInt, a getter that throws) is the
// error's JSON as the runtime sends it back instead, as there. Lambda puts its
// timestamp, request id and level ERROR before it. err is already an Error (intoError, below). A
// line too long for JavaScript to make throws, and is not written.
const assign = Object.assign;
const logLine = (label, err) => {
  let json;
  try {
    json = stringify(err, (_key, value) => {
      if (!(value instanceof RuntimeError)) return value;
      const out = assign({ errorType: value.name, errorMessage: value.message, code: value.code }, value);
      if (typeof value.stack === 'string') out.stack = value.stack.split('\\n');
      return out;
    });
  } catch {
    json = serialiseError(err);
  }
  return (label + ' \\t' + json).replaceAll('\\n', '\\r');
};
// The logger first makes an Error of what was thrown. nodejs24.x's intoError: the value itself if
// it is an Error, else new Error(String(value)), so a Symbol is logged as Error('Symbol(x)') and
// undefined as Error('undefined'). That throws for a value String() cannot read (a toString that
// throws, an object with no prototype), and instanceof throws for a Proxy whose trap throws or a
// revoked Proxy (see the invocation's catch below, and the init's in load).
const String_ = String;
const intoError = (thrown) => (thrown instanceof RuntimeError ? thrown : new RuntimeError(String_(thrown)));
// What Node writes to stderr for an error nothing handles, before it ends the process with status
// 1 (its ReportFatalException): an Error, or any other object, as util.inspect shows it (its
// stack, then its own properties: "{ code: 'X' }"), a primitive as its text (a Symbol as
// nothing) with Node's hint on --trace-uncaught, a Proxy as nothing with that hint (Node reads
// it through its traps and gives up), then a blank line and the Node.js version. Node first
// writes where the error is placed (see errorSource), where it can be known here.
// Taken before the function's module loads, which could replace them; nothing here may throw.
const utilTypes = require('node:util').types;
const inspect = require('node:util').inspect;
const isProxy = utilTypes.isProxy;
const nodeVersion = process.version;
const HINT = '(Use \`node --trace-uncaught ...\` to show where the exception was thrown)';
// An object whose stack cannot be read (its getter throws) is written as Node 24 writes it when
// its report's util.inspect fails that way (lib/internal/errors.js, fatalExceptionStackEnhancers,
// and ReportFatalException's fallback): its name and message as 'name: message', or, when either
// is undefined or reading them throws, the object as String() makes it ('' if that throws), then
// the hint. (Node 24's util.inspect itself answers '[Error: message]' for it, Node 20's throws.)
const textOf = (value) => {
  try { return String_(value); } catch { return ''; }
};
const nameAndMessage = (thrown) => {
  let message;
  let name;
  try {
    message = thrown.message;
    name = thrown.name;
  } catch {
    message = undefined;
  }
  if (message === undefined || name === undefined) return textOf(thrown);
  return textOf(name) + ': ' + textOf(message);
};
const stackReadable = (thrown) => {
  try {
    void thrown.stack;
    return true;
  } catch {
    return false;
  }
};
const fatalText = (thrown) => {
  let body;
  try {
    if (isProxy(thrown)) body = '\\n' + HINT;
    else if ((typeof thrown === 'object' && thrown !== null) || typeof thrown === 'function') {
      body = stackReadable(thrown) ? inspect(thrown) : nameAndMessage(thrown) + '\\n' + HINT;
    }
    else body = (typeof thrown === 'symbol' ? '' : String_(thrown)) + '\\n' + HINT;
  } catch {
    body = '\\n' + HINT;
  }
  return body + '\\n\\nNode.js ' + nodeVersion + '\\n';
};
// The lines Node writes first for an error nothing handles (node_errors.cc, AppendExceptionLine
// and GetErrorSource): the file and line V8 places it at, that line, and a caret under the
// column. For a rejection V8 places the error where it was made, the first frame of the stack
// it captured then (Isolate::CreateMessage), and that is known here (madeAt): written for an
// error made in the function's bundle. With --enable-source-maps, as the deployed functions run,
// Node maps that place through the bundle's source map and writes the source's line, read from
// disk as the map holds no sources' content (lib/internal/source_map/prepare_stack_trace.js,
// getErrorSource: "<source>:<line>", the line, spaces to the column, "^"); a source it cannot
// read (on Lambda, where only the bundle is deployed) or a place the map does not cover gives
// the bundle's own line, a caret under the column as far as 1,020 characters in. For an
// exception thrown, V8 places it where it was thrown (the throw statement), which a listener in
// a worker thread cannot learn: Node computes these lines only in ReportFatalException, after
// every listener, and a worker's uncaught exception never gets there (its thread serialises
// the error to its parent and exits); the error's stack names where it was made, not thrown.
// Nothing is written for those, nor for an error made outside the bundle (Node's own
// UnhandledPromiseRejection is made in Node's internal source, which is not readable here).
const readFileSync = require('node:fs').readFileSync;
const errorSource = (thrown) => {
  try {
    if (!((typeof thrown === 'object' && thrown !== null) || typeof thrown === 'function') || isProxy(thrown)) return '';
    const at = madeAt.get(thrown);
    if (!at || bundleFile === undefined || at.file !== bundleFile) return '';
    const line = at.line - 1;
    const column = at.column - 1;
    const mapped = mapPosition(line, column);
    if (mapped) {
      let source;
      try { source = readFileSync(mapped.file, 'utf8'); } catch {}
      const text = typeof source === 'string' ? source.split(/\\r?\\n/, mapped.line + 1)[mapped.line] : undefined;
      if (text) {
        let prefix = '';
        for (const c of text.slice(0, mapped.column + 1)) prefix += c === '\\t' ? '\\t' : ' ';
        return mapped.file + ':' + (mapped.line + 1) + '\\n' + text + '\\n' + prefix.slice(0, -1) + '^\\n\\n';
      }
    }
    const text = (bundleSource ?? readFileSync(bundleFile, 'utf8')).split('\\n', line + 1)[line] ?? '';
    let out = bundleFile + ':' + (line + 1) + '\\n' + text + '\\n';
    if (column < 0 || column + 1 > text.length) return out + '\\n';
    let underline = '';
    for (let i = 0; i < column && underline.length < 1020; i++) underline += text[i] === '\\t' ? '\\t' : ' ';
    if (underline.length < 1020) underline += '^';
    return out + underline + '\\n\\n';
  } catch {
    return '';
  }
};
// The process ends as Node ends it for an error nothing handles: that text on stderr, then the
// exit. No reply is posted: the main thread sees the thread exit, and fails the invocation (or
// the init, while the module loads) with Runtime.ExitError.
const processEnds = (thrown, code, origin) => {
  try {
    // The stack is made first (util.inspect reads it), and with it where the error was made.
    const text = fatalText(thrown);
    process.stderr.write((origin === 'unhandledRejection' ? errorSource(thrown) : '') + text);
  } catch {}
  // No ready message: the main thread sees the thread exit while the module loads.
  loading = false;
  process.exit(code);
};
// An exception nothing catches, or a rejection nothing handles, ends the environment as it ends
// the nodejs24.x runtime, whose client registers no uncaughtException or unhandledRejection
// listener (aws-lambda-nodejs-runtime-interface-client src/index.ts, src/worker/ignition.ts,
// src/utils/runtime-setup.ts): Node writes the error and exits with status 1, whether an
// invocation is running, the module is loading or the environment is idle, and Lambda fails the
// invocation with Runtime.ExitError. A rejection comes here as Node raises it without such a
// listener: the reason itself when it is an object with its own stack, else Node's own
// UnhandledPromiseRejection error (ERR_UNHANDLED_REJECTION) naming the reason. A listener the
// function registers itself takes the error instead, and the environment goes on, as on
// nodejs24.x, where the function's listeners are the only ones: an uncaughtException listener
// that is not this one, and for a rejection an unhandledRejection listener (Node then raises
// nothing). nodejs22.x's client listened for both, logged "Uncaught Exception" or "Unhandled
// Promise Rejection" and the error's JSON, failed the invocation with it and exited (129, 128):
// what the runtime here did before.
process.on('uncaughtException', (err, origin) => {
  if (process.listenerCount('uncaughtException') > 1) return;
  processEnds(err, 1, origin);
});
parentPort.on('message', async (msg) => {
  if (msg.load !== undefined || msg.loadError !== undefined) return load(msg);
  if (msg.stats !== undefined) {
    parentPort.postMessage({ stats: msg.stats, value: threadStats() });
    return;
  }
  // The main thread answers an environment whose module failed with the init error it was told
  // (LocalFunction.run), and posts no invocation here then; one that comes all the same (the
  // module forged its ready message before it failed) is answered with the JSON made once.
  if (initFailed) {
    parentPort.postMessage({ id: msg.id, ok: false, error: initErrorJson });
    return;
  }
  const context = {
    functionName: workerData.name,
    functionVersion: '$LATEST',
    invokedFunctionArn: workerData.arn,
    memoryLimitInMB: String(workerData.memorySizeMb),
    awsRequestId: msg.requestId,
    logGroupName: '/aws/lambda/' + workerData.name,
    logStreamName: workerData.logStreamName,
    getRemainingTimeInMillis: () => Math.max(0, msg.deadline - realNow()),
  };
  // Lambda ends the invocation at the deadline it told the handler, whatever the handler is
  // doing. This thread ends itself then (a worker's process.exit stops its thread, not the
  // process), marking why first: the main thread's own timer would end it only when the main
  // thread gets to it, and a main thread lagging behind its event loop (the edge, SQS, the
  // mappings run there) let a handler run on past its deadline by as long as that lag.
  // A handler that never yields (a synchronous loop) cannot be stopped from inside: the main
  // thread's timer ends that one.
  const deadlineTimer = setTimeout(() => {
    Atomics.store(timedOutFlag, 0, 1);
    process.exit(1);
  }, Math.max(0, msg.deadline - realNow()));
  let reply;
  try {
    // nodejs24.x calls the handler inside a try and awaits what it returns
    // (src/runtime/buffered-invoke-processor.ts): a synchronous throw fails the invocation as a
    // rejection does, whatever is thrown, undefined and null included.
    const result = await handler(msg.event, context);
    // Lambda's runtime sends the result back as JSON (undefined as null) and fails the
    // invocation when JSON.stringify throws on it (a cycle, a BigInt, a toJSON that throws), with
    // nodejs24.x's Runtime.JSONStringifyError (src/utils/serialize.ts; nodejs22.x's was a plain
    // Error). That JSON is what crosses to the main thread: the result is serialised once, and
    // reaches the caller as Lambda hands it on (a Date as a string, a function dropped).
    let json;
    try {
      json = stringify(result === undefined ? null : result);
    } catch {
      const unable = new RuntimeError('Unable to stringify response body');
      unable.name = 'Runtime.JSONStringifyError';
      throw unable;
    }
    // A result JSON.stringify makes nothing of (a function, a symbol, a toJSON answering
    // undefined) fails the invocation: Lambda's runtime hands that undefined to its native
    // client, which throws this TypeError for an argument that is no string, and the runtime
    // reports it as the invocation's error (the client's src/client/rapid-client.ts and
    // src/native/rapid-client.cc; not verified on AWS).
    if (json === undefined) throw new TypeError('Wrong arguments');
    // Lambda measures the response in bytes of that JSON, and fails an invocation whose
    // response is larger than a synchronous invoke allows (an event source mapping's
    // invocation is synchronous).
    reply = tooLarge(json) ? { id: msg.id, ok: false, error: TOO_LARGE } : { id: msg.id, ok: true, json };
  } catch (err) {
    // nodejs24.x's fail() logs the error ('Invoke Error', made an Error first by its intoError)
    // and then posts the value itself, as formatError makes it (src/runtime/lifecycle-manager.ts,
    // src/client/rapid-client.ts). When making that Error throws (a value String() cannot read,
    // a Proxy whose trap throws, a revoked Proxy), fail() rejects before it posts anything; the
    // runtime's invoke loop, its start() and the promise its entry point leaves unawaited reject
    // with it, and Node, with no listener for that, writes the error and ends the process with
    // status 1: the invocation fails with Runtime.ExitError and the next one starts a fresh
    // environment (src/runtime/runtime.ts, src/worker/ignition.ts, src/index.ts; not verified
    // on AWS).
    let error;
    try {
      error = intoError(err);
    } catch (thrown) {
      // Its deadline still holds: where the function handles that rejection itself, nothing
      // answers the invocation any more, and it times out.
      rejectUnhandled(thrown);
      return;
    }
    try {
      process.stderr.write(logLine('Invoke Error', error) + '\\n');
    } catch {}
    // Whatever was thrown crosses as the JSON Lambda sends back, so the main thread gets a
    // string of bounded size: the thrown value itself crossed whole (megabytes of message and
    // stack), and one whose properties threw ended the environment.
    reply = { id: msg.id, ok: false, error: serialiseError(err) };
  }
  // Only now: a value whose serialising never ends is still ended at the deadline.
  clearTimeout(deadlineTimer);
  reply.written = written;
  parentPort.postMessage(reply);
});
`;

interface Environment {
  /** Numbered from 1 per function, in creation order. */
  id: number;
  worker: Worker;
  /** 1 once the thread ended itself at an invocation's deadline (one Int32, shared). */
  timedOut: Int32Array;
  /** Resolves with the module's init error, if loading it threw. */
  ready: Promise<InvocationError | undefined>;
  busy: boolean;
  /** Its module has loaded (or failed to): `ready` has settled. */
  initialised: boolean;
  /** The configuration generation it was started with (see updateEnvironment). */
  generation: number;
  /** Its stdout's and stderr's lines. */
  output: EnvironmentOutput[];
  /** Invocation ids and stats tags the runtime waits for an answer to now. */
  expecting: Set<string>;
  /** Its ready message has come. */
  readySeen: boolean;
  /** Messages it posted that the runtime did not ask for (see MAX_UNSOLICITED_MESSAGES). */
  unsolicited: number;
  /**
   * Its init: when it began (the environment handed its bundle, or the build's failure), how
   * long it took once `ready` settled (ms), and whether its INIT_REPORT line was written.
   */
  init: { startedAt?: number; ms?: number; reported: boolean };
}

/**
 * The most messages an environment may post that the runtime did not ask for (its ready message,
 * a reply to the invocation it runs, an answer to a stats request) before it is ended. An
 * honest environment posts none: on Lambda there is no parentPort, so only code acting on this
 * runtime's internals posts to it. But every message an environment posts is read on the main
 * thread, where the edge, SQS and every mapping run: a function posting in a loop after it
 * returned held that thread for as long as it went on, for every function of the cloud. A
 * reply posted after a forged one for the same invocation counts too (the runtime's own reply
 * comes late then); 10,000 leaves room for the forged-reply tests' 1,524 and costs the main
 * thread a few milliseconds.
 */
export const MAX_UNSOLICITED_MESSAGES = 10_000;

/**
 * One stream of an environment's output as the main thread reads it: cut into lines, and a line
 * left without a newline ended where an invocation's output ended. The reply and the output
 * come on different channels, in no set order, so each invocation's end is a byte count of the
 * stream: the line is ended when the stream gets there (at once if it already has), and the
 * next invocation's output, in the same chunk or a later one, starts a line of its own. Waiting
 * in the environment for its output to be read before replying cost every invocation one more
 * turn of the main thread's event loop (about 120 us idle; a loaded loop's lag, twice).
 */
export class EnvironmentOutput {
  /**
   * The most invocation ends one stream holds ahead of its output. A reply's byte count comes
   * from the environment, and code there can post its own replies (parentPort is in reach) with
   * counts far ahead of what it writes: one end held per invocation, and never reached, grew the
   * main thread's memory for as long as the environment served. An honest environment's ends
   * are all reached, but its output can lag its replies by many invocations: 53 and 124 ends
   * held at most in two runs of 3,000 and 7,000 invocations each leaving a line open (one
   * environment, two shared cores), all reached within 300 ms. 1,024 numbers (8 KiB a stream)
   * keeps that exact with room to spare.
   */
  static readonly MAX_PENDING_ENDS = 1024;
  /** Bytes read so far. */
  private read = 0;
  /** Byte counts where an invocation's output ended and the stream has not got to yet. */
  private readonly ends: number[] = [];

  /** Invocation ends held now, waiting for the stream to get to them. */
  get pendingEnds(): number {
    return this.ends.length;
  }

  constructor(readonly lines: LogLines) {}

  take(chunk: Buffer): void {
    const start = this.read;
    let at = 0;
    while (this.ends.length > 0 && this.ends[0]! <= start + chunk.length) {
      const end = this.ends.shift()! - start;
      this.lines.write(chunk.subarray(at, end));
      this.lines.flush();
      at = end;
    }
    this.lines.write(at === 0 ? chunk : chunk.subarray(at));
    this.read += chunk.length;
  }

  /**
   * An invocation's output ended `total` bytes into the stream. If more than that has been read
   * already (output written after the reply, read before it), the line goes on: what was read
   * cannot be cut again. A count that is not a byte count, or not past the last one held, is
   * ignored. With MAX_PENDING_ENDS held, the newest moves on to `total`: the ends nearest the
   * output still cut where they should, and the line at the one given up runs on to `total`.
   */
  endAt(total: number): void {
    if (!Number.isSafeInteger(total)) return;
    if (total === this.read) this.lines.flush();
    else if (total > this.read && total > (this.ends.at(-1) ?? -1)) {
      if (this.ends.length < EnvironmentOutput.MAX_PENDING_ENDS) this.ends.push(total);
      else this.ends[this.ends.length - 1] = total;
    }
  }
}

/**
 * Whether a message an environment posted is an object. Code there can post anything, `null`
 * or a number included, and a listener reading a property of `null` threw on the main thread:
 * `parentPort.postMessage(null)` during an invocation stopped the process.
 */
function isObject(msg: unknown): msg is object {
  return typeof msg === 'object' && msg !== null;
}

/** A worker's error for a heap that reached its cap (resourceLimits). */
function outOfMemory(err: unknown): boolean {
  return isObject(err) && (err as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY';
}

const invalidReply = (errorMessage: string): InvocationError => ({
  errorType: 'Runtime.InvalidResponse',
  errorMessage,
});

/**
 * JSON an environment sent, parsed. The environment's own JSON.stringify wrote it and measured
 * it, but code in the environment can post replies of its own (parentPort is in its reach), and
 * this is the main thread: what is not a string of JSON within Lambda's limit is refused before
 * it is parsed.
 */
function readJson(text: unknown): { value: unknown } | { error: InvocationError } {
  if (typeof text !== 'string') return { error: invalidReply('the reply carries no JSON') };
  if (text.length > MAX_RESPONSE_BYTES || Buffer.byteLength(text) > MAX_RESPONSE_BYTES) {
    return { error: TOO_LARGE };
  }
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    return { error: invalidReply((err as Error).message) };
  }
}

/** An error an environment sent (as JSON), if it has the shape Lambda sends back. */
function readError(text: unknown): InvocationError {
  const read = readJson(text);
  if ('error' in read) return read.error;
  const v = read.value as Record<string, unknown> | null;
  const optional = (x: unknown) => x === undefined || typeof x === 'string';
  const trace = v?.trace;
  if (
    typeof v !== 'object' ||
    v === null ||
    Array.isArray(v) ||
    !optional(v.errorType) ||
    !optional(v.errorMessage) ||
    !(trace === undefined || (Array.isArray(trace) && trace.every((l) => typeof l === 'string')))
  ) {
    return invalidReply('the reply carries no error as Lambda sends one back');
  }
  return {
    errorType: (v.errorType as string | undefined) ?? '',
    errorMessage: (v.errorMessage as string | undefined) ?? '',
    ...(trace === undefined ? {} : { trace: trace as string[] }),
  };
}

/**
 * A thread's stats as an environment answered them: its figures, and nothing else. Code in the
 * environment can answer for itself (it sees the request on parentPort), and its own `thread`
 * label had replaced the environment's: a function answering `main` replaced the main thread's
 * figures in the cloud's threadStats().
 */
function readThreadStats(value: unknown): ThreadStats | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const isNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
  if (!isNumber(v.heapMb)) return undefined;
  const stats: ThreadStats = { heapMb: v.heapMb };
  if (isNumber(v.cpuMs)) stats.cpuMs = v.cpuMs;
  if (isNumber(v.nice)) stats.nice = v.nice;
  if (isNumber(v.externalMb)) stats.externalMb = v.externalMb;
  const spaces = v.spacesMb as Record<string, unknown> | null | undefined;
  const names = ['new', 'old', 'code', 'large', 'other', 'malloced'] as const;
  if (typeof spaces === 'object' && spaces !== null && names.every((n) => isNumber(spaces[n]))) {
    stats.spacesMb = Object.fromEntries(names.map((n) => [n, spaces[n]])) as NonNullable<
      ThreadStats['spacesMb']
    >;
  }
  return stats;
}

interface WorkerReply {
  id?: string;
  ready?: boolean;
  /** The module's init error, as the JSON of an error (see `error`). */
  initError?: string;
  /** Why the environment's thread kept its priority although a nice value was asked for. */
  niceError?: string;
  ok?: boolean;
  /** The result as JSON, as Lambda sends it back. */
  json?: string;
  /** The invocation's error, as the JSON Lambda sends back ({ errorType, errorMessage, trace }). */
  error?: string;
  /** Bytes written to stdout and stderr since the environment started, when it replied. */
  written?: [number, number];
}

export class LocalFunction {
  readonly name: string;
  private readonly environments = new Set<Environment>();
  /**
   * Invocations waiting for an environment (the function at its concurrency): handed one by
   * release(), or refused by stop() when none was handed to them in its grace.
   */
  private readonly waiting: Array<{
    resolve: (env: Environment) => void;
    reject: (err: Error) => void;
  }> = [];
  private inFlight = 0;
  /**
   * Environments held by invocations: one from acquire() until release(), whether the
   * invocation's environment is still in `environments` or has left it (discarded after a
   * timeout or an exit, retired after a failed init) and another is about to take its place.
   */
  private held = 0;
  private stopped = false;
  private generation = 0;
  private created = 0;
  private outputPeak = 0;
  /** Its module's bundle, or the failure of its build while what that build read is unchanged. */
  private readonly build: FunctionBuild;

  constructor(private def: FunctionDefinition) {
    this.name = def.name;
    this.build = new FunctionBuild(def.modulePath);
    if (def.nice !== undefined) checkNice(def.nice);
  }

  get arn(): string {
    return `arn:aws:lambda:${this.def.region}:000000000000:function:${this.def.name}`;
  }

  /** What Lambda's GetFunctionConfiguration tells: the module, sizes and current environment. */
  configuration(): FunctionConfiguration {
    const { name, modulePath, timeoutSeconds, memorySizeMb, env } = this.def;
    return { name, arn: this.arn, modulePath, timeoutSeconds, memorySizeMb, env: { ...env } };
  }

  get invocationsInFlight(): number {
    return this.inFlight;
  }

  /**
   * Event-loop utilisation of each live environment since it started, labelled
   * `<function>#<n>`: how busy each worker thread is (benchmarks diff two readings).
   */
  threadUsage(): Array<{ thread: string; elu: EventLoopUtilization }> {
    return [...this.environments].map((env) => ({
      thread: `${this.name}#${env.id}`,
      elu: env.worker.performance.eventLoopUtilization(),
    }));
  }

  /**
   * CPU time and heap of each live environment's thread (an environment busy in synchronous
   * code answers after it; one that does not answer within a second is left out).
   */
  async threadStats(): Promise<Array<{ thread: string } & ThreadStats>> {
    const replies = await Promise.all(
      [...this.environments].map(
        (env) =>
          new Promise<({ thread: string } & ThreadStats) | undefined>((resolve) => {
            const tag = randomUUID();
            const done = (value?: { thread: string } & ThreadStats) => {
              env.expecting.delete(tag);
              clearTimeout(timer);
              env.worker.off('message', onMessage);
              resolve(value);
            };
            const onMessage = (msg: { stats?: string; value?: unknown }) => {
              if (!isObject(msg) || msg.stats !== tag) return;
              const value = readThreadStats(msg.value);
              if (value) done({ ...value, thread: `${this.name}#${env.id}` });
            };
            const timer = setTimeout(() => done(), 1000);
            env.worker.on('message', onMessage);
            env.expecting.add(tag);
            env.worker.postMessage({ stats: tag });
          }),
      ),
    );
    return replies.filter((r) => r !== undefined);
  }

  /**
   * Bytes of unfinished output lines (written without a newline yet) the live environments hold
   * now, and the most one stream of any environment ever held at once: never over one line's
   * limit (local/log-lines.ts), whatever a handler writes.
   */
  outputBuffered(): { held: number; peak: number } {
    let held = 0;
    for (const env of this.environments) {
      for (const { lines } of env.output) held += lines.buffered;
    }
    return { held, peak: this.outputPeak };
  }

  /**
   * The most invocation ends any stream of a live environment holds now, waiting for its output
   * to get there: at most EnvironmentOutput.MAX_PENDING_ENDS, whatever the environment replies.
   */
  pendingLineEnds(): number {
    let most = 0;
    for (const env of this.environments) {
      for (const output of env.output) most = Math.max(most, output.pendingEnds);
    }
    return most;
  }

  /** Starts one environment ahead of the first event, so init errors surface at start-up. */
  async warm(): Promise<void> {
    const env = this.createEnvironment();
    let initError: InvocationError | undefined;
    try {
      initError = await env.ready;
    } catch (err) {
      initError = (err as EnvironmentFailed).error;
    }
    if (initError) {
      this.reportInit(env, 'init', initError);
      this.retire(env);
      throw new FunctionInitError(this.name, initError);
    }
  }

  async invoke(event: unknown): Promise<InvocationResult> {
    if (this.stopped) throw new FunctionStoppedError(this.name);
    this.inFlight++;
    try {
      // The environment the invocation runs in: run() replaces one whose init failed.
      const held = { env: await this.acquire() };
      try {
        return await this.run(held, event);
      } finally {
        this.release(held.env);
      }
    } finally {
      this.inFlight--;
    }
  }

  /**
   * Lambda's UpdateFunctionConfiguration for environment variables: merges `vars` into the
   * function's environment; idle environments are discarded now, busy ones after their current
   * invocation, so every invocation that starts from here on sees the new values (a cold start).
   */
  updateEnvironment(vars: Record<string, string>): void {
    this.def = { ...this.def, env: { ...this.def.env, ...vars } };
    this.generation++;
    for (const env of this.environments) if (!env.busy) this.discard(env);
  }

  /**
   * Ends every environment not running an invocation now, as Lambda reclaims idle ones: each
   * holds a heap of its own (about 22 MiB under load, docs/benchmarks.md) that nothing needs
   * while no event comes. The function stays deployed; its next invocation starts a fresh
   * environment (a cold start). Resolves with how many ended, once their threads have exited.
   */
  async releaseIdle(): Promise<number> {
    // One still loading its module is left alone: warm() waits for it to answer.
    const idle = [...this.environments].filter((env) => !env.busy && env.initialised);
    for (const env of idle) this.environments.delete(env);
    await Promise.all(idle.map((env) => env.worker.terminate()));
    return idle.length;
  }

  /** Waits up to graceMs for in-flight invocations, then discards every environment. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopped = true;
    const deadline = Date.now() + graceMs;
    while (this.inFlight > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await Promise.all([...this.environments].map((e) => e.worker.terminate()));
    this.environments.clear();
    // An invocation still waiting for an environment gets none now: it was left waiting, its
    // invoke() never settled (an API request never answered, a batch never handed back).
    for (const waiter of this.waiting.splice(0)) waiter.reject(new FunctionStoppedError(this.name));
  }

  /**
   * Starts an environment and loads the function's module in it. `initLimit` bounds that load
   * and names the error it fails with past it; by default the local init limit (see
   * LOCAL_INIT_LIMIT_SECONDS).
   */
  private createEnvironment(initLimit?: { ms: number; error: InvocationError }): Environment {
    const timedOut = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      env: { ...this.def.env },
      stdout: true,
      stderr: true,
      workerData: {
        modulePath: this.def.modulePath,
        exportName: this.def.exportName ?? 'handler',
        name: this.def.name,
        arn: this.arn,
        memorySizeMb: this.def.memorySizeMb,
        clockOffset: this.def.clockOffset,
        nice: this.def.nice ?? 0,
        timedOut,
        logStreamName: `local/[$LATEST]${randomUUID().replaceAll('-', '')}`,
      },
      resourceLimits: {
        // Lambda's memory setting caps the whole environment; the heap cap is the closest a
        // worker has.
        maxOldGenerationSizeMb: Math.max(this.def.memorySizeMb, 256),
        // Under load a worker's young generation grows to V8's default maximum, so each
        // environment held 35-40 MB whatever its function did; at 8 MB its scavenges come more
        // often and stay short, and an environment holds about 25 MB (docs/benchmarks.md).
        // Only in a node started without `--optimize-for-size` (jest, `npx tsx`): the npm
        // scripts start node with it (local/node-flags.ts), and V8 then keeps every isolate's
        // young generation at 2 MB whatever this cap says.
        maxYoungGenerationSizeMb: YOUNG_GENERATION_MB,
      },
    });
    worker.unref();
    // Lines are cut as Lambda cuts them into log events, a long one in pieces: what is held of a
    // line never exceeds one piece, however much a handler writes without a newline.
    const output = [worker.stdout, worker.stderr].map((stream) => {
      const lines = new LogLines((line) => this.log(line));
      const output = new EnvironmentOutput(lines);
      // No encoding is set on the stream: its chunks are Buffers, as written.
      stream.on('data', (chunk: Buffer) => {
        output.take(chunk);
        if (lines.peakBuffered > this.outputPeak) this.outputPeak = lines.peakBuffered;
      });
      // The environment ended (discarded, timed out, reclaimed, stopped): what it wrote after
      // its last invocation without a newline is its last line.
      stream.on('end', () => lines.flush());
      return output;
    });
    // The thread can fail outside any invocation: a timer the handler left behind throws after
    // it returned, or a promise rejects with nothing to catch it. The worker then emits 'error'
    // and ends (as Lambda's runtime exits after an uncaught exception, and the next invocation
    // starts a fresh environment). With no listener while the environment was idle, that error
    // was thrown on the main thread and stopped the whole process.
    worker.on('error', (err: unknown) => {
      this.log(`local runtime: environment ended: ${describeThrown(err)}`);
    });
    const initLimitMs =
      initLimit?.ms ?? Math.max(LOCAL_INIT_LIMIT_SECONDS, this.def.timeoutSeconds) * 1000;
    let startInit = () => {};
    const init: Environment['init'] = { reported: false };
    const ready = new Promise<InvocationError | undefined>((resolve, reject) => {
      // A module that ends its thread while loading (process.exit at the top level) sends no
      // ready message and no error: waited for, warm() and every invocation of the function
      // waited for good, and `npm start` with them.
      // A module that never finishes loading (a loop, a top-level await that never settles) is
      // ended at the init limit: waited for, it held warm(), `npm start` and every invocation
      // of the function for good (the function timeout starts only once the module has loaded).
      // Counted from when the environment is handed its bundle: building the bundle (once per
      // module per process, slow on busy cores) is deployment, not the function's init.
      let initTimer: ReturnType<typeof setTimeout> | undefined;
      let settled = false;
      startInit = () => {
        if (settled) return;
        init.startedAt = performance.now();
        initTimer = setTimeout(() => {
          off();
          reject(
            new EnvironmentFailed(
              initLimit?.error ?? {
                errorType: 'Sandbox.Timedout',
                errorMessage: `Init timed out after ${(initLimitMs / 1000).toFixed(2)} seconds`,
              },
            ),
          );
          void worker.terminate();
        }, initLimitMs);
      };
      const off = () => {
        settled = true;
        init.ms = init.startedAt === undefined ? 0 : performance.now() - init.startedAt;
        clearTimeout(initTimer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const onExit = (code: number) => {
        off();
        reject(new EnvironmentFailed(exitError(code), exitStatus(code)));
      };
      const onError = (err: unknown) => {
        off();
        // Its heap outgrew the cap while the module loaded: Lambda's answer for an environment
        // killed for its memory.
        if (outOfMemory(err)) {
          reject(new EnvironmentFailed(exitError(OUT_OF_MEMORY), OUT_OF_MEMORY));
          return;
        }
        reject(
          new EnvironmentFailed({
            errorType: 'Runtime.WorkerError',
            errorMessage: describeThrown(err),
          }),
        );
      };
      const onMessage = (msg: WorkerReply) => {
        if (isObject(msg) && msg.ready) {
          off();
          if (msg.niceError) {
            this.log(
              `local runtime: environment kept its priority (nice ${this.def.nice} not applied: ${msg.niceError})`,
            );
          }
          resolve(msg.initError === undefined ? undefined : readError(msg.initError));
        }
      };
      worker.on('message', onMessage);
      worker.once('error', onError);
      worker.once('exit', onExit);
    });
    ready.catch(() => undefined);
    // The module is loaded from its bundle, built once for all the function's environments; a
    // build that fails is this environment's init error, as a module that does not load is.
    this.build.bundle().then(
      (bundle) => {
        worker.postMessage({ load: bundle.file, text: bundle.text, frames: bundle.frames });
        startInit();
      },
      (err: Error) => {
        init.startedAt = performance.now();
        worker.postMessage({ loadError: buildError(err) });
      },
    );
    const env: Environment = {
      id: ++this.created,
      worker,
      timedOut: new Int32Array(timedOut),
      ready,
      busy: false,
      initialised: false,
      generation: this.generation,
      output,
      expecting: new Set(),
      readySeen: false,
      unsolicited: 0,
      init,
    };
    worker.on('message', (msg: WorkerReply & { stats?: unknown }) => {
      const asked =
        isObject(msg) &&
        ((msg.ready === true && !env.readySeen) ||
          (typeof msg.id === 'string' && env.expecting.has(msg.id)) ||
          (typeof msg.stats === 'string' && env.expecting.has(msg.stats)));
      if (msg?.ready === true) env.readySeen = true;
      if (asked || ++env.unsolicited <= MAX_UNSOLICITED_MESSAGES) return;
      if (!this.environments.has(env)) return;
      this.log(
        `local runtime: environment ended: it posted more than ${MAX_UNSOLICITED_MESSAGES} messages the runtime did not ask for`,
      );
      this.discard(env);
    });
    ready.then(
      () => {
        env.initialised = true;
      },
      () => undefined,
    );
    worker.once('exit', () => this.environments.delete(env));
    this.environments.add(env);
    return env;
  }

  /**
   * Hands one line to onLog. A callback that throws loses that line and nothing else: thrown
   * from the handler of an environment's output stream, it stopped the process (a function
   * writing the line that makes the callback throw could stop it at will), and left the stream's
   * byte count short, so later lines were cut in the wrong places.
   */
  private log(line: string): void {
    try {
      this.def.onLog?.(this.def.name, line);
    } catch {
      // The callback's own failure; the runtime has nowhere else to report it.
    }
  }

  /**
   * An environment for an invocation: an idle one, else a new one while the function is under
   * its concurrency, else the next one released. Counted by what invocations hold, not by the
   * environments alive: an invocation whose environment has ended keeps its place until it
   * releases it (its replacement, or the next waiter's, takes that place), and an invoke() in
   * the microtasks between an environment leaving the set and its replacement entering it (the
   * suppressed init's, or the next waiter's after a timeout) had found room and started one
   * over the limit.
   */
  private acquire(): Promise<Environment> {
    for (const env of this.environments) {
      if (!env.busy) {
        env.busy = true;
        this.held++;
        return Promise.resolve(env);
      }
    }
    // Every environment in the set is busy here, so each is held by an invocation.
    if (this.held < this.def.maxEnvironments) {
      const env = this.createEnvironment();
      env.busy = true;
      this.held++;
      return Promise.resolve(env);
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** Hands the invocation's place to the next waiter (with its environment, or a fresh one). */
  private release(env: Environment): void {
    if (env.generation !== this.generation) this.discard(env);
    if (!this.environments.has(env)) {
      const next = this.waiting.shift();
      if (next && !this.stopped) {
        const fresh = this.createEnvironment();
        fresh.busy = true;
        next.resolve(fresh);
        return;
      }
      if (next) this.waiting.unshift(next);
      this.held--;
      return;
    }
    const next = this.waiting.shift();
    if (next) next.resolve(env);
    else {
      env.busy = false;
      this.held--;
    }
  }

  /**
   * Waits for an environment's init: undefined when its module loaded, else what the invocation
   * answers for it. An environment whose module failed is taken out of service (see retire); one
   * whose thread ended or ran over its init limit is ended now.
   */
  private async initialised(
    env: Environment,
    requestId: string,
    phase: 'init' | 'invoke',
  ): Promise<InvocationError | undefined> {
    let initError: InvocationError | undefined;
    try {
      initError = await env.ready;
    } catch (err) {
      this.discard(env);
      const failed = err as EnvironmentFailed;
      this.reportInit(env, phase, failed.error);
      return failed.exit === undefined ? failed.error : exitError(failed.exit, requestId);
    }
    if (initError) {
      this.reportInit(env, phase, initError);
      this.retire(env);
    }
    return initError;
  }

  /**
   * Writes Lambda's INIT_REPORT line for an environment whose init failed, once: its duration,
   * the phase it ran in ("init" for an environment's own init, "invoke" for the init run again
   * within an invocation, a suppressed init) and its status, "timeout" for one over its limit,
   * else "error" and the error's type (initReportErrorType): "INIT_REPORT Init Duration:
   * 180000.45 ms Phase: invoke Status: timeout" in DataDog/datadog-lambda-extension#1237, "Phase:
   * init Status: error" then "Phase: invoke Status: error" for one cold invocation in
   * cargo-lambda/cargo-lambda#572 (the emulator sends a platform.initReport with these fields
   * for every init, rapid/handlers.go, runtimeInitWithTelemetry). The fields are separated by
   * tabs, as in the REPORT line (apex/up#663 quotes one with its tabs); the quotes of INIT_REPORT
   * lines lost theirs, so that is not verified. An init that succeeds gets no line: Lambda writes
   * none for an on-demand one (its duration goes in the REPORT line, not written here).
   */
  private reportInit(env: Environment, phase: 'init' | 'invoke', error: InvocationError): void {
    if (env.init.reported) return;
    env.init.reported = true;
    const status =
      error.errorType === 'Sandbox.Timedout'
        ? 'timeout'
        : `error\tError Type: ${initReportErrorType(error)}`;
    this.log(
      `INIT_REPORT Init Duration: ${(env.init.ms ?? 0).toFixed(2)} ms\tPhase: ${phase}\tStatus: ${status}`,
    );
  }

  /**
   * The lines Lambda writes for an invocation whose runtime exited under it (or in the init run
   * again within it): the error's message, then its type ("RequestId: <id> Error: Runtime exited
   * with error: exit status 137" then "Runtime.ExitError" in aws/aws-lambda-dotnet#480's log
   * tail, "... signal: killed" then the type for one ended for its memory).
   */
  private reportExit(error: InvocationError): void {
    if (error.errorType !== 'Runtime.ExitError' && error.errorType !== 'Runtime.OutOfMemory') {
      return;
    }
    this.log(error.errorMessage);
    this.log(error.errorType);
  }

  private async run(held: { env: Environment }, event: unknown): Promise<InvocationResult> {
    const initStarted = Date.now();
    const requestId = randomUUID();
    const timeoutMs = this.def.timeoutSeconds * 1000;
    // Lambda's service names the request ({"errorType":"Sandbox.Timedout","errorMessage":
    // "RequestId: <id> Error: Task timed out after 3.00 seconds"} as invoke payloads show it).
    const timedOutError: InvocationError = {
      errorType: 'Sandbox.Timedout',
      errorMessage: `RequestId: ${requestId} Error: Task timed out after ${this.def.timeoutSeconds.toFixed(2)} seconds`,
    };
    // A module that failed to load (it threw, its thread exited, it ran over the init limit):
    // the environment ends, as Lambda's runtime exits after posting an init error (an error it
    // posted is answered from the JSON the environment made once, not again), and Lambda runs
    // the init again within this invocation, a "suppressed init" under the function timeout
    // ("even on failure, the next invoke is expected to work with a suppressed init - i.e. we
    // init again as part of the invoke", aws-lambda-runtime-interface-emulator
    // internal/lambda/interop/sandbox_model.go; "If all three tasks do not complete within 10
    // seconds, Lambda retries the Init phase at the time of the first function invocation with
    // the configured function timeout", AWS Lambda Developer Guide, "Understanding the Lambda
    // execution environment lifecycle"; the log lines "INIT_REPORT ... Phase: init Status:
    // error" then "INIT_REPORT ... Phase: invoke Status: error" of one cold invocation, with the
    // function's init output twice, in cargo-lambda/cargo-lambda#572). The invocation answers
    // what that second init does: its error, or the handler's answer when it loads. Without it a
    // module whose init failed once (a dependency not up yet) failed the invocation that found
    // it, where on Lambda that invocation is served.
    let initError = await this.initialised(held.env, requestId, 'init');
    // When the invoke phase began: at the suppressed init, if there is one, which counts against
    // the function timeout; else when the handler is called (below).
    let invokePhase: number | undefined;
    if (initError && !this.stopped) {
      invokePhase = Date.now();
      const fresh = this.createEnvironment({ ms: timeoutMs, error: timedOutError });
      fresh.busy = true;
      held.env = fresh;
      initError = await this.initialised(fresh, requestId, 'invoke');
      // Its ready message handled only past the deadline (this thread lagging behind its event
      // loop: the init's own limit, started a moment after invokePhase, had not fired yet): the
      // invoke phase is over. Called now, the handler would start with no time left
      // (getRemainingTimeInMillis() 0, for which Powertools saves an in-progress record with no
      // expiry) and be ended at once; it times out instead, as its init had run over.
      if (!initError && Date.now() >= invokePhase + timeoutMs) {
        this.discard(fresh);
        initError = timedOutError;
        fresh.init.ms = Date.now() - invokePhase;
        this.reportInit(fresh, 'invoke', initError);
      }
    }
    if (initError) {
      this.reportExit(initError);
      return {
        ok: false,
        timedOut: initError === timedOutError,
        durationMs: Date.now() - initStarted,
        error: initError,
      };
    }
    const env = held.env;
    // Lambda's function timeout starts when the handler is called: the init phase (loading the
    // module) is not taken from it. Counting a slow cold start against it left handlers with no
    // time at all on a busy machine, and Powertools then saved in-progress records that never
    // expire (it skips the expiry when the remaining time is 0). A suppressed init is part of
    // the invoke phase, and counts.
    const started = Date.now();
    const id = randomUUID();
    // Lambda's timeout covers the invoke phase, not the environment's init: the deadline starts
    // now (or at the suppressed init). Counted from before a slow cold start,
    // getRemainingTimeInMillis() could begin at 0, and Powertools then saves an in-progress
    // record with no in-progress expiry at all (it only sets one for a positive remaining time),
    // blocking every retry for the record's full hour.
    const invokedAt = invokePhase ?? Date.now();
    // What getRemainingTimeInMillis() counts down to, and when both the environment's own timer
    // and this thread's end the invocation.
    const deadline = invokedAt + timeoutMs;
    return new Promise<InvocationResult>((resolve) => {
      const cleanup = () => {
        env.expecting.delete(id);
        clearTimeout(timer);
        env.worker.off('message', onMessage);
        env.worker.off('error', onError);
        env.worker.off('exit', onExit);
      };
      const onMessage = (msg: WorkerReply) => {
        if (!isObject(msg) || msg.id !== id) return;
        cleanup();
        // A line the invocation left without a newline ends with it, as Lambda logs it.
        const { written } = msg;
        if (written) {
          env.output.forEach((output, i) => {
            output.endAt(written[i] ?? 0);
          });
        }
        const durationMs = Date.now() - started;
        const read = msg.ok === true ? readJson(msg.json) : { error: readError(msg.error) };
        if ('value' in read) resolve({ ok: true, result: read.value, durationMs });
        else resolve({ ok: false, timedOut: false, durationMs, error: read.error });
      };
      // The worker died under the invocation: Lambda reports that as Runtime.ExitError.
      const exitWith = (error: InvocationError) => {
        cleanup();
        this.discard(env);
        this.reportExit(error);
        resolve({ ok: false, timedOut: false, durationMs: Date.now() - started, error });
      };
      const timeOut = () => {
        cleanup();
        this.discard(env);
        resolve({
          ok: false,
          timedOut: true,
          durationMs: Date.now() - started,
          error: timedOutError,
        });
      };
      // The thread failed outside the function's reach: its heap cap (Lambda's answer for an
      // environment killed for its memory), or anything else Node ends a worker for.
      const onError = (err: Error) =>
        exitWith(
          outOfMemory(err)
            ? exitError(OUT_OF_MEMORY, requestId)
            : { errorType: 'Runtime.ExitError', errorMessage: err.message },
        );
      // The environment ended itself at the deadline (the worker's own timer), or died.
      const onExit = (code: number) =>
        Atomics.load(env.timedOut, 0) === 1 ? timeOut() : exitWith(exitError(code, requestId));
      // A handler that never yields is ended here, when this thread gets to it.
      const timer = setTimeout(timeOut, deadline - Date.now());
      env.worker.on('message', onMessage);
      env.worker.once('error', onError);
      env.worker.once('exit', onExit);
      env.expecting.add(id);
      env.worker.postMessage({ id, requestId, deadline, event });
    });
  }

  private discard(env: Environment): void {
    if (!this.environments.delete(env)) return;
    void env.worker.terminate();
  }

  /**
   * Takes an environment whose module failed out of service, and leaves it a second to end
   * itself: it writes Node's report of the rejection that ends nodejs24.x's runtime after an
   * init error, and exits (WORKER_SOURCE, load). Ended at once, its thread lost that report.
   * One that does not end itself (the function handles that rejection) is ended then.
   */
  private retire(env: Environment): void {
    if (!this.environments.delete(env)) return;
    setTimeout(() => void env.worker.terminate(), 1000).unref();
  }
}
