import { createHash } from 'node:crypto';
import { duplicateKeyPath, parseJson } from '../../../../shared/src/json-keys';
import {
  type FieldError,
  type OrderInput,
  orderIdSchema,
  runIdSchema,
  validateOrder,
} from '../../../../shared/src/order';
import { codePointPrefix } from '../../../../shared/src/text';

/** What the producer answers to a request it rejects before writing anything. */
export class RequestError extends Error {
  constructor(
    readonly statusCode: 400 | 404 | 413 | 415 | 422,
    message: string,
    readonly errors?: FieldError[],
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

export interface RawRequest {
  headers: Record<string, string | undefined> | null;
  /** Every value of each header, in order (API Gateway's `multiValueHeaders`), when given. */
  multiValueHeaders?: Record<string, string[] | undefined> | null;
  body: string | null;
  isBase64Encoded: boolean;
}

export interface ParsedOrderRequest {
  runId: string;
  /** The client's Idempotency-Key, when it sent one. */
  idempotencyKey?: string;
  input: OrderInput;
  payloadHash: string;
}

/** The most of a JSON parser's message an answer quotes. */
const MAX_REASON_CHARS = 200;

/** HTTP header names are case-insensitive; API Gateway passes them as the client sent them. */
export function header(headers: RawRequest['headers'], name: string): string | undefined {
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted && value !== undefined) return value;
  }
  return undefined;
}

/**
 * How many values a header has, its name in any case: from `multiValueHeaders` when given (a
 * repeated header is one list there), else from `headers` (one value per name as sent).
 */
function headerCount(req: RawRequest, name: string): number {
  const wanted = name.toLowerCase();
  const byName = req.multiValueHeaders ?? req.headers ?? {};
  let count = 0;
  for (const [key, value] of Object.entries(byName)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    count += Array.isArray(value) ? value.length : 1;
  }
  return count;
}

/**
 * The value of a header that names one thing (the run, the idempotency key), refused when given
 * more than once: `headers` keeps the last value of each spelling of the name, and `header()` the
 * first spelling it meets, so `Idempotency-Key: a` then `Idempotency-Key: b` took `b`, and
 * `Idempotency-Key: a` then `idempotency-key: b` took `a`. Either way one of the client's keys was
 * silently dropped, and a retry sending them in another order named another order.
 */
function singleHeader(req: RawRequest, name: string): string | undefined {
  const count = headerCount(req, name);
  if (count > 1) throw new RequestError(400, `${name} is given ${count} times; send it once`);
  return header(req.headers, name);
}

/**
 * A JSON media type. None (no header, or an empty one) is JSON too: API Gateway picks a REST
 * API's request model and mapping template by Content-Type, and a request without one is taken
 * as `application/json` ("None (default to application/json)", Developer Guide, integration
 * passthrough behaviors), so the request validator has already judged the body as JSON; the
 * producer reads it as JSON too, rather than answer 415 for a body the API took as JSON.
 */
function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined || value.trim() === '') return true;
  const mediaType = value.split(';')[0]?.trim().toLowerCase() ?? '';
  return mediaType === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
}

/**
 * The charsets a Content-Type names (`charset=` parameters, unquoted, lower case). JSON
 * exchanged between systems "MUST be encoded using UTF-8" (RFC 8259 8.1) and the body is read as
 * UTF-8, so a body declared in another charset would be read as something its sender did not
 * write. A quoted value holding `;` is split too, which can only find more to refuse.
 */
function charsetsOf(value: string): string[] {
  const out: string[] = [];
  for (const param of value.split(';').slice(1)) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    out.push(
      param
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .toLowerCase(),
    );
  }
  return out;
}

/**
 * Whether a charset label names UTF-8: `utf-8`, and the other labels the WHATWG Encoding Standard
 * gives UTF-8 itself (`utf8`, `unicode-1-1-utf-8`, ...), as TextDecoder resolves labels. Clients
 * that write `charset=utf8` mean UTF-8; refusing them refused valid orders.
 */
function isUtf8Label(label: string): boolean {
  try {
    return new TextDecoder(label).encoding === 'utf-8';
  } catch {
    return false;
  }
}

/** JSON with object keys sorted, so the same order sent twice hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function payloadHash(input: OrderInput): string {
  return createHash('sha256').update(canonicalJson(input)).digest('hex');
}

export function validId(
  value: string,
  schema: typeof orderIdSchema | typeof runIdSchema,
  what: string,
): string {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new RequestError(400, `${what} ${parsed.error.issues[0]?.message ?? 'is malformed'}`, [
      { path: what, message: parsed.error.issues[0]?.message ?? 'is malformed' },
    ]);
  }
  return parsed.data;
}

/**
 * Checks a POST /orders request in the order a client can fix it: media type and charset, size,
 * JSON (with each key once per object), headers, fields.
 */
export function parseOrderRequest(
  req: RawRequest,
  limits: { maxBodyBytes: number; defaultRunId: string },
): ParsedOrderRequest {
  // Content-Type is a single value (RFC 9110 8.3), and two readers of a repeated one may each
  // take another (the local validator took the first, this the last): refused, whatever each is.
  const contentTypes = headerCount(req, 'content-type');
  if (contentTypes > 1) {
    throw new RequestError(400, `Content-Type is given ${contentTypes} times; send it once`);
  }
  const contentType = header(req.headers, 'content-type');
  if (!isJsonContentType(contentType)) {
    throw new RequestError(415, 'Content-Type must be application/json');
  }
  const other = charsetsOf(contentType ?? '').find((charset) => !isUtf8Label(charset));
  if (other !== undefined) {
    throw new RequestError(
      415,
      `Content-Type charset must be utf-8 (or absent): the body is read as UTF-8, not as ${JSON.stringify(other)}`,
    );
  }
  const raw = req.body ?? '';
  const bytes = req.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.byteLength > limits.maxBodyBytes) {
    throw new RequestError(
      413,
      `request body is ${bytes.byteLength} bytes; the limit is ${limits.maxBodyBytes}`,
    );
  }
  const text = bytes.toString('utf8');
  let body: unknown;
  try {
    // parseJson: JSON.parse, with each object key read as written (V8's JSON.parse on Node 24
    // and 26 can read an escaped key as a key an earlier body in this warm environment had at
    // that place: `"\u0061mount"` as the key `\u0061` written as text, nodejs/node#63785).
    body = parseJson(text);
  } catch (err) {
    // The media type is one the API takes (JSON, in UTF-8): a body that does not parse as it is a
    // malformed request, 400 ("the server cannot or will not process the request due to something
    // that is perceived to be a client error (e.g., malformed request syntax...)", RFC 9110
    // 15.5.1), not 415, which says "the content is in a format not supported by this method on
    // the target resource" (15.5.16): the Content-Type checks above. The parser's reason says
    // where (it may quote a few characters of the body: the client's own); it is capped, and
    // worded by the runtime.
    const reason =
      err instanceof Error ? codePointPrefix(err.message, MAX_REASON_CHARS) : 'unreadable';
    throw new RequestError(
      400,
      `request body is not valid JSON (${reason}); send the order as one JSON object`,
    );
  }
  // JSON.parse keeps the last of a repeated key, and would validate a value that a reader
  // keeping the first never sees: a repeated key is refused wherever it is.
  const repeated = duplicateKeyPath(text);
  if (repeated !== undefined) {
    throw new RequestError(
      400,
      `request body has the same key twice in one object (${repeated}); send each key once`,
      [{ path: repeated, message: 'is repeated in its object' }],
    );
  }
  const runHeader = singleHeader(req, 'X-Run-Id');
  const runId =
    runHeader === undefined ? limits.defaultRunId : validId(runHeader, runIdSchema, 'X-Run-Id');
  const keyHeader = singleHeader(req, 'Idempotency-Key');
  const idempotencyKey =
    keyHeader === undefined ? undefined : validId(keyHeader, orderIdSchema, 'Idempotency-Key');
  const result = validateOrder(body);
  if (!result.ok) throw new RequestError(400, 'order is invalid', result.errors);
  return {
    runId,
    ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
    input: result.value,
    payloadHash: payloadHash(result.value),
  };
}
