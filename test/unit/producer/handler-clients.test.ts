import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { requestHandlerConfig } from '../support/request-handler';

/**
 * The clients the producer's Lambda module makes for its ledger, once per instance: the ledger's
 * document client (the SDK's DynamoDB retries) and, beside it, the one-try client of the lease
 * bid's withdrawal (DynamoLedger.withdrawBid). The ledger adapter is replaced by one that keeps
 * what it was given; nothing is sent.
 */
const ENV_VARS = {
  LEDGER_TABLE_NAME: 'ledger',
  FIFO_QUEUE_URL: 'http://127.0.0.1:1/000000000000/orders.fifo',
  STANDARD_QUEUE_URL: 'http://127.0.0.1:1/000000000000/orders-standard',
  MAX_BODY_BYTES: '1024',
  DEFAULT_RUN_ID: 'adhoc',
  AWS_REGION: 'eu-west-1',
};

describe('handlers/api: the ledger clients', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('gives the ledger a one-try client for the withdrawal beside its own, over the same connections', async () => {
    // Prepare: the adapter keeps the arguments of each ledger made.
    process.env = { ...saved, ...ENV_VARS };
    delete process.env.AWS_MAX_ATTEMPTS;
    const made: unknown[][] = [];

    // Act: the module is imported (a cold start).
    jest.isolateModules(() => {
      jest.doMock('../../../services/producer/src/adapters/ledger', () => ({
        DynamoLedger: class {
          constructor(...args: unknown[]) {
            made.push(args);
          }
        },
      }));
      require('../../../services/producer/src/handlers/api');
    });

    // Assess: one ledger, its table, a client of the DynamoDB default tries, and a second client
    // of one try sharing its request handler.
    expect(made).toHaveLength(1);
    const [documents, table, oneTry] = made[0] as [
      DynamoDBDocumentClient,
      string,
      DynamoDBDocumentClient | undefined,
    ];
    expect(table).toBe('ledger');
    expect(oneTry).toBeDefined();
    expect(oneTry).not.toBe(documents);
    expect(await documents.config.maxAttempts()).toBe(4);
    expect(await oneTry?.config.maxAttempts()).toBe(1);
    expect(oneTry?.config.requestHandler).toBe(documents.config.requestHandler);
    // Both, over that one handler, with the Lambdas' DynamoDB timeouts (shared/src/aws-clients.ts).
    expect(await requestHandlerConfig(documents)).toMatchObject({
      connectionTimeout: 1000,
      requestTimeout: 1000,
      throwOnRequestTimeout: true,
    });
    documents.destroy();
  });

  it('fails the cold start when the DynamoDB request timeout leaves no time to answer', () => {
    // 2 stalled calls of 4 tries at 2 s each take over 16 s of the producer's 10 s.
    process.env = { ...saved, ...ENV_VARS, DYNAMODB_REQUEST_TIMEOUT_MS: '2000' };
    delete process.env.AWS_MAX_ATTEMPTS;
    expect(() =>
      jest.isolateModules(() => {
        require('../../../services/producer/src/handlers/api');
      }),
    ).toThrow('producer DynamoDB client: 2 stalled call(s) of 4 tries');
  });

  it('counts the tries AWS_MAX_ATTEMPTS gives the ledger client when it checks the timeout at cold start', () => {
    // 2 stalled calls of 6 tries at 1 s each (and their backoff) take over 12 s of the 10 s.
    process.env = { ...saved, ...ENV_VARS, AWS_MAX_ATTEMPTS: '6' };
    delete process.env.DYNAMODB_REQUEST_TIMEOUT_MS;
    expect(() =>
      jest.isolateModules(() => {
        require('../../../services/producer/src/handlers/api');
      }),
    ).toThrow('producer DynamoDB client: 2 stalled call(s) of 6 tries');
  });
});
