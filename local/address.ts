import { BlockList, isIP } from 'node:net';

/** Addresses the local cloud listens on, and the URLs it prints for them. */

/** A Host header or a listen address, read: its host name and its port. */
export interface HostParts {
  /** Lower case, without IPv6 brackets or a trailing dot; '' for an empty Host. */
  name: string;
  /** The TCP port, or undefined when none is given (or an empty one, which RFC 3986 allows). */
  port: number | undefined;
  /** An IPv6 address without brackets: a listen address (`::1`), never a Host header's form. */
  bareIPv6: boolean;
}

// parseHost runs on every request the edge and the API answer: its patterns are made once.
/** Spaces and tabs at either end (RFC 9110 5.5's optional whitespace). */
const OWS = /^[ \t]+|[ \t]+$/g;
const OWS_AT_END = /^[ \t]|[ \t]$/;
const BRACKET = /[[\]]/;
/** A character a host name outside brackets does not hold (the name is read in lower case). */
const NOT_NAME_CHAR = /[^a-z0-9._~-]/;
const PORT_DIGITS = /^\d{1,5}$/;

/**
 * The one reader of Host headers (RFC 9110 7.2: `uri-host [ ":" port ]`) and listen addresses:
 * - `[` IPv6 address `]`, then nothing or `:` and a port. RFC 3986 3.2.2: an IPv6 literal is
 *   enclosed in brackets, "the only place where square bracket characters are allowed in the URI
 *   syntax". So a bracket never closed (`[::1`), brackets holding no IPv6 address (`[]`, `[zz]`,
 *   `[127.0.0.1]`, an IPvFuture `[v1.x]`, which no client sends), anything but a port after them
 *   (`[::1]junk`, `[::1]:80:80`) and a bracket anywhere else (`local]host`) are no host. Nor is a
 *   zone ID (`[fe80::1%eth0]`): it names a network interface of the client's machine, which
 *   means nothing to the server (RFC 6874 4), and no browser sends one;
 * - an IPv6 address without brackets, which is how a listen address is written (`::1`): all of
 *   it is the name, there is no port;
 * - anything else: a name, then `:` and a port when there is a colon. The name is an IPv4
 *   address or a host name of letters, digits, `-`, `.`, `_` and `~` (RFC 3986's unreserved
 *   characters, the ones the SQS emulator takes into queue URLs; `_` for names such as a Compose
 *   service's). So a second colon (`::1:`, `a:b:80`: an IPv6 address goes in brackets) and `/`,
 *   `@`, `?`, `#`, a space, a quote or a byte outside ASCII are no host: a URL holding them reads
 *   as another host or none. RFC 3986 also lets a reg-name hold sub-delims and `%` escapes, which
 *   no DNS name holds and no client sends; they are refused too. A port with no name (`:4566`)
 *   is no host: RFC 9110 4.2.1, an http URI with an empty host "MUST" be rejected as invalid.
 * A port is 1 to 65535, in digits. The name is read in lower case, and without the trailing dot
 * of a fully qualified name (`localhost.` is `localhost`, RFC 1034 3.1; a client that connects
 * to `http://localhost.:4566` sends it so). Returns what is wrong, as a string, when the value is
 * none of these.
 */
export function parseHost(value: string): HostParts | string {
  // Only the whitespace HTTP allows around a field value (RFC 9110 5.5: SP and HTAB), which Node
  // strips already (so most values are read without the replace): String.trim would also drop a
  // Latin-1 no-break space (0xA0), and the value that reaches the API's event and SQS's queue
  // URLs would not be the one read here.
  const h = (OWS_AT_END.test(value) ? value.replace(OWS, '') : value).toLowerCase();
  let name: string;
  let port: string | undefined;
  const colon = h.indexOf(':');
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return 'opens an IPv6 bracket it never closes';
    name = h.slice(1, end);
    if (name.includes('%')) return 'has an IPv6 zone ID (%), which names no address of this server';
    if (isIP(name) !== 6) return 'has no IPv6 address between its brackets';
    const rest = h.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) return 'has more than a port after its brackets';
    port = rest === '' ? undefined : rest.slice(1);
  } else if (colon >= 0 && h.includes(':', colon + 1) && isIP(h) === 6) {
    // (An IPv6 address has two colons at least: a name with one is not asked about.)
    return { name: h, port: undefined, bareIPv6: true };
  } else {
    name = colon < 0 ? h : h.slice(0, colon);
    port = colon < 0 ? undefined : h.slice(colon + 1);
    if (BRACKET.test(h)) return 'has brackets that hold no IPv6 address';
    if (port?.includes(':')) {
      return 'has more than one colon: an IPv6 address goes in brackets, [address]:port';
    }
    const bad = NOT_NAME_CHAR.exec(name)?.[0];
    if (bad !== undefined) {
      return `holds ${JSON.stringify(bad)}: a host name is letters, digits, "-", ".", "_" and "~"`;
    }
    if (name === '' && port !== undefined && port !== '') return 'names a port and no host';
    if (name.length > 1 && name.endsWith('.')) name = name.slice(0, -1);
  }
  if (port === undefined || port === '') return { name, port: undefined, bareIPv6: false };
  const n = Number(port);
  if (!PORT_DIGITS.test(port) || n < 1 || n > 65535) {
    return 'names no TCP port: a port is 1 to 65535';
  }
  return { name, port: n, bareIPv6: false };
}

/**
 * The host name of a listen address or an allowed origin's host, as parseHost reads a Host
 * (without port, IPv6 brackets and a trailing dot), to compare a Host's name with; '' for a value
 * that is no host. A request's Host is read by parseHostHeader, which says what is wrong.
 */
export function hostName(header: string): string {
  const parts = parseHost(header);
  return typeof parts === 'string' ? '' : parts.name;
}

/**
 * A Host header's value read (parseHost), or what is wrong with it as a Host: also an IPv6
 * address without brackets, which parseHost takes as a listen address (`::1:80` would be an
 * address to one reader, `::1` and port 80 to another). The one reading of a Host for the edge,
 * the API, the browser guard and the SQS emulator.
 */
export function parseHostHeader(value: string): HostParts | string {
  const parts = parseHost(value);
  if (typeof parts !== 'string' && parts.bareIPv6) {
    return 'has an IPv6 address without brackets: send [address]:port';
  }
  return parts;
}

/**
 * A request's Host as read once (readRequestHost), for the server's own check and the browser
 * guard: what it names (`parts`; undefined when the request sent no Host), or what makes it
 * unusable (`problem`).
 */
export type RequestHost =
  | { ok: true; parts: HostParts | undefined }
  | { ok: false; problem: string };

/**
 * A request's Host, read: unusable with more than one Host field line, or a value that is no host
 * and port (parseHostHeader): malformed IPv6 brackets, a port that is no TCP port, an IPv6
 * address without brackets (`::1:80` would be an address to one reader, `::1` and port 80 to
 * another). RFC 9112 3.2: a server "MUST respond with a 400 (Bad Request) status code to any
 * HTTP/1.1 request message that lacks a Host header field and to any request message that
 * contains more than one Host header field line or a Host header field with an invalid field
 * value". Node answers a missing Host itself; it keeps the first of two in `req.headers`, while
 * a reader of the raw lines (the API's event) takes the last, so two are refused whatever they are.
 */
export function readRequestHost(rawHeaders: readonly string[]): RequestHost {
  const hosts: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const field = rawHeaders[i]!;
    // The length first: no lower-case copy of every other field's name on every request.
    if (field.length === 4 && field.toLowerCase() === 'host') hosts.push(rawHeaders[i + 1]!);
  }
  if (hosts.length > 1) {
    return { ok: false, problem: `Host is given ${hosts.length} times; send it once` };
  }
  const host = hosts[0];
  if (host === undefined) return { ok: true, parts: undefined };
  const parts = parseHostHeader(host);
  return typeof parts === 'string'
    ? { ok: false, problem: `Host ${JSON.stringify(host)} ${parts}` }
    : { ok: true, parts };
}

/** 127.0.0.0/8 and ::1; an IPv4-mapped IPv6 address is checked against the IPv4 rule. */
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * Whether a name (hostName's) is this machine's loopback: `localhost` and its subdomains (RFC
 * 6761 6.3), and loopback addresses however an IPv6 one is spelled. A client writes what its URL
 * parser made of the address: Node's and the browsers' (WHATWG URL) turn `[::ffff:127.0.0.1]`
 * into `[::ffff:7f00:1]`, curl sends it as typed (`[0:0:0:0:0:0:0:1]`).
 */
export function isLoopback(name: string): boolean {
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  const family = isIP(name);
  return family !== 0 && LOOPBACK.check(name, family === 4 ? 'ipv4' : 'ipv6');
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
