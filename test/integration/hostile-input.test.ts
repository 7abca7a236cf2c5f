import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type LocalCloud, startLocalCloud } from '../../local/cloud';
import { type LocalDynamoDb, startDynamoDb } from '../../local/dynamodb';
import { type Edge, startEdge } from '../../local/edge';
import { openSocket, rawRequest } from './support/raw-http';

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
    expect(await res.json()).toMatchObject({ __type: 'AccessDenied' });
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
    const res = await fetch(`${cloud.edgeUrl}/?Action=CreateQueue&QueueName=from-curl`, {
      headers: { 'sec-fetch-site': 'none' },
    });
    expect(res.status).toBe(200);
    await res.text();
    expect(await queueExists('from-curl')).toBe(true);
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
