import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

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
    documents.destroy();
  });
});
