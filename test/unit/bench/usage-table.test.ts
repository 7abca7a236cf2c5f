import {
  balanceCheck,
  cpuPerOrder,
  heapByGroup,
  heapBySpace,
  lambdaBatches,
  ON_DEMAND_PRICES,
  renderUsageTable,
  summariseUsage,
} from '../../../bench/pipeline/usage-table';
import type { CloudUsage } from '../../../local/cloud';
import type { MappingStats } from '../../../local/event-source';

const elu = (active: number) => ({ idle: 0, active, utilization: 0 });

function reading(overrides: Partial<CloudUsage> = {}): CloudUsage {
  return {
    http: { gateway: 0, sqs: {}, dynamodb: {} },
    connections: { edge: 0, gateway: 0 },
    dynamodb: { requests: {}, readUnits: {}, writeUnits: {}, conditionalCheckFailures: {} },
    threads: [],
    cpu: { user: 0, system: 0 },
    ...overrides,
  };
}

describe('summariseUsage', () => {
  it('counts per order only what happened between the two readings', () => {
    // Prepare: 10 orders; the start reading already holds start-up requests.
    const start = reading({
      http: { gateway: 2, sqs: { CreateQueue: 4 }, dynamodb: { CreateTable: 2, PutItem: 1 } },
      dynamodb: {
        requests: {},
        readUnits: {},
        writeUnits: { PutItem: 1 },
        conditionalCheckFailures: {},
      },
      threads: [{ thread: 'main', elu: elu(1000) }],
      cpu: { user: 1_000_000, system: 0 },
    });
    const end = reading({
      http: {
        gateway: 12,
        sqs: { CreateQueue: 4, SendMessage: 20, GetQueueAttributes: 6 },
        dynamodb: { CreateTable: 2, PutItem: 81, GetItem: 20, Query: 3 },
      },
      connections: { edge: 5, gateway: 2 },
      dynamodb: {
        requests: {},
        readUnits: { GetItem: 20 },
        writeUnits: { PutItem: 81 },
        conditionalCheckFailures: { PutItem: 10 },
      },
      threads: [
        { thread: 'main', elu: elu(1500) },
        { thread: 'producer#1', elu: elu(250) },
        { thread: 'producer#2', elu: elu(0) },
      ],
      cpu: { user: 2_500_000, system: 500_000 },
    });

    // Act
    const u = summariseUsage(start, end, 10, 1000);

    // Assess: start-up requests and the drain's monitoring reads are not per-order requests.
    expect(u.dynamodb.byOperation).toEqual({ PutItem: 8, GetItem: 2 });
    expect(u.dynamodb.total).toBe(10);
    expect(u.http.gateway).toBe(1);
    expect(u.http.sqs.total).toBe(2);
    expect(u.http.monitoring).toEqual({ GetQueueAttributes: 0.6, Query: 0.3 });
    // 8 WRU written + 1 billed for the failed conditional write; 2 RRU read.
    expect(u.writeUnits).toBe(9);
    expect(u.readUnits).toBe(2);
    expect(u.costPerMillionOrdersUsd).toBeCloseTo(
      9 * ON_DEMAND_PRICES.usdPerMillionWriteUnits + 2 * ON_DEMAND_PRICES.usdPerMillionReadUnits,
    );
    // Busy share over the window; an environment that never ran is left out.
    expect(u.threads).toEqual([
      { thread: 'main', busy: 0.5 },
      { thread: 'producer#1', busy: 0.25 },
    ]);
    expect(u.cores).toBe(2);
  });

  it('adds the index entries AWS bills, which the local cloud does not count, to units and cost', () => {
    // Prepare
    const start = reading({});
    const end = reading({
      dynamodb: {
        requests: {},
        readUnits: {},
        writeUnits: { PutItem: 30 },
        conditionalCheckFailures: {},
      },
    });

    // Act
    const u = summariseUsage(start, end, 10, 1000, undefined, 1);

    // Assess
    expect(u.writeUnits).toBe(4);
    expect(u.indexWriteUnits).toBe(1);
    expect(u.costPerMillionOrdersUsd).toBeCloseTo(4 * ON_DEMAND_PRICES.usdPerMillionWriteUnits);
    expect(renderUsageTable(u, { pipeline: 1, perQueue: {} })).toContain(
      'incl. 1.00 WRU of index entries (billed by AWS, not counted by dynalite)',
    );
  });
});

describe("the mappings' in-process SQS calls", () => {
  it('are counted per order in their own row, apart from the HTTP requests', () => {
    // Prepare: 10 orders; the start reading already holds 2 receives.
    const start = reading({ sqsInProcess: { ReceiveMessage: 2 } });
    const end = reading({
      http: { gateway: 10, sqs: { SendMessage: 20 }, dynamodb: {} },
      sqsInProcess: { ReceiveMessage: 14, DeleteMessageBatch: 3 },
    });

    // Act
    const u = summariseUsage(start, end, 10, 1000);

    // Assess
    expect(u.http.sqs).toEqual({ byOperation: { SendMessage: 2 }, total: 2 });
    expect(u.sqsInProcess).toEqual({
      byOperation: { ReceiveMessage: 1.2, DeleteMessageBatch: 0.3 },
      total: 1.5,
    });
    expect(renderUsageTable(u, { pipeline: 1, perQueue: {} })).toContain(
      '| SQS calls per order in process | 1.50 | ReceiveMessage 1.20, DeleteMessageBatch 0.30 (the event source mappings, straight into the emulator) |',
    );
    // The sum over both transports is what AWS bills and what tables from before the split show.
    expect(renderUsageTable(u, { pipeline: 1, perQueue: {} })).toContain(
      '| SQS requests per order, all transports | 3.50 | SendMessage 2.00, ReceiveMessage 1.20, DeleteMessageBatch 0.30 (each billed as one SQS request on AWS) |',
    );
    // A cloud whose mappings poll over HTTP reports none.
    expect(summariseUsage(reading(), reading(), 10, 1000).sqsInProcess.total).toBe(0);
  });
});

describe('balanceCheck', () => {
  it('fails when one thread is saturated while another waits', () => {
    const r = balanceCheck([
      { thread: 'main', busy: 0.91 },
      { thread: 'dynamodb', busy: 0.6 },
      { thread: 'producer#1', busy: 0.3 },
    ]);
    expect(r.met).toBe(false);
    expect(r.busiest?.thread).toBe('main');
    expect(r.idlest?.thread).toBe('producer#1');
  });

  it('passes when no thread is above 90%, or none is below 50%', () => {
    expect(
      balanceCheck([
        { thread: 'a', busy: 0.89 },
        { thread: 'b', busy: 0.1 },
      ]).met,
    ).toBe(true);
    expect(
      balanceCheck([
        { thread: 'a', busy: 0.95 },
        { thread: 'b', busy: 0.5 },
      ]).met,
    ).toBe(true);
  });
});

describe('renderUsageTable', () => {
  it('prints MISSED for an unbalanced run and the floor ratio', () => {
    const u = summariseUsage(
      reading(),
      reading({
        threads: [
          { thread: 'main', elu: elu(950) },
          { thread: 'producer#1', elu: elu(100) },
        ],
      }),
      1,
      1000,
    );
    const text = renderUsageTable(u, {
      pipeline: 50,
      perQueue: { fifo: 50, standard: 60 },
      floor: { rate: 100, requests: 17, seconds: 1 },
    });
    expect(text).toMatch(/\| pipeline \/ floor \| 0\.50 \|/);
    expect(text).toMatch(/\| balance: .* \| MISSED \| busiest main 95%, idlest producer#1 10% \|/);
  });
});

describe('cpuPerOrder', () => {
  it("sums a function's environments, counts a new one from zero, and divides by orders", () => {
    const t = (cpuMs: number) => ({ cpuMs, heapMb: 10 });
    const out = cpuPerOrder(
      { main: t(100), 'producer#1': t(50) },
      { main: t(300), 'producer#1': t(150), 'producer#2': t(100), dynamodb: t(40) },
      10,
    );
    expect(out).toEqual({ main: 20, producer: 20, dynamodb: 4 });
    expect(heapByGroup({ main: t(0), 'producer#1': { heapMb: 20 }, 'producer#2': t(0) })).toEqual({
      main: { threads: 1, meanMb: 10, totalMb: 10 },
      producer: { threads: 2, meanMb: 15, totalMb: 30 },
    });
  });
});

describe('memory rows', () => {
  const spaces = (n: number) => ({ new: n, old: 2 * n, code: 1, large: 1, other: 0, malloced: 3 });

  it('sums the heaps by space over every thread that reported them', () => {
    expect(
      heapBySpace({
        main: { heapMb: 40, spacesMb: spaces(8) },
        'producer#1': { heapMb: 10, spacesMb: spaces(2) },
        // A thread that reported only its total adds nothing to the split.
        dynamodb: { heapMb: 30 },
      }),
    ).toEqual({ new: 10, old: 20, code: 2, large: 2, other: 0, malloced: 6 });
    expect(heapBySpace({ main: { heapMb: 40 } })).toBeUndefined();
  });

  it('prints the peak RSS and the heap by space when the run measured them', () => {
    const stats = { main: { heapMb: 40, spacesMb: spaces(8) } };
    const u = summariseUsage(
      reading(),
      reading(),
      10,
      1000,
      { start: stats, end: stats },
      0,
      487.4,
    );
    const text = renderUsageTable(u, { pipeline: 1, perQueue: {} });
    expect(text).toMatch(/\| peak RSS \(MiB\) \| 487 \| the whole process/);
    expect(text).toMatch(
      /\| V8 heap by space at the end \(MiB\) \| 26 \| young 8, old 16, code 1, large objects 1, other 0; besides the heaps, V8's own malloc 3 \(all threads\) \|/,
    );
    const without = renderUsageTable(summariseUsage(reading(), reading(), 10, 1000), {
      pipeline: 1,
      perQueue: {},
    });
    expect(without).not.toContain('peak RSS');
    expect(without).not.toContain('by space');
  });
});

describe('records per Lambda batch, by queue', () => {
  const stats = (
    invocationsByRecords: Record<number, number>,
    messageGroups = 0,
    atMaximumConcurrency = 0,
  ): MappingStats => ({
    received: 0,
    invocations: 0,
    failedInvocations: 0,
    deleted: 0,
    reportedFailures: 0,
    invocationsByRecords,
    messageGroups,
    atMaximumConcurrency,
  });

  it("counts each queue's invocations in the window by records carried, and prints one row", () => {
    // Prepare: the start reading already holds start-up batches, which are not in the window.
    const start = { fifo: stats({ 1: 2, 10: 1 }, 4, 1), standard: stats({}) };
    const end = {
      fifo: stats({ 1: 5, 2: 4, 3: 1, 5: 2, 10: 2 }, 31, 9),
      standard: stats({ 1: 1, 4: 1, 6: 1, 7: 2 }),
    };

    // Act
    const batches = lambdaBatches(start, end);

    // Assess: fifo 3 x 1 + 4 x 2 + 1 x 3 + 2 x 5 + 1 x 10 = 34 records in 11 invocations.
    expect(batches).toEqual({
      fifo: {
        invocations: 11,
        records: 34,
        byBucket: { '1': 3, '2-3': 5, '4-6': 2, '7-10': 1 },
        messageGroups: 27,
        atMaximumConcurrency: 8,
      },
      standard: {
        invocations: 5,
        records: 25,
        byBucket: { '1': 1, '2-3': 0, '4-6': 2, '7-10': 2 },
        messageGroups: 0,
        atMaximumConcurrency: 0,
      },
    });
    const u = { ...summariseUsage(reading(), reading(), 10, 1000), batches };
    expect(renderUsageTable(u, { pipeline: 1, perQueue: {} })).toContain(
      '| records per Lambda batch, by queue | fifo 3.09, standard 5.00 | fifo 34 records in 11 invocations (1: 3, 2-3: 5, 4-6: 2, 7-10: 1), 2.45 message groups, 8 taken at maximum concurrency; standard 25 records in 5 invocations (1: 1, 2-3: 0, 4-6: 2, 7-10: 2), 0.00 message groups, 0 taken at maximum concurrency (mean; invocations by records in the event; message groups per invocation, mean; invocations whose batch was taken while every other poller held one) |',
    );
    // A run that did not read the mappings prints no such row.
    expect(
      renderUsageTable(summariseUsage(reading(), reading(), 10, 1000), {
        pipeline: 1,
        perQueue: {},
      }),
    ).not.toContain('per Lambda batch');
  });
});
