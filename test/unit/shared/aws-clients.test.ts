import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  createDocumentClient,
  createDocumentClientBeside,
  createSqsClient,
  madeByCreateDocumentClient,
} from '../../../shared/src/aws-clients';

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

  it('makes a document client beside another: its own tries, the same target and connections', async () => {
    // Prepare
    const documents = createDocumentClient({
      endpoint: 'http://127.0.0.1:4566',
      region: 'eu-central-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });

    // Act
    const oneTry = createDocumentClientBeside(documents, { maxAttempts: 1 });

    // Assess: one try for it, the default 4 still for the first; one request handler (one pool
    // of sockets); the same region, endpoint, credentials and conversion options.
    expect(oneTry).not.toBe(documents);
    expect(await oneTry.config.maxAttempts()).toBe(1);
    expect(await documents.config.maxAttempts()).toBe(4);
    expect(oneTry.config.requestHandler).toBe(documents.config.requestHandler);
    expect(await oneTry.config.region()).toBe('eu-central-1');
    expect((await oneTry.config.endpoint?.())?.port).toBe(4566);
    expect(await oneTry.config.credentials()).toMatchObject({ accessKeyId: 'a' });
    expect(oneTry.config.translateConfig).toEqual(documents.config.translateConfig);
    expect(await oneTry.config.retryStrategy()).not.toBe(await documents.config.retryStrategy());
    expect(madeByCreateDocumentClient(oneTry)).toBe(true);
    documents.destroy();
  });

  it('refuses to make a client beside one it did not make', () => {
    const foreign = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
    expect(madeByCreateDocumentClient(foreign)).toBe(false);
    expect(() => createDocumentClientBeside(foreign, { maxAttempts: 1 })).toThrow(
      'not made by createDocumentClient',
    );
    foreign.destroy();
  });
});
