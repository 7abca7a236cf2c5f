import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import {
  DYNAMODB_BACKOFF_BASE_MS,
  DYNAMODB_DEFAULT_TRIES,
  LAMBDA_DYNAMODB_TIMEOUTS,
  stalledCallMs,
} from '../../shared/src/aws-clients';
import postOrder from '../events/apigateway/post-order.json';
import fifoBatch from '../events/sqs/fifo-batch.json';
import { type StalledServer, startStalledServer } from './support/stalled-server';

/**
 * The Lambdas' DynamoDB clients against an endpoint that accepts a connection and never answers:
 * a TCP server on 127.0.0.1 that reads every request and writes nothing. Real SDK clients, made
 * by the handler modules themselves (a cold start each), over HTTP. Without a request timeout
 * the SDK waits on such an endpoint forever, so each test gives the call a guard (the function's
 * 10 s timeout) and fails with "hung" when it is still waiting then. With one, every try ends in
 * a TimeoutError, the SDK retries, and the call fails within (tries x request timeout + backoff):
 * the stalled server sees exactly the tries.
 */

/** `work`'s outcome, or 'hung' when it has not settled after `ms`. */
async function within<T>(
  ms: number,
  work: Promise<T>,
): Promise<{ settled: 'fulfilled'; value: T } | { settled: 'rejected'; error: unknown } | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), ms);
  });
  try {
    return await Promise.race([
      work.then(
        (value) => ({ settled: 'fulfilled' as const, value }),
        (error: unknown) => ({ settled: 'rejected' as const, error }),
      ),
      guard,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** What the Powertools logger writes (it writes to stdout and stderr). */
function captureOutput(): { text(): string; restore(): void } {
  const chunks: string[] = [];
  const keep = (chunk: unknown): boolean => {
    chunks.push(String(chunk));
    return true;
  };
  const out = jest.spyOn(process.stdout, 'write').mockImplementation(keep);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(keep);
  return {
    text: () => chunks.join(''),
    restore: () => {
      out.mockRestore();
      err.mockRestore();
    },
  };
}

/** The function timeout of both Lambdas (shared/src/config/pipeline.ts): the guard of each call. */
const FUNCTION_TIMEOUT_MS = 10_000;
/** One stalled DynamoDB call at the defaults: 4 x 1,000 ms + 175 ms of backoff at most. */
const ONE_STALLED_CALL_MS = stalledCallMs(
  DYNAMODB_DEFAULT_TRIES,
  LAMBDA_DYNAMODB_TIMEOUTS.requestTimeoutMs,
  DYNAMODB_BACKOFF_BASE_MS,
);

const BASE_ENV = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  POWERTOOLS_TRACE_ENABLED: 'false',
  POWERTOOLS_LOG_LEVEL: 'INFO',
};

/**
 * The environment of a function whose DynamoDB is the stalled server: `saved` plus the shared
 * settings and `own`, without the variables that would change its tries or timeouts.
 */
function stalledEnv(
  saved: NodeJS.ProcessEnv,
  endpoint: string,
  own: Record<string, string>,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...saved,
    ...BASE_ENV,
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    ...own,
  };
  for (const name of [
    'AWS_MAX_ATTEMPTS',
    'DYNAMODB_REQUEST_TIMEOUT_MS',
    'DYNAMODB_CONNECTION_TIMEOUT_MS',
  ]) {
    if (!(name in own)) delete env[name];
  }
  return env;
}

/** The producer's own settings; its queues on a closed port (the claim is its first write). */
const PRODUCER_ENV = {
  LEDGER_TABLE_NAME: 'ledger',
  FIFO_QUEUE_URL: 'http://127.0.0.1:1/000000000000/orders.fifo',
  STANDARD_QUEUE_URL: 'http://127.0.0.1:1/000000000000/orders-standard',
};

function context(): Context {
  const deadline = Date.now() + FUNCTION_TIMEOUT_MS;
  return {
    functionName: 'test',
    awsRequestId: 'req-1',
    getRemainingTimeInMillis: () => deadline - Date.now(),
  } as unknown as Context;
}

describe('the Lambdas’ DynamoDB clients against an endpoint that never answers', () => {
  const saved = { ...process.env };
  let stalled: StalledServer;

  beforeEach(async () => {
    stalled = await startStalledServer();
  });
  afterEach(async () => {
    process.env = { ...saved };
    await stalled.close();
  });

  it('the producer answers 500 for a TimeoutError after the SDK’s 4 tries, inside its timeout', async () => {
    // Prepare: the ledger on the stalled server; the queues on a closed port (never reached:
    // the order's claim is the first write).
    process.env = stalledEnv(saved, stalled.endpoint, PRODUCER_ENV);
    let handler!: (e: APIGatewayProxyEvent, c: Context) => Promise<{ statusCode: number }>;
    jest.isolateModules(() => {
      ({ handler } = require('../../services/producer/src/handlers/api'));
    });
    const output = captureOutput();

    // Act
    const started = Date.now();
    let outcome: Awaited<ReturnType<typeof within<{ statusCode: number }>>>;
    try {
      outcome = await within(
        FUNCTION_TIMEOUT_MS,
        handler(structuredClone(postOrder) as unknown as APIGatewayProxyEvent, context()),
      );
    } finally {
      output.restore();
    }
    const took = Date.now() - started;

    // Assess: answered (not hung) with a 500, the failure a TimeoutError, after exactly the
    // DynamoDB client's 4 tries, by the bound (and its slack for a busy machine).
    expect(outcome).not.toBe('hung');
    expect(outcome).toEqual({
      settled: 'fulfilled',
      value: expect.objectContaining({ statusCode: 500 }),
    });
    expect(output.text()).toContain('"name":"TimeoutError"');
    expect(stalled.requests()).toBe(DYNAMODB_DEFAULT_TRIES);
    expect(took).toBeLessThan(ONE_STALLED_CALL_MS + 2000);
  }, 30_000);

  it('the producer’s ledger clients fail each try on their request timeout, set by environment variable', async () => {
    // Prepare: a short request timeout by environment variable; the clients the module hands
    // the ledger are kept (the real adapter is still made).
    process.env = stalledEnv(saved, stalled.endpoint, {
      ...PRODUCER_ENV,
      DYNAMODB_REQUEST_TIMEOUT_MS: '300',
      DYNAMODB_CONNECTION_TIMEOUT_MS: '200',
    });
    const made: unknown[][] = [];
    jest.isolateModules(() => {
      jest.doMock('../../services/producer/src/adapters/ledger', () => {
        const actual = jest.requireActual('../../services/producer/src/adapters/ledger');
        return {
          ...actual,
          DynamoLedger: class extends actual.DynamoLedger {
            constructor(...args: unknown[]) {
              super(...args);
              made.push(args);
            }
          },
        };
      });
      require('../../services/producer/src/handlers/api');
    });
    const [documents, , oneTry] = made[0] as [
      DynamoDBDocumentClient,
      string,
      DynamoDBDocumentClient,
    ];
    const get = new GetCommand({ TableName: 'ledger', Key: { pk: 'a', sk: 'b' } });

    // Act: a read through each client.
    const started = Date.now();
    const retried = await within(FUNCTION_TIMEOUT_MS, documents.send(get));
    const tookRetried = Date.now() - started;
    const triesOfRetried = stalled.requests();
    const once = await within(FUNCTION_TIMEOUT_MS, oneTry.send(get));
    documents.destroy();

    // Assess: the ledger's client: 4 tries, each ended by the 300 ms timeout; the withdrawal's
    // client beside it: the same timeout, one try.
    expect(retried).toEqual({
      settled: 'rejected',
      error: expect.objectContaining({ name: 'TimeoutError' }),
    });
    expect(triesOfRetried).toBe(DYNAMODB_DEFAULT_TRIES);
    expect(tookRetried).toBeLessThan(
      stalledCallMs(DYNAMODB_DEFAULT_TRIES, 300, DYNAMODB_BACKOFF_BASE_MS) + 1500,
    );
    expect(once).toEqual({
      settled: 'rejected',
      error: expect.objectContaining({ name: 'TimeoutError' }),
    });
    expect(stalled.requests() - triesOfRetried).toBe(1);
  }, 30_000);

  it('the consumer’s invocation ends in a TimeoutError after the SDK’s 4 tries, inside its timeout', async () => {
    // Prepare: the FIFO consumer, its ledger and idempotency tables on the stalled server.
    process.env = stalledEnv(saved, stalled.endpoint, {
      QUEUE_KIND: 'fifo',
      LEDGER_TABLE_NAME: 'ledger',
      IDEMPOTENCY_TABLE_NAME: 'idempotency',
    });
    let handler!: (e: SQSEvent, c: Context) => Promise<SQSBatchResponse>;
    jest.isolateModules(() => {
      ({ handler } = require('../../services/consumer/src/handlers/sqs'));
    });
    const event = structuredClone(fifoBatch) as unknown as SQSEvent;
    const output = captureOutput();

    // Act
    const started = Date.now();
    let outcome: Awaited<ReturnType<typeof within<SQSBatchResponse>>>;
    try {
      outcome = await within(FUNCTION_TIMEOUT_MS, handler(event, context()));
    } finally {
      output.restore();
    }
    const took = Date.now() - started;

    // Assess: the invocation ended (not hung) well before its timeout, failed by a TimeoutError
    // (its first write, the batch's receipts, cannot be made: the batch comes back, as it would
    // from a timed-out invocation, but seconds sooner and with the cause named), after exactly
    // the DynamoDB client's 4 tries.
    expect(outcome).not.toBe('hung');
    expect(outcome).toEqual({
      settled: 'rejected',
      error: expect.objectContaining({ name: 'TimeoutError' }),
    });
    expect(stalled.requests()).toBe(DYNAMODB_DEFAULT_TRIES);
    expect(took).toBeLessThan(ONE_STALLED_CALL_MS + 2000);
  }, 30_000);
});
