import type { CloudUsage } from '../../local/cloud';
import type { MappingStats } from '../../local/event-source';
import type { ThreadStats } from '../../local/thread-stats';

/**
 * What bench:pipeline prints, computed from two readings of the local cloud's usage (at the start
 * of the load and once both queues are empty): per-order request counts by surface and operation,
 * the DynamoDB units AWS would bill for them, and how busy each thread was. Pure, so the checks
 * it prints are unit-tested with made-up readings.
 */

/**
 * DynamoDB on-demand request prices, Standard table class, US East (N. Virginia), in force since
 * the on-demand price cut of 1 November 2024 (AWS's DynamoDB on-demand pricing page; the figures
 * as quoted in July and August 2025). Units: 1 WRU writes up to 1 KB, 1 RRU reads up to 4 KB
 * strongly consistent (half for eventually consistent).
 */
export const ON_DEMAND_PRICES = {
  region: 'us-east-1',
  tableClass: 'Standard',
  asOf: '2024-11-01',
  usdPerMillionWriteUnits: 0.625,
  usdPerMillionReadUnits: 0.125,
} as const;

/** Operations of the drain wait and the report (not of the pipeline), shown apart. */
const MONITORING = {
  sqs: new Set(['GetQueueAttributes', 'GetQueueUrl', 'ListQueues']),
  dynamodb: new Set(['Query', 'Scan', 'DescribeTable', 'ListTables']),
} as const;

export interface ThreadBusy {
  thread: string;
  /** Active event-loop time over the window's wall time, 0..1. */
  busy: number;
}

export interface UsageSummary {
  orders: number;
  windowMs: number;
  /** Per order, pipeline operations only. */
  dynamodb: { byOperation: Record<string, number>; total: number };
  /** Per order. */
  readUnits: number;
  writeUnits: number;
  /** Per order, included in `writeUnits`: index entries AWS bills that the local cloud does not count. */
  indexWriteUnits: number;

  conditionalCheckFailures: number;
  costPerMillionOrdersUsd: number;
  http: {
    gateway: number;
    sqs: { byOperation: Record<string, number>; total: number };
    dynamodb: number;
    /** Drain polls and report reads in the window, per order, not counted above. */
    monitoring: Record<string, number>;
  };
  /** Per order: the event source mappings' SQS calls made in process, not over HTTP. */
  sqsInProcess: { byOperation: Record<string, number>; total: number };
  connections: Record<string, number>;
  threads: ThreadBusy[];
  /** Process CPU (all threads) over the window, in cores. */
  cores: number;
  /** CPU milliseconds per order by thread group (function environments summed), when known. */
  cpuPerOrderMs?: Record<string, number>;
  /** V8 heap per thread group at the end of the window: threads, mean and total MiB. */
  heap?: Record<string, { threads: number; meanMb: number; totalMb: number }>;
  /** The same heaps by V8 space, summed over every thread (where the threads reported them). */
  heapBySpace?: HeapBySpace;
  /** The process's peak resident set (every thread), MiB, when known. */
  peakRssMb?: number;
  /** Process CPU milliseconds per order. */
  processCpuPerOrderMs: number;
  balance: BalanceCheck;
  /** Lambda batches in the window by queue, when the run read the mappings (lambdaBatches). */
  batches?: Record<string, QueueBatches>;
}

/** One mapping's invocations in the window: how many, the records they carried, by batch size. */
export interface QueueBatches {
  invocations: number;
  records: number;
  /** Invocations by records in their event, in BATCH_BUCKETS' ranges (every range, 0 too). */
  byBucket: Record<string, number>;
  /** Distinct message groups summed over the invocations (MappingStats.messageGroups). */
  messageGroups: number;
  /** Invocations whose batch was taken with every other poller holding one (MappingStats). */
  atMaximumConcurrency: number;
}

/** Ranges of records per invocation the row counts (Lambda's SQS batch size is 1..10 here). */
export const BATCH_BUCKETS: ReadonlyArray<readonly [number, number]> = [
  [1, 1],
  [2, 3],
  [4, 6],
  [7, 10],
];

const bucketName = ([lo, hi]: readonly [number, number]) => (lo === hi ? `${lo}` : `${lo}-${hi}`);

/**
 * Each mapping's invocations between two readings of cloud.mappingStats(): their count, the
 * records they carried and how many carried 1, 2-3, 4-6 or 7-10 (any above 10 under "11+"), the
 * message groups in them and how many were taken at the mapping's maximum concurrency.
 */
export function lambdaBatches(
  start: Partial<Record<string, MappingStats>>,
  end: Partial<Record<string, MappingStats>>,
): Record<string, QueueBatches> {
  const out: Record<string, QueueBatches> = {};
  for (const [queue, e] of Object.entries(end)) {
    if (!e) continue;
    const s = start[queue];
    const byBucket = Object.fromEntries(BATCH_BUCKETS.map((b) => [bucketName(b), 0]));
    let invocations = 0;
    let records = 0;
    for (const [size, n] of Object.entries(e.invocationsByRecords)) {
      const count = n - (s?.invocationsByRecords[Number(size)] ?? 0);
      if (count === 0) continue;
      const bucket = BATCH_BUCKETS.find(([lo, hi]) => Number(size) >= lo && Number(size) <= hi);
      const name = bucket ? bucketName(bucket) : '11+';
      byBucket[name] = (byBucket[name] ?? 0) + count;
      invocations += count;
      records += count * Number(size);
    }
    out[queue] = {
      invocations,
      records,
      byBucket,
      messageGroups: e.messageGroups - (s?.messageGroups ?? 0),
      atMaximumConcurrency: e.atMaximumConcurrency - (s?.atMaximumConcurrency ?? 0),
    };
  }
  return out;
}

export interface BalanceCheck {
  met: boolean;
  busiest: ThreadBusy | undefined;
  idlest: ThreadBusy | undefined;
}

const diff = (a: Record<string, number>, b: Record<string, number>): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(a)) {
    const d = v - (b[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
};

const sum = (m: Record<string, number>) => Object.values(m).reduce((n, v) => n + v, 0);

/** Two counts by operation added key by key. */
const sumBy = (a: Record<string, number>, b: Record<string, number>) => {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
};

const perOrder = (m: Record<string, number>, orders: number) =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v / orders]));

/**
 * The issue's target for the local cloud's parts: none above 90% busy while another is below
 * 50%, i.e. no thread is the bottleneck while another waits. Parts are the threads that worked
 * in the window (an environment that never ran an invocation is not a part that waits).
 */
export function balanceCheck(threads: ThreadBusy[], high = 0.9, low = 0.5): BalanceCheck {
  const sorted = [...threads].sort((a, b) => b.busy - a.busy);
  const busiest = sorted[0];
  const idlest = sorted.at(-1);
  const met = !(busiest && idlest && busiest.busy > high && idlest.busy < low);
  return { met, busiest, idlest };
}

const groupOf = (thread: string) => thread.replace(/#\d+$/, '');

/** CPU per order by thread group: a function's environments add up to one figure. */
export function cpuPerOrder(
  start: Record<string, ThreadStats>,
  end: Record<string, ThreadStats>,
  orders: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [thread, stats] of Object.entries(end)) {
    if (stats.cpuMs === undefined) continue;
    const group = groupOf(thread);
    out[group] = (out[group] ?? 0) + (stats.cpuMs - (start[thread]?.cpuMs ?? 0)) / orders;
  }
  return out;
}

export type HeapBySpace = NonNullable<ThreadStats['spacesMb']>;

/** The threads' heaps by V8 space, summed; undefined when no thread reported its spaces. */
export function heapBySpace(stats: Record<string, ThreadStats>): HeapBySpace | undefined {
  let out: HeapBySpace | undefined;
  for (const s of Object.values(stats)) {
    if (!s.spacesMb) continue;
    out ??= { new: 0, old: 0, code: 0, large: 0, other: 0, malloced: 0 };
    for (const k of Object.keys(out) as Array<keyof HeapBySpace>) out[k] += s.spacesMb[k];
  }
  return out;
}

/** Heap per thread group: how many threads, their mean and their total. */
export function heapByGroup(
  stats: Record<string, ThreadStats>,
): Record<string, { threads: number; meanMb: number; totalMb: number }> {
  const out: Record<string, { threads: number; meanMb: number; totalMb: number }> = {};
  for (const [thread, s] of Object.entries(stats)) {
    const name = groupOf(thread);
    const g = out[name] ?? { threads: 0, meanMb: 0, totalMb: 0 };
    out[name] = g;
    g.threads++;
    g.totalMb += s.heapMb;
    g.meanMb = g.totalMb / g.threads;
  }
  return out;
}

export function summariseUsage(
  start: CloudUsage,
  end: CloudUsage,
  orders: number,
  windowMs: number,
  threadStats?: { start: Record<string, ThreadStats>; end: Record<string, ThreadStats> },
  indexWriteUnitsPerOrder = 0,
  peakRssMb?: number,
): UsageSummary {
  const dynamoAll = diff(end.http.dynamodb, start.http.dynamodb);
  const sqsAll = diff(end.http.sqs, start.http.sqs);
  const sqsInProcess = diff(end.sqsInProcess ?? {}, start.sqsInProcess ?? {});
  const pick = (m: Record<string, number>, keep: (op: string) => boolean) =>
    Object.fromEntries(Object.entries(m).filter(([op]) => keep(op)));
  const dynamo = pick(dynamoAll, (op) => !MONITORING.dynamodb.has(op));
  const sqs = pick(sqsAll, (op) => !MONITORING.sqs.has(op));
  const monitoring = {
    ...pick(sqsAll, (op) => MONITORING.sqs.has(op)),
    ...pick(dynamoAll, (op) => MONITORING.dynamodb.has(op)),
  };
  // Units of the item operations only (Query units are not counted by the local cloud).
  const readUnits = sum(diff(end.dynamodb.readUnits, start.dynamodb.readUnits)) / orders;
  const ccf =
    sum(diff(end.dynamodb.conditionalCheckFailures, start.dynamodb.conditionalCheckFailures)) /
    orders;
  // dynalite bills a write to the table alone; AWS also bills each index entry it writes.
  const writeUnits =
    sum(diff(end.dynamodb.writeUnits, start.dynamodb.writeUnits)) / orders +
    ccf +
    indexWriteUnitsPerOrder;
  const cost =
    writeUnits * ON_DEMAND_PRICES.usdPerMillionWriteUnits +
    readUnits * ON_DEMAND_PRICES.usdPerMillionReadUnits;

  const before = new Map(start.threads.map((t) => [t.thread, t.elu.active]));
  const threads = end.threads
    .map((t) => ({
      thread: t.thread,
      busy: Math.min(1, (t.elu.active - (before.get(t.thread) ?? 0)) / windowMs),
    }))
    .filter((t) => t.busy > 0);
  const cpuUs = end.cpu.user + end.cpu.system - (start.cpu.user + start.cpu.system);

  return {
    orders,
    windowMs,
    dynamodb: { byOperation: perOrder(dynamo, orders), total: sum(dynamo) / orders },
    readUnits,
    writeUnits,
    indexWriteUnits: indexWriteUnitsPerOrder,
    conditionalCheckFailures: ccf,
    costPerMillionOrdersUsd: cost,
    http: {
      gateway: (end.http.gateway - start.http.gateway) / orders,
      sqs: { byOperation: perOrder(sqs, orders), total: sum(sqs) / orders },
      dynamodb: sum(dynamo) / orders,
      monitoring: perOrder(monitoring, orders),
    },
    sqsInProcess: {
      byOperation: perOrder(sqsInProcess, orders),
      total: sum(sqsInProcess) / orders,
    },
    connections: diff(end.connections, start.connections),
    threads,
    cores: cpuUs / 1000 / windowMs,
    ...(threadStats
      ? {
          cpuPerOrderMs: cpuPerOrder(threadStats.start, threadStats.end, orders),
          heap: heapByGroup(threadStats.end),
        }
      : {}),
    ...(threadStats && heapBySpace(threadStats.end)
      ? { heapBySpace: heapBySpace(threadStats.end) }
      : {}),
    ...(peakRssMb !== undefined ? { peakRssMb } : {}),
    processCpuPerOrderMs: cpuUs / 1000 / orders,
    balance: balanceCheck(threads),
  };
}

const fmt = (n: number, digits = 2) => n.toFixed(digits);
const pct = (n: number) => `${Math.round(n * 100)}%`;
const list = (m: Record<string, number>, digits = 2) =>
  Object.entries(m)
    .sort(([, a], [, b]) => b - a)
    .map(([k, v]) => `${k} ${fmt(v, digits)}`)
    .join(', ');

/** Threads of one function collapse into one row: their count, mean and highest busy share. */
function threadRows(threads: ThreadBusy[]): string[][] {
  const groups = new Map<string, ThreadBusy[]>();
  for (const t of threads) {
    const name = t.thread.replace(/#\d+$/, '');
    groups.set(name, [...(groups.get(name) ?? []), t]);
  }
  return [...groups.entries()].map(([name, ts]) => {
    if (ts.length === 1) return [`busy: ${name}`, pct(ts[0]!.busy), 'event-loop utilisation'];
    const mean = ts.reduce((n, t) => n + t.busy, 0) / ts.length;
    const max = Math.max(...ts.map((t) => t.busy));
    return [`busy: ${name} (${ts.length} environments)`, pct(mean), `mean; highest ${pct(max)}`];
  });
}

/** The records-per-batch row: each queue's mean, then its counts and invocations by bucket. */
function batchesRow(batches: Record<string, QueueBatches>): string[] {
  const queues = Object.entries(batches);
  const mean = ({ records, invocations }: QueueBatches) =>
    invocations > 0 ? fmt(records / invocations) : '-';
  const groups = ({ messageGroups, invocations }: QueueBatches) =>
    invocations > 0 ? fmt(messageGroups / invocations) : '-';
  const buckets = (b: QueueBatches) =>
    Object.entries(b.byBucket)
      .map(([k, n]) => `${k}: ${n}`)
      .join(', ');
  return [
    'records per Lambda batch, by queue',
    queues.map(([q, b]) => `${q} ${mean(b)}`).join(', '),
    `${queues
      .map(
        ([q, b]) =>
          `${q} ${b.records} records in ${b.invocations} invocations (${buckets(b)}), ${groups(b)} message groups, ${b.atMaximumConcurrency} taken at maximum concurrency`,
      )
      .join(
        '; ',
      )} (mean; invocations by records in the event; message groups per invocation, mean; invocations whose batch was taken while every other poller held one)`,
  ];
}

export interface ThroughputRows {
  pipeline: number;
  perQueue: Record<string, number>;
  /** `store`: what served DynamoDB (dynalite unless the run asked for the prototype). */
  floor?: { rate: number; requests: number; seconds: number; store?: string };
}

/** The one table bench:pipeline prints, as Markdown rows (docs/benchmarks.md takes it as is). */
export function renderUsageTable(u: UsageSummary, t: ThroughputRows): string {
  const rows: string[][] = [
    [
      'DynamoDB requests per order',
      fmt(u.dynamodb.total),
      `${list(u.dynamodb.byOperation)} (both queues, faults off)`,
    ],
    ...(u.batches ? [batchesRow(u.batches)] : []),
    [
      'DynamoDB units per order',
      `${fmt(u.writeUnits)} WRU, ${fmt(u.readUnits)} RRU`,
      [
        u.conditionalCheckFailures > 0
          ? `incl. ${fmt(u.conditionalCheckFailures)} failed conditional writes (billed)`
          : 'no failed conditional writes',
        ...(u.indexWriteUnits > 0
          ? [
              `incl. ${fmt(u.indexWriteUnits)} WRU of index entries (billed by AWS, not counted by dynalite)`,
            ]
          : []),
      ].join('; '),
    ],
    [
      'AWS cost per million orders',
      `$${fmt(u.costPerMillionOrdersUsd)}`,
      `on-demand ${ON_DEMAND_PRICES.region} ${ON_DEMAND_PRICES.tableClass}: $${ON_DEMAND_PRICES.usdPerMillionWriteUnits}/M WRU, $${ON_DEMAND_PRICES.usdPerMillionReadUnits}/M RRU (prices since ${ON_DEMAND_PRICES.asOf})`,
    ],
    ['HTTP requests per order: gateway', fmt(u.http.gateway), 'POST /orders'],
    [
      // The mappings' calls left HTTP on the local cloud (in process since issue 13), but each
      // is a request AWS bills: the sum is what compares with tables from before the split.
      'SQS requests per order, all transports',
      fmt(u.http.sqs.total + u.sqsInProcess.total),
      `${list(sumBy(u.http.sqs.byOperation, u.sqsInProcess.byOperation))} (each billed as one SQS request on AWS)`,
    ],
    ['HTTP requests per order: SQS', fmt(u.http.sqs.total), list(u.http.sqs.byOperation)],
    ['HTTP requests per order: DynamoDB', fmt(u.http.dynamodb), 'as above'],
    [
      'SQS calls per order in process',
      fmt(u.sqsInProcess.total),
      u.sqsInProcess.total > 0
        ? `${list(u.sqsInProcess.byOperation)} (the event source mappings, straight into the emulator)`
        : 'none',
    ],
    [
      'not per order: drain polls, report reads',
      fmt(sum(u.http.monitoring)),
      list(u.http.monitoring, 3) || 'none',
    ],
    [
      'TCP connections opened in the run',
      String(sum(u.connections)),
      Object.entries(u.connections)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    ],
    [
      'end-to-end orders/s',
      fmt(t.pipeline, 1),
      `slower queue; ${Object.entries(t.perQueue)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    ],
  ];
  if (t.floor) {
    rows.push(
      [
        'DynamoDB floor orders/s',
        fmt(t.floor.rate, 1),
        `the same item requests straight at ${t.floor.store ?? 'dynalite'}: ${t.floor.requests} in ${fmt(t.floor.seconds, 1)} s`,
      ],
      ['pipeline / floor', fmt(t.pipeline / t.floor.rate), 'same run'],
    );
  }
  rows.push(
    ...threadRows(u.threads),
    [
      'process CPU',
      `${fmt(u.cores)} cores`,
      `every thread of the process over the window: ${fmt(u.processCpuPerOrderMs, 1)} ms per order`,
    ],
    ...(u.cpuPerOrderMs
      ? [
          [
            'CPU ms per order by thread',
            fmt(
              Object.values(u.cpuPerOrderMs).reduce((n, v) => n + v, 0),
              1,
            ),
            `${list(u.cpuPerOrderMs, 1)} (10 ms ticks)`,
          ],
        ]
      : []),
    ...(u.heap
      ? [
          [
            'V8 heap at the end (MiB)',
            fmt(
              Object.values(u.heap).reduce((n, g) => n + g.totalMb, 0),
              0,
            ),
            Object.entries(u.heap)
              .map(([k, g]) =>
                g.threads > 1
                  ? `${k} ${g.threads} x ${fmt(g.meanMb, 1)}`
                  : `${k} ${fmt(g.totalMb, 1)}`,
              )
              .join(', '),
          ],
        ]
      : []),
    ...(u.heapBySpace
      ? [
          [
            'V8 heap by space at the end (MiB)',
            fmt(
              u.heapBySpace.new +
                u.heapBySpace.old +
                u.heapBySpace.code +
                u.heapBySpace.large +
                u.heapBySpace.other,
              0,
            ),
            `young ${fmt(u.heapBySpace.new, 0)}, old ${fmt(u.heapBySpace.old, 0)}, code ${fmt(u.heapBySpace.code, 0)}, large objects ${fmt(u.heapBySpace.large, 0)}, other ${fmt(u.heapBySpace.other, 0)}; besides the heaps, V8's own malloc ${fmt(u.heapBySpace.malloced, 0)} (all threads)`,
          ],
        ]
      : []),
    ...(u.peakRssMb !== undefined
      ? [
          [
            'peak RSS (MiB)',
            fmt(u.peakRssMb, 0),
            'the whole process (every thread, V8 heaps, native memory, the node binary), highest from start to the report (the floor runs after)',
          ],
        ]
      : []),
    [
      'balance: none > 90% busy while one < 50%',
      u.balance.met ? 'met' : 'MISSED',
      u.balance.busiest && u.balance.idlest
        ? `busiest ${u.balance.busiest.thread} ${pct(u.balance.busiest.busy)}, idlest ${u.balance.idlest.thread} ${pct(u.balance.idlest.busy)}`
        : '',
    ],
  );
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(['metric', 'value', 'detail']), line(['---', '---:', '---']), ...rows.map(line)]
    .join('\n')
    .concat('\n');
}
