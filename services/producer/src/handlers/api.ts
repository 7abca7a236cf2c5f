import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import {
  checkTimeoutBudget,
  clientTimeoutsFromEnv,
  createDocumentClients,
  createSqsClient,
  DYNAMODB_BACKOFF_BASE_MS,
  dynamoDbTriesFromEnv,
  LAMBDA_DYNAMODB_TIMEOUTS,
} from '../../../../shared/src/aws-clients';
import { createLogger } from '../../../../shared/src/logger';
import { createTracing } from '../../../../shared/src/tracing';
import { DynamoLedger } from '../adapters/ledger';
import { SqsQueueLifetimes } from '../adapters/queue-lifetimes';
import { PRODUCER_SQS_CLIENT, SqsQueues } from '../adapters/queues';
import { createApiHandler } from '../app';
import { loadProducerConfig } from '../config';
import { DEFAULT_RETRY } from '../domain/retry';

// Module scope runs once per execution environment: config errors fail the cold start, and
// clients (with their keep-alive connections) are reused by every warm invocation.
const config = loadProducerConfig();
const logger = createLogger('producer');
const tracing = createTracing('producer');
// Every client has a connection and a request timeout, so an endpoint that accepts and never
// answers fails a try with a TimeoutError instead of holding the request to the function's
// timeout (and API Gateway's 29 s). Both can be set by environment variable; the defaults and
// their arithmetic are in shared/src/aws-clients.ts (LAMBDA_DYNAMODB_TIMEOUTS) and
// adapters/queues.ts (PRODUCER_SQS_CLIENT): a stalled DynamoDB call ends by 4 x 1 s + 175 ms of
// backoff, a stalled send by 4 x 1 s + 350 ms, both well inside the function's 10 s.
const dynamoDbTimeouts = clientTimeoutsFromEnv('dynamodb', LAMBDA_DYNAMODB_TIMEOUTS);
// Two stalled DynamoDB calls in series (a claim and its bid's one-try withdrawal take less) must
// end a second before the function's timeout, so the request is answered, not cut off.
checkTimeoutBudget({
  name: 'producer DynamoDB client',
  functionTimeoutMs: config.timeoutMs,
  callsInSeries: 2,
  tries: dynamoDbTriesFromEnv(),
  requestTimeoutMs: dynamoDbTimeouts.requestTimeoutMs,
  backoffBaseMs: DYNAMODB_BACKOFF_BASE_MS,
  roomMs: 1000,
});
// One client for the sends and the queue lifetimes, with the producer's own retry settings: one
// SDK try a call, 4 in the producer's loop (domain/retry.ts), backoff at most 50 x 2^n ms.
const sqsTimeouts = clientTimeoutsFromEnv('sqs', PRODUCER_SQS_CLIENT);
checkTimeoutBudget({
  name: 'producer SQS client',
  functionTimeoutMs: config.timeoutMs,
  callsInSeries: 1,
  tries: DEFAULT_RETRY.attempts,
  requestTimeoutMs: sqsTimeouts.requestTimeoutMs,
  backoffBaseMs: DEFAULT_RETRY.baseDelayMs,
  roomMs: 1000,
});
const sqs = tracing.captureClient(createSqsClient({ ...PRODUCER_SQS_CLIENT, ...sqsTimeouts }));
// The ledger's client (the SDK's DynamoDB retries), and beside it, over the same connections
// and with the same timeouts, one of a single try for the withdrawal of a failed lease bid
// (DynamoLedger.withdrawBid): a client of its own, so its failures take nothing from the
// other's retry quota.
const { documents, oneTry } = createDocumentClients(dynamoDbTimeouts);
const api = createApiHandler(config, {
  ledger: new DynamoLedger(
    tracing.captureClient(documents),
    config.ledgerTableName,
    tracing.captureClient(oneTry),
    logger,
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
