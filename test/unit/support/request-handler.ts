import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * The options a client's request handler was made with (NodeHttpHandler keeps them in a promise,
 * `configProvider`, it does not expose in its type): its timeouts, as the SDK will apply them.
 */
export const requestHandlerConfig = (client: DynamoDBDocumentClient): Promise<unknown> =>
  (client.config.requestHandler as unknown as { configProvider: Promise<unknown> }).configProvider;
