import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  type LocalCloud,
  type LocalCloudOptions,
  skipVisibilityWhenIdle,
  startLocalCloud,
} from '../local/cloud';
import type { LostDelete } from '../local/sqs/queue';
import { recordBudgetMsFromEnv } from '../services/consumer/src/config';
import { countRunItems } from '../services/report/src/adapters/ledger-reader';
import { queueDepth } from '../services/report/src/adapters/queues';
import { type DrainSnapshot, waitForDrain } from '../services/report/src/domain/drain';
import type { ReportData } from '../services/report/src/domain/report';
import { generateReport } from '../services/report/src/generate';
import {
  createDocumentClient,
  createSqsClient,
  LOCAL_CREDENTIALS,
} from '../shared/src/aws-clients';
import { type ClockSkipRecord, clockSkipSk, runPk } from '../shared/src/ledger';
import { QUEUE_KINDS, type QueueKind } from '../shared/src/queue-kind';
import { type ClockSkip, consumptionFromLedger, type QueueConsumption } from './consumption';
import { type LoadProgress, type LoadSummary, runLoad } from './loadgen/run-load';
import {
  type CpuReading,
  cpuBetween,
  cpuReadingNow,
  type RunPhase,
  type RunTimings,
} from './phases';

/**
 * One run on a local cloud started in this process: start it, send the load, wait for both
 * queues to drain, read the report, stop it. The demo, the soak and the experiments are this
 * with different loads, fault models and consumer settings.
 */
export interface LocalRunOptions {
  runId: string;
  seed: number;
  orders: number;
  customers: number;
  retryRate: number;
  concurrency?: number;
  /** SQS fault model (preset name or config); the emulator's default when absent. */
  faults?: LocalCloudOptions['faults'];
  /** What serves DynamoDB (LocalCloudOptions.dynamodb); dynalite when absent. */
  dynamodb?: LocalCloudOptions['dynamodb'];
  /** The function environments' nice value (LocalCloudOptions.functionNice); its default when absent. */
  functionNice?: number;
  consumerEnv?: LocalCloudOptions['consumerEnv'];
  producerEnv?: LocalCloudOptions['producerEnv'];
  pipeline?: LocalCloudOptions['pipeline'];
  drainTimeoutMs?: number;
  /** The load client's cut-off (runLoad's unreachableWindowMs, --unreachable-after); its default when absent. */
  unreachableWindowMs?: number;
  /**
   * While draining, skip the visibility timeout on the cloud's clock whenever no batch has been
   * in flight for a few polls: what is left then is only waiting for its timeout to retry. Makes
   * a run with injected failures finish in seconds instead of minutes of real waiting; the
   * functions' clock moves too, so a retried order's latency includes the wait, as on AWS.
   */
  skipVisibilityWaits?: boolean;
  /**
   * Fill both queues before any consumer runs, then enable one queue's consumers at a time and
   * let each drain its queue alone: `consumption` then times the consumers, not the load
   * generator or the producer, and the two queues do not share the machine while timed.
   */
  preload?: boolean;
  /**
   * Once the queues are empty, before the report reads the ledger: end the function
   * environments that are idle (all of them, after a drain). They held about two thirds of the
   * process's memory and nothing runs in them any more, while the report's read and render
   * briefly need more of their own: the demo's peak came in that phase. A function invoked after
   * that (a late retry, more load with --live) starts a fresh environment.
   */
  releaseIdleEnvironments?: boolean;
  onStarted?: (edgeUrl: string, apiUrl: string, liveUrl: string) => void;
  /** The running cloud, before the load starts (benchmarks read its usage()). */
  onCloud?: (cloud: LocalCloud) => void;
  /** Runs after the report is read and before the cloud stops (the demo's --live waits here). */
  beforeStop?: (result: LocalRunResult) => Promise<void>;
  onLoadProgress?: (p: LoadProgress) => void;
  /**
   * At each poll of the drain wait, with the time since that wait began (the load's end, or the
   * preloaded queues' own drains' end): one clock over both of its parts, the wait for empty
   * queues and the report's wait for a ledger that stands still.
   */
  onDrainProgress?: (snapshot: DrainProgress, elapsedMs: number) => void;
  /**
   * Whether the drain's progress carries the run's ledger count while the queues empty (default
   * true): a Query over the run's whole partition, made at the wait's first poll and then every
   * LEDGER_COUNT_EVERY_MS, each poll waiting for it (0.4-0.5 s at the end of a 2,000-order run).
   * The demo, which does not show it, passes false; the report's quiet polls count it anyway.
   */
  countLedgerWhileDraining?: boolean;
}

/** A drain poll as onDrainProgress sees it: ledgerItems absent when not counted. */
export type DrainProgress = Omit<DrainSnapshot, 'ledgerItems'> & { ledgerItems?: number };

export interface LocalRunResult {
  data: ReportData;
  load: LoadSummary;
  /** DynamoDB requests of the whole run (load, processing, drain polls, report), by operation. */
  dynamodbRequests: Record<string, number>;
  /** With `preload`: each queue's consumption rate. */
  consumption?: Record<QueueKind, QueueConsumption>;
  /** Per queue, the deletes the emulator's surviving-copy fault lost, with their receive counts. */
  lostDeletes: Record<QueueKind, readonly LostDelete[]>;
  /**
   * Per queue, the function timeout (ms) the run deployed its consumer with (the cloud's config,
   * `pipeline` overrides applied): the soak check's RunEvidence.functionTimeoutMs, never read
   * back from the ledger.
   */
  functionTimeoutMs: Record<QueueKind, number>;
  /**
   * Per queue, the time a record needs before it starts once a DynamoDB call of its invocation ran
   * out, as the run deployed the consumer: recordBudgetMsFromEnv of the consumer function's
   * environment as the cloud started it (consumerEnv included), what its handler reads at cold
   * start. The soak check's RunEvidence.recordBudgetMs, which a hand-back after a stall is held to.
   */
  recordBudgetMs: Record<QueueKind, number>;
  /** Where the run's wall time went, phase by phase (RunTimings). */
  timings: RunTimings;
  /**
   * Every advance of the cloud's clock the run made (the functions' clock too), each also written
   * to the run's ledger (ClockSkipRecord) before the report read it, so the report shows them.
   */
  clockSkips?: readonly ClockSkip[];
}

export async function runOnLocalCloud(options: LocalRunOptions): Promise<LocalRunResult> {
  const zero = { cpuMs: 0 };
  const cpu: Record<RunPhase, CpuReading> = {
    startMs: zero,
    loadMs: zero,
    drainMs: zero,
    reportMs: zero,
    stopMs: zero,
  };
  const timings: RunTimings = {
    startMs: 0,
    loadMs: 0,
    drainMs: 0,
    reportMs: 0,
    stopMs: 0,
    cpu,
    visibilitySkips: 0,
  };
  let phaseStart = performance.now();
  let phaseStartCpu = cpuReadingNow();
  /**
   * Ends the phase under way: its time since the last phase ended (or `at`, with the CPU reading
   * `atCpu` made then, when given).
   */
  const endPhase = (phase: RunPhase, at = performance.now(), atCpu = cpuReadingNow()): void => {
    timings[phase] = at - phaseStart;
    cpu[phase] = cpuBetween(phaseStartCpu, atCpu);
    phaseStart = at;
    phaseStartCpu = atCpu;
  };
  const cloud = await startLocalCloud({
    port: 0,
    apiPort: 0,
    seed: options.seed,
    ...(options.faults !== undefined ? { faults: options.faults } : {}),
    ...(options.dynamodb ? { dynamodb: options.dynamodb } : {}),
    ...(options.functionNice !== undefined ? { functionNice: options.functionNice } : {}),
    ...(options.consumerEnv ? { consumerEnv: options.consumerEnv } : {}),
    ...(options.producerEnv ? { producerEnv: options.producerEnv } : {}),
    ...(options.pipeline ? { pipeline: options.pipeline } : {}),
    ...(options.preload ? { consumersPaused: true } : {}),
  });
  const client = { endpoint: cloud.edgeUrl, region: cloud.region, credentials: LOCAL_CREDENTIALS };
  // The drain polls and the ledger read go to DynamoDB's own thread, not through the edge.
  const documentClient = createDocumentClient({ ...client, endpoint: cloud.dynamodbUrl });
  const sqsClient = createSqsClient(client);
  endPhase('startMs');
  try {
    // Read as the cloud deployed the consumers, before a caller can change their environment.
    const recordBudgetMs = deployedRecordBudgetMs(cloud);
    options.onStarted?.(cloud.edgeUrl, cloud.apiUrl, cloud.liveUrl);
    options.onCloud?.(cloud);
    const load = await runLoad({
      apiUrl: cloud.apiUrl,
      orders: options.orders,
      customers: options.customers,
      concurrency: options.concurrency ?? 16,
      rate: 0,
      retryRate: options.retryRate,
      seed: options.seed,
      runId: options.runId,
      ...(options.unreachableWindowMs !== undefined
        ? { unreachableWindowMs: options.unreachableWindowMs }
        : {}),
      ...(options.onLoadProgress ? { onProgress: options.onLoadProgress } : {}),
    });
    endPhase('loadMs');
    const visibilityMs =
      Math.max(...QUEUE_KINDS.map((q) => cloud.config.queues[q].visibilityTimeoutSeconds)) * 1000 +
      1000;
    // Every advance, on the cloud's clock: consumption leaves the ones inside a queue's window
    // out of its rate (time no consumer worked in).
    const skips: ClockSkip[] = [];
    // Each skip's write to the ledger, and the first that failed: the report reads the ledger
    // only once every one has settled (beforeRead), and not at all when one failed.
    const skipWrites: Promise<void>[] = [];
    let skipWriteError: unknown;
    const skipWhenIdle = skipVisibilityWhenIdle(
      () => cloud.invocationsInFlight(),
      () => {
        const skip = { at: cloud.clock.now(), ms: visibilityMs };
        skips.push(skip);
        timings.visibilitySkips = skips.length;
        // The clock moves at once, as nothing is in flight now (after a write, a batch could
        // have started meanwhile); the skip's item is written after, and awaited before the read.
        cloud.clock.advance(skip.ms);
        const written = recordClockSkip(
          documentClient,
          cloud.tableNames.ledger,
          options.runId,
          skips.length,
          skip,
        ).catch((err: unknown) => {
          skipWriteError ??= err;
        });
        skipWrites.push(written);
      },
      SKIP_AFTER_IDLE_POLLS,
    );
    const skipsWritten = async (): Promise<void> => {
      await Promise.all(skipWrites);
      if (skipWriteError !== undefined) {
        throw new Error(
          `a clock skip of the run was not written to its ledger, so the report would not show it: ${skipWriteError instanceof Error ? skipWriteError.message : String(skipWriteError)}`,
          { cause: skipWriteError },
        );
      }
    };
    /** No batch in flight or in transit on either mapping: nothing can write to the ledger. */
    const idle = () => cloud.invocationsInFlight() === 0;
    const drainTimeoutMs = options.drainTimeoutMs ?? 300_000;
    const ledgerItems = () => countRunItems(documentClient, cloud.tableNames.ledger, options.runId);
    const startedAt: Partial<Record<QueueKind, number>> = {};
    if (options.preload) {
      for (const kind of QUEUE_KINDS) {
        // The cloud's clock, not Date.now(): the functions stamp the ledger with it, and the
        // previous queue's drain may have skipped it ahead by a visibility timeout or more.
        startedAt[kind] = cloud.clock.now();
        cloud.startConsumers([kind]);
        const queuesEmptyAfter = await waitForEmptyQueues({
          kinds: [kind],
          timeoutMs: drainTimeoutMs,
          intervalMs: DRAIN_POLL_MS,
          idle,
          depth: (k) => queueDepth(sqsClient, cloud.queueUrls[k]),
          onPoll: async () => {
            if (options.skipVisibilityWaits) void skipWhenIdle();
          },
        });
        await waitForDrain({
          timeoutMs: remaining(drainTimeoutMs, queuesEmptyAfter),
          intervalMs: DRAIN_POLL_MS,
          poll: async () => {
            const [queued, ledgerItems] = await Promise.all([
              queueDepth(sqsClient, cloud.queueUrls[kind]),
              countRunItems(documentClient, cloud.tableNames.ledger, options.runId),
            ]);
            return { queued: { [kind]: queued }, ledgerItems };
          },
          onProgress: () => {
            if (options.skipVisibilityWaits) void skipWhenIdle();
          },
        });
      }
    }
    let consumption: LocalRunResult['consumption'];
    // The progress lines' ledger count, refreshed at most every LEDGER_COUNT_EVERY_MS.
    let counted: { items: number; at: number } | undefined;
    const drainStartedAt = performance.now();
    const queuesEmptyAfter = await waitForEmptyQueues({
      kinds: QUEUE_KINDS,
      timeoutMs: drainTimeoutMs,
      intervalMs: DRAIN_POLL_MS,
      idle,
      depth: (k) => queueDepth(sqsClient, cloud.queueUrls[k]),
      onPoll: async (queued, elapsedMs) => {
        if (options.onDrainProgress && options.countLedgerWhileDraining === false) {
          options.onDrainProgress({ queued }, elapsedMs);
        } else if (options.onDrainProgress) {
          if (!counted || Date.now() - counted.at >= LEDGER_COUNT_EVERY_MS) {
            counted = { items: await ledgerItems(), at: Date.now() };
          }
          options.onDrainProgress({ queued, ledgerItems: counted.items }, elapsedMs);
        }
        if (options.skipVisibilityWaits) void skipWhenIdle();
      },
    });
    if (options.releaseIdleEnvironments) await cloud.releaseIdleEnvironments();
    /** When the drain wait's last poll was answered: the wait ends there, the report's reads begin. */
    let lastDrainPollAt = performance.now();
    let lastDrainPollCpu = cpuReadingNow();
    const data = await generateReport({
      runId: options.runId,
      target: 'local',
      config: cloud.config,
      waitTimeoutMs: remaining(drainTimeoutMs, queuesEmptyAfter),
      pollIntervalMs: DRAIN_POLL_MS,
      source: {
        documentClient,
        sqsClient,
        ledgerTable: cloud.tableNames.ledger,
        queueUrls: cloud.queueUrls,
      },
      onProgress: (snapshot) => {
        lastDrainPollAt = performance.now();
        lastDrainPollCpu = cpuReadingNow();
        options.onDrainProgress?.(snapshot, lastDrainPollAt - drainStartedAt);
        if (options.skipVisibilityWaits) void skipWhenIdle();
      },
      beforeRead: skipsWritten,
      onLedger: (ledger) => {
        if (options.preload) {
          consumption = consumptionFromLedger(
            ledger,
            startedAt as Record<QueueKind, number>,
            skips,
          );
        }
      },
    });
    endPhase('drainMs', lastDrainPollAt, lastDrainPollCpu);
    endPhase('reportMs');
    const result: LocalRunResult = {
      data,
      load,
      dynamodbRequests: cloud.dynamodbRequests(),
      ...(consumption ? { consumption } : {}),
      lostDeletes: {
        fifo: [...cloud.sqs.lostDeletes(cloud.config.queues.fifo.name)],
        standard: [...cloud.sqs.lostDeletes(cloud.config.queues.standard.name)],
      },
      functionTimeoutMs: {
        fifo: cloud.config.consumers.fifo.timeoutSeconds * 1000,
        standard: cloud.config.consumers.standard.timeoutSeconds * 1000,
      },
      recordBudgetMs,
      timings,
      clockSkips: skips,
    };
    await options.beforeStop?.(result);
    return result;
  } finally {
    phaseStart = performance.now();
    phaseStartCpu = cpuReadingNow();
    documentClient.destroy();
    sqsClient.destroy();
    await cloud.stop();
    endPhase('stopMs');
  }
}

/**
 * Writes one advance of the functions' clock to the run's ledger (ClockSkipRecord), the `n`th of
 * the run: the report reads them back and shows them.
 */
export async function recordClockSkip(
  client: DynamoDBDocumentClient,
  table: string,
  runId: string,
  n: number,
  skip: ClockSkip,
): Promise<void> {
  const item: ClockSkipRecord = {
    pk: runPk(runId),
    sk: clockSkipSk(n),
    type: 'clockSkip',
    runId,
    at: skip.at,
    ms: skip.ms,
  };
  await client.send(new PutCommand({ TableName: table, Item: item }));
}

/**
 * Per queue, the record budget of the consumer function as `cloud` runs it: recordBudgetMsFromEnv
 * of that function's environment (ListFunctions' configuration: the deployment description's
 * variables, the local target's and the run's consumerEnv over them), the figure its handler
 * computes at cold start (services/consumer/src/handlers/sqs.ts). Throws when the cloud runs no
 * such function.
 */
export function deployedRecordBudgetMs(
  cloud: Pick<LocalCloud, 'functions' | 'deployment'>,
): Record<QueueKind, number> {
  const functions = cloud.functions();
  const budgetOf = (kind: QueueKind): number => {
    const name = cloud.deployment.consumers[kind].id;
    const fn = functions.find((f) => f.name === name);
    if (!fn) throw new Error(`the local cloud runs no ${kind} consumer function (${name})`);
    return recordBudgetMsFromEnv(fn.env);
  };
  return { fifo: budgetOf('fifo'), standard: budgetOf('standard') };
}

/**
 * How often the wait for empty queues counts the run's ledger items, for progress lines only.
 * A count is a Query over the run's whole partition, which DynamoDB's thread reads item by item:
 * polled twice a second for as long as a backlog lasted, it took a large share of that thread
 * (the profile in docs/benchmarks.md) from the consumers' own writes.
 */
const LEDGER_COUNT_EVERY_MS = 10_000;

/**
 * How often the drain waits poll (the wait for empty queues, the report's quiet polls after it),
 * where they polled every 500 ms (250 ms for a preloaded queue). A poll reads two queue depths
 * from the emulator in this process and asks the mappings what they hold: a millisecond or two of
 * the main thread. The quiet polls also count the run's ledger items, but they start only once
 * the queues are empty with no batch in flight, when the ledger can no longer grow, so they
 * confirm rather than wait.
 */
export const DRAIN_POLL_MS = 100;

/**
 * Polls in a row with no batch in flight before the cloud's clock skips a visibility timeout
 * (skipVisibilityWhenIdle): half a second at DRAIN_POLL_MS, where 3 polls of 500 ms had waited
 * 1.5 s for each surviving copy or failed batch.
 */
export const SKIP_AFTER_IDLE_POLLS = 5;

/**
 * Waits until the queues hold nothing (visible, in flight or delayed), reading their depths, and,
 * given `idle`, until it also says nothing is being processed (the local cloud's mappings hold no
 * batch: on the local cloud both are known exactly); returns the time it took. The drain wait
 * that follows (empty queues and a ledger that has stopped growing for a few polls) then needs
 * only its few final polls of the ledger.
 */
export async function waitForEmptyQueues(options: {
  kinds: readonly QueueKind[];
  timeoutMs: number;
  intervalMs: number;
  idle?: () => boolean;
  depth: (kind: QueueKind) => Promise<number>;
  onPoll: (queued: Record<string, number>, elapsedMs: number) => Promise<void>;
}): Promise<number> {
  const start = Date.now();
  for (;;) {
    const depths = await Promise.all(options.kinds.map((k) => options.depth(k)));
    const idle = options.idle?.() ?? true;
    const elapsed = Date.now() - start;
    await options.onPoll(Object.fromEntries(options.kinds.map((k, i) => [k, depths[i]!])), elapsed);
    if ((idle && depths.every((n) => n === 0)) || elapsed >= options.timeoutMs) return elapsed;
    await new Promise((r) => setTimeout(r, options.intervalMs));
  }
}

/** What is left of a timeout; at least 1 ms, since 0 would tell the drain wait not to wait. */
function remaining(timeoutMs: number, usedMs: number): number {
  return Math.max(1, timeoutMs - usedMs);
}
