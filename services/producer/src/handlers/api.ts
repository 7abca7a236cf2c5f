import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { createDocumentClient, createSqsClient } from '../../../../shared/src/aws-clients';
import { createLogger } from '../../../../shared/src/logger';
import { DynamoLedger } from '../adapters/ledger';
import { SqsQueues } from '../adapters/queues';
import { createApiHandler, loadProducerConfig } from '../app';

// Module scope runs once per execution environment: config errors fail the cold start, and
// clients (with their keep-alive connections) are reused by every warm invocation.
const config = loadProducerConfig();
const logger = createLogger('producer');
const api = createApiHandler(config, {
  ledger: new DynamoLedger(createDocumentClient(), config.ledgerTableName),
  // The producer retries sends itself (domain/retry.ts, full jitter); the SDK's own retries under
  // that loop would turn 4 tries into 12 before the caller hears 503.
  queues: new SqsQueues(createSqsClient({ maxAttempts: 1 }), config.queueUrls),
  logger,
});

export const handler = async (
  event: APIGatewayProxyEvent,
  context: Context,
): Promise<APIGatewayProxyResult> => {
  logger.addContext(context);
  return api(event);
};
