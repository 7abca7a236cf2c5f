import { type AddressInfo, createServer } from 'node:net';
import { resolve } from 'node:path';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { LocalFunction } from '../../local/function-runtime';
import { API_GATEWAY_MAX_BODY_BYTES, type Gateway, startGateway } from '../../local/gateway';
import { orderJsonSchema } from '../../shared/src/order';
import type { Json } from './support/pipeline-client';
import { hostRequest, openSocket, rawRequest } from './support/raw-http';
import { stopsAfterAll } from './support/stop-after-all';

const PROBE = resolve(__dirname, 'support/fixtures/probe-handler.ts');

const validOrder = {
  customerId: 'c-1',
  items: [{ sku: 'sku-1', quantity: 2, unitPrice: 5 }],
  amount: 10,
  currency: 'EUR',
};

describe('local API gateway (REST API v1 proxy integration)', () => {
  let fn: LocalFunction;
  let gateway: Gateway;
  let invocations = 0;

  const keep = stopsAfterAll();
  beforeAll(async () => {
    fn = new LocalFunction({
      name: 'probe-api',
      modulePath: PROBE,
      env: {},
      timeoutSeconds: 2,
      memorySizeMb: 256,
      maxEnvironments: 2,
      region: 'us-east-1',
    });
    await fn.warm();
    gateway = await keep(
      startGateway({
        routes: [
          { resource: '/orders', method: 'POST', bodySchema: orderJsonSchema() },
          { resource: '/orders/{orderId}', method: 'GET' },
        ],
        invoke: (event) => {
          invocations++;
          return fn.invoke(event);
        },
        port: 0,
      }),
    );
  }, 30_000);

  afterAll(async () => {
    await fn?.stop(1000);
  });

  it('sends the API Gateway proxy event with path parameters, headers and query', async () => {
    const res = await fetch(`${gateway.url}/orders/o-42?x=1&x=2&y=3`, {
      headers: { 'X-Custom': 'v', 'User-Agent': 'probe-agent' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-probe')).toBe('single');
    expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    const { event } = (await res.json()) as { event: Json };
    expect(event).toMatchObject({
      resource: '/orders/{orderId}',
      path: '/orders/o-42',
      httpMethod: 'GET',
      pathParameters: { orderId: 'o-42' },
      queryStringParameters: { x: '2', y: '3' },
      multiValueQueryStringParameters: { x: ['1', '2'], y: ['3'] },
      body: null,
      isBase64Encoded: false,
      stageVariables: null,
    });
    expect(event.headers['X-Custom']).toBe('v');
    expect(event.multiValueHeaders['X-Custom']).toEqual(['v']);
    expect(event.requestContext).toMatchObject({
      resourcePath: '/orders/{orderId}',
      httpMethod: 'GET',
      stage: 'v1',
      path: '/v1/orders/o-42',
      identity: { sourceIp: '127.0.0.1', userAgent: 'probe-agent' },
    });
    expect(typeof event.requestContext.requestId).toBe('string');
    expect(Math.abs(event.requestContext.requestTimeEpoch - Date.now())).toBeLessThan(5000);
  }, 15_000);

  it('passes a valid JSON body to the handler unchanged', async () => {
    const body = JSON.stringify(validOrder);
    const res = await fetch(`${gateway.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(201);
    const { event } = (await res.json()) as { event: Json };
    expect(event.body).toBe(body);
    expect(event.pathParameters).toBeNull();
    expect(event.queryStringParameters).toBeNull();
  });

  it.each([
    ['a missing field', { ...validOrder, currency: undefined }],
    ['an extra field', { ...validOrder, note: 'x' }],
    ['a wrong type', { ...validOrder, amount: '10' }],
    ['a zero amount (exclusive minimum)', { ...validOrder, amount: 0 }],
    ['an empty item list', { ...validOrder, items: [] }],
  ])('rejects %s with the request validator message before the handler runs', async (_, order) => {
    const before = invocations;
    const res = await fetch(`${gateway.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(order),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ message: 'Invalid request body' });
    expect(invocations).toBe(before);
  });

  it('rejects a body that is not JSON when declared as JSON', async () => {
    const res = await fetch(`${gateway.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ message: 'Invalid request body' });
  });

  it('leaves a non-JSON content type to the handler (no model for it)', async () => {
    const res = await fetch(`${gateway.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(res.status).toBe(201);
    const { event } = (await res.json()) as { event: Json };
    expect(event.body).toBe('hello');
  });

  it('answers 413 above API Gateway 10 MB payload limit', async () => {
    const res = await fetch(`${gateway.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: ' '.repeat(API_GATEWAY_MAX_BODY_BYTES + 1),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ message: 'Request Too Long' });
  });

  it('answers an unknown path like a REST API does', async () => {
    const res = await fetch(`${gateway.url}/nope`);
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ message: 'Missing Authentication Token' });
  });

  it('answers 405 with Allow for a known path and an unsupported method', async () => {
    const res = await fetch(`${gateway.url}/orders`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(((await res.json()) as { message: string }).message).toMatch(/DELETE/);
  });

  it('answers 502 when the handler throws or returns a malformed result', async () => {
    for (const mode of ['throw', 'malformed']) {
      const res = await fetch(`${gateway.url}/orders/x?mode=${mode}`);
      expect(res.status).toBe(502);
      expect(await res.json()).toEqual({ message: 'Internal server error' });
    }
  });

  it('decodes a base64 result and merges multi-value headers', async () => {
    const bin = await fetch(`${gateway.url}/orders/x?mode=base64`);
    expect(bin.status).toBe(200);
    expect([...new Uint8Array(await bin.arrayBuffer())]).toEqual([0, 1, 2, 255]);
    const multi = await fetch(`${gateway.url}/orders/x`);
    expect(multi.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
  });
});

describe('local API gateway with requests no client library would send', () => {
  let gateway: Gateway;
  let invocations = 0;
  const events: APIGatewayProxyEvent[] = [];
  const keep = stopsAfterAll();
  beforeAll(async () => {
    gateway = await keep(
      startGateway({
        routes: [
          { resource: '/orders/{orderId}', method: 'GET' },
          { resource: '/orders', method: 'POST', bodySchema: orderJsonSchema() },
        ],
        invoke: async (event) => {
          events.push(event);
          invocations++;
          return { ok: true, result: { statusCode: 200, body: '{}' }, durationMs: 0 };
        },
        port: 0,
      }),
    );
  });

  it('answers a path parameter with a bad percent-encoding with a 400, before the handler', async () => {
    const res = await fetch(`${gateway.url}/orders/%E0%A4%A`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ message: 'Bad Request' });
    expect(invocations).toBe(0);
  });

  it('answers a request target that is not a URL with a 4xx and keeps serving', async () => {
    const res = await rawRequest(
      gateway.url,
      'GET //[ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    );
    expect(res?.status).toBeGreaterThanOrEqual(400);
    expect(res?.status).toBeLessThan(500);
    expect((await fetch(`${gateway.url}/orders/o-1`)).status).toBe(200);
    expect(invocations).toBe(1);
  });

  it.each(['http://evil.example/orders', '/\\evil.example/orders', '*'])(
    'refuses the request target %s with a 400 rather than route it as /orders',
    async (target) => {
      const before = invocations;
      const body = JSON.stringify(validOrder);
      const res = await rawRequest(
        gateway.url,
        `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
          `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      );
      expect(res?.status).toBe(400);
      expect(JSON.parse(res?.body ?? '')).toEqual({ message: 'Bad Request' });
      expect(invocations).toBe(before);
    },
  );

  /** A raw request: fetch() would resolve the dot segments and backslashes itself before sending. */
  const send = (method: string, target: string, body = '') =>
    rawRequest(
      gateway.url,
      `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );

  it.each([
    ['POST', '/x/../orders'],
    ['POST', '/./orders'],
    ['POST', '/orders/.'],
    ['POST', '/%2e%2e/orders'],
    ['POST', '/x/%2E%2e/orders'],
    ['POST', '/x\\..\\orders'],
    ['POST', '/orders/x/..'],
    ['GET', '/orders/x/../o-1'],
    ['GET', '/orders/o-1/.'],
    ['GET', '/orders/.'],
    ['GET', '/orders/%2e'],
    // A dot segment is no path parameter either: matched raw, these would reach the handler
    // with orderId "..".
    ['GET', '/orders/..'],
    ['GET', '/orders/%2e%2e'],
  ])(
    'routes only the path the client sent: %s %s names no resource, 403 before the handler (found in review)',
    async (method, target) => {
      // Prepare
      const before = invocations;
      const body = method === 'POST' ? JSON.stringify(validOrder) : '';

      // Act
      const res = await send(method, target, body);

      // Assess: what a REST API answers for a resource it does not have, and no invocation.
      expect(res?.status).toBe(403);
      expect(res?.headers['x-amzn-errortype']).toBe('MissingAuthenticationTokenException');
      expect(JSON.parse(res?.body ?? '')).toEqual({ message: 'Missing Authentication Token' });
      expect(invocations).toBe(before);
    },
  );

  it.each([
    ['POST', '//orders'],
    ['POST', '//evil.example/orders'],
    ['GET', '//orders/o-1'],
    ['GET', '//[?x=1'],
  ])(
    'matches %s %s (origin form, an empty first segment) as sent: no resource, 403 before the handler, not 400',
    async (method, target) => {
      // A URL parser would read `orders` (or `evil.example`) as a host; the gateway never hands
      // the target to one. API Gateway matches the path as sent: `//orders` is no `/orders`.
      const before = invocations;
      const res = await send(method, target, method === 'POST' ? JSON.stringify(validOrder) : '');
      expect(res?.status).toBe(403);
      expect(res?.headers['x-amzn-errortype']).toBe('MissingAuthenticationTokenException');
      expect(JSON.parse(res?.body ?? '')).toEqual({ message: 'Missing Authentication Token' });
      expect(invocations).toBe(before);
    },
  );

  /** A POST /orders of a valid order, with this Host header. */
  const postWithHost = (host: string | readonly string[]) =>
    rawRequest(
      gateway.url,
      hostRequest({
        target: '/orders',
        host,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(validOrder),
      }),
    );

  it.each(['0', '65536', '99999', '123456', '8o'])(
    'refuses a Host whose port %s is no TCP port with a 400 naming it, before the handler, as the edge does (found in review: the gateway took it)',
    async (port) => {
      // Prepare
      const before = invocations;

      // Act
      const res = await postWithHost(`127.0.0.1:${port}`);

      // Assess: a clear 400, and no invocation (the event would carry that Host).
      expect(res?.status).toBe(400);
      expect(JSON.parse(res?.body ?? '{}').message).toMatch(/Host .*port .*1 to 65535/);
      expect(invocations).toBe(before);
    },
  );

  it.each([
    ['a valid one first', ['127.0.0.1:3000', '127.0.0.1:99999']],
    ['an invalid one first', ['127.0.0.1:99999', '127.0.0.1:3000']],
    ['the same one twice', ['127.0.0.1', '127.0.0.1']],
  ])(
    'refuses a Host sent twice (%s) with a 400 saying so, before the handler (found in review: the second passed unchecked into the event)',
    async (_, hosts) => {
      // Prepare: the event's `headers` would carry the last Host, the check read the first.
      const before = invocations;

      // Act
      const res = await postWithHost(hosts);

      // Assess
      expect(res?.status).toBe(400);
      expect(JSON.parse(res?.body ?? '{}').message).toMatch(/Host is given 2 times/);
      expect(invocations).toBe(before);
    },
  );

  it('hands a bracketed IPv6 Host to the event as sent, and a malformed one never reaches it (found in review: [::1]junk arrived as the domain name)', async () => {
    // Prepare
    const before = invocations;

    // Act
    const good = await postWithHost('[::1]:3000');
    const bad = await postWithHost('[::1]junk');

    // Assess: the handler saw the well-formed Host where API Gateway puts it, and only that one.
    expect(good?.status).toBe(200);
    const event = events[events.length - 1];
    expect(event?.headers.Host).toBe('[::1]:3000');
    expect(event?.requestContext.domainName).toBe('[::1]:3000');
    expect(bad?.status).toBe(400);
    expect(JSON.parse(bad?.body ?? '{}').message).toBe(
      'Host "[::1]junk" has more than a port after its brackets',
    );
    expect(invocations).toBe(before + 1);
  });

  it('takes a Host with the highest port, 65535, and one with no port', async () => {
    const before = invocations;

    const highest = await postWithHost('127.0.0.1:65535');
    const none = await postWithHost('localhost');

    expect([highest?.status, none?.status]).toEqual([200, 200]);
    expect(invocations).toBe(before + 2);
  });

  it('refuses a request target with a fragment (not origin form) with a 400, before the handler', async () => {
    const before = invocations;
    const res = await send('POST', '/orders#x', JSON.stringify(validOrder));
    expect(res?.status).toBe(400);
    expect(JSON.parse(res?.body ?? '')).toEqual({ message: 'Bad Request' });
    expect(invocations).toBe(before);
  });

  it('still routes the paths the client sent literally, with the same event fields', async () => {
    // Act
    const posted = await send('POST', '/orders?src=raw', JSON.stringify(validOrder));
    const postEvent = events.at(-1);
    const got = await send('GET', '/orders/o-1/');
    const getEvent = events.at(-1);
    const encoded = await send('GET', '/orders/a%2Fb%2e%2e');
    const encodedEvent = events.at(-1);

    // Assess
    expect([posted?.status, got?.status, encoded?.status]).toEqual([200, 200, 200]);
    expect(postEvent).toMatchObject({
      resource: '/orders',
      path: '/orders',
      pathParameters: null,
      queryStringParameters: { src: 'raw' },
      requestContext: { path: '/v1/orders', resourcePath: '/orders' },
    });
    expect(getEvent).toMatchObject({
      resource: '/orders/{orderId}',
      path: '/orders/o-1/',
      pathParameters: { orderId: 'o-1' },
      requestContext: { path: '/v1/orders/o-1/', resourcePath: '/orders/{orderId}' },
    });
    // An encoded slash is no separator: one segment, handed over still encoded.
    expect(encodedEvent).toMatchObject({
      resource: '/orders/{orderId}',
      path: '/orders/a%2Fb%2e%2e',
      pathParameters: { orderId: 'a%2Fb%2e%2e' },
    });
  });

  it.each([
    ['/orders/test%2Balias@x', 'test%2Balias@x'],
    ['/orders/o%2D1', 'o%2D1'],
    ['/orders/%252e', '%252e'],
    ['/orders/%FF', '%FF'],
    // Decoded, these would read "../", "../../etc" and "..\"; as sent they are no dot segment,
    // and the handler gets the bytes API Gateway would give it.
    ['/orders/..%2f', '..%2f'],
    ['/orders/%2e%2e%2f%2e%2e%2fetc', '%2e%2e%2f%2e%2e%2fetc'],
    ['/orders/%2e%2e%5c', '%2e%2e%5c'],
  ])(
    'hands the path parameter of GET %s to the handler percent-encoded, as API Gateway REST does',
    async (target, orderId) => {
      const res = await send('GET', target);
      expect(res?.status).toBe(200);
      expect(events.at(-1)).toMatchObject({
        path: target,
        pathParameters: { orderId },
        requestContext: { path: `/v1${target}` },
      });
    },
  );

  it('passes headers and query parameters named after Object.prototype members as data', async () => {
    const before = Object.getOwnPropertyNames(Object.prototype).sort();
    const names = ['__proto__', 'constructor', 'prototype', 'toString'];
    const query = names.map((n, i) => `${n}=q${i}&${n}=r${i}`).join('&');
    const res = await rawRequest(
      gateway.url,
      `GET /orders/__proto__?${query} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
        names.map((n, i) => `${n}: h${i}\r\n${n}: g${i}\r\n`).join('') +
        'Connection: close\r\n\r\n',
    );
    expect(res?.status).toBe(200);
    const event = events[events.length - 1]!;
    names.forEach((n, i) => {
      expect(Object.hasOwn(event.headers, n) && event.headers[n]).toBe(`g${i}`);
      expect(Object.hasOwn(event.multiValueHeaders, n) && event.multiValueHeaders[n]).toEqual([
        `h${i}`,
        `g${i}`,
      ]);
      expect(event.queryStringParameters?.[n]).toBe(`r${i}`);
      expect(Object.hasOwn(event.multiValueQueryStringParameters ?? {}, n)).toBe(true);
      expect(event.multiValueQueryStringParameters?.[n]).toEqual([`q${i}`, `r${i}`]);
    });
    expect(Object.hasOwn(event.pathParameters ?? {}, 'orderId')).toBe(true);
    expect(event.pathParameters?.orderId).toBe('__proto__');
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before);
  });

  it.each([
    ['an Origin that is not allowed', { origin: 'http://evil.example' }],
    ['a Referer from another site', { referer: 'http://evil.example/' }],
    ['a Host that is not loopback (DNS rebinding)', { host: 'rebind.evil.example' }],
  ])('refuses a request with %s with 403 before the handler', async (_, headers) => {
    const before = invocations;
    const res = await rawRequest(
      gateway.url,
      `POST /orders HTTP/1.1\r\n${Object.entries({ host: '127.0.0.1', ...headers })
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('')}content-type: application/json\r\ncontent-length: ${
        JSON.stringify(validOrder).length
      }\r\nconnection: close\r\n\r\n${JSON.stringify(validOrder)}`,
    );
    expect(res?.status).toBe(403);
    expect(JSON.parse(res?.body ?? '')).toEqual({ message: 'Forbidden' });
    expect(invocations).toBe(before);
  });

  it.each([
    ['with Expect: 100-continue (no "100 Continue" first)', 'expect: 100-continue\r\n'],
    ['without Expect, a body started', ''],
  ])(
    'refuses a declared body over the 10 MB limit with 413 before reading it, %s (found in review)',
    async (_, expect100) => {
      // Prepare: 50 MB declared, one byte sent at most, and the socket left open.
      const before = invocations;
      const socket = await openSocket(gateway.url);
      const answer = new Promise<string>((resolve) => {
        let data = '';
        // Cleared once the socket closes: left running, it kept jest from exiting for 3 s.
        const timer = setTimeout(() => resolve(data), 3000);
        socket.on('data', (d: Buffer) => {
          data += d.toString('latin1');
        });
        socket.on('close', () => {
          clearTimeout(timer);
          resolve(data);
        });
      });

      // Act
      socket.write(
        `POST /orders HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n${expect100}` +
          `content-length: ${50 * 1000 * 1000}\r\n\r\n${expect100 ? '' : '{'}`,
      );

      // Assess: the 413 at once, not a 100 Continue or a wait for the body.
      const text = await answer;
      socket.destroy();
      expect(text).toMatch(/^HTTP\/1\.1 413 /);
      expect(text).toContain('{"message":"Request Too Long"}');
      expect(invocations).toBe(before);
    },
  );

  it.each([
    ['__proto__', '{}'],
    ['constructor', '1'],
    ['toString', '"x"'],
  ])('refuses an order with an extra field named %s in the request validator', async (name, v) => {
    const before = invocations;
    const body = JSON.stringify(validOrder).replace(/}$/, `,${JSON.stringify(name)}:${v}}`);
    const res = await fetch(`${gateway.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ message: 'Invalid request body' });
    expect(invocations).toBe(before);
  });
});

describe('local API gateway with a handler whose result HTTP cannot carry', () => {
  let gateway: Gateway;
  let result: unknown;
  const logged: string[] = [];
  const keep = stopsAfterAll();
  beforeAll(async () => {
    gateway = await keep(
      startGateway({
        routes: [{ resource: '/orders/{orderId}', method: 'GET' }],
        invoke: async () => ({ ok: true, result, durationMs: 0 }) as never,
        port: 0,
        log: (line) => logged.push(line),
      }),
    );
  });

  it.each([
    ['status 1000', { statusCode: 1000, body: '{}' }],
    ['status NaN', { statusCode: Number.NaN, body: '{}' }],
    ['status 99', { statusCode: 99, body: '{}' }],
    ['a header value with a line break', { statusCode: 200, headers: { 'x-a': 'a\nb' } }],
    ['a header name with a space', { statusCode: 200, headers: { 'x a': 'v' } }],
    ['multi-value headers that are not lists', { statusCode: 200, multiValueHeaders: { a: 'v' } }],
  ])(
    'answers 502 as API Gateway does for a malformed proxy result: %s (found in review)',
    async (_, malformed) => {
      // Prepare
      result = malformed;

      // Act
      const res = await fetch(`${gateway.url}/orders/x`);

      // Assess: the documented 502, with the request id every answer carries.
      expect(res.status).toBe(502);
      expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
      expect(await res.json()).toEqual({ message: 'Internal server error' });
      expect(logged.at(-1)).toMatch(/malformed Lambda proxy response/);
    },
  );
});

describe('local API gateway on a port already taken', () => {
  it('names the flag that picks another port: --api-port', async () => {
    // Prepare: a server holding a port.
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as AddressInfo;
    try {
      // Act + Assess
      await expect(
        startGateway({
          routes: [],
          invoke: async () => ({ ok: true, result: { statusCode: 200 }, durationMs: 0 }) as never,
          port,
        }),
      ).rejects.toThrow(
        `api port 127.0.0.1:${port} is already in use; pick another with --api-port (0 for a free one)`,
      );
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
