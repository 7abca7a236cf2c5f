import { loadConsumerConfig } from '../../../services/consumer/src/config';
import { CLIENT_TIMEOUT_ENV } from '../../../shared/src/aws-clients';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { ConfigError } from '../../../shared/src/env';

const BASE_ENV = {
  LEDGER_TABLE_NAME: 'ledger',
  IDEMPOTENCY_TABLE_NAME: 'idempotency',
  IDEMPOTENCY_ENABLED: 'false',
  MAX_RECEIVE_COUNT: '3',
};

describe('loadConsumerConfig', () => {
  it('fills defaults from the pipeline config', () => {
    // Prepare / Act
    const config = loadConsumerConfig({
      QUEUE_KIND: 'standard',
      LEDGER_TABLE_NAME: 'ledger',
      IDEMPOTENCY_TABLE_NAME: 'idempotency',
    });

    // Assess
    expect(config).toMatchObject({
      queue: 'standard',
      batchProcessing: 'parallel',
      maxReceiveCount: pipelineConfig.queues.standard.dlq.maxReceiveCount,
      idempotency: { enabled: true, key: 'orderId', keyPrefix: 'consumer-standard' },
      faults: { firstAttemptFailureRate: 0, slowRate: 0, poisonPrefix: '' },
    });
  });

  it.each([
    ['QUEUE_KIND is missing', { LEDGER_TABLE_NAME: 'l', IDEMPOTENCY_TABLE_NAME: 'i' }],
    [
      'QUEUE_KIND is unknown',
      { QUEUE_KIND: 'lifo', LEDGER_TABLE_NAME: 'l', IDEMPOTENCY_TABLE_NAME: 'i' },
    ],
    [
      'the idempotency table is missing while enabled',
      { QUEUE_KIND: 'fifo', LEDGER_TABLE_NAME: 'l' },
    ],
    ['IDEMPOTENCY_KEY is unknown', { ...BASE_ENV, QUEUE_KIND: 'fifo', IDEMPOTENCY_KEY: 'body' }],
    ['a fault rate is above 1', { ...BASE_ENV, QUEUE_KIND: 'fifo', FAULT_SLOW_RATE: '1.5' }],
    ['MAX_RECEIVE_COUNT is 0', { ...BASE_ENV, QUEUE_KIND: 'fifo', MAX_RECEIVE_COUNT: '0' }],
  ])('throws ConfigError when %s', (_name, env) => {
    // Act / Assess
    expect(() => loadConsumerConfig(env)).toThrow(ConfigError);
  });

  it('needs no idempotency table when idempotency is off', () => {
    // Act
    const config = loadConsumerConfig({
      ...BASE_ENV,
      QUEUE_KIND: 'fifo',
      IDEMPOTENCY_TABLE_NAME: '',
    });

    // Assess
    expect(config.idempotency.enabled).toBe(false);
    expect(config.idempotency.tableName).toBeUndefined();
  });
});

describe('handlers/sqs module', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('builds the handler from process.env when imported', () => {
    // Prepare
    process.env = { ...saved, ...BASE_ENV, QUEUE_KIND: 'fifo', AWS_REGION: 'eu-west-1' };

    // Act
    let handler: unknown;
    jest.isolateModules(() => {
      handler = require('../../../services/consumer/src/handlers/sqs').handler;
    });

    // Assess
    expect(typeof handler).toBe('function');
  });

  it.each([
    // [AWS_MAX_ATTEMPTS, the request timeout's variable, budget]: one stalled call (tries x
    // request timeout + backoff 25 ms x (2^(tries-1) - 1)) and 1 s of room for the invocation's end.
    [undefined, undefined, 5_175],
    ['3', undefined, 4_075],
    [undefined, '800', 4_375],
  ])(
    'gives the cut-off one stalled call and 1 s as what a record needs (AWS_MAX_ATTEMPTS %p, request timeout %p ms: %p ms)',
    (tries, requestTimeout, budget) => {
      process.env = { ...saved, ...BASE_ENV, QUEUE_KIND: 'fifo', AWS_REGION: 'eu-west-1' };
      if (tries !== undefined) process.env.AWS_MAX_ATTEMPTS = tries;
      if (requestTimeout !== undefined) {
        // The connection timeout may be no longer than the request's.
        process.env[CLIENT_TIMEOUT_ENV.dynamodb.requestTimeoutMs] = requestTimeout;
        process.env[CLIENT_TIMEOUT_ENV.dynamodb.connectionTimeoutMs] = requestTimeout;
      }
      let recordBudgetMs: unknown;
      jest.isolateModules(() => {
        recordBudgetMs = require('../../../services/consumer/src/handlers/sqs').recordBudgetMs;
      });
      expect(recordBudgetMs).toBe(budget);
    },
  );

  it('fails at import when the configuration is incomplete', () => {
    // Prepare
    process.env = { ...saved, QUEUE_KIND: 'fifo', LEDGER_TABLE_NAME: '' };

    // Act / Assess
    jest.isolateModules(() => {
      expect(() => require('../../../services/consumer/src/handlers/sqs')).toThrow(
        'environment variable LEDGER_TABLE_NAME is required',
      );
    });
  });

  it('fails at import when AWS_MAX_ATTEMPTS gives the DynamoDB clients more tries than the timeout holds', () => {
    // Prepare: the SDK takes its DynamoDB clients' tries from AWS_MAX_ATTEMPTS when set: 10
    // stalled tries of 1 s are over 10 s alone, two such calls far past the 10 s timeout.
    process.env = {
      ...saved,
      ...BASE_ENV,
      QUEUE_KIND: 'fifo',
      AWS_REGION: 'eu-west-1',
      AWS_MAX_ATTEMPTS: '10',
    };

    // Act / Assess
    jest.isolateModules(() => {
      expect(() => require('../../../services/consumer/src/handlers/sqs')).toThrow(
        'consumer-fifo DynamoDB clients: 2 stalled call(s) of 10 tries',
      );
    });
  });

  it('fails at import on an AWS_MAX_ATTEMPTS that is no whole number of tries, not at each request', () => {
    // Prepare: the SDK reads it lazily and would fail every request with it.
    process.env = {
      ...saved,
      ...BASE_ENV,
      QUEUE_KIND: 'fifo',
      AWS_REGION: 'eu-west-1',
      AWS_MAX_ATTEMPTS: 'four',
    };

    // Act / Assess
    jest.isolateModules(() => {
      expect(() => require('../../../services/consumer/src/handlers/sqs')).toThrow(
        'environment variable AWS_MAX_ATTEMPTS must be a whole number of tries above 0, got "four"',
      );
    });
  });
});
