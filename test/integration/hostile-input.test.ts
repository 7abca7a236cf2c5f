import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
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
