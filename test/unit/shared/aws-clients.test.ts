import { createDocumentClient, createSqsClient } from '../../../shared/src/aws-clients';

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
});
