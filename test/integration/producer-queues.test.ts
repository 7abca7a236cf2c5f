import { createServer, type Server, type Socket } from 'node:net';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { type LocalCloud, startLocalCloud } from '../../local/cloud';
import { DynamoLedger } from '../../services/producer/src/adapters/ledger';
import { SqsQueueLifetimes } from '../../services/producer/src/adapters/queue-lifetimes';
import { PRODUCER_SQS_CLIENT, SqsQueues } from '../../services/producer/src/adapters/queues';
import { createApiHandler } from '../../services/producer/src/app';
import { NO_PRODUCER_FAULTS } from '../../services/producer/src/domain/faults';
import { QueueUnavailableError } from '../../services/producer/src/domain/ports';
import {
  createDocumentClients,
  createSqsClient,
  LOCAL_CREDENTIALS,
} from '../../shared/src/aws-clients';
import { stopsAfterAll } from './support/stop-after-all';

/**
 * The producer's queue adapter against real endpoints, with the SDK client the deployed
 * producer uses: a queue that does not exist is a permanent error (a plain 500, no retry), and a
 * queue endpoint that never answers is "unavailable" (503, retry with the key) well before the
 * function's 10 s timeout, because the client's connection and request timeouts end each try.
 */

const quiet = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  appendKeys: () => undefined,
  removeKeys: () => undefined,
};

function orderEvent(): APIGatewayProxyEvent {
  return {
    resource: '/orders',
    httpMethod: 'POST',
    path: '/orders',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      customerId: 'c-1',
      items: [{ sku: 'a', quantity: 1, unitPrice: 5 }],
      amount: 5,
      currency: 'EUR',
    }),
  } as unknown as APIGatewayProxyEvent;
}

describe('producer queue errors against a real endpoint', () => {
  const keep = stopsAfterAll();
  let cloud: LocalCloud;
  let silent: Server;
  let silentUrl: string;
  const held: Socket[] = [];

  beforeAll(async () => {
    cloud = await keep(
      startLocalCloud({
        port: 0,
        apiPort: 0,
        seed: 3,
        faults: 'none',
        pollWaitSeconds: 1,
      }),
    );
    // A port that accepts connections and never answers: a hung endpoint.
    silent = createServer((socket) => {
      held.push(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const address = silent.address() as { port: number };
    silentUrl = `http://127.0.0.1:${address.port}`;
  }, 60_000);

  afterAll(async () => {
    for (const s of held) s.destroy();
    await new Promise((r) => silent?.close(r));
  });

  const handlerWith = (endpoint: string, urls: { fifo: string; standard: string }) => {
    const sqs = createSqsClient({
      ...PRODUCER_SQS_CLIENT,
      endpoint,
      region: cloud.region,
      credentials: LOCAL_CREDENTIALS,
    });
    const { documents, oneTry } = createDocumentClients({
      endpoint: cloud.edgeUrl,
      region: cloud.region,
      credentials: LOCAL_CREDENTIALS,
    });
    return {
      queues: new SqsQueues(sqs, urls),
      api: createApiHandler(
        {
          ledgerTableName: cloud.tableNames.ledger,
          queueUrls: urls,
          maxBodyBytes: 16_384,
          defaultRunId: 'producer-errors',
          faults: NO_PRODUCER_FAULTS,
          timeoutMs: 10_000,
          clockMarginMs: 1000,
          inProgressWindowMs: 11_000,
        },
        {
          ledger: new DynamoLedger(documents, cloud.tableNames.ledger, oneTry, quiet),
          queues: new SqsQueues(sqs, urls),
          lifetimes: new SqsQueueLifetimes(sqs, urls),
          logger: quiet,
        },
      ),
      close: () => {
        sqs.destroy();
        documents.destroy();
      },
    };
  };

  it('answers a plain 500 when a queue does not exist: retrying cannot help', async () => {
    const missing = `${cloud.edgeUrl}/000000000000/no-such-queue`;
    const h = handlerWith(cloud.edgeUrl, { fifo: missing, standard: cloud.queueUrls.standard });
    try {
      await expect(
        h.queues.send('fifo', {
          orderId: 'o',
          runId: 'r',
          customerId: 'c',
          sequence: 1,
          items: [],
          amount: 1,
          currency: 'EUR',
          acceptedAt: 1,
        } as never),
      ).rejects.toMatchObject({ name: 'QueueDoesNotExist' });
      const res = await h.api(orderEvent());
      expect(res.statusCode).toBe(500);
      expect(JSON.parse(res.body)).toEqual({ message: 'internal error' });
    } finally {
      h.close();
    }
  });

  it('answers 503 with the key to retry with when the queue endpoint never answers', async () => {
    const hung = `${silentUrl}/000000000000/orders.fifo`;
    const h = handlerWith(silentUrl, {
      fifo: hung,
      standard: `${silentUrl}/000000000000/orders-standard`,
    });
    try {
      const err = await h.queues
        .send('fifo', {
          orderId: 'o',
          runId: 'r',
          customerId: 'c',
          sequence: 1,
          items: [],
          amount: 1,
          currency: 'EUR',
          acceptedAt: 1,
        } as never)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(QueueUnavailableError);
      expect(((err as Error).cause as Error).name).toBe('TimeoutError');
      const res = await h.api(orderEvent());
      expect(res.statusCode).toBe(503);
      expect(JSON.parse(res.body)).toMatchObject({ idempotencyKey: expect.any(String) });
    } finally {
      h.close();
    }
  }, 30_000);
});
