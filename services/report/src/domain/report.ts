import type { PipelineConfig, QueueKind } from '../../../../shared/src/config/pipeline';
import {
  acceptedById,
  analyzeQueue,
  producerIdsById,
  type QueueAnalysis,
  type QueueMetrics,
  type RunLedger,
} from './metrics';

export type ReportTarget = 'local' | 'localstack' | 'aws';

/** The settings that shape the numbers, so a report read later says what produced it. */
export interface ReportConfig {
  queues: Record<
    QueueKind,
    {
      queueName: string;
      batchSize: number;
      maximumConcurrency: number;
      processing: string;
      maxReceiveCount: number;
      visibilityTimeoutSeconds: number;
      /** The consumer's function timeout: an attempt pending this long never finished. */
      functionTimeoutSeconds: number;
    }
  >;
}

/** The JSON report (docs/report.md); its field names are a contract. */
export interface Report {
  runId: string;
  target: ReportTarget;
  generatedAt: string;
  config: ReportConfig;
  accepted: number;
  queues: Record<QueueKind, QueueMetrics>;
  /**
   * Where the report had to read something the weaker way, one sentence each (printed under the
   * table): messages whose receives had no usable receive count, and so on. Empty otherwise.
   */
  notes: string[];
}

/** The report plus what the charts draw (not part of the JSON contract). */
export interface ReportData {
  report: Report;
  /** The evidence the numbers came from, for checks that want to look past the numbers. */
  ledger: RunLedger;
  analysis: Record<QueueKind, QueueAnalysis>;
  /**
   * Requests beyond the first for the same order (client retries with the same Idempotency-Key),
   * as the producer counts them: every one whose key named this order and whose body matched,
   * whatever it was answered. Each was answered from the order's record, or sent again only what
   * the producer did not know was sent, or was answered 409 (another request may still be
   * sending the order), and counts once however it was answered.
   */
  clientRetries: number;
  /**
   * Deliveries the consumer reported as failed, per queue (what FIFO's later orders waited
   * behind): failed attempts only, not the not-attempted failures of records dead-lettered
   * unrun behind one (FailureRecord.notAttempted).
   */
  failedDeliveries: Record<QueueKind, number>;
  /**
   * Suppressed deliveries per queue by what stopped them: Powertools' idempotency record, or the
   * effect's own conditional write (the record had expired or was left in progress by a crash).
   */
  suppressedBy: Record<QueueKind, { record: number; effect: number }>;
}

export function reportConfig(config: PipelineConfig): ReportConfig {
  const q = (kind: QueueKind) => ({
    queueName: config.queues[kind].name,
    batchSize: config.consumers[kind].batchSize,
    maximumConcurrency: config.consumers[kind].maximumConcurrency,
    processing: config.consumers[kind].processing,
    maxReceiveCount: config.queues[kind].dlq.maxReceiveCount,
    visibilityTimeoutSeconds: config.queues[kind].visibilityTimeoutSeconds,
    functionTimeoutSeconds: config.consumers[kind].timeoutSeconds,
  });
  return { queues: { fifo: q('fifo'), standard: q('standard') } };
}

function suppressedBy(ledger: RunLedger): ReportData['suppressedBy'] {
  const out = { fifo: { record: 0, effect: 0 }, standard: { record: 0, effect: 0 } };
  for (const d of ledger.deliveries) {
    if (d.outcome !== 'suppressed') continue;
    // Deliveries written before the effect guard existed name nothing: the record stopped them.
    out[d.queue][d.suppressedBy === 'effect' ? 'effect' : 'record']++;
  }
  return out;
}

export function buildReport(input: {
  runId: string;
  target: ReportTarget;
  config: PipelineConfig;
  ledger: RunLedger;
  now?: Date;
}): ReportData {
  const accepted = acceptedById(input.ledger);
  const producerIds = producerIdsById(input.ledger);
  const options = (q: QueueKind) => ({
    attemptTimeoutMs: input.config.consumers[q].timeoutSeconds * 1000,
    maxReceiveCount: input.config.queues[q].dlq.maxReceiveCount,
  });
  const fifo = analyzeQueue(input.ledger, 'fifo', accepted, options('fifo'), producerIds);
  const standard = analyzeQueue(
    input.ledger,
    'standard',
    accepted,
    options('standard'),
    producerIds,
  );
  const notes: string[] = [];
  for (const [q, a] of [
    ['fifo', fifo],
    ['standard', standard],
  ] as const) {
    const n = a.duplicates.timeOrderedMessages;
    if (n > 0) {
      notes.push(
        `${q}: ${n} message${n === 1 ? '' : 's'} received more than once had no usable ApproximateReceiveCount in the ledger; their retries and queue copies were told apart by the consumers' receive times, not by SQS's order`,
      );
    }
  }
  return {
    report: {
      runId: input.runId,
      target: input.target,
      generatedAt: (input.now ?? new Date()).toISOString(),
      config: reportConfig(input.config),
      accepted: input.ledger.accepted.length,
      queues: { fifo: fifo.metrics, standard: standard.metrics },
      notes,
    },
    ledger: input.ledger,
    analysis: { fifo, standard },
    clientRetries: input.ledger.accepted.reduce(
      (n, a) => n + Math.max(0, (a.requests ?? 1) - 1),
      0,
    ),
    failedDeliveries: {
      fifo: input.ledger.failures.filter((f) => f.queue === 'fifo' && !f.notAttempted).length,
      standard: input.ledger.failures.filter((f) => f.queue === 'standard' && !f.notAttempted)
        .length,
    },
    suppressedBy: suppressedBy(input.ledger),
  };
}
