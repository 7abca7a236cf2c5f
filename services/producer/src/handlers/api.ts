import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import {
  createDocumentClient,
  createDocumentClientBeside,
  createSqsClient,
} from '../../../../shared/src/aws-clients';
import { createLogger } from '../../../../shared/src/logger';
import { createTracing } from '../../../../shared/src/tracing';
import { DynamoLedger } from '../adapters/ledger';
import { SqsQueueLifetimes } from '../adapters/queue-lifetimes';
import { PRODUCER_SQS_CLIENT, SqsQueues } from '../adapters/queues';
import { createApiHandler } from '../app';
import { loadProducerConfig } from '../config';

// Module scope runs once per execution environment: config errors fail the cold start, and
// clients (with their keep-alive connections) are reused by every warm invocation.
const config = loadProducerConfig();
const logger = createLogger('producer');
const tracing = createTracing('producer');
// One client for the sends and the queue lifetimes, with the producer's own retry settings.
const sqs = tracing.captureClient(createSqsClient(PRODUCER_SQS_CLIENT));
// The ledger's client (the SDK's DynamoDB retries), and beside it, over the same connections,
// one of a single try for the withdrawal of a failed lease bid (DynamoLedger.withdrawBid): a
// client of its own, so its failures take nothing from the other's retry quota.
const documents = createDocumentClient();
const oneTryDocuments = createDocumentClientBeside(documents, { maxAttempts: 1 });
const api = createApiHandler(config, {
  ledger: new DynamoLedger(
    tracing.captureClient(documents),
    config.ledgerTableName,
    tracing.captureClient(oneTryDocuments),
  ),
  queues: new SqsQueues(sqs, config.queueUrls),
  lifetimes: new SqsQueueLifetimes(sqs, config.queueUrls),
  logger,
});

/** The order id an answer names, so its trace can be found by `annotation.orderId`. */
function answeredOrderId(result: APIGatewayProxyResult): string | undefined {
  try {
    const body = JSON.parse(result.body) as { orderId?: unknown };
    return typeof body.orderId === 'string' ? body.orderId : undefined;
  } catch {
    return undefined;
  }
}

export const handler = async (
  event: APIGatewayProxyEvent,
  context: Context,
): Promise<APIGatewayProxyResult> => {
  logger.addContext(context);
  return tracing.handler('producer', async () => {
    const result = await api(event, context);
    if (tracing.tracer) {
      const orderId = answeredOrderId(result);
      tracing.annotate({ status: result.statusCode, ...(orderId ? { orderId } : {}) });
    }
    return result;
  });
};
