import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createActiveTable, keyedTable } from '../../../local/tables';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import type { QueueKind } from '../../../shared/src/queue-kind';

/**
 * The consumer's handler module run in-process against a local DynamoDB (behind a proxy, see
 * ledger-behind-proxy.ts): its idempotency table, its environment, and the module loaded afresh.
 */

const { ledger, idempotency } = pipelineConfig.tables;

/** Creates the idempotency table beside the ledger table. */
export async function createIdempotencyTable(documents: DynamoDBDocumentClient): Promise<void> {
  await createActiveTable(documents, keyedTable(idempotency.name, idempotency.partitionKey));
}

/**
 * The handler module's environment: `saved`, test credentials in eu-west-1, DynamoDB at
 * `endpoint`, no tracing, error logs only, the tables' names, and `own` (QUEUE_KIND and the
 * test's own settings).
 */
export function consumerEnv(
  saved: NodeJS.ProcessEnv,
  endpoint: string,
  own: Record<string, string>,
): NodeJS.ProcessEnv {
  return {
    ...saved,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    LEDGER_TABLE_NAME: ledger.name,
    IDEMPOTENCY_TABLE_NAME: idempotency.name,
    ...own,
  };
}

/** The consumer's handler, its module loaded afresh under process.env as it is now (a cold start). */
export function loadConsumerHandler(): (e: SQSEvent, c: Context) => Promise<SQSBatchResponse> {
  let handler!: (e: SQSEvent, c: Context) => Promise<SQSBatchResponse>;
  jest.isolateModules(() => {
    ({ handler } = require('../../../services/consumer/src/handlers/sqs'));
  });
  return handler;
}

/** A Lambda context of consumer-`queue`, invocation `id`, whose time runs out at `deadline`. */
export function contextUntil(deadline: number, id: string, queue: QueueKind = 'standard'): Context {
  return {
    functionName: `consumer-${queue}`,
    awsRequestId: id,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  } as unknown as Context;
}

/** Runs the handler with its metrics line kept off the test's output. */
export async function quietly<T>(work: () => Promise<T>): Promise<T> {
  const quiet = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    return await work();
  } finally {
    quiet.mockRestore();
  }
}
