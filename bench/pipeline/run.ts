import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { BatchWriteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { runOnLocalCloud } from '../../lab/local-run';
import { type CloudUsage, DEFAULT_FUNCTION_NICE, type LocalCloud } from '../../local/cloud';
import { DYNAMODB_ENGINES, type DynamoDbEngine, startDynamoDb } from '../../local/dynamodb';
import { MAX_NICE } from '../../local/function-runtime';
import { createActiveTable, keyedTable } from '../../local/tables';
import type { ThreadStats } from '../../local/thread-stats';
import {
  createDocumentClient,
  createDynamoDbClient,
  LOCAL_CREDENTIALS,
} from '../../shared/src/aws-clients';
import {
  type CommandSpec,
  choiceOption,
  intOption,
  parseCommandLine,
  runMain,
} from '../../shared/src/cli/args';
import { pipelineConfig } from '../../shared/src/config/pipeline';
import { QUEUE_KINDS } from '../../shared/src/queue-kind';
import { freshSeed } from '../../shared/src/random';
import { lambdaBatches, renderUsageTable, summariseUsage } from './usage-table';

/**
 * End-to-end pipeline throughput against the floor DynamoDB sets on this machine, and what each
 * order costs in requests, billed DynamoDB units and thread time.
 *
 * 1. Pipeline: N orders over M customers through both queues of an in-process local cloud (SQS
 *    faults off, no client retries), orders/s from the first accept to the last effect on the
 *    slower queue. The cloud's usage is read when the load starts and when both queues are
 *    first found empty: requests per order by surface and operation, billed units, busy share
 *    of every thread, process CPU.
 * 2. Floor: the same number of item writes and reads (PutItem, UpdateItem, GetItem, and
 *    BatchWriteItem with the pipeline's mean items per batch write; items of the ledger's shape and
 *    the same hot keys: per-customer counters) sent straight at a fresh
 *    dynalite (in its own thread, as in the local cloud) with the SDK, at the concurrency the
 *    pipeline runs (producer clients + both consumers' maximum concurrency). The drain's and the
 *    report's Queries are left out.
 */
export const SPEC: CommandSpec = {
  usage: 'npm run bench:pipeline -- [options]',
  summary:
    'Pipeline orders/s end to end vs the same DynamoDB writes straight at dynalite (or, with --dynamodb prototype, at the prototype store).',
  options: {
    orders: { type: 'string', value: '<n>', description: 'orders', default: '10000' },
    customers: {
      type: 'string',
      value: '<m>',
      description: 'customers (message groups)',
      default: '100',
    },
    seed: { type: 'string', value: '<s>', description: 'seed (printed)' },
    dynamodb: {
      type: 'string',
      value: `<${DYNAMODB_ENGINES.join('|')}>`,
      description:
        'what serves DynamoDB, in the pipeline and the floor: dynalite, or prototype: the in-memory prototype of the pipeline subset (measuring only; docs/benchmarks.md)',
      default: 'dynalite',
    },
    'function-nice': {
      type: 'string',
      value: '<0..19>',
      description: `nice value of the function environments' threads on Linux, 0 = unchanged (measuring only; the local cloud's default is ${DEFAULT_FUNCTION_NICE})`,
    },
  },
};

const LOAD_CONCURRENCY = 16;
const REPLAYED = ['PutItem', 'UpdateItem', 'GetItem', 'BatchWriteItem'] as const;
type Replayed = (typeof REPLAYED)[number];

async function floor(
  ops: Record<Replayed, number>,
  customers: number,
  concurrency: number,
  itemsPerBatchWrite: number,
  engine: DynamoDbEngine,
): Promise<{ ms: number; total: number }> {
  // DynamoDB as the pipeline's functions reach it: its own thread, its private port.
  const db = await startDynamoDb({ engine });
  const client = { endpoint: db.url, region: 'us-east-1', credentials: LOCAL_CREDENTIALS };
  const raw = createDynamoDbClient({ ...client, maxSockets: concurrency });
  const docs = createDocumentClient({ ...client, maxSockets: concurrency });
  const table = pipelineConfig.tables.ledger.name;
  try {
    await createActiveTable(raw, keyedTable(table, 'pk', 'sk'));
    // The plan: every replayed request of the pipeline, interleaved the way they come.
    const plan: Replayed[] = [];
    const left = { ...ops };
    while (REPLAYED.some((op) => left[op] > 0)) {
      for (const op of REPLAYED) if (left[op]-- > 0) plan.push(op);
    }
    const item = (i: number) => ({
      pk: 'RUN#bench-floor',
      sk: `DELIVERY#standard#${randomUUID()}#${i}`,
      type: 'delivery',
      orderId: randomUUID(),
      customerId: `c-${i % customers}`,
      sequence: i,
      messageId: randomUUID(),
      receiveCount: 1,
      sentAt: Date.now(),
      receivedAt: Date.now(),
      outcome: 'pending',
      items: [{ sku: 'sku-1', quantity: 2, unitPrice: 5 }],
    });
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < plan.length; i = next++) {
          const op = plan[i]!;
          if (op === 'PutItem') {
            await docs.send(
              new PutCommand({
                TableName: table,
                Item: item(i),
                ConditionExpression: 'attribute_not_exists(pk)',
              }),
            );
          } else if (op === 'UpdateItem') {
            await docs.send(
              new UpdateCommand({
                TableName: table,
                Key: { pk: 'RUN#bench-floor', sk: `COUNTER#apply#standard#c-${i % customers}` },
                UpdateExpression: 'ADD #v :one',
                ExpressionAttributeNames: { '#v': 'value' },
                ExpressionAttributeValues: { ':one': 1 },
              }),
            );
          } else if (op === 'BatchWriteItem') {
            await docs.send(
              new BatchWriteCommand({
                RequestItems: {
                  [table]: Array.from({ length: itemsPerBatchWrite }, (_, k) => ({
                    PutRequest: { Item: item(i * 25 + k) },
                  })),
                },
              }),
            );
          } else {
            await docs.send(
              new GetCommand({
                TableName: table,
                Key: { pk: 'RUN#bench-floor', sk: `COUNTER#apply#standard#c-${i % customers}` },
              }),
            );
          }
        }
      }),
    );
    return { ms: performance.now() - t0, total: plan.length };
  } finally {
    raw.destroy();
    docs.destroy();
    await db.close();
  }
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  const v = parseCommandLine(SPEC, argv);
  const orders = intOption(v, 'orders', { min: 100, max: 1_000_000 })!;
  const customers = intOption(v, 'customers', { min: 1, max: 100_000 })!;
  const seed = intOption(v, 'seed', { min: 0, max: 0xffffffff }) ?? freshSeed();
  const engine = choiceOption(v, 'dynamodb', DYNAMODB_ENGINES)!;
  const functionNice =
    intOption(v, 'function-nice', { min: 0, max: MAX_NICE }) ?? DEFAULT_FUNCTION_NICE;
  const say = (line: string) => process.stderr.write(`${line}\n`);
  say(
    `bench:pipeline ${orders} orders, ${customers} customers, seed ${seed}, DynamoDB ${engine}, function nice ${functionNice}; node ${process.version}, ${cpus().length} cpus, load average ${loadavg()
      .map((n) => n.toFixed(1))
      .join(' ')}, ${new Date().toISOString()}`,
  );

  let nextTenth = 1;
  let cloud: LocalCloud | undefined;
  type Reading = {
    usage: CloudUsage;
    at: number;
    stats: Promise<Record<string, ThreadStats>>;
    mappings: ReturnType<LocalCloud['mappingStats']>;
  };
  /** The cloud's counters now: the window's start and end are two readings. */
  const read = (c: LocalCloud): Reading => ({
    usage: c.usage(),
    at: performance.now(),
    stats: c.threadStats(),
    mappings: c.mappingStats(),
  });
  let start: Reading | undefined;
  let end: Reading | undefined;
  const run = await runOnLocalCloud({
    runId: `bench-${seed}`,
    seed,
    orders,
    customers,
    retryRate: 0,
    faults: 'none',
    dynamodb: engine,
    functionNice,
    concurrency: LOAD_CONCURRENCY,
    drainTimeoutMs: 30 * 60_000,
    onCloud: (c) => {
      cloud = c;
      start = read(c);
    },
    onLoadProgress: (p) => {
      if (p.done * 10 >= nextTenth * p.total) {
        say(`pipeline: sent ${p.done}/${p.total}`);
        nextTenth = Math.floor((p.done * 10) / p.total) + 1;
      }
    },
    // The window ends at the first drain poll that finds both queues empty: every order has been
    // processed and deleted, and the report's own reads have not started.
    onDrainProgress: (s) => {
      if (!end && cloud && QUEUE_KINDS.every((q) => s.queued[q] === 0)) {
        end = read(cloud);
      }
    },
  });
  // Read before the floor's own dynalite starts: the pipeline run's peak.
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  const report = run.data.report;
  for (const q of QUEUE_KINDS) {
    if (report.queues[q].processed !== orders) {
      const m = report.queues[q];
      say(
        `pipeline run incomplete on ${q}: ${m.processed}/${orders} processed, ${m.inDlq} in its DLQ, ${m.lost} lost; ${m.duplicateCauses.retryAfterFailure} retries after a failed or timed-out attempt`,
      );
      return 1;
    }
  }
  if (!start || !end) {
    say('pipeline run ended without a usage reading');
    return 1;
  }
  // Both queues run at once on the same orders: end to end is the slower queue's rate.
  const pipelineRate = Math.min(...QUEUE_KINDS.map((q) => report.queues[q].throughputPerSec));
  const usage = {
    ...summariseUsage(
      start.usage,
      end.usage,
      orders,
      end.at - start.at,
      { start: await start.stats, end: await end.stats },
      // Each claim writes one entry of the `byRun` index (under 1 KB: 1 WRU); recording the sends
      // changes no attribute the index projects, so it writes none.
      1,
      peakRssMb,
    ),
    // Records per Lambda batch by queue: the consumers' two batch writes per batch are what
    // a small batch multiplies.
    batches: lambdaBatches(start.mappings, end.mappings),
  };
  const ops = Object.fromEntries(
    REPLAYED.map((op) => [op, Math.round((usage.dynamodb.byOperation[op] ?? 0) * orders)]),
  ) as Record<Replayed, number>;
  const concurrency =
    LOAD_CONCURRENCY +
    QUEUE_KINDS.reduce((n, q) => n + pipelineConfig.consumers[q].maximumConcurrency, 0);
  // Faults off, every order's delivery record is batch-written twice on each queue (when its
  // batch arrives, and with its outcome), so that many items over the batch writes per order.
  const batchWrites = usage.dynamodb.byOperation.BatchWriteItem ?? 0;
  const itemsPerBatchWrite =
    batchWrites > 0 ? Math.max(1, Math.round((2 * QUEUE_KINDS.length) / batchWrites)) : 1;
  say(`pipeline: ${pipelineRate} orders/s`);
  // Faults off, every delivery succeeds the first time: a retry here means an invocation failed
  // or timed out under the machine's load, which a lever (thread priorities) could cause.
  say(
    `pipeline: retries after a failed or timed-out attempt ${QUEUE_KINDS.map((q) => `${q} ${report.queues[q].duplicateCauses.retryAfterFailure}`).join(', ')}; in DLQ ${QUEUE_KINDS.map((q) => `${q} ${report.queues[q].inDlq}`).join(', ')}`,
  );
  say(
    `floor (${engine}): replaying ${REPLAYED.map((op) => `${ops[op]} ${op}`).join(', ')} (${itemsPerBatchWrite} items a batch write) at concurrency ${concurrency}`,
  );
  const f = await floor(ops, customers, concurrency, itemsPerBatchWrite, engine);
  process.stdout.write(
    `\n${renderUsageTable(usage, {
      pipeline: pipelineRate,
      perQueue: Object.fromEntries(QUEUE_KINDS.map((q) => [q, report.queues[q].throughputPerSec])),
      floor: {
        rate: orders / (f.ms / 1000),
        requests: f.total,
        seconds: f.ms / 1000,
        ...(engine === 'prototype' ? { store: 'the DynamoDB prototype' } : {}),
      },
    })}`,
  );
  return 0;
}

if (require.main === module) runMain(() => main(), SPEC);
