import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type LocalCloud, startLocalCloud } from '../../local/cloud';
import { type LocalDynamoDb, startDynamoDb } from '../../local/dynamodb';
import { type Edge, startEdge } from '../../local/edge';
import { type Gateway, startGateway } from '../../local/gateway';
import { createSqsEmulator } from '../../local/sqs';
import { orderJsonSchema } from '../../shared/src/order';
import { escapedKeys, nestedArrays, repeatedKey } from '../support/hostile-json';
import { type PausedCloud, startPausedCloud } from './support/paused-cloud';
import { openSocket, rawRequest, untilClosed } from './support/raw-http';

/**
 * What an attacker on the same machine (or a web page in the user's browser) can send to the
 * local cloud. Every request gets an answer or a closed connection, never the end of the process.
 */

const TSX = resolve(__dirname, '../../node_modules/.bin/tsx');
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

async function healthy(edgeUrl: string): Promise<number> {
  return (await fetch(`${edgeUrl}/_localcloud/health`)).status;
}

describe('the edge keeps serving after requests that break parsers', () => {
  let cloud: LocalCloud;
  beforeAll(async () => {
    cloud = await startLocalCloud({ port: 0, servicesOnly: true, seed: 1, faults: 'none' });
  });
  afterAll(() => cloud?.stop());

  it('answers a request target that is not a URL with a 400', async () => {
    // Prepare
    const request = 'GET //[ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n';

    // Act
    const res = await rawRequest(cloud.edgeUrl, request);

    // Assess
    expect(res?.status).toBe(400);
    expect(await healthy(cloud.edgeUrl)).toBe(200);
  });

  it.each([
    ['a 3.9 MB parameter name of dots', `${'.'.repeat(3_900_000)}=1`],
    ['a 3.8 MB name of 1.9 million parts', `${'a.'.repeat(1_900_000)}b=1`],
  ])(
    'answers a Query request with %s at once, as without it (found in review: it held the main thread up to 9 s)',
    async (_, extra) => {
      // Prepare
      const post = (body: string) =>
        fetch(cloud.edgeUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body,
        });
      const expected = await (await post('Action=ListQueues')).text();
      /** The fastest of three answers to `body` (a loaded machine stretches any one of them). */
      const fastest = async (body: string) => {
        let best = Infinity;
        let text = '';
        for (let i = 0; i < 3; i++) {
          const started = performance.now();
          const res = await post(body);
          expect(res.status).toBe(200);
          text = await res.text();
          best = Math.min(best, performance.now() - started);
        }
        return { ms: best, text };
      };

      // Act: the hostile name, and as the baseline a request as big whose extra is a value
      // (`x=aaaa...`), which the parser only ever copied, timed in the same run.
      const baseline = await fastest(`Action=ListQueues&x=${'a'.repeat(extra.length)}`);
      const hostile = await fastest(`Action=ListQueues&${extra}`);

      // Assess: the same queues (request ids aside), in about the baseline's time (within a
      // generous factor of 5, for a load that changes between the two), where the hostile name
      // took 6-9 s, 40-90 times the baseline's.
      const strip = (xml: string) => xml.replace(/<RequestId>[^<]*<\/RequestId>/, '');
      expect(strip(hostile.text)).toBe(strip(expected));
      expect(strip(baseline.text)).toBe(strip(expected));
      expect(hostile.ms).toBeLessThan(5 * baseline.ms);
      expect(await healthy(cloud.edgeUrl)).toBe(200);
    },
    60_000,
  );

  it('refuses a Query request with 300,000 names the emulator never reads at once, having read none (found in review: reading them held the main thread 1.3-9 s)', async () => {
    // Prepare
    const extra = Array.from({ length: 300_000 }, (_, i) => `k${i}.x=1`).join('&');

    // Act
    const res = await fetch(cloud.edgeUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `Action=ListQueues&${extra}`,
    });
    const text = await res.text();

    // Assess: more parameters than any SQS action takes (MAX_QUERY_PARAMETERS), refused with
    // AWS's code before any is decoded; the unit test counts the reads (none), so no time is
    // asserted here.
    expect(res.status).toBe(400);
    expect(text).toContain('<Code>InvalidParameterValue</Code>');
    expect(text).toMatch(/<Message>The request has more than \d+ parameters/);
    expect(await healthy(cloud.edgeUrl)).toBe(200);
  }, 20_000);

  it('answers an SQS body declared over its limit with 413 instead of 100 Continue (found in review)', async () => {
    // Act: the client waits for 100 Continue before it sends any of the 100 MiB.
    const socket = await openSocket(cloud.edgeUrl);
    const answer = untilClosed(socket);
    socket.write(
      `POST / HTTP/1.1\r\nHost: ${new URL(cloud.edgeUrl).host}\r\nX-Amz-Target: AmazonSQS.SendMessageBatch\r\n` +
        `Content-Type: application/x-amz-json-1.0\r\nContent-Length: ${100 * 1024 * 1024}\r\nExpect: 100-continue\r\n\r\n`,
    );

    // Assess: the refusal is the first and only answer.
    expect(await answer).toMatch(/^HTTP\/1\.1 413 [\s\S]*BatchRequestTooLong/);
    expect(await healthy(cloud.edgeUrl)).toBe(200);
  });

  it.each([
    ['through the edge', 'edge'],
    ['on its private port', 'private'],
  ])(
    'answers a DynamoDB body declared over its 16 MB limit with 413 instead of 100 Continue, %s (found in review)',
    async (_, where) => {
      // Prepare
      const url = where === 'edge' ? cloud.edgeUrl : cloud.dynamodbUrl;
      const ddb = new DynamoDBClient({
        endpoint: cloud.edgeUrl,
        region: 'us-east-1',
        credentials: CREDENTIALS,
      });
      try {
        const before = await ddb.send(new ListTablesCommand({}));

        // Act: the client waits for 100 Continue before it sends any of the 100 MiB.
        const socket = await openSocket(url);
        const answer = untilClosed(socket);
        const first = new Promise<string>((resolve) => {
          let seen = '';
          socket.on('data', (d: Buffer) => {
            seen += d.toString('latin1');
            if (seen.includes('\r\n\r\n')) resolve(seen);
          });
          socket.on('close', () => resolve(seen));
        });
        socket.write(
          `POST / HTTP/1.1\r\nHost: ${new URL(url).host}\r\nX-Amz-Target: DynamoDB_20120810.BatchWriteItem\r\n` +
            'Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0\r\n' +
            'X-Amz-Date: 20260101T000000Z\r\n' +
            `Content-Type: application/x-amz-json-1.0\r\nContent-Length: ${100 * 1024 * 1024}\r\nExpect: 100-continue\r\n\r\n`,
        );

        // Assess: the refusal is the first answer, and the connection is closed after it.
        expect(await first).toMatch(/^HTTP\/1\.1 413 /);
        expect(await answer).toMatch(/^HTTP\/1\.1 413 [\s\S]*\r\nconnection: close\r\n/i);
        expect(await healthy(cloud.edgeUrl)).toBe(200);
        await expect(ddb.send(new ListTablesCommand({}))).resolves.toEqual(
          expect.objectContaining({ TableNames: before.TableNames }),
        );
      } finally {
        ddb.destroy();
      }
    },
  );

  it('answers an HTTP/1.0 request without Host with queue URLs naming the port it reached (found in review: no port, so port 80)', async () => {
    // Act
    const body = 'Action=CreateQueue&QueueName=no-host-q';
    const res = await rawRequest(
      cloud.edgeUrl,
      'POST / HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
        `Content-Length: ${body.length}\r\n\r\n${body}`,
    );

    // Assess: the URL answered is one a client can use.
    expect(res?.status).toBe(200);
    const url = /<QueueUrl>([^<]+)<\/QueueUrl>/.exec(res?.body ?? '')?.[1];
    expect(url).toBe(`${cloud.edgeUrl}/000000000000/no-host-q`);
    const sqs = new SQSClient({
      endpoint: cloud.edgeUrl,
      region: 'us-east-1',
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      await expect(
        sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] })),
      ).resolves.toHaveProperty('Attributes.QueueArn');
    } finally {
      sqs.destroy();
    }
  });

  it('runs no request smuggled in the chunked body of a non-POST DynamoDB request (found in review)', async () => {
    // Prepare: a DELETE whose chunked body is a whole CreateTable request. Node's client sends
    // no body framing of its own for DELETE, so forwarded as it came the body reached DynamoDB's
    // thread as a second request on the same connection.
    const ddb = new DynamoDBClient({
      endpoint: cloud.edgeUrl,
      region: 'us-east-1',
      credentials: CREDENTIALS,
    });
    const auth =
      'Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, ' +
      'SignedHeaders=host, Signature=abc\r\nX-Amz-Date: 20260101T000000Z\r\n';
    const table = JSON.stringify({
      TableName: 'smuggled',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    });
    const inner =
      'POST / HTTP/1.0\r\nX-Amz-Target: DynamoDB_20120810.CreateTable\r\n' +
      `${auth}Content-Type: application/x-amz-json-1.0\r\nContent-Length: ${table.length}\r\n\r\n${table}`;
    const request =
      `DELETE / HTTP/1.1\r\nHost: ${new URL(cloud.edgeUrl).host}\r\n` +
      'X-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Type: application/x-amz-json-1.0\r\n' +
      `Transfer-Encoding: chunked\r\n${auth}Connection: close\r\n\r\n` +
      `${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`;
    try {
      const before = await ddb.send(new ListTablesCommand({}));

      // Act
      const res = await rawRequest(cloud.edgeUrl, request);
      // The smuggled request, when it ran, ran on the thread after the answer above.
      await new Promise((r) => setTimeout(r, 300));

      // Assess: dynalite's answer to a DELETE (as to any method but GET and POST), and no table.
      expect(res?.status).toBe(404);
      expect(res?.body).toBe('<UnknownOperationException/>\n');
      const after = await ddb.send(new ListTablesCommand({}));
      expect(after.TableNames).toEqual(before.TableNames);
    } finally {
      ddb.destroy();
    }
  });

  it('answers a CONNECT with 405, after the answer owed to the request pipelined before it (found in audit)', async () => {
    // Prepare: a CreateQueue and, in the same write, a CONNECT. Node without a 'connect' listener
    // destroyed the connection at once: no answer to the CONNECT, and the CreateQueue's answer
    // lost though its queue was made.
    const form = 'Action=CreateQueue&QueueName=before-connect';
    const host = new URL(cloud.edgeUrl).host;
    const request =
      `POST / HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
      `Content-Length: ${form.length}\r\n\r\n${form}` +
      `CONNECT ${host} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    const socket = await openSocket(cloud.edgeUrl);
    const closed = untilClosed(socket);

    // Act
    socket.write(request);
    const answers = (await closed).split(/(?=HTTP\/1\.1 )/);

    // Assess
    expect(answers.map((a) => Number(a.slice(9, 12)))).toEqual([200, 405]);
    expect(answers[0]).toContain('/000000000000/before-connect</QueueUrl>');
    expect(answers[1]).toMatch(/\r\nAllow: GET, HEAD, POST\r\n/);
    expect(await healthy(cloud.edgeUrl)).toBe(200);
  });

  it("answers a CONNECT on DynamoDB's own port with 405, after the answer owed to the ListTables pipelined before it (found in audit)", async () => {
    // Prepare: a ListTables and, in the same write, a CONNECT, on the private port. Its server
    // (dynalite's, in its thread) had no 'connect' listener: Node destroyed the connection at
    // once, and the ListTables' answer was lost.
    const host = new URL(cloud.dynamodbUrl).host;
    const request =
      `POST / HTTP/1.1\r\nHost: ${host}\r\n` +
      'Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, ' +
      'SignedHeaders=host, Signature=abc\r\nX-Amz-Date: 20260101T000000Z\r\n' +
      'X-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Type: application/x-amz-json-1.0\r\n' +
      `Content-Length: 2\r\n\r\n{}CONNECT ${host} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    const socket = await openSocket(cloud.dynamodbUrl);
    const closed = untilClosed(socket);

    // Act
    socket.write(request);
    const answers = (await closed).split(/(?=HTTP\/1\.1 )/);

    // Assess
    expect(answers.map((a) => Number(a.slice(9, 12)))).toEqual([200, 405]);
    expect(answers[0]).toContain('"TableNames":[');
    expect(answers[1]).toMatch(/\r\nAllow: GET, HEAD, POST\r\n/);
    expect(await healthy(cloud.edgeUrl)).toBe(200);
  });
});

describe('the API routes only the path the client sent (found in review)', () => {
  let cloud: LocalCloud;
  let paused: PausedCloud;
  beforeAll(async () => {
    paused = await startPausedCloud();
    cloud = paused.cloud;
  }, 60_000);
  afterAll(async () => {
    await paused?.stop();
  }, 30_000);

  const queued = () => paused.queued();
  const post = (target: string) => {
    const body = JSON.stringify({
      customerId: 'c-path',
      items: [{ sku: 'sku-1', quantity: 2, unitPrice: 5 }],
      amount: 10,
      currency: 'EUR',
    });
    return rawRequest(
      cloud.apiUrl,
      `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
        `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
    );
  };

  it('accepts no order sent to a path with dot segments or backslashes that URL parsing would read as /orders', async () => {
    // Act
    const answers: (number | undefined)[] = [];
    for (const target of [
      '/x/../orders',
      '/./orders',
      '/orders/.',
      '/%2e%2e/orders',
      '/x\\..\\orders',
    ]) {
      answers.push((await post(target))?.status);
    }

    // Assess: every one is an unknown resource, and neither queue holds a message.
    expect({ answers, queued: await queued() }).toEqual({
      answers: [403, 403, 403, 403, 403],
      queued: [0, 0],
    });

    // The check sees an accepted order: the path as a client sends it reaches the producer.
    expect((await post('/orders'))?.status).toBe(202);
    expect(await queued()).toEqual([1, 1]);
  }, 30_000);
});

describe('the API refuses a header naming one thing that a request gives twice (found in audit)', () => {
  let paused: PausedCloud;
  beforeAll(async () => {
    paused = await startPausedCloud();
  }, 60_000);
  afterAll(async () => {
    await paused?.stop();
  }, 30_000);

  const body = JSON.stringify({
    customerId: 'c-twice',
    items: [{ sku: 'sku-1', quantity: 2, unitPrice: 5 }],
    amount: 10,
    currency: 'EUR',
  });
  const post = (headers: readonly (readonly [string, string])[]) =>
    rawRequest(
      paused.cloud.apiUrl,
      'POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n' +
        headers.map(([name, value]) => `${name}: ${value}\r\n`).join('') +
        `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
    );

  it('answers 400 for Idempotency-Key or X-Run-Id given twice, in any spelling, and queues nothing', async () => {
    // Act: the producer took the last of one spelling and the first spelling it met, so one of
    // the client's keys was dropped without a word, and which one depended on the order sent.
    const answers: [number | undefined, string | undefined][] = [];
    for (const headers of [
      [
        ['Idempotency-Key', 'twice-a'],
        ['Idempotency-Key', 'twice-b'],
      ],
      [
        ['Idempotency-Key', 'twice-a'],
        ['idempotency-key', 'twice-b'],
      ],
      [
        ['X-Run-Id', 'run-a'],
        ['x-run-id', 'run-b'],
      ],
    ] as const) {
      const res = await post(headers);
      answers.push([res?.status, JSON.parse(res?.body ?? '{}').message]);
    }

    // Assess
    expect({ answers, queued: await paused.queued() }).toEqual({
      answers: [
        [400, 'Idempotency-Key is given 2 times; send it once'],
        [400, 'Idempotency-Key is given 2 times; send it once'],
        [400, 'X-Run-Id is given 2 times; send it once'],
      ],
      queued: [0, 0],
    });
    // The check sees an accepted order: each header once is taken.
    const once = await post([
      ['Idempotency-Key', 'twice-a'],
      ['X-Run-Id', 'run-a'],
    ]);
    expect(once?.status).toBe(202);
    expect(await paused.queued()).toEqual([1, 1]);
  }, 30_000);
});

describe("the API's request validator refuses a body past the model's shape without parsing it (found in audit)", () => {
  let gateway: Gateway;
  let invoked = 0;
  beforeAll(async () => {
    gateway = await startGateway({
      routes: [{ resource: '/orders', method: 'POST', bodySchema: orderJsonSchema() }],
      invoke: async () => {
        invoked++;
        return { ok: true, result: { statusCode: 202, body: '{}' }, durationMs: 0 };
      },
      port: 0,
    });
  });
  afterAll(() => gateway?.close());

  /** Just under API Gateway's 10 MB payload limit. */
  const size = 10 * 1024 * 1024 - 64;

  it.each([
    ['5 million nested arrays', () => nestedArrays(size)],
    ['one object of 800,000 escaped keys', () => escapedKeys(size)],
    ['one object that says one escaped key 950,000 times', () => repeatedKey(size)],
  ])(
    'answers %s in about the time of a body as big that is one long string (it held the main thread 0.5-2.5 s)',
    async (_, make) => {
      // Prepare
      const post = (body: string) =>
        fetch(`${gateway.url}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
      /** The fastest of three answers to `body` (a loaded machine stretches any one of them). */
      const fastest = async (body: string) => {
        let best = Infinity;
        const answers: string[] = [];
        for (let i = 0; i < 3; i++) {
          const started = performance.now();
          const res = await post(body);
          answers.push(`${res.status} ${await res.text()}`);
          best = Math.min(best, performance.now() - started);
        }
        return { ms: best, answers };
      };
      const hostileBody = make();

      // Act: as the baseline a body as big whose bulk is one string value, which the validator
      // refuses after one cheap parse, timed in the same run.
      const baseline = await fastest(`{"customerId":"${'a'.repeat(hostileBody.length - 18)}"}`);
      const hostile = await fastest(hostileBody);

      // Assess: the model's refusal, the handler never run, in about the baseline's time (within
      // a generous factor of 5), where the hostile body took 15-20 times the baseline's (the key
      // said again, 13 times: json-shape.test.ts counts its scan's work).
      const refused = '400 {"message":"Invalid request body"}';
      expect(hostile.answers).toEqual([refused, refused, refused]);
      expect(baseline.answers).toEqual([refused, refused, refused]);
      expect(invoked).toBe(0);
      expect(hostile.ms).toBeLessThan(5 * baseline.ms);
    },
    60_000,
  );

  it('still passes an order the model takes, its keys escaped and its items at the cap', async () => {
    const item = '{"\\u0073ku":"a","quantity":1,"unitPrice":2}';
    const body = `{"customerId":"c1","items":[${Array(50).fill(item).join(',')}],"amount":100,"currency":"EUR"}`;
    const res = await fetch(`${gateway.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(202);
  });
});

describe('the edge contains what its backends throw', () => {
  let dynamodb: LocalDynamoDb;
  let edge: Edge;
  const logged: string[] = [];
  beforeAll(async () => {
    dynamodb = await startDynamoDb();
    edge = await startEdge(
      {
        sqs: () => {
          throw new Error('a bug in a backend');
        },
        dynamodb: dynamodb.handle,
      },
      { port: 0, log: (line) => logged.push(line) },
    );
  });
  afterAll(async () => {
    await edge?.close();
    await dynamodb?.close();
  });

  it('answers an AWS InternalError when a backend throws, logs it and keeps serving', async () => {
    const res = await fetch(edge.url, {
      method: 'POST',
      headers: {
        'x-amz-target': 'AmazonSQS.ListQueues',
        'content-type': 'application/x-amz-json-1.0',
      },
      body: '{}',
    });
    expect(res.status).toBe(500);
    expect(res.headers.get('x-amzn-query-error')).toBe('InternalError;Receiver');
    expect(await res.json()).toMatchObject({ __type: 'InternalError' });
    expect(logged.join('\n')).toMatch(/a bug in a backend/);
    expect(await healthy(edge.url)).toBe(200);
  });

  it('survives a client that disconnects in the middle of a DynamoDB request body', async () => {
    // Prepare: a request that promises 100 bytes of body and sends 9.
    const seen = once(edge.server, 'request') as Promise<[IncomingMessage]>;
    const socket = await openSocket(edge.url);
    socket.write(
      'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n' +
        'Content-Type: application/x-amz-json-1.0\r\nContent-Length: 100\r\n\r\n{"Limit":',
    );
    const [req] = await seen;

    // Act: the client goes away; dynalite's request stream errors.
    // Not events.once: it would listen for 'error' itself and so change what is being tested.
    const closed = new Promise((resolve) => req.once('close', resolve));
    socket.destroy();
    await closed;

    // Assess: DynamoDB still answers a real client.
    const ddb = new DynamoDBClient({
      endpoint: edge.url,
      region: 'us-east-1',
      credentials: CREDENTIALS,
    });
    try {
      await expect(ddb.send(new ListTablesCommand({}))).resolves.toHaveProperty('TableNames');
    } finally {
      ddb.destroy();
    }
  });
});

describe('the last-resort guard of the process that runs the local cloud', () => {
  const script = (guarded: boolean) => `
    const { installLastResortGuard } = require(${JSON.stringify(resolve(__dirname, '../../local/edge'))});
    ${guarded ? 'installLastResortGuard((line) => console.log(line));' : ''}
    setTimeout(() => { throw new Error('escaped every handler'); }, 0);
    Promise.reject(new Error('nobody awaited this'));
    setTimeout(() => console.log('still running'), 50);
  `;
  const run = (guarded: boolean) =>
    new Promise<{ code: number | null; out: string }>((done) => {
      const child = spawn(TSX, ['-e', script(guarded)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.on('exit', (code) => done({ code, out }));
    });

  it('logs an exception nothing caught and keeps the process running', async () => {
    const { code, out } = await run(true);
    expect(out).toMatch(/error: uncaught, still serving: Error: escaped every handler/);
    expect(out).toMatch(/error: uncaught, still serving: Error: nobody awaited this/);
    expect(out).toMatch(/still running/);
    expect(code).toBe(0);
  }, 30_000);

  it('is what keeps it running: without it the same process dies', async () => {
    const { code, out } = await run(false);
    expect(out).not.toMatch(/still running/);
    expect(code).not.toBe(0);
  }, 30_000);
});

describe('browser protection: web pages cannot drive the local cloud', () => {
  let cloud: LocalCloud;
  let sqs: SQSClient;
  beforeAll(async () => {
    cloud = await startLocalCloud({ port: 0, servicesOnly: true, seed: 1, faults: 'none' });
    sqs = new SQSClient({
      endpoint: cloud.edgeUrl,
      region: 'us-east-1',
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    sqs?.destroy();
    await cloud?.stop();
  });

  const queueExists = async (name: string) => {
    const { QueueUrls = [] } = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: name }));
    return QueueUrls.some((u) => u.endsWith(`/${name}`));
  };

  it.each([
    ['an Origin that is not allowed', { origin: 'http://evil.example' }],
    ['an opaque Origin (a sandboxed frame or a file)', { origin: 'null' }],
    ['no Origin and a Referer from another site', { referer: 'http://evil.example/page.html' }],
    [
      'only Sec-Fetch-Site: cross-site (an <img> with no-referrer)',
      { 'sec-fetch-site': 'cross-site' },
    ],
  ])('refuses a request with %s with 403 before any action runs', async (_, headers) => {
    const name = `page-${Object.keys(headers)[0]}`;
    const res = await fetch(`${cloud.edgeUrl}/?Action=CreateQueue&QueueName=${name}`, { headers });
    expect(res.status).toBe(403);
    // In the Query protocol the request speaks, so its clients read AccessDenied, not a parse error.
    expect(await res.text()).toContain('<Code>AccessDenied</Code>');
    expect(res.headers.get('x-amzn-query-error')).toBe('AccessDenied;Sender');
    expect(await queueExists(name)).toBe(false);
  });

  it('refuses a request whose Host names neither loopback nor the configured host (DNS rebinding)', async () => {
    const { port } = new URL(cloud.edgeUrl);
    const res = await rawRequest(
      cloud.edgeUrl,
      `GET /?Action=CreateQueue&QueueName=rebound HTTP/1.1\r\nHost: rebind.evil.example:${port}\r\nConnection: close\r\n\r\n`,
    );
    expect(res?.status).toBe(403);
    expect(await queueExists('rebound')).toBe(false);
  });

  it('lets a request without Origin, Referer or cross-site fetch metadata through (SDKs, CLIs, curl, the address bar)', async () => {
    const res = await fetch(cloud.edgeUrl, {
      method: 'POST',
      headers: { 'sec-fetch-site': 'none', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=CreateQueue&QueueName=from-curl',
    });
    expect(res.status).toBe(200);
    await res.text();
    expect(await queueExists('from-curl')).toBe(true);
    const listed = await fetch(`${cloud.edgeUrl}/?Action=ListQueues&QueueNamePrefix=from-curl`, {
      headers: { 'sec-fetch-site': 'none' },
    });
    expect(listed.status).toBe(200);
    expect(await listed.text()).toMatch(/<QueueUrl>[^<]*\/from-curl<\/QueueUrl>/);
  });

  it.each(['CreateQueue', 'DeleteQueue', 'PurgeQueue', 'SendMessage', 'ReceiveMessage'])(
    'runs no %s over GET, even without browser headers (an old browser sends none)',
    async (action) => {
      // Prepare: a queue with a message, as a page would find it.
      const name = `get-${action}`;
      const url = `${cloud.edgeUrl}/000000000000/${name}`;
      const created = await fetch(cloud.edgeUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `Action=CreateQueue&QueueName=${name}`,
      });
      await created.text();
      await fetch(cloud.edgeUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ Action: 'SendMessage', QueueUrl: url, MessageBody: 'kept' }),
      }).then((r) => r.text());

      // Act
      const params = new URLSearchParams({
        Action: action,
        QueueName: `${name}-new`,
        QueueUrl: url,
        MessageBody: 'from a page',
      });
      const res = await fetch(`${cloud.edgeUrl}/?${params}`);

      // Assess: refused in the Query protocol's XML, and nothing changed.
      expect(res.status).toBe(405);
      expect(await res.text()).toMatch(/<Code>InvalidAction<\/Code>/);
      expect(await queueExists(`${name}-new`)).toBe(false);
      const counts = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['ApproximateNumberOfMessages'],
        }),
      );
      expect(counts.Attributes?.ApproximateNumberOfMessages).toBe('1');
    },
  );

  it.each(['GET', 'HEAD', 'DELETE', 'PUT', 'PATCH', 'OPTIONS'])(
    'runs no JSON-protocol action sent with %s: the protocol is POST only (found in review)',
    async (method) => {
      // Prepare: the request an SDK would POST, with another method.
      const name = `json-over-${method.toLowerCase()}`;
      const body = JSON.stringify({ QueueName: name });
      const socket = await openSocket(cloud.edgeUrl);
      const answer = untilClosed(socket);

      // Act
      socket.write(
        `${method} / HTTP/1.1\r\nHost: ${new URL(cloud.edgeUrl).host}\r\n` +
          'X-Amz-Target: AmazonSQS.CreateQueue\r\nContent-Type: application/x-amz-json-1.0\r\n' +
          `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );

      // Assess: the answer to an operation the service does not know, and no queue.
      const [head, text] = (await answer).split('\r\n\r\n');
      expect(head).toMatch(/^HTTP\/1\.1 400 /);
      if (method !== 'HEAD') {
        expect(JSON.parse(text!)).toMatchObject({
          __type: 'com.amazon.coral.service#UnknownOperationException',
        });
      }
      expect(await queueExists(name)).toBe(false);
    },
  );

  it.each([1e308, 1e15, -1, 0.5, '60000'])(
    'refuses to move the clock by %s: time must stay exact enough for every timer (found by the fuzz suite)',
    async (advanceMs) => {
      const before = cloud.clock.offset;
      const res = await fetch(`${cloud.edgeUrl}/_emulator/clock`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ advanceMs }),
      });
      expect(res.status).toBe(400);
      await res.text();
      expect(cloud.clock.offset).toBe(before);
    },
  );

  it.each([null, [], 5, 'advance'])(
    'refuses a clock body that is not a JSON object (%j) with a 400 that says so, and moves nothing (found in review)',
    async (input) => {
      const before = cloud.clock.offset;
      const res = await fetch(`${cloud.edgeUrl}/_emulator/clock`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(input),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { message: string }).message).toBe(
        'the body must be a JSON object, such as {"advanceMs": 1000}',
      );
      expect(cloud.clock.offset).toBe(before);
    },
  );

  it.each([
    [
      'a misspelt knob (found in review)',
      { duplicatRate: 0.5 },
      /unknown fault knob "duplicatRate"/,
    ],
    [
      'a knob beside a preset, which would be ignored',
      { preset: 'chaos', duplicateRate: 1 },
      /a preset takes no knobs/,
    ],
  ])('refuses to change the fault model with %s, and changes nothing', async (_, input, why) => {
    // Prepare: faults that a reset to zero would visibly lose.
    const faultsUrl = `${cloud.edgeUrl}/_emulator/faults`;
    const post = (body: unknown) =>
      fetch(faultsUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    try {
      const set = await post({ preset: 'demo' });
      expect(set.status).toBe(200);
      const faults = async (r: Response) => ((await r.json()) as { faults: unknown }).faults;
      const before = await faults(set);
      expect(before).toMatchObject({ duplicateRate: 5e-3 });

      // Act
      const res = await post(input);

      // Assess
      expect(res.status).toBe(400);
      expect(((await res.json()) as { message: string }).message).toMatch(why);
      expect(await faults(await fetch(faultsUrl))).toEqual(before);
    } finally {
      await (await post({ preset: 'none' })).text();
    }
  });

  it('takes a control request only with a JSON content type (a text/plain form cannot send one)', async () => {
    const before = cloud.clock.offset;
    const res = await fetch(`${cloud.edgeUrl}/_emulator/clock`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ advanceMs: 60_000 }),
    });
    expect(res.status).toBe(415);
    await res.text();
    expect(cloud.clock.offset).toBe(before);
    const ok = await fetch(`${cloud.edgeUrl}/_emulator/clock`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ advanceMs: 1 }),
    });
    expect(ok.status).toBe(200);
    await ok.text();
    expect(cloud.clock.offset).toBe(before + 1);
  });

  it.each([
    ['PUT', '/_emulator/clock', { advanceMs: 1000 }],
    ['PATCH', '/_emulator/clock', { advanceMs: 1000 }],
    ['DELETE', '/_emulator/clock', { advanceMs: 1000 }],
    ['OPTIONS', '/_emulator/clock', { advanceMs: 1000 }],
    ['PUT', '/_emulator/faults', { preset: 'chaos' }],
    ['DELETE', '/_emulator/faults', { preset: 'chaos' }],
  ])(
    'refuses %s %s with 405 and an Allow header, and changes nothing (found in review: 200, body dropped)',
    async (method, path, input) => {
      // Prepare
      const clockBefore = cloud.clock.offset;
      const faultsUrl = `${cloud.edgeUrl}/_emulator/faults`;
      const faults = async () => (await (await fetch(faultsUrl)).json()) as { faults: unknown };
      const faultsBefore = await faults();

      // Act
      const res = await fetch(`${cloud.edgeUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(input),
      });

      // Assess
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD, POST');
      expect(((await res.json()) as { message: string }).message).toContain(method);
      expect(cloud.clock.offset).toBe(clockBefore);
      expect(await faults()).toEqual(faultsBefore);
    },
  );

  it('answers an unknown control path 404 whatever the method, and HEAD as GET', async () => {
    const unknown = await fetch(`${cloud.edgeUrl}/_emulator/nope`, { method: 'PUT', body: '{}' });
    expect(unknown.status).toBe(404);
    await unknown.text();
    const head = await fetch(`${cloud.edgeUrl}/_emulator/clock`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });
});

describe('browser protection with an allowed origin', () => {
  let cloud: LocalCloud;
  const allowed = 'http://app.example:8080';
  beforeAll(async () => {
    cloud = await startLocalCloud({
      port: 0,
      servicesOnly: true,
      seed: 1,
      faults: 'none',
      allowedOrigins: [allowed],
    });
  });
  afterAll(() => cloud?.stop());

  it('answers the allowed origin, with CORS headers and a preflight, and still refuses others', async () => {
    const preflight = await fetch(cloud.edgeUrl, {
      method: 'OPTIONS',
      headers: {
        origin: allowed,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-amz-target',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(preflight.headers.get('access-control-allow-headers')).toBe('content-type,x-amz-target');
    const res = await fetch(cloud.edgeUrl, {
      method: 'POST',
      headers: {
        origin: allowed,
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AmazonSQS.ListQueues',
      },
      body: '{}',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(allowed);
    await res.text();
    const other = await fetch(`${cloud.edgeUrl}/_localcloud/health`, {
      headers: { origin: 'http://app.example:8081' },
    });
    expect(other.status).toBe(403);
    await other.text();
  });
});

describe('slow and greedy clients', () => {
  let dynamodb: LocalDynamoDb;
  let edge: Edge;
  let gateway: Gateway;
  const limits = { headersTimeoutMs: 300, requestTimeoutMs: 600, maxConnections: 4 };

  beforeAll(async () => {
    dynamodb = await startDynamoDb({ limits });
    const sqs = createSqsEmulator({ seed: 1, faults: 'none' });
    edge = await startEdge({ sqs: sqs.handle, dynamodb: dynamodb.handle }, { port: 0, limits });
    gateway = await startGateway({
      routes: [{ resource: '/orders', method: 'POST' }],
      invoke: async () => ({ ok: true, result: { statusCode: 200, body: '{}' }, durationMs: 0 }),
      port: 0,
      limits,
    });
  });
  afterAll(async () => {
    await edge?.close();
    await gateway?.close();
    await dynamodb?.close();
  });

  it.each([
    ['the edge', () => edge.url],
    ['the API', () => gateway.url],
    ["DynamoDB's own port", () => dynamodb.url],
  ])(
    'closes a client on %s that sends its headers too slowly (408), and keeps serving',
    async (_, url) => {
      const socket = await openSocket(url());
      const closed = untilClosed(socket);
      socket.write('GET /_localcloud/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
      expect(await closed).toMatch(/^HTTP\/1\.1 408/);
      expect((await fetch(`${edge.url}/_localcloud/health`)).status).toBe(200);
    },
  );

  it('closes a client that never finishes its body (408)', async () => {
    const socket = await openSocket(edge.url);
    const closed = untilClosed(socket);
    socket.write(
      'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: AmazonSQS.ListQueues\r\n' +
        'Content-Type: application/x-amz-json-1.0\r\nContent-Length: 100\r\n\r\n{',
    );
    expect(await closed).toMatch(/^HTTP\/1\.1 408/);
  });

  it('answers an SQS body over the limit at once, without reading the rest', async () => {
    // Prepare: a body that claims 100 MiB; 5 MiB are sent and the rest never comes.
    const socket = await openSocket(edge.url);
    const closed = untilClosed(socket);
    socket.write(
      'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: AmazonSQS.SendMessageBatch\r\n' +
        `Content-Type: application/x-amz-json-1.0\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`,
    );
    socket.write(Buffer.alloc(5 * 1024 * 1024, 0x20));

    // Assess: 413 (not the 408 of a request that timed out waiting for its end).
    expect(await closed).toMatch(/^HTTP\/1\.1 413/);
  });

  it('refuses connections over the cap, and takes new ones once one has closed', async () => {
    const held = await Promise.all(
      Array.from({ length: limits.maxConnections }, () => openSocket(edge.url)),
    );
    // Keep them busy past the header timeout's reach: each sends a complete keep-alive request.
    for (const s of held) s.write('GET /_localcloud/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const extra = await openSocket(edge.url);
    expect(await untilClosed(extra)).toBe('');
    for (const s of held) s.destroy();
    await Promise.all(
      held.map((s) => new Promise((r) => (s.closed ? r(null) : s.once('close', r)))),
    );
    // The server counts a connection gone once its socket has closed on its side too.
    await waitUntil(
      async () =>
        (await fetch(`${edge.url}/_localcloud/health`).catch(() => undefined))?.status === 200,
    );
  });

  it("answers nothing to a browser on DynamoDB's own port: browsers reach DynamoDB only through the edge's guard", async () => {
    const socket = await openSocket(dynamodb.url);
    const closed = untilClosed(socket);
    socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\n\r\n');
    expect(await closed).toBe('');
  });
});

/** Polls `check` until it holds (bounded); for a state the server reaches on its own time. */
async function waitUntil(check: () => Promise<boolean>, attempts = 100): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition never held');
}
