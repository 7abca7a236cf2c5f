import {
  type LocalCloud,
  type LocalCloudOptions,
  skipVisibilityWhenIdle,
  startLocalCloud,
} from '../../../local/cloud';
import {
  createDocumentClient,
  createSqsClient,
  LOCAL_CREDENTIALS,
} from '../../../shared/src/aws-clients';
import { QUEUE_KINDS } from '../../../shared/src/config/pipeline';
import { type LoadProgress, type LoadSummary, runLoad } from '../../loadgen/src/run-load';
import type { DrainSnapshot } from './domain/drain';
import type { ReportData } from './domain/report';
import { generateReport } from './generate';

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
  consumerEnv?: LocalCloudOptions['consumerEnv'];
  pipeline?: LocalCloudOptions['pipeline'];
  drainTimeoutMs?: number;
  /**
   * While draining, skip the visibility timeout on the emulator's clock whenever no batch has
   * been in flight for a few polls: what is left then is only waiting for its timeout to retry.
   * Makes a run with injected failures finish in seconds instead of minutes of real waiting;
   * latencies of the retried orders then leave out the skipped time.
   */
  skipVisibilityWaits?: boolean;
  onStarted?: (edgeUrl: string, apiUrl: string, liveUrl: string) => void;
  /** The running cloud, before the load starts (benchmarks read its usage()). */
  onCloud?: (cloud: LocalCloud) => void;
  /** Runs after the report is read and before the cloud stops (the demo's --live waits here). */
  beforeStop?: (result: LocalRunResult) => Promise<void>;
  onLoadProgress?: (p: LoadProgress) => void;
  onDrainProgress?: (snapshot: DrainSnapshot, elapsedMs: number) => void;
}

export interface LocalRunResult {
  data: ReportData;
  load: LoadSummary;
  /** DynamoDB requests of the whole run (load, processing, drain polls, report), by operation. */
  dynamodbRequests: Record<string, number>;
}

export async function runOnLocalCloud(options: LocalRunOptions): Promise<LocalRunResult> {
  const cloud = await startLocalCloud({
    port: 0,
    apiPort: 0,
    seed: options.seed,
    pollWaitSeconds: 1,
    ...(options.faults !== undefined ? { faults: options.faults } : {}),
    ...(options.consumerEnv ? { consumerEnv: options.consumerEnv } : {}),
    ...(options.pipeline ? { pipeline: options.pipeline } : {}),
  });
  const client = { endpoint: cloud.edgeUrl, region: cloud.region, credentials: LOCAL_CREDENTIALS };
  // The drain polls and the ledger read go to DynamoDB's own thread, not through the edge.
  const documentClient = createDocumentClient({ ...client, endpoint: cloud.dynamodbUrl });
  const sqsClient = createSqsClient(client);
  try {
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
      ...(options.onLoadProgress ? { onProgress: options.onLoadProgress } : {}),
    });
    const visibilityMs =
      Math.max(...QUEUE_KINDS.map((q) => cloud.config.queues[q].visibilityTimeoutSeconds)) * 1000 +
      1000;
    const skipWhenIdle = skipVisibilityWhenIdle(
      () => cloud.invocationsInFlight(),
      () => cloud.clock.advance(visibilityMs),
      3,
    );
    const data = await generateReport({
      runId: options.runId,
      target: 'local',
      config: cloud.config,
      waitTimeoutMs: options.drainTimeoutMs ?? 300_000,
      pollIntervalMs: 500,
      source: {
        documentClient,
        sqsClient,
        ledgerTable: cloud.tableNames.ledger,
        queueUrls: { fifo: cloud.queueUrls.fifo, standard: cloud.queueUrls.standard },
      },
      onProgress: (snapshot, elapsedMs) => {
        options.onDrainProgress?.(snapshot, elapsedMs);
        if (options.skipVisibilityWaits) void skipWhenIdle();
      },
    });
    const result = { data, load, dynamodbRequests: cloud.dynamodbRequests() };
    await options.beforeStop?.(result);
    return result;
  } finally {
    documentClient.destroy();
    sqsClient.destroy();
    await cloud.stop();
  }
}
