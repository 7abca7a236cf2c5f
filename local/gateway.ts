import { randomUUID } from 'node:crypto';
import {
  type IncomingMessage,
  type Server,
  type ServerResponse,
  validateHeaderName,
  validateHeaderValue,
} from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { parseJson } from '../shared/src/json-keys';
import { httpUrl, readRequestHost } from './address';
import { collectBody, declaredOver } from './body';
import { applyCors, createBrowserGuard } from './browser-guard';
import { closeServer, createLimitedServer, listen, type ServerLimits } from './edge';
import type { InvocationResult } from './function-runtime';
import { type JsonSchema, validateJsonSchema } from './json-schema';
import { type ShapeBounds, shapeProblem } from './json-shape';

/**
 * The producer's REST API on its own port: turns each HTTP request into the API Gateway REST
 * (v1) Lambda proxy event the deployed API sends, applies the request validator the deployed API
 * has (body against the order model), and answers from the handler's proxy result, with API
 * Gateway's own error shapes for what never reaches the handler.
 */

/** API Gateway's hard payload limit for REST APIs (10 MB); the producer's own limit is lower. */
export const API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** infra/ deploys the API's stage as `v1`; the local event names the same stage. */
export const DEFAULT_STAGE = 'v1';

export interface GatewayRoute {
  /** API Gateway resource path, e.g. `/orders/{orderId}`. */
  resource: string;
  method: string;
  /** JSON Schema of the body (the REST API's request model + "validate body" validator). */
  bodySchema?: JsonSchema;
}

export interface GatewayOptions {
  routes: GatewayRoute[];
  invoke: (event: APIGatewayProxyEvent) => Promise<InvocationResult>;
  stage?: string;
  port?: number;
  host?: string;
  log?: (line: string) => void;
  /** Origins a browser page may call from (none by default); `*` allows any. */
  allowedOrigins?: readonly string[];
  limits?: ServerLimits;
}

export interface Gateway {
  server: Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

interface MatchedRoute {
  route: GatewayRoute;
  pathParameters: Record<string, string> | null;
}

/**
 * A path segment `.` or `..`, also percent-encoded (`%2e`, `.%2E`): RFC 3986 resolvers remove it
 * (section 5.2.4), and so does Node's URL parser, which also reads `\` as `/`. The same bytes then
 * name one resource to them and another to a literal match.
 */
const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

function hasDotSegment(path: string): boolean {
  return path.split(/[/\\]/).some((segment) => DOT_SEGMENT.test(segment));
}

/** A `%` not followed by two hex digits: no percent-encoding (RFC 3986 2.1). */
const BAD_ESCAPE = /%(?![0-9a-f]{2})/i;

const SCALAR_TYPES: ReadonlySet<unknown> = new Set([
  'string',
  'number',
  'integer',
  'boolean',
  'null',
]);

/**
 * The most any value a body schema accepts can nest (objects and arrays), the most distinct keys
 * any of its objects can have and the most elements any of its arrays can have; undefined when
 * the schema leaves one unbounded (an object schema without `additionalProperties: false`, an
 * array schema without `maxItems` and one `items` schema, a value of no single type). The order
 * model: 3 deep (order, items, item), 5 keys, 50 items.
 */
export function shapeBounds(schema: JsonSchema): ShapeBounds | undefined {
  const { type } = schema;
  if (SCALAR_TYPES.has(type)) return { depth: 0, keys: 0, items: 0 };
  const within = (subs: JsonSchema[], keys: number, items: number): ShapeBounds | undefined => {
    const bounds: ShapeBounds = { depth: 0, keys, items };
    for (const sub of subs) {
      const b = shapeBounds(sub);
      if (!b) return undefined;
      bounds.depth = Math.max(bounds.depth, b.depth);
      bounds.keys = Math.max(bounds.keys, b.keys);
      bounds.items = Math.max(bounds.items, b.items);
    }
    bounds.depth += 1;
    return bounds;
  };
  if (type === 'object' && schema.additionalProperties === false) {
    const properties = Object.values((schema.properties ?? {}) as Record<string, JsonSchema>);
    return within(properties, properties.length, 0);
  }
  const { items, maxItems } = schema;
  if (type === 'array' && typeof maxItems === 'number' && items && typeof items === 'object') {
    if (Array.isArray(items)) return undefined;
    return within([items as JsonSchema], 0, maxItems);
  }
  return undefined;
}

function compile(resource: string): RegExp {
  const pattern = resource
    .split('/')
    .map((part) => {
      const m = /^\{(\w+)\}$/.exec(part);
      return m ? `(?<${m[1]}>[^/]+)` : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${pattern}/?$`);
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

class PayloadTooLargeError extends Error {
  constructor() {
    super('request body exceeds API Gateway limit');
    this.name = 'PayloadTooLargeError';
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    collectBody(req, limit, { body: resolve, tooLarge: () => reject(new PayloadTooLargeError()) });
    req.on('error', reject);
  });
}

/**
 * Maps keyed by names from the request have no prototype: a header or parameter called
 * `__proto__` or `toString` is data like any other.
 */
const dict = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;

/** Headers as API Gateway passes them: original case, last value wins in `headers`. */
function collectHeaders(rawHeaders: string[]): {
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
} {
  const headers = dict<string>();
  const multiValueHeaders = dict<string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    headers[name] = value;
    const list = multiValueHeaders[name] ?? [];
    list.push(value);
    multiValueHeaders[name] = list;
  }
  return { headers, multiValueHeaders };
}

function collectQuery(query: URLSearchParams): {
  single: Record<string, string> | null;
  multi: Record<string, string[]> | null;
} {
  const single = dict<string>();
  const multi = dict<string[]>();
  for (const [name, value] of query) {
    single[name] = value;
    const list = multi[name] ?? [];
    list.push(value);
    multi[name] = list;
  }
  return Object.keys(single).length === 0 ? { single: null, multi: null } : { single, multi };
}

function headerValue(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  return Array.isArray(v) ? (v[v.length - 1] ?? null) : (v ?? null);
}

/**
 * The last value of a header as the client sent it, its name in any case: what the event's
 * `headers` carries for a repeated header (Node's `req.headers` keeps the first Content-Type).
 */
function lastRawHeader(req: IncomingMessage, name: string): string | undefined {
  let last: string | undefined;
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === name) last = req.rawHeaders[i + 1];
  }
  return last;
}

function isJsonContentType(value: string | undefined): boolean {
  // API Gateway picks the request model by content type; with none (or an empty one) it assumes
  // application/json, and so does the producer. A repeated Content-Type is judged by its last
  // value, the one the event's `headers` carries (the producer refuses the repetition itself).
  if (!value) return true;
  return value.split(';')[0]!.trim().toLowerCase() === 'application/json';
}

export function buildEvent(args: {
  req: IncomingMessage;
  /** The path as the client sent it (no query): the one the route was matched on. */
  path: string;
  /** The request target's query (after `?`), parsed as a URL's would be. */
  query: URLSearchParams;
  body: Buffer;
  matched: MatchedRoute;
  stage: string;
  requestId: string;
  now: number;
}): APIGatewayProxyEvent {
  const { req, path, body, matched, stage, requestId, now } = args;
  const { headers, multiValueHeaders } = collectHeaders(req.rawHeaders);
  const query = collectQuery(args.query);
  const sourceIp = req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1';
  const method = req.method ?? 'GET';
  return {
    resource: matched.route.resource,
    path,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: query.single,
    multiValueQueryStringParameters: query.multi,
    pathParameters: matched.pathParameters,
    stageVariables: null,
    body: body.length === 0 ? null : body.toString('utf8'),
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: undefined,
      domainName: req.headers.host ?? 'localhost',
      domainPrefix: (req.headers.host ?? 'localhost').split('.')[0] ?? 'localhost',
      extendedRequestId: requestId,
      httpMethod: method,
      identity: {
        accessKey: null,
        accountId: null,
        // The deployed methods require an API key; locally none is required, but one that is sent
        // shows up where API Gateway puts it.
        apiKey: headerValue(req, 'x-api-key'),
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp,
        user: null,
        userAgent: req.headers['user-agent'] ?? null,
        userArn: null,
      },
      path: `/${stage}${path}`,
      protocol: `HTTP/${req.httpVersion}`,
      requestId,
      requestTime: new Date(now).toUTCString(),
      requestTimeEpoch: now,
      resourceId: 'local',
      resourcePath: matched.route.resource,
      stage,
    },
  };
}

interface ProxyResponse {
  status: number;
  headers: Record<string, string | string[]>;
  bytes: Buffer;
}

/**
 * The HTTP response a Lambda proxy result stands for, or undefined when HTTP cannot carry it (a
 * status outside 200-599, a header name that is not a token, a header value with a line break,
 * multi-value headers that are not lists): API Gateway answers those with 502, and so do we,
 * rather than fail half-way through writing them.
 */
function proxyResponse(value: unknown, requestId: string): ProxyResponse | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const result = value as APIGatewayProxyResult;
  const { statusCode, body = '' } = result;
  if (!Number.isInteger(statusCode) || statusCode < 200 || statusCode > 599) return undefined;
  if (typeof body !== 'string') return undefined;
  const out: Record<string, string | string[]> = {};
  try {
    for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) {
      if (!Array.isArray(values)) return undefined;
      out[name.toLowerCase()] = values.map(String);
    }
    for (const [name, value] of Object.entries(result.headers ?? {})) {
      out[name.toLowerCase()] = String(value);
    }
    for (const [name, value] of Object.entries(out)) {
      validateHeaderName(name);
      for (const v of Array.isArray(value) ? value : [value]) validateHeaderValue(name, v);
    }
  } catch {
    return undefined;
  }
  const bytes = result.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
  out['content-length'] = String(bytes.length);
  out['x-amzn-requestid'] = requestId;
  if (!out['content-type']) out['content-type'] = 'application/json';
  return { status: statusCode, headers: out, bytes };
}

export function createGatewayHandler(options: GatewayOptions) {
  const stage = options.stage ?? DEFAULT_STAGE;
  const compiled = options.routes.map((route) => ({ route, regex: compile(route.resource) }));
  const boundsOf = new Map(
    options.routes.map((route) => [
      route,
      route.bodySchema ? shapeBounds(route.bodySchema) : undefined,
    ]),
  );
  const log = options.log ?? (() => undefined);
  const guard = createBrowserGuard({
    allowedOrigins: options.allowedOrigins ?? [],
    host: options.host ?? '127.0.0.1',
  });

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const now = Date.now();
    const idHeader = { 'x-amzn-requestid': requestId };
    // A Host sent twice, or that is no host and port (malformed IPv6 brackets such as `[::1` or
    // `[::1]junk`, a port that is no TCP port), is a malformed request (RFC 9112 3.2, address.ts
    // readRequestHost), as the edge answers it: 400 before the guard and any route. The event
    // would hand it to the handler (`Host`, the last one sent; `requestContext.domainName`).
    // Read once: the browser guard decides on this reading.
    const host = readRequestHost(req.rawHeaders);
    if (!host.ok) {
      log(`gateway: refused ${req.method} ${req.url}: ${host.problem}`);
      req.resume();
      sendJson(res, 400, { message: host.problem }, idHeader);
      return;
    }
    const verdict = guard(req, host);
    if (!verdict.ok) {
      log(`gateway: refused ${req.method} ${req.url}: ${verdict.reason}`);
      req.resume();
      sendJson(
        res,
        403,
        { message: 'Forbidden' },
        {
          ...idHeader,
          'x-amzn-errortype': 'ForbiddenException',
        },
      );
      return;
    }
    if (verdict.corsOrigin && applyCors(req, res, verdict.corsOrigin)) return;
    const badRequest = () => {
      req.resume();
      sendJson(res, 400, { message: 'Bad Request' }, idHeader);
    };
    // Only origin-form targets ("/path?query", no fragment; RFC 9112 3.2.1): not
    // `http://host/orders` (absolute form), `*`, or `/\host/orders` (`\` is no URI character, and
    // URL parsing reads it as `/`, then the rest as a host). `//orders` is origin form, a path
    // whose first segment is empty: it is matched as sent below, names no resource, and gets the
    // unknown resource's 403, as API Gateway matches the path as sent (docs/fidelity.md). It is
    // never handed to a URL parser, which would read `orders` as a host.
    const target = req.url ?? '/';
    if (target[0] !== '/' || target[1] === '\\' || target.includes('#')) {
      return badRequest();
    }
    // Routes are matched against the path exactly as sent: `/x/../orders`, `/%2e%2e/orders`,
    // `/x\..\orders` and `//orders` are not `/orders`, as API Gateway hands the integration the
    // path as sent (docs/fidelity.md). A segment `.` or `..` names no resource and is no path
    // parameter: the answer is the unknown resource's 403.
    const queryAt = target.indexOf('?');
    const path = queryAt < 0 ? target : target.slice(0, queryAt);
    // The query alone, read as a URL reads one (`+` is a space, percent-decoded).
    const query = new URLSearchParams(queryAt < 0 ? '' : target.slice(queryAt + 1));
    const forPath = hasDotSegment(path)
      ? []
      : compiled
          .map(({ route, regex }) => ({ route, match: regex.exec(path) }))
          .filter((c) => c.match);
    // What a REST API answers for a path it has no resource for.
    const unknownResource = () => {
      req.resume();
      sendJson(
        res,
        403,
        { message: 'Missing Authentication Token' },
        {
          ...idHeader,
          'x-amzn-errortype': 'MissingAuthenticationTokenException',
        },
      );
    };
    if (forPath.length === 0) return unknownResource();
    const hit = forPath.find((c) => c.route.method === req.method);
    if (!hit) {
      req.resume();
      const allow = forPath.map((c) => c.route.method).join(', ');
      sendJson(
        res,
        405,
        { message: `Method ${req.method} not allowed; use ${allow}` },
        {
          ...idHeader,
          allow,
        },
      );
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(req, API_GATEWAY_MAX_BODY_BYTES);
    } catch (err) {
      if (err instanceof PayloadTooLargeError) {
        sendJson(res, 413, { message: 'Request Too Long' }, { ...idHeader, connection: 'close' });
        return;
      }
      throw err;
    }
    const schema = hit.route.bodySchema;
    if (schema && isJsonContentType(lastRawHeader(req, 'content-type'))) {
      let problem: string | undefined;
      try {
        const text = body.toString('utf8');
        const bounds = boundsOf.get(hit.route);
        problem =
          (bounds && shapeProblem(text, bounds)) ?? validateJsonSchema(schema, parseJson(text));
      } catch {
        problem = 'body is not JSON';
      }
      if (problem) {
        log(`gateway: ${req.method} ${path} rejected by the request validator (${problem})`);
        sendJson(
          res,
          400,
          { message: 'Invalid request body' },
          {
            ...idHeader,
            'x-amzn-errortype': 'BadRequestException',
          },
        );
        return;
      }
    }
    let pathParameters: Record<string, string> | null = null;
    if (hit.match?.groups) {
      pathParameters = dict<string>();
      for (const [k, v] of Object.entries(hit.match.groups)) {
        // A `%` that starts no escape (`%A`, `%zz`) is no URI path (RFC 3986 2.1): 400.
        if (BAD_ESCAPE.test(v)) return badRequest();
        // As sent, still percent-encoded: API Gateway REST hands the segment over undecoded
        // (`test%2Balias@gmail.com` arrives as `test%2Balias@gmail.com`; docs/fidelity.md), and a
        // handler that wants the text decodes it itself.
        pathParameters[k] = v;
      }
    }
    const event = buildEvent({
      req,
      path,
      query,
      body,
      matched: { route: hit.route, pathParameters },
      stage,
      requestId,
      now,
    });
    const invocation = await options.invoke(event);
    if (!invocation.ok) {
      log(
        `gateway: handler failed: ${invocation.error.errorType}: ${invocation.error.errorMessage}`,
      );
      // A failed or timed-out Lambda proxy integration: API Gateway hides the cause from the client.
      sendJson(res, 502, { message: 'Internal server error' }, idHeader);
      return;
    }
    const response = proxyResponse(invocation.result, requestId);
    if (!response) {
      log('gateway: malformed Lambda proxy response');
      sendJson(res, 502, { message: 'Internal server error' }, idHeader);
      return;
    }
    res.writeHead(response.status, response.headers);
    res.end(response.bytes);
  };
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const handler = createGatewayHandler(options);
  const log = options.log ?? (() => undefined);
  const serve = (req: IncomingMessage, res: ServerResponse) => {
    handler(req, res).catch((err: unknown) => {
      log(`gateway: ${(err as Error).message}`);
      if (!res.headersSent) sendJson(res, 500, { message: 'Internal server error' });
      else res.destroy();
    });
  };
  const server = createLimitedServer(serve, options.limits);
  // Node answers `Expect: 100-continue` with 100 Continue by itself unless told otherwise: a body
  // declared over the limit gets its 413 instead, before the client sends any of it.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (!declaredOver(req, API_GATEWAY_MAX_BODY_BYTES)) res.writeContinue();
    serve(req, res);
  });
  const host = options.host ?? '127.0.0.1';
  const port = await listen(server, options.port ?? 3000, host, 'api', '--api-port');
  return { server, port, url: httpUrl(host, port), close: () => closeServer(server) };
}
