import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createDocumentClient, createDynamoDbClient } from '../../../../shared/src/aws-clients';
import { createLogger } from '../../../../shared/src/logger';
import { createTracing } from '../../../../shared/src/tracing';
import { DynamoConsumerLedger } from '../adapters/ledger';
import { PowertoolsConsumerMetrics } from '../adapters/metrics';
import { createConsumerHandler } from '../app';
import { loadConsumerConfig } from '../config';

// Module scope runs once per execution environment: config errors fail the cold start, and
// clients (with their keep-alive connections) are reused by every warm invocation.
const config = loadConsumerConfig();
const logger = createLogger(`consumer-${config.queue}`);
const tracing = createTracing(`consumer-${config.queue}`);
const idempotencyTable = config.idempotency.tableName;
const consume = createConsumerHandler(config, {
  ledger: new DynamoConsumerLedger(
    tracing.captureClient(createDocumentClient()),
    config.ledgerTableName,
  ),
  ...(idempotencyTable
    ? {
        persistenceStore: new DynamoDBPersistenceLayer({
          tableName: idempotencyTable,
          awsSdkV3Client: tracing.captureClient(createDynamoDbClient()),
        }),
      }
    : {}),
  logger,
  metrics: new PowertoolsConsumerMetrics(config.queue),
  traceRecord: (annotations, work) => tracing.subsegment('record', annotations, work),
});

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  return tracing.handler(`consumer-${config.queue}`, () => consume(event, context));
};
