import { type DynamoDBDocumentClient, paginateQuery } from '@aws-sdk/lib-dynamodb';
import { QUEUE_KINDS } from '../../../../shared/src/config/pipeline';
import {
  ACCEPTED_BY_RUN,
  type AcceptedSummary,
  type ApplyCounterRecord,
  type DeliveryRecord,
  type EffectRecord,
  type FailureRecord,
  runPk,
  SK_PREFIX,
} from '../../../../shared/src/ledger';
import type { RunLedger } from '../domain/metrics';

async function queryPrefix<T>(
  client: DynamoDBDocumentClient,
  table: string,
  runId: string,
  prefix: string,
  index?: typeof ACCEPTED_BY_RUN,
): Promise<T[]> {
  const items: T[] = [];
  const [pk, sk] = index ? [index.partitionKey, index.sortKey] : ['pk', 'sk'];
  const pages = paginateQuery(
    { client },
    {
      TableName: table,
      ...(index ? { IndexName: index.indexName } : {}),
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': pk, '#sk': sk },
      ExpressionAttributeValues: { ':pk': runPk(runId), ':prefix': prefix },
    },
  );
  for await (const page of pages) for (const item of page.Items ?? []) items.push(item as T);
  return items;
}

/** Reads one run back (Query per record type, every page; accepted orders from `byRun`). */
export async function readRunLedger(
  client: DynamoDBDocumentClient,
  table: string,
  runId: string,
): Promise<RunLedger> {
  const [accepted, counters, ...rest] = await Promise.all([
    // A global index is eventually consistent: the report reads after the run has drained,
    // long after the last order was accepted.
    queryPrefix<AcceptedSummary>(client, table, runId, SK_PREFIX.accepted, ACCEPTED_BY_RUN),
    queryPrefix<ApplyCounterRecord>(client, table, runId, SK_PREFIX.applyCounter),
    ...QUEUE_KINDS.map((q) =>
      queryPrefix<DeliveryRecord>(client, table, runId, SK_PREFIX.delivery(q)),
    ),
    ...QUEUE_KINDS.map((q) => queryPrefix<EffectRecord>(client, table, runId, SK_PREFIX.effect(q))),
    ...QUEUE_KINDS.map((q) =>
      queryPrefix<FailureRecord>(client, table, runId, SK_PREFIX.failure(q)),
    ),
  ]);
  const n = QUEUE_KINDS.length;
  return {
    accepted: accepted as AcceptedSummary[],
    deliveries: rest.slice(0, n).flat() as DeliveryRecord[],
    effects: rest.slice(n, 2 * n).flat() as EffectRecord[],
    failures: rest.slice(2 * n, 3 * n).flat() as FailureRecord[],
    counters: counters as ApplyCounterRecord[],
  };
}

/** Number of ledger items of the run (Select COUNT): the drain wait's "still growing" signal. */
export async function countRunItems(
  client: DynamoDBDocumentClient,
  table: string,
  runId: string,
): Promise<number> {
  let total = 0;
  const pages = paginateQuery(
    { client },
    {
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': runPk(runId) },
      Select: 'COUNT',
    },
  );
  for await (const page of pages) total += page.Count ?? 0;
  return total;
}
