import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ensureDirectory } from '../../../shared/src/cli/directory';
import type { PipelineConfig } from '../../../shared/src/config/pipeline';
import { countRunItems, readRunLedger } from './adapters/ledger-reader';
import { queueDepth, readDlq, readQueueSettings } from './adapters/queues';
import { type DrainSnapshot, waitForDrain } from './domain/drain';
import type { RunLedger } from './domain/metrics';
import { renderHtml } from './domain/render-html';
import { renderJson, renderMarkdown } from './domain/render-text';
import { buildReport, type ReportData, type ReportTarget } from './domain/report';

/**
 * How the drain wait polls, per target. The local cloud and LocalStack count their queues
 * exactly: two quiet polls a second apart end the wait. On AWS the counts are approximate and
 * lag ("may not achieve consistency until at least 1 minute after the producers stop sending
 * messages", GetQueueAttributes, API Reference), so the quiet polls there must span 60 s, every
 * one reading both depths 0 and the ledger's count unchanged; one poll every 5 s (each counts the
 * run's ledger items, a Query that reads all of them). AWS's own test of an empty queue is
 * longer still (all three counts 0 "for several minutes"): the ledger standing still for the
 * minute stands in for the rest.
 */
export const DRAIN_WAIT: Record<ReportTarget, { intervalMs: number; quietMs: number }> = {
  local: { intervalMs: 1000, quietMs: 0 },
  localstack: { intervalMs: 1000, quietMs: 0 },
  aws: { intervalMs: 5000, quietMs: 60_000 },
};

/** Where a run lives: the clients and resource names of one target. */
export interface ReportSource {
  documentClient: DynamoDBDocumentClient;
  sqsClient: SQSClient;
  ledgerTable: string;
  queueUrls: { fifo: string; standard: string; fifoDlq: string; standardDlq: string };
}

export interface GenerateOptions {
  runId: string;
  target: ReportTarget;
  config: PipelineConfig;
  source: ReportSource;
  /** 0 = do not wait for the queues to drain. */
  waitTimeoutMs: number;
  /** The drain's poll interval, where DRAIN_WAIT's for the target is not wanted. */
  pollIntervalMs?: number;
  /** The drain's clock (default the real one; a test gives its own). */
  drainClock?: { now: () => number; sleep: (ms: number) => Promise<void> };
  onProgress?: (snapshot: DrainSnapshot, elapsedMs: number) => void;
  /** Sees the ledger the report is built from (experiments time the consumers from it). */
  onLedger?: (ledger: RunLedger) => void;
  /**
   * Awaited once the drain wait is over, before the ledger is read: a local run's writes of the
   * clock skips it made while the wait polled are in the ledger when the report reads it.
   */
  beforeRead?: () => Promise<void>;
}

/**
 * Programmatic report: waits for the drain, reads the ledger, both DLQs (without consuming
 * them) and both queues' RedrivePolicy and VisibilityTimeout (the maxReceiveCount and visibility
 * timeout deployed), computes (the demo calls this).
 */
export async function generateReport(options: GenerateOptions): Promise<ReportData> {
  const { source, runId } = options;
  if (options.waitTimeoutMs > 0) {
    const wait = DRAIN_WAIT[options.target];
    await waitForDrain({
      timeoutMs: options.waitTimeoutMs,
      intervalMs: options.pollIntervalMs ?? wait.intervalMs,
      quietMs: wait.quietMs,
      ...(options.drainClock ?? {}),
      onProgress: options.onProgress,
      poll: async () => {
        const [fifo, standard, ledgerItems] = await Promise.all([
          queueDepth(source.sqsClient, source.queueUrls.fifo),
          queueDepth(source.sqsClient, source.queueUrls.standard),
          countRunItems(source.documentClient, source.ledgerTable, runId),
        ]);
        return { queued: { fifo, standard }, ledgerItems };
      },
    });
  }
  await options.beforeRead?.();
  // Every read is waited for, also when one fails: a DLQ read hides what it received until it
  // releases it, so the report ends (or fails) only once both DLQs are as they were.
  const [read, fifoDlq, standardDlq, fifoSettings, standardSettings] = await allOrFirstError([
    readRunLedger(source.documentClient, source.ledgerTable, runId),
    readDlq(source.sqsClient, source.queueUrls.fifoDlq, runId),
    readDlq(source.sqsClient, source.queueUrls.standardDlq, runId),
    // The maxReceiveCount and visibility timeout the queues were deployed with, not the config's.
    readQueueSettings(source.sqsClient, source.queueUrls.fifo),
    readQueueSettings(source.sqsClient, source.queueUrls.standard),
  ] as const);
  const ledger: RunLedger = { ...read, dlq: { fifo: fifoDlq, standard: standardDlq } };
  options.onLedger?.(ledger);
  return buildReport({
    runId,
    target: options.target,
    config: options.config,
    ledger,
    redrive: { fifo: fifoSettings.redrive, standard: standardSettings.redrive },
    visibility: { fifo: fifoSettings.visibility, standard: standardSettings.visibility },
  });
}

/**
 * Like Promise.all, but settles only once every promise has: then the values, or the error of
 * the first (in the list's order) that failed.
 */
async function allOrFirstError<T extends readonly unknown[]>(
  promises: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}

/** Writes report.json, report.md and report.html into `dir`; returns their paths. */
export async function writeReportFiles(data: ReportData, dir: string): Promise<string[]> {
  ensureDirectory(dir);
  const files: [string, string][] = [
    ['report.json', renderJson(data.report)],
    ['report.md', renderMarkdown(data.report)],
    ['report.html', renderHtml(data)],
  ];
  const paths: string[] = [];
  for (const [name, text] of files) {
    const path = join(dir, name);
    await writeFile(path, text);
    paths.push(path);
  }
  return paths;
}
