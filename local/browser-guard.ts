import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { hostName, isLoopback, type RequestHost, WILDCARD_HOSTS } from './address';

/**
 * Keeps web pages from driving the local cloud, the way LocalStack's edge does. A page open in
 * the user's browser can send simple requests (a GET, a form POST) to 127.0.0.1 without any
 * CORS preflight, and a DNS-rebinding page can even make them look same-origin. So, before any
 * action runs:
 * - a request with an `Origin` (or, without one, a `Referer`) must come from an allowed origin;
 *   none is allowed unless configured (`--allow-origin`, `LOCAL_CLOUD_ALLOW_ORIGINS`);
 * - `Sec-Fetch-Site: cross-site|same-site` without an allowed origin is refused too: it is how a
 *   browser marks an `<img>` or a link whose page suppressed its Referer;
 * - the `Host` header must name loopback, the configured host, or the host of an allowed origin;
 *   a rebinding page's Host is its own domain name.
 * SDKs, CLIs and curl send none of the browser headers and name the address they connect to, so
 * they pass unchanged.
 */

export const ALLOW_ORIGINS_ENV = 'LOCAL_CLOUD_ALLOW_ORIGINS';

export interface BrowserGuardOptions {
  /** Origins (`scheme://host[:port]`) a browser page may call from; `*` allows any origin. */
  allowedOrigins?: readonly string[];
  /** The address the server listens on: a Host header naming it is accepted. */
  host: string;
}

export type Verdict = { ok: true; corsOrigin?: string } | { ok: false; reason: string };

/** `http://a.example:80/x` -> `http://a.example`; undefined when not a URL with an origin. */
function originOf(value: string): string | undefined {
  try {
    const origin = new URL(value).origin;
    return origin === 'null' ? undefined : origin.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * Why `value` cannot be given as an allowed origin, or undefined when it can: `*`, or exactly an
 * http(s) origin as browsers send it in `Origin` (`scheme://host[:port]`, any case, a default port
 * written or not). The guard reads each one with originOf, which takes any URL and silently drops
 * what is none, so `http://a b` was printed as allowed and allowed nothing, and
 * `http://a.example/app` allowed http://a.example. A wildcard in a host (`http://*.example`) is
 * read by URL as a host name no browser sends: only `*` alone allows any origin.
 */
export function allowedOriginProblem(value: string): string | undefined {
  if (value === '*') return undefined;
  if (value.toLowerCase() === 'null') {
    return 'the opaque origin null (sandboxed pages, file: URLs) cannot be allowed; * allows any';
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `its scheme ${url.protocol} is not http: or https:`;
  }
  if (url.hostname.includes('*')) return 'a wildcard is supported only as * alone';
  const origin = originOf(value);
  if (origin === undefined) return 'not an origin';
  const written = value.toLowerCase();
  const defaultPort = url.protocol === 'http:' ? '80' : '443';
  if (written !== origin && !(url.port === '' && written === `${origin}:${defaultPort}`)) {
    return `browsers send its origin as ${origin}, give that`;
  }
  return undefined;
}

/**
 * The guard: decides on a request and its Host as the server read it (address.ts
 * readRequestHost), which it does not read again.
 */
export type BrowserGuard = (req: IncomingMessage, host: RequestHost) => Verdict;

export function createBrowserGuard(options: BrowserGuardOptions): BrowserGuard {
  const anyOrigin = options.allowedOrigins?.includes('*') ?? false;
  const origins = new Set(
    (options.allowedOrigins ?? []).flatMap((o) => {
      const origin = originOf(o);
      return origin ? [origin] : [];
    }),
  );
  const configured = hostName(options.host);
  // Names as parseHost reads a Host: an IPv6 origin's host without its brackets, a fully
  // qualified one without its trailing dot. '' is no host to match (a Host parseHost refuses).
  const hosts = new Set(
    [configured, ...[...origins].map((o) => hostName(new URL(o).host))].filter((h) => h !== ''),
  );
  const wildcard = WILDCARD_HOSTS.has(configured);

  const hostAllowed = (host: RequestHost): boolean => {
    // The servers refuse a Host that is no host first; the guard does not rely on it, so it never
    // takes a part of a value they refuse as a whole (`[::1]junk` read as `::1`), nor an empty
    // name for a configured ''.
    if (!host.ok) return false;
    // HTTP/1.0 clients may send no Host; browsers always send one.
    if (host.parts === undefined) return true;
    const { name } = host.parts;
    if (name === '') return false;
    // Bound to every interface, any address literal is fine: rebinding needs a domain name.
    return isLoopback(name) || hosts.has(name) || (wildcard && isIP(name) !== 0);
  };

  return (req, host) => {
    if (!hostAllowed(host)) {
      return { ok: false, reason: `host ${req.headers.host} is not this machine's loopback` };
    }
    const origin = req.headers.origin;
    const referer = req.headers.referer;
    const claimed = origin ?? (referer !== undefined ? (originOf(referer) ?? 'null') : undefined);
    if (claimed !== undefined) {
      const normalized = originOf(claimed);
      if (anyOrigin) return { ok: true, corsOrigin: origin ?? '*' };
      if (normalized && origins.has(normalized)) {
        return origin ? { ok: true, corsOrigin: origin } : { ok: true };
      }
      return { ok: false, reason: `origin ${claimed} is not allowed` };
    }
    const site = req.headers['sec-fetch-site'];
    if ((site === 'cross-site' || site === 'same-site') && !anyOrigin) {
      return { ok: false, reason: `a ${site} browser request without an allowed origin` };
    }
    return { ok: true };
  };
}

/**
 * Adds the CORS headers an allowed origin needs, and answers its preflight. Returns true when
 * the request was a preflight and has been answered.
 */
export function applyCors(req: IncomingMessage, res: ServerResponse, origin: string): boolean {
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('vary', 'Origin');
  res.setHeader(
    'access-control-expose-headers',
    'x-amzn-requestid, x-amzn-query-error, x-amz-crc32, x-amzn-errortype',
  );
  if (req.method !== 'OPTIONS' || !req.headers['access-control-request-method']) return false;
  req.resume();
  res.writeHead(204, {
    'access-control-allow-methods': 'GET, POST, PUT, DELETE, HEAD',
    'access-control-allow-headers': String(req.headers['access-control-request-headers'] ?? ''),
    'access-control-max-age': '600',
    'content-length': '0',
  });
  res.end();
  return true;
}

/** Origins from the environment variable: comma or space separated. */
export function originsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env[ALLOW_ORIGINS_ENV] ?? '').split(/[\s,]+/).filter(Boolean);
}
