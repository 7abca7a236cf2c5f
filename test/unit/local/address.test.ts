import type { IncomingMessage } from 'node:http';
import {
  hostName,
  httpUrl,
  isLoopback,
  isValidHost,
  parseHost,
  readRequestHost,
} from '../../../local/address';
import {
  allowedOriginProblem,
  type BrowserGuard,
  createBrowserGuard,
  originsFromEnv,
} from '../../../local/browser-guard';

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
/** A request with these headers, asked of the guard with its Host as the servers read it. */
const ask = (guard: BrowserGuard, headers: Record<string, string>) =>
  guard(
    request(headers),
    readRequestHost(headers.host === undefined ? [] : ['Host', headers.host]),
  );
/** What readRequestHost finds wrong with these raw header lines, or undefined. */
const hostProblem = (raw: string[]) => {
  const host = readRequestHost(raw);
  return host.ok ? undefined : host.problem;
};

describe('listen addresses and their URLs', () => {
  it.each([
    ['127.0.0.1', 'http://127.0.0.1:4566'],
    ['localhost', 'http://localhost:4566'],
    ['::1', 'http://[::1]:4566'],
    ['fe80::1', 'http://[fe80::1]:4566'],
    ['0.0.0.0', 'http://127.0.0.1:4566'],
    ['::', 'http://[::1]:4566'],
  ])('prints a URL clients can use for %s', (host, url) => {
    expect(httpUrl(host, 4566)).toBe(url);
    expect(() => new URL(url)).not.toThrow();
  });

  it('reads the host name of Host headers and listen addresses', () => {
    expect(hostName('[::1]:4566')).toBe('::1');
    expect(hostName('::1')).toBe('::1');
    expect(hostName('LocalHost:3000')).toBe('localhost');
    expect(hostName('127.0.0.1')).toBe('127.0.0.1');
  });

  it('reads a Host header and a listen address with one parser: name, port, and what is wrong', () => {
    // Listen addresses: an IPv6 address is written without brackets, and all of it is the name.
    expect(parseHost('::')).toEqual({ name: '::', port: undefined, bareIPv6: true });
    expect(parseHost('fe80::1:80')).toEqual({
      name: 'fe80::1:80',
      port: undefined,
      bareIPv6: true,
    });
    expect(parseHost('0.0.0.0')).toEqual({ name: '0.0.0.0', port: undefined, bareIPv6: false });
    expect(parseHost('')).toEqual({ name: '', port: undefined, bareIPv6: false });
    // Host headers.
    expect(parseHost('[::1]:4566')).toEqual({ name: '::1', port: 4566, bareIPv6: false });
    expect(parseHost(' [FE80::1] ')).toEqual({ name: 'fe80::1', port: undefined, bareIPv6: false });
    expect(parseHost('Example.COM:')).toEqual({
      name: 'example.com',
      port: undefined,
      bareIPv6: false,
    });
    expect(parseHost('my_service.local:4566')).toEqual({
      name: 'my_service.local',
      port: 4566,
      bareIPv6: false,
    });
    for (const bad of [
      '[::1',
      '[]',
      '[zz]',
      '[::1]junk',
      '[::1]]',
      '[[::1]]',
      'x]',
      '[::1]:0',
      'h:8o',
      'a:b:80',
      '::1:',
    ]) {
      expect(typeof parseHost(bad)).toBe('string');
    }
  });

  it('reads no name from a value that is no host, rather than the part that looks like one', () => {
    // The old reader took `[::1` and `[::1]junk` for `::1`, loopback, so the browser guard let them by.
    for (const bad of ['[::1', '[::1]junk', '[localhost]:80', '[127.0.0.1]']) {
      expect(hostName(bad)).toBe('');
    }
    expect(isLoopback(hostName('[::1]junk'))).toBe(false);
  });

  it('knows loopback from the rest', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', 'app.localhost']) {
      expect(isLoopback(h)).toBe(true);
    }
    for (const h of ['0.0.0.0', '::', '192.168.1.2', 'localhost.evil.example', 'example.com']) {
      expect(isLoopback(h)).toBe(false);
    }
  });

  it('knows a loopback Host however its client spelled it (found in review: refused 403)', () => {
    // Node's and the browsers' URL parser turn [::ffff:127.0.0.1] into [::ffff:7f00:1]; curl
    // sends an address as typed; a fully qualified name ends in a dot.
    for (const h of [
      '[::ffff:7f00:1]:4566',
      '[0:0:0:0:0:0:0:1]:4566',
      '[::FFFF:127.0.0.1]',
      'localhost.:4566',
      'LOCALHOST.',
      'app.localhost.',
      '127.0.0.1.:4566',
    ]) {
      expect(isLoopback(hostName(h))).toBe(true);
    }
    for (const h of ['[::ffff:c0a8:1]:80', '[::2]', 'localhost..', 'evil.example.']) {
      expect(isLoopback(hostName(h))).toBe(false);
    }
    expect(hostName('localhost.:4566')).toBe('localhost');
  });

  it('takes IP addresses and host names as --host, and nothing else', () => {
    for (const h of ['127.0.0.1', '::1', '0.0.0.0', 'devbox', 'devbox.lan']) {
      expect(isValidHost(h)).toBe(true);
    }
    for (const h of ['not a host', 'http://x', 'a/b', '', '-x']) expect(isValidHost(h)).toBe(false);
  });
});

describe('readRequestHost: the Host lines a server refuses with 400 (RFC 9112 3.2)', () => {
  it.each([
    [['Host', '127.0.0.1:65535']],
    [['Host', '[::1]:1']],
    [['Host', '[::1]']],
    [['Host', '[::1]:']],
    [['Host', '[::FFFF:127.0.0.1]:80']],
    [['Host', 'my_service:4566']],
    [['Host', 'Dev-Box.lan~1:80']],
    [['Host', ' localhost:80\t']],
    [['Host', ':']],
    [['Host', '']],
    [['host', 'localhost:']],
    [['Host', 'localhost', 'X-Host', 'a:99999']],
    [[]],
  ])('takes %j', (raw) => {
    expect(hostProblem(raw)).toBeUndefined();
  });

  it('answers what the Host names, read once for the server and the guard', () => {
    expect(readRequestHost(['Host', 'LocalHost.:4566'])).toEqual({
      ok: true,
      parts: { name: 'localhost', port: 4566, bareIPv6: false },
    });
    expect(readRequestHost(['Accept', '*/*', 'host', '[::1]'])).toEqual({
      ok: true,
      parts: { name: '::1', port: undefined, bareIPv6: false },
    });
    // No Host (HTTP/1.0): nothing to name, nothing wrong.
    expect(readRequestHost([])).toEqual({ ok: true, parts: undefined });
  });

  it.each([
    [['Host', '[::1'], /^Host "\[::1" opens an IPv6 bracket it never closes$/],
    [['Host', '[zz]:80'], /^Host "\[zz\]:80" has no IPv6 address between its brackets$/],
    [['Host', '[]'], /has no IPv6 address between its brackets/],
    [['Host', '[127.0.0.1]'], /has no IPv6 address between its brackets/],
    [['Host', '[::1]junk'], /^Host "\[::1\]junk" has more than a port after its brackets$/],
    [['Host', '[::1]:80:80'], /names no TCP port/],
    [['Host', 'local]host'], /has brackets that hold no IPv6 address/],
    [['Host', '::1'], /^Host "::1" has an IPv6 address without brackets: send \[address\]:port$/],
    [['Host', '127.0.0.1:0'], /names no TCP port/],
    // Found in review: the name was all before the last colon, of any characters. `::1:` read as
    // `::1` (loopback, though a bare IPv6 address is refused) and `x/.localhost` as a loopback
    // name: both passed the browser guard, reached the API's event and made DynamoDB tables.
    [['Host', '::1:'], /^Host "::1:" has more than one colon: an IPv6 address goes in brackets/],
    [['Host', 'a:b:80'], /has more than one colon/],
    [['Host', 'localhost::80'], /has more than one colon/],
    [
      ['Host', 'evil.example/.localhost'],
      /^Host "evil.example\/.localhost" holds "\/": a host name/,
    ],
    [['Host', 'x y.localhost'], /holds " "/],
    [['Host', 'me@x.localhost:80'], /holds "@"/],
    [['Host', 'x"y.localhost'], /holds "\\""/],
    [['Host', 'a?b.localhost'], /holds "\?"/],
    [['Host', 'a#b.localhost'], /holds "#"/],
    [['Host', 'a%2fb.localhost'], /holds "%"/],
    [['Host', 'localhost\u00a0'], /holds "\u00a0"/],
    [['Host', '\u00a0[::1]'], /^Host "\u00a0\[::1\]" has brackets/],
    [['Host', ':4566'], /^Host ":4566" names a port and no host$/],
    [['Host', '[fe80::1%eth0]:80'], /has an IPv6 zone ID/],
    [['Host', '[::ffff:127.0.0.1%25x]'], /has an IPv6 zone ID/],
    [['Host', '[::1]:65536'], /names no TCP port/],
    [['Host', 'localhost:8o'], /names no TCP port/],
    [['Host', '127.0.0.1', 'HOST', '127.0.0.1'], /^Host is given 2 times; send it once$/],
    [['Host', '127.0.0.1:80', 'host', '127.0.0.1:99999'], /^Host is given 2 times/],
  ])('refuses %j', (raw, message) => {
    expect(hostProblem(raw)).toMatch(message);
  });
});

describe('the browser guard', () => {
  it.each([
    ['http://localhost:5173', 'http://localhost:5173'],
    ['HTTP://Localhost:5173', 'http://localhost:5173'],
    ['http://a.example:80', 'http://a.example'],
    ['https://a.example:443', 'https://a.example'],
    ['http://[::1]:3000', 'http://[::1]:3000'],
  ])('takes %s as an allowed origin, and the guard lets %s in', (given, sent) => {
    expect(allowedOriginProblem(given)).toBeUndefined();
    const guard = createBrowserGuard({ host: '127.0.0.1', allowedOrigins: [given] });
    expect(ask(guard, { host: '127.0.0.1:4566', origin: sent })).toEqual({
      ok: true,
      corsOrigin: sent,
    });
  });

  it.each([
    ['http://a b', /^not a URL$/],
    ['null', /^the opaque origin null .*\* allows any$/],
    ['http://*.example', /^a wildcard is supported only as \* alone$/],
    ['ftp://a.example', /^its scheme ftp: is not http: or https:$/],
    ['http://a.example/', /^browsers send its origin as http:\/\/a\.example, give that$/],
    ['http://a.example/app', /^browsers send its origin as http:\/\/a\.example, give that$/],
    ['http://a.example?x=1', /^browsers send its origin as http:\/\/a\.example, give that$/],
    ['http://a.example#x', /^browsers send its origin as http:\/\/a\.example, give that$/],
    ['http://u@a.example', /^browsers send its origin as http:\/\/a\.example, give that$/],
    ['http://a.example:8080 ', /^browsers send its origin as http:\/\/a\.example:8080, give that$/],
    ['http://127.1', /^browsers send its origin as http:\/\/127\.0\.0\.1, give that$/],
  ])(
    'refuses %j as an allowed origin, which the guard would drop or read otherwise',
    (given, why) => {
      expect(allowedOriginProblem(given)).toMatch(why);
    },
  );

  it('accepts any address literal as Host when bound to every interface, but no other name', () => {
    const guard = createBrowserGuard({ host: '0.0.0.0' });
    expect(ask(guard, { host: '192.168.1.20:4566' }).ok).toBe(true);
    expect(ask(guard, { host: '[fe80::2]:4566' }).ok).toBe(true);
    expect(ask(guard, { host: 'rebind.evil.example:4566' }).ok).toBe(false);
  });

  it('decides on the Host as the server read it, not on a second reading of the request', () => {
    const guard = createBrowserGuard({ host: '127.0.0.1' });
    const rebinding = request({ host: 'rebind.evil.example:4566' });
    expect(guard(rebinding, readRequestHost(['Host', '127.0.0.1:4566'])).ok).toBe(true);
    expect(
      guard(request({ host: '127.0.0.1:4566' }), readRequestHost(['Host', 'rebind.evil.example'])),
    ).toEqual({ ok: false, reason: "host 127.0.0.1:4566 is not this machine's loopback" });
  });

  it('accepts the configured host name and the hosts of allowed origins', () => {
    const guard = createBrowserGuard({
      host: 'devbox.lan',
      allowedOrigins: ['http://ui.lan:8080'],
    });
    expect(ask(guard, { host: 'devbox.lan:4566' }).ok).toBe(true);
    expect(ask(guard, { host: 'ui.lan:4566', origin: 'http://ui.lan:8080' })).toEqual({
      ok: true,
      corsOrigin: 'http://ui.lan:8080',
    });
    expect(ask(guard, { host: 'other.lan:4566' }).ok).toBe(false);
  });

  it('refuses a Host that is no host even when listening on the empty (every-interface) address (found in review: the guard read it as the name "", which matched)', () => {
    // The servers refuse such a Host first (readRequestHost); the guard must not rely on it.
    const guard = createBrowserGuard({ host: '' });
    for (const bad of ['[::1]junk', '[::1', '::1', 'x/y', '', ':80']) {
      expect(ask(guard, { host: bad }).ok).toBe(false);
    }
    expect(ask(guard, { host: '127.0.0.1:4566' }).ok).toBe(true);
    expect(ask(guard, { host: '10.0.0.5:4566' }).ok).toBe(true);
  });

  it('matches the Host against an allowed IPv6 or fully qualified origin as parseHost reads it (found in review: [fe80::2] was kept with its brackets and never matched)', () => {
    const guard = createBrowserGuard({
      host: '127.0.0.1',
      allowedOrigins: ['http://[fe80::2]:8080', 'http://ui.lan.:8080'],
    });
    expect(ask(guard, { host: '[fe80::2]:4566', origin: 'http://[fe80::2]:8080' }).ok).toBe(true);
    expect(ask(guard, { host: 'ui.lan:4566', origin: 'http://ui.lan.:8080' }).ok).toBe(true);
    expect(ask(guard, { host: '[fe80::3]:4566', origin: 'http://[fe80::2]:8080' }).ok).toBe(false);
  });

  it('compares origins after normalising them (case, default port)', () => {
    const guard = createBrowserGuard({
      host: '127.0.0.1',
      allowedOrigins: ['HTTP://App.Example:80'],
    });
    expect(ask(guard, { host: '127.0.0.1', origin: 'http://app.example' }).ok).toBe(true);
    expect(ask(guard, { host: '127.0.0.1', referer: 'http://app.example/x?y' }).ok).toBe(true);
    expect(ask(guard, { host: '127.0.0.1', origin: 'http://app.example:81' }).ok).toBe(false);
    expect(ask(guard, { host: '127.0.0.1', referer: 'not a url' }).ok).toBe(false);
  });

  it('lets * through any origin', () => {
    const guard = createBrowserGuard({ host: '127.0.0.1', allowedOrigins: ['*'] });
    expect(ask(guard, { host: '127.0.0.1', origin: 'http://any.example' }).ok).toBe(true);
    expect(ask(guard, { host: '127.0.0.1', 'sec-fetch-site': 'cross-site' }).ok).toBe(true);
  });

  it('reads origins from the environment, comma or space separated', () => {
    expect(
      originsFromEnv({ LOCAL_CLOUD_ALLOW_ORIGINS: ' http://a.example, http://b.example http://c' }),
    ).toEqual(['http://a.example', 'http://b.example', 'http://c']);
    expect(originsFromEnv({})).toEqual([]);
  });
});
