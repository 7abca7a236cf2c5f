import { connect, type Socket } from 'node:net';

/**
 * Raw HTTP/1.1 over a socket, for requests fetch() refuses to send: unparseable request
 * targets, bodies shorter than their Content-Length, clients that go away mid-request.
 */

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function endpoint(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) };
}

export function openSocket(url: string): Promise<Socket> {
  const { host, port } = endpoint(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything the server sends on a socket until it closes it, as latin1 (every byte kept). */
export function untilClosed(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    socket.on('data', (d: Buffer) => {
      data += d.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(data));
  });
}

function parse(raw: Buffer): RawResponse | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const body = raw.subarray(end + 4);
  const length = headers['content-length'];
  if (length !== undefined && body.length < Number(length)) return undefined;
  return { status, headers, body: body.toString('utf8') };
}

/** A request to send as is with rawRequest; `host` is sent as given, one Host line for each. */
export interface HostRequest {
  method?: string;
  target?: string;
  /** The Host field's value, or several (a Host sent more than once). */
  host: string | readonly string[];
  headers?: Readonly<Record<string, string>>;
  /** With a body, a Content-Length for it. */
  body?: string;
}

/**
 * The text of an HTTP/1.1 request with the Host lines given and `Connection: close`: what fetch
 * and the SDKs, which build Host from a URL, cannot send (`[::1]junk`, port 0, a Host twice).
 */
export function hostRequest({
  method = 'POST',
  target = '/',
  host,
  headers = {},
  body,
}: HostRequest): string {
  const hosts = typeof host === 'string' ? [host] : host;
  const lines = [
    `${method} ${target} HTTP/1.1`,
    ...hosts.map((h) => `Host: ${h}`),
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ...(body === undefined ? [] : [`Content-Length: ${Buffer.byteLength(body)}`]),
    'Connection: close',
  ];
  return `${lines.join('\r\n')}\r\n\r\n${body ?? ''}`;
}

/** A Query-protocol SQS request (a form POST, as the AWS CLI sends) with this Host and body. */
export const formRequest = (host: HostRequest['host'], body: string, target = '/'): string =>
  hostRequest({
    target,
    host,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body,
  });

export interface RawOptions {
  timeoutMs?: number;
  /** After writing, how the client leaves: half-close (a body cut short) or vanish at once. */
  then?: 'wait' | 'half-close' | 'vanish';
}

/**
 * Sends `raw` as is and resolves with the response, or with undefined when the server closes
 * the connection without one. Rejects after `timeoutMs` with neither.
 */
export async function rawRequest(
  url: string,
  raw: string | Buffer,
  options: number | RawOptions = {},
): Promise<RawResponse | undefined> {
  const { timeoutMs = 10_000, then = 'wait' } =
    typeof options === 'number' ? { timeoutMs: options } : options;
  const socket = await openSocket(url);
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no response within ${timeoutMs} ms to ${JSON.stringify(String(raw))}`));
    }, timeoutMs);
    const finish = (value: RawResponse | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const parsed = parse(received);
      if (parsed && parsed.headers['content-length'] !== undefined) finish(parsed);
    });
    socket.on('close', () => finish(parse(received)));
    socket.on('error', () => undefined);
    socket.write(raw);
    if (then === 'half-close') socket.end();
    if (then === 'vanish') finish(undefined);
  });
}
