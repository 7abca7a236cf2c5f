import { isIP } from 'node:net';

/** Addresses the local cloud listens on, and the URLs it prints for them. */

/** The host name of a Host header or a listen address, without port and IPv6 brackets. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return h.slice(1, end < 0 ? undefined : end);
  }
  // A bare IPv6 address (a listen address, not a Host header) has colons and no port.
  if (isIP(h) === 6) return h;
  const colon = h.lastIndexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

/**
 * Whether a Host header's port, when it has one, is a TCP port (1 to 65535, digits only): a
 * header without a port (or with an empty one, which RFC 3986 allows) passes.
 */
export function hostPortValid(header: string): boolean {
  const h = header.trim();
  const colon = h.lastIndexOf(':');
  // No port: none, or only the colons of a bracketed IPv6 address.
  if (colon < 0 || colon < h.lastIndexOf(']')) return true;
  const port = h.slice(colon + 1);
  if (port === '') return true;
  return /^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535;
}

/**
 * What makes a request's Host unusable, or undefined: more than one Host field line, or a port
 * that is no TCP port. RFC 9112 3.2: a server "MUST respond with a 400 (Bad Request) status code
 * to any HTTP/1.1 request message that lacks a Host header field and to any request message that
 * contains more than one Host header field line or a Host header field with an invalid field
 * value". Node answers a missing Host itself; it keeps the first of two in `req.headers`, while
 * a reader of the raw lines (the API's event) takes the last, so two are refused whatever they are.
 */
export function hostProblem(rawHeaders: readonly string[]): string | undefined {
  const hosts: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'host') hosts.push(rawHeaders[i + 1]!);
  }
  if (hosts.length > 1) return `Host is given ${hosts.length} times; send it once`;
  const host = hosts[0];
  if (host !== undefined && !hostPortValid(host)) {
    return `Host ${JSON.stringify(host)} names no TCP port: a port is 1 to 65535`;
  }
  return undefined;
}

export function isLoopback(name: string): boolean {
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  if (isIP(name) === 6) return name === '::1' || name.startsWith('::ffff:127.');
  return false;
}

/** Listening on these means every interface. */
export const WILDCARD_HOSTS: ReadonlySet<string> = new Set(['0.0.0.0', '::', '']);

/** An IP address or a DNS host name: what `--host` accepts. */
export function isValidHost(host: string): boolean {
  if (isIP(host) !== 0) return true;
  return /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(
    host,
  );
}

/**
 * The URL clients use for a server listening on host:port: IPv6 addresses in brackets, and a
 * wildcard address (every interface) as the loopback address of its family, which clients can
 * always connect to.
 */
export function httpUrl(host: string, port: number): string {
  const name = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return isIP(name) === 6 ? `http://[${name}]:${port}` : `http://${name}:${port}`;
}
