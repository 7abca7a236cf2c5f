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
  queues: new SqsQueues(createSqsClient(), config.queueUrls),
  logger,
});

export const handler = async (
  event: APIGatewayProxyEvent,
  context: Context,
): Promise<APIGatewayProxyResult> => {
  logger.addContext(context);
  return api(event);
};
