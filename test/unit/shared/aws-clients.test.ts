import {
  CLIENT_TIMEOUT_ENV,
  checkTimeoutBudget,
  clientTimeoutsFromEnv,
  createDocumentClient,
  createDocumentClients,
  createSqsClient,
  DYNAMODB_BACKOFF_BASE_MS,
  DYNAMODB_DEFAULT_TRIES,
  LAMBDA_DYNAMODB_TIMEOUTS,
  stalledCallMs,
} from '../../../shared/src/aws-clients';
import { requestHandlerConfig } from '../support/request-handler';

describe('AWS client factory', () => {
  it('keeps the SDK default of 3 tries unless told otherwise', async () => {
    const sqs = createSqsClient({ region: 'eu-west-1' });
    expect(await sqs.config.maxAttempts()).toBe(3);
    sqs.destroy();
  });

  it('sets the tries per request for code that retries on its own', async () => {
    const sqs = createSqsClient({ region: 'eu-west-1', maxAttempts: 1 });
    const documents = createDocumentClient({ region: 'eu-west-1', maxAttempts: 2 });
    expect(await sqs.config.maxAttempts()).toBe(1);
    expect(await documents.config.maxAttempts()).toBe(2);
    sqs.destroy();
    documents.destroy();
  });

  it('points a client at an explicit endpoint and region', async () => {
    const sqs = createSqsClient({ endpoint: 'http://127.0.0.1:4566', region: 'eu-central-1' });
    expect(await sqs.config.region()).toBe('eu-central-1');
    const endpoint = await sqs.config.endpoint?.();
    expect(endpoint?.hostname).toBe('127.0.0.1');
    expect(endpoint?.port).toBe(4566);
    sqs.destroy();
  });

  it("keeps DynamoDB's own SDK default of 4 tries", async () => {
    const documents = createDocumentClient({ region: 'eu-west-1' });
    expect(await documents.config.maxAttempts()).toBe(4);
    documents.destroy();
  });

  it('makes two document clients over one request handler: the second of one try, each with its own retries', async () => {
    // Act
    const { documents, oneTry } = createDocumentClients({
      endpoint: 'http://127.0.0.1:4566',
      region: 'eu-central-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });

    // Assess: one try for the second, the default 4 still for the first; one request handler
    // (one pool of sockets); the same region, endpoint, credentials and conversion options; a
    // retry strategy (and so a retry quota) each.
    expect(oneTry).not.toBe(documents);
    expect(await oneTry.config.maxAttempts()).toBe(1);
    expect(await documents.config.maxAttempts()).toBe(4);
    expect(oneTry.config.requestHandler).toBe(documents.config.requestHandler);
    expect(await oneTry.config.region()).toBe('eu-central-1');
    expect((await oneTry.config.endpoint?.())?.port).toBe(4566);
    expect(await oneTry.config.credentials()).toMatchObject({ accessKeyId: 'a' });
    expect(oneTry.config.translateConfig).toEqual(documents.config.translateConfig);
    expect(oneTry.config.translateConfig?.marshallOptions).toEqual({ removeUndefinedValues: true });
    expect(await oneTry.config.retryStrategy()).not.toBe(await documents.config.retryStrategy());
    documents.destroy();
  });

  it('gives both clients the tries and timeouts it is given, the second still one try', async () => {
    const { documents, oneTry } = createDocumentClients({
      region: 'eu-west-1',
      maxAttempts: 2,
      connectionTimeoutMs: 300,
      requestTimeoutMs: 500,
    });
    expect(await documents.config.maxAttempts()).toBe(2);
    expect(await oneTry.config.maxAttempts()).toBe(1);
    expect(await requestHandlerConfig(oneTry)).toMatchObject({
      connectionTimeout: 300,
      requestTimeout: 500,
      throwOnRequestTimeout: true,
    });
    documents.destroy();
  });

  describe('the Lambdas’ client timeouts', () => {
    const names = CLIENT_TIMEOUT_ENV.dynamodb;

    it('takes the defaults when unset or empty, and whole ms above 0 from the environment', () => {
      expect(clientTimeoutsFromEnv('dynamodb', LAMBDA_DYNAMODB_TIMEOUTS, {})).toEqual({
        connectionTimeoutMs: 1000,
        requestTimeoutMs: 1000,
      });
      expect(
        clientTimeoutsFromEnv('dynamodb', LAMBDA_DYNAMODB_TIMEOUTS, {
          [names.connectionTimeoutMs]: ' ',
          [names.requestTimeoutMs]: '1500',
        }),
      ).toEqual({ connectionTimeoutMs: 1000, requestTimeoutMs: 1500 });
      expect(
        clientTimeoutsFromEnv(
          'sqs',
          { connectionTimeoutMs: 1000, requestTimeoutMs: 1000 },
          { SQS_CONNECTION_TIMEOUT_MS: '250', SQS_REQUEST_TIMEOUT_MS: '500' },
        ),
      ).toEqual({ connectionTimeoutMs: 250, requestTimeoutMs: 500 });
    });

    it.each(['0', '-5', '1.5', 'abc', 'Infinity'])('refuses %p at cold start', (raw) => {
      expect(() =>
        clientTimeoutsFromEnv('dynamodb', LAMBDA_DYNAMODB_TIMEOUTS, {
          [names.requestTimeoutMs]: raw,
        }),
      ).toThrow(
        `environment variable ${names.requestTimeoutMs} must be a whole number of ms above 0`,
      );
    });

    it('refuses a connection timeout longer than the request timeout that covers it', () => {
      expect(() =>
        clientTimeoutsFromEnv('dynamodb', LAMBDA_DYNAMODB_TIMEOUTS, {
          [names.connectionTimeoutMs]: '2000',
        }),
      ).toThrow('must not exceed DYNAMODB_REQUEST_TIMEOUT_MS');
    });

    it('counts a stalled call as every try’s timeout and every retry’s longest backoff', () => {
      // 4 x 1000 ms + (25 + 50 + 100) ms
      expect(
        stalledCallMs(
          DYNAMODB_DEFAULT_TRIES,
          LAMBDA_DYNAMODB_TIMEOUTS.requestTimeoutMs,
          DYNAMODB_BACKOFF_BASE_MS,
        ),
      ).toBe(4175);
      expect(stalledCallMs(1, 1000, 25)).toBe(1000);
    });

    it('passes the defaults for two calls in series in a 10 s function, and refuses 2 s tries', () => {
      const budget = {
        name: 'test',
        functionTimeoutMs: 10_000,
        callsInSeries: 2,
        tries: DYNAMODB_DEFAULT_TRIES,
        requestTimeoutMs: LAMBDA_DYNAMODB_TIMEOUTS.requestTimeoutMs,
        backoffBaseMs: DYNAMODB_BACKOFF_BASE_MS,
        roomMs: 1000,
      };
      expect(() => checkTimeoutBudget(budget)).not.toThrow();
      expect(() => checkTimeoutBudget({ ...budget, requestTimeoutMs: 2000 })).toThrow(
        'take up to 16350 ms',
      );
    });
  });
});
