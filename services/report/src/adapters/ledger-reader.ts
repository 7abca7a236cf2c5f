import { createHash } from 'node:crypto';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
  paginateQuery,
} from '@aws-sdk/lib-dynamodb';
import {
  ACCEPTED_BY_RUN,
  type AcceptedSummary,
  type ApplyCounterRecord,
  type ClockSkipRecord,
  type DeliveryRecord,
  type EffectRecord,
  type FailureRecord,
  ORDER_SK,
  orderPk,
  runPk,
  SK_PREFIX,
  shownValue,
} from '../../../../shared/src/ledger';
import { QUEUE_KINDS, type QueueKind } from '../../../../shared/src/queue-kind';
import { LedgerDataError, type ProducerSends, type RunLedger } from '../domain/metrics';
import { shortened } from './shortened';

/**
 * A ledger read DynamoDB's answers do not let end, or do not say what every answer says: one
 * line for the terminal, no stack (`expose`), as the CLI prints operational errors.
 */
export class LedgerReadError extends Error {
  readonly expose = true;
  constructor(message: string) {
    super(message.replace(/[\s\p{Cc}]+/gu, ' '));
    this.name = 'LedgerReadError';
  }
}

/** A LastEvaluatedKey as one string, its attributes in name order (a BigInt in digits). */
const keyText = (key: Record<string, unknown>): string =>
  JSON.stringify(
    Object.keys(key)
      .sort()
      .map((name) => [name, key[name]]),
    (_name, value: unknown) => (typeof value === 'bigint' ? `${value}` : value),
  );

/**
 * Pages in a row a Query may answer with no item and a LastEvaluatedKey before the report gives
 * up. DynamoDB answers a key when a page stopped at 1 MB of items read (the report sets no Limit
 * and no filter, so such a page holds items); "If LastEvaluatedKey is not empty, it does not
 * necessarily mean that there is more data in the result set" (Developer Guide, "Paginating table
 * query results"): one empty page after a key is real, the next one answering no key. Pages of
 * nothing with ever new keys are an endpoint gone wrong, and were read forever.
 */
export const EMPTY_PAGES_IN_A_ROW = 16;
/**
 * Pages one Query may answer before the report gives up: 50 GB of a run's records at DynamoDB's
 * 1 MB a page, three times the largest run `npm run load` sends. An order's records in the run's
 * partition (a receive and an effect on each queue) are some 1,650 bytes by DynamoDB's item-size
 * rules, so the largest Query (the drain's count of all of them) of a 50,000-order run is some
 * 80 pages, of a million orders some 1,600, and of the load's 10,000,000 some 16,000 before any
 * retry or duplicate: 5,000 refused every run over about three million orders. An endpoint that
 * answers a new key with a few items every time was read until the report ran out of memory.
 */
export const MAX_QUERY_PAGES = 50_000;

/**
 * The pages of one Query, each yielded as lib-dynamodb's paginator reads it, refusing answers
 * that would have it read forever (the paginator asks from whatever key a page answers; its
 * stopOnSameToken compares a key object by identity, which never repeats): a page whose
 * LastEvaluatedKey one before it answered (the same pages again, their items counted again; never
 * DynamoDB: a key it answers is the last item it read, and the next page starts after it),
 * EMPTY_PAGES_IN_A_ROW pages in a row with no item, or more than MAX_QUERY_PAGES pages. Each
 * check runs before the next page is asked for; the error names the table, the pages and items
 * seen and the last key.
 */
async function* progressingPages<P extends { LastEvaluatedKey?: Record<string, unknown> }>(
  pages: AsyncIterable<P>,
  table: string,
  what: string,
  itemsOf: (page: P) => number,
): AsyncGenerator<P> {
  const answered = new Set<string>();
  let n = 0;
  let items = 0;
  let empty = 0;
  for await (const page of pages) {
    n++;
    yield page;
    if (page.LastEvaluatedKey === undefined) return;
    const read = itemsOf(page);
    items += read;
    empty = read > 0 ? 0 : empty + 1;
    const key = keyText(page.LastEvaluatedKey);
    // Kept as a digest: a DynamoDB key is a few KB at most, but an endpoint's may be any size,
    // and up to MAX_QUERY_PAGES of them were kept whole.
    const digest = createHash('sha256').update(key).digest('base64');
    const seen = () => `${n} pages, ${items} items; last LastEvaluatedKey ${shortened(key)}`;
    if (answered.has(digest)) {
      throw new LedgerReadError(
        `the Query of table ${table} ${what} answered page ${n} with a LastEvaluatedKey it had answered before (${shortened(key)}): its pages do not progress, and reading on would never end`,
      );
    }
    if (empty === EMPTY_PAGES_IN_A_ROW) {
      throw new LedgerReadError(
        `the Query of table ${table} ${what} answered ${empty} pages in a row with no item and a new LastEvaluatedKey (${seen()}): DynamoDB answers a key with no item only after a filter, which the report sets none of, and reading on may never end`,
      );
    }
    if (n === MAX_QUERY_PAGES) {
      throw new LedgerReadError(
        `the Query of table ${table} ${what} answered ${n} pages and still a LastEvaluatedKey (${seen()}): at 1 MB a page that is 50 GB of one run's records, more than any run writes, and reading on may never end`,
      );
    }
    answered.add(digest);
  }
}

async function queryPrefix<T>(
  client: DynamoDBDocumentClient,
  table: string,
  runId: string,
  prefix: string,
  index?: typeof ACCEPTED_BY_RUN,
  check?: (item: Record<string, unknown>) => void,
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
  for await (const page of progressingPages(
    pages,
    table,
    `reading run ${runId}'s ledger items beginning ${prefix}`,
    (p) => p.Items?.length ?? 0,
  ))
    for (const item of page.Items ?? []) {
      check?.(item);
      items.push(item as T);
    }
  return items;
}

/**
 * Refuses a record read under one queue's key prefix (`DELIVERY#fifo#`, ...) whose `queue` names
 * another, or none: the report counts a record on the queue its `queue` names, so such a record
 * was counted on the other queue, and one naming no queue of the pipeline crashed the report
 * later with a TypeError. The consumer writes both from one queue.
 */
const onQueue =
  (queue: QueueKind) =>
  (item: Record<string, unknown>): void => {
    if (item.queue !== queue) {
      throw new LedgerDataError(
        item,
        `has queue ${shownValue(item.queue) ?? 'missing'}, not ${queue}, the queue its key names`,
      );
    }
  };

/**
 * What the producer recorded of one order's sends, as read by key, or LedgerDataError naming the
 * item (its pk, `ORDER#<orderId>`): an order id, and, where there, `sentMessageIds` a list of
 * message ids (a string set, another writer's, is read as one) and `messageIds` an object of
 * them by queue. A string read as a list of its characters, each a message id nobody sent.
 */
function producerSendsOf(item: Record<string, unknown>): ProducerSends {
  const named = { sk: item.pk };
  const { orderId, sentMessageIds: sent, messageIds } = item;
  if (typeof orderId !== 'string' || orderId === '') {
    throw new LedgerDataError(
      named,
      `has orderId ${shownValue(orderId) ?? 'missing'}, not an order id`,
    );
  }
  const list = sent instanceof Set ? [...sent] : sent;
  if (list !== undefined && !(Array.isArray(list) && list.every((id) => typeof id === 'string'))) {
    throw new LedgerDataError(
      named,
      `has sentMessageIds ${shownValue(list)}, not a list of message ids`,
    );
  }
  if (
    messageIds !== undefined &&
    !(
      typeof messageIds === 'object' &&
      messageIds !== null &&
      !Array.isArray(messageIds) &&
      !(messageIds instanceof Set) &&
      Object.values(messageIds).every((id) => typeof id === 'string')
    )
  ) {
    throw new LedgerDataError(
      named,
      `has messageIds ${shownValue(messageIds)}, not message ids by queue`,
    );
  }
  return {
    orderId,
    // Each once (an SDK retry of the producer's write may have appended one twice).
    ...(list ? { sentMessageIds: [...new Set(list as string[])].sort() } : {}),
    ...(messageIds ? { messageIds: messageIds as ProducerSends['messageIds'] } : {}),
  };
}

/** BatchGetItem takes at most 100 keys a request. */
const BATCH_GET_MAX = 100;
/**
 * Requests in a row that leave as many of a batch's keys unprocessed as they asked for before the
 * report gives up: BatchGetItem "returns a partial result if the response size limit is exceeded,
 * the table's provisioned throughput is exceeded, more than 1MB per partition is requested, or an
 * internal processing failure occurs", but "if none of the items can be processed due to
 * insufficient provisioned throughput on all of the tables in the request, then BatchGetItem
 * returns a ProvisionedThroughputExceededException" (API Reference), which the SDK retries itself.
 * Progress is the keys left, not the items read: an answer that brings items and leaves every key
 * unprocessed (none DynamoDB gives) counted as progress, and could be asked again forever.
 */
const BATCH_GET_ATTEMPTS = 8;
/**
 * The unprocessed keys are asked again with exponential backoff, as AWS recommends for them ("we
 * strongly recommend that you use an exponential backoff algorithm", BatchGetItem, API
 * Reference): before a batch's nth retry a pause of up to 50 ms x 2^(n-1) ("up to 50
 * milliseconds before the first retry, up to 100 milliseconds before the second, up to 200
 * milliseconds before third", Developer Guide, "Error retries and exponential backoff"), at most
 * 5 s, drawn at random below that (full jitter). A partial answer is still one to back off from:
 * the keys left were throttled or failed.
 */
const BATCH_GET_BACKOFF_BASE_MS = 50;
const BATCH_GET_BACKOFF_CAP_MS = 5000;
/**
 * The time the retries of one read may take in all, every batch's pauses and requests after its
 * first: "Set the maximum number of retries to stop around one minute" (Developer Guide, "Error
 * retries and exponential backoff"). A batch read a few keys a request is progress, but an answer
 * that serves one key at a time took a request (and a pause) per key, minutes for a few batches.
 */
export const BATCH_GET_RETRY_BUDGET_MS = 60_000;

/**
 * Orders delivered under more than one message id on a queue: the only ones whose causes need
 * what the producer recorded of its sends (a new message id is a producer re-send or a redrive).
 */
export function ordersWithSeveralMessages(deliveries: readonly DeliveryRecord[]): string[] {
  const first = new Map<string, string>();
  const several = new Set<string>();
  for (const d of deliveries) {
    const key = `${d.queue}#${d.orderId}`;
    const seen = first.get(key);
    if (seen === undefined) first.set(key, d.messageId);
    else if (seen !== d.messageId) several.add(d.orderId);
  }
  return [...several].sort();
}

/**
 * What the producer recorded of the given orders' sends, read by key from their accepted items
 * (BatchGetItem, 100 keys a request, keys DynamoDB left unprocessed asked again): the `byRun`
 * index does not project the message ids, so a send's record writes no index entry. An order
 * whose item is gone is left out (its ids unknown).
 */
export async function readProducerSends(
  client: DynamoDBDocumentClient,
  table: string,
  orderIds: readonly string[],
): Promise<ProducerSends[]> {
  const out: ProducerSends[] = [];
  /** Time spent in retries so far, each retry's pause and request: BATCH_GET_RETRY_BUDGET_MS. */
  let retryingMs = 0;
  let requests = 0;
  for (let i = 0; i < orderIds.length; i += BATCH_GET_MAX) {
    let keys: Record<string, unknown>[] | undefined = orderIds
      .slice(i, i + BATCH_GET_MAX)
      .map((id) => ({ pk: orderPk(id), sk: ORDER_SK }));
    // Requests in a row that left every key they asked for unprocessed; 0 before the first.
    let idle = 0;
    for (let attempt = 0; keys && keys.length > 0; attempt++) {
      if (idle === BATCH_GET_ATTEMPTS) {
        throw new LedgerReadError(
          `${keys.length} accepted orders of table ${table} still unread after ${idle} BatchGetItem requests in a row that each left every key it asked for unprocessed: run the report again later`,
        );
      }
      if (attempt > 0 && retryingMs >= BATCH_GET_RETRY_BUDGET_MS) {
        throw new LedgerReadError(
          `${keys.length} accepted orders of table ${table} still unread after ${requests} BatchGetItem requests: their keys came back unprocessed for ${Math.round(retryingMs / 1000)} s of retries, the report's ${BATCH_GET_RETRY_BUDGET_MS / 1000} s for them (AWS advises stopping at about one minute); run the report again later`,
        );
      }
      const retryStarted = Date.now();
      if (attempt > 0) {
        const ceiling = Math.min(
          BATCH_GET_BACKOFF_CAP_MS,
          BATCH_GET_BACKOFF_BASE_MS * 2 ** (attempt - 1),
        );
        await new Promise((r) => setTimeout(r, Math.random() * ceiling));
      }
      requests++;
      const page: BatchGetCommandOutput = await client.send(
        new BatchGetCommand({
          RequestItems: {
            [table]: {
              Keys: keys,
              // What the producer last recorded: "By default, BatchGetItem performs eventually
              // consistent reads on every table in the request" (API Reference), and a re-send is
              // recorded after SQS answered it, so after its delivery may have begun. Read
              // eventually, an id appended just before the report would count as no send.
              ConsistentRead: true,
              ProjectionExpression: '#pk, #orderId, #messageIds, #sentMessageIds',
              ExpressionAttributeNames: {
                '#pk': 'pk',
                '#orderId': 'orderId',
                '#messageIds': 'messageIds',
                '#sentMessageIds': 'sentMessageIds',
              },
            },
          },
        }),
      );
      const read = page.Responses?.[table] ?? [];
      const left = page.UnprocessedKeys?.[table]?.Keys;
      idle = (left?.length ?? 0) < keys.length ? 0 : idle + 1;
      for (const item of read) out.push(producerSendsOf(item));
      keys = left;
      if (attempt > 0) retryingMs += Date.now() - retryStarted;
    }
  }
  return out.sort((a, b) => (a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0));
}

/** Reads one run back (Query per record type, every page; accepted orders from `byRun`). */
export async function readRunLedger(
  client: DynamoDBDocumentClient,
  table: string,
  runId: string,
): Promise<RunLedger> {
  const [accepted, counters, clockSkips, ...rest] = await Promise.all([
    // A global index is eventually consistent: the report reads after the run has drained,
    // long after the last order was accepted.
    queryPrefix<AcceptedSummary>(client, table, runId, SK_PREFIX.accepted, ACCEPTED_BY_RUN),
    queryPrefix<ApplyCounterRecord>(client, table, runId, SK_PREFIX.applyCounter),
    // Written by a local run's runner, not the pipeline: none on AWS.
    queryPrefix<ClockSkipRecord>(client, table, runId, SK_PREFIX.clockSkip),
    ...QUEUE_KINDS.map((q) =>
      queryPrefix<DeliveryRecord>(
        client,
        table,
        runId,
        SK_PREFIX.delivery(q),
        undefined,
        onQueue(q),
      ),
    ),
    ...QUEUE_KINDS.map((q) =>
      queryPrefix<EffectRecord>(client, table, runId, SK_PREFIX.effect(q), undefined, onQueue(q)),
    ),
    ...QUEUE_KINDS.map((q) =>
      queryPrefix<FailureRecord>(client, table, runId, SK_PREFIX.failure(q), undefined, onQueue(q)),
    ),
  ]);
  const n = QUEUE_KINDS.length;
  const deliveries = rest.slice(0, n).flat() as DeliveryRecord[];
  return {
    accepted: accepted as AcceptedSummary[],
    deliveries,
    effects: rest.slice(n, 2 * n).flat() as EffectRecord[],
    failures: rest.slice(2 * n, 3 * n).flat() as FailureRecord[],
    counters: counters as ApplyCounterRecord[],
    ...(clockSkips.length > 0 ? { clockSkips: clockSkips as ClockSkipRecord[] } : {}),
    producerSends: await readProducerSends(client, table, ordersWithSeveralMessages(deliveries)),
  };
}

/**
 * Number of ledger items of the run (Select COUNT): the drain wait's "still growing" signal. Each
 * page's Count must be a whole number of items: one missing (or not one) read as 0, and a run
 * whose count reads 0 on every poll looks like a ledger standing still to the drain.
 */
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
  const what = `counting run ${runId}'s ledger items`;
  for await (const page of progressingPages(pages, table, what, (p) =>
    typeof p.Count === 'number' ? p.Count : 0,
  )) {
    const count: unknown = page.Count;
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
      throw new LedgerReadError(
        `the Query ${what} answered Count ${shownValue(count) ?? 'missing'}, not a count of items: the drain cannot tell whether the ledger still grows`,
      );
    }
    total += count;
  }
  return total;
}
