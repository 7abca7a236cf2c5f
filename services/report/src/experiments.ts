import { createDocumentClient, createSqsClient } from '../../../shared/src/aws-clients';
import { ENV } from '../../../shared/src/config/function-env';
import type { PipelineConfig, QueueKind } from '../../../shared/src/config/pipeline';
import { runLoad } from '../../loadgen/src/run-load';
import type { QueueMetrics } from './domain/metrics';
import type { Report } from './domain/report';
import { generateReport } from './generate';

/**
 * Experiments run against a started local cloud: the caller starts it with the overrides of one
 * point (`startLocalCloud({ pipeline, consumerEnv })`), this sends the load and reads the report.
 * Kept free of `local/` imports so it also runs against a cloud started by a test or a bench.
 */
export interface StartedCloud {
  edgeUrl: string;
  apiUrl: string;
  region: string;
  queueUrls: { fifo: string; standard: string };
  tableNames: { ledger: string };
  config: PipelineConfig;
}

export interface ExperimentLoad {
  orders: number;
  concurrency: number;
  retryRate: number;
  seed: number;
  waitTimeoutMs: number;
}

export async function measure(
  cloud: StartedCloud,
  runId: string,
  customers: number,
  load: ExperimentLoad,
): Promise<Report> {
  const client = { endpoint: cloud.edgeUrl, region: cloud.region };
  await runLoad({ apiUrl: cloud.apiUrl, runId, customers, rate: 0, ...load });
  const data = await generateReport({
    runId,
    target: 'local',
    config: cloud.config,
    waitTimeoutMs: load.waitTimeoutMs,
    source: {
      documentClient: createDocumentClient(client),
      sqsClient: createSqsClient(client),
      ledgerTable: cloud.tableNames.ledger,
      queueUrls: cloud.queueUrls,
    },
  });
  return data.report;
}

export interface SweepPoint {
  /** Message groups = customers of the load. */
  groups: number;
  maximumConcurrency: number;
  batchSize: number;
}

export interface SweepResult {
  point: SweepPoint;
  queues: Record<
    QueueKind,
    Pick<QueueMetrics, 'throughputPerSec' | 'outOfOrder' | 'inversions' | 'duplicateDeliveries'>
  >;
}

/** The grid of a sweep: every combination, in a stable order. */
export function sweepGrid(
  groups: number[],
  concurrency: number[],
  batchSizes: number[],
): SweepPoint[] {
  const out: SweepPoint[] = [];
  for (const g of groups)
    for (const c of concurrency)
      for (const b of batchSizes) out.push({ groups: g, maximumConcurrency: c, batchSize: b });
  return out;
}

/** The consumer overrides of one point, for `startLocalCloud({ pipeline })`. */
export function pointOverrides(p: SweepPoint) {
  const o = { maximumConcurrency: p.maximumConcurrency, batchSize: p.batchSize };
  return { fifo: o, standard: o };
}

export async function sweep(
  start: (p: SweepPoint) => Promise<StartedCloud & { stop(): Promise<void> }>,
  points: SweepPoint[],
  load: ExperimentLoad,
): Promise<SweepResult[]> {
  const results: SweepResult[] = [];
  for (const [i, point] of points.entries()) {
    const cloud = await start(point);
    try {
      const r = await measure(cloud, `sweep-${load.seed}-${i}`, point.groups, load);
      const pick = (m: QueueMetrics) => ({
        throughputPerSec: m.throughputPerSec,
        outOfOrder: m.outOfOrder,
        inversions: m.inversions,
        duplicateDeliveries: m.duplicateDeliveries,
      });
      results.push({
        point,
        queues: { fifo: pick(r.queues.fifo), standard: pick(r.queues.standard) },
      });
    } finally {
      await cloud.stop();
    }
  }
  return results;
}

/** Consumer environment of the idempotency-key experiment: which field Powertools keys on. */
export function idempotencyKeyEnv(
  key: 'orderId' | 'messageId',
): Partial<Record<QueueKind, Record<string, string>>> {
  const env = { [ENV.IDEMPOTENCY_KEY]: key };
  return { fifo: env, standard: env };
}
