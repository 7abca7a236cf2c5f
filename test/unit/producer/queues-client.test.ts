import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { PRODUCER_SQS_CLIENT, SqsQueues } from '../../../services/producer/src/adapters/queues';
import { createSqsClient, LOCAL_CREDENTIALS } from '../../../shared/src/aws-clients';
import type { OrderMessage } from '../../../shared/src/order-message';

/**
 * The producer's SQS client as its handler makes it (PRODUCER_SQS_CLIENT), over real HTTP to a
 * server on 127.0.0.1 that answers SendMessage as SQS does (its MD5 of the body, which the SDK
 * checks): the middleware stack is built once for every send, and each send still carries its
 * own message, a retried one included.
 */
let server: Server;
let endpoint: string;
const received: Array<Record<string, unknown>> = [];
let failNext = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const input = JSON.parse(body) as Record<string, unknown>;
      received.push(input);
      res.setHeader('content-type', 'application/x-amz-json-1.0');
      if (failNext > 0) {
        failNext--;
        res.statusCode = 500;
        res.setHeader('x-amzn-query-error', 'InternalError;Receiver');
        res.end(
          JSON.stringify({ __type: 'com.amazonaws.sqs#InternalError', message: 'try again' }),
        );
        return;
      }
      const md5 = createHash('md5').update(String(input.MessageBody)).digest('hex');
      res.end(JSON.stringify({ MessageId: `m-${received.length}`, MD5OfMessageBody: md5 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  endpoint = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  received.length = 0;
  failNext = 0;
});

const order = (orderId: string, customerId: string, sequence: number): OrderMessage => ({
  orderId,
  runId: 'run-1',
  customerId,
  sequence,
  items: [{ sku: 'sku-1', quantity: sequence, unitPrice: 5 }],
  amount: 5 * sequence,
  currency: 'EUR',
  acceptedAt: 10,
});

describe("the producer's SQS client", () => {
  it('builds its middleware stack once for all its sends, and each send carries its own message', async () => {
    const sqs = createSqsClient({
      ...PRODUCER_SQS_CLIENT,
      endpoint,
      region: 'eu-west-1',
      credentials: LOCAL_CREDENTIALS,
    });
    const urls = {
      fifo: `${endpoint}/000000000000/orders.fifo`,
      standard: `${endpoint}/000000000000/orders-standard`,
    };
    const queues = new SqsQueues(sqs, urls, { attempts: 2, baseDelayMs: 0, maxDelayMs: 0 });
    const resolve = jest.spyOn(SendMessageCommand.prototype, 'resolveMiddleware');
    try {
      const first = order('o-1', 'cust-1', 1);
      const second = order('o-2', 'cust-2', 2);
      await expect(queues.send('fifo', first)).resolves.toBe('m-1');
      await expect(queues.send('standard', first)).resolves.toBe('m-2');
      // A try answered 500 is sent again by the adapter's own loop, as the same command.
      failNext = 1;
      await expect(queues.send('fifo', second)).resolves.toBe('m-4');
      await expect(queues.send('standard', second)).resolves.toBe('m-5');

      // Assess: one stack for five requests (four sends, one retried).
      expect(resolve).toHaveBeenCalledTimes(1);
      expect(received.map((r) => [r.QueueUrl, r.MessageBody, r.MessageGroupId])).toEqual([
        [urls.fifo, JSON.stringify(first), 'cust-1'],
        [urls.standard, JSON.stringify(first), undefined],
        [urls.fifo, JSON.stringify(second), 'cust-2'],
        [urls.fifo, JSON.stringify(second), 'cust-2'],
        [urls.standard, JSON.stringify(second), undefined],
      ]);
      expect(received[3]?.MessageDeduplicationId).toBe('o-2');
    } finally {
      resolve.mockRestore();
      sqs.destroy();
    }
  });
});
