import type { DuplicateCauses, QueueMetrics } from './metrics';
import type { Report } from './report';

/** One line of the side-by-side comparison: a label and the value per queue. */
export interface ComparisonRow {
  field: string;
  label: string;
  fifo: string;
  standard: string;
}

const fmt = (v: number | null): string =>
  v === null ? '-' : Number.isInteger(v) ? String(v) : v.toFixed(2);

/**
 * The one name of each duplicate cause, used by the table, the Markdown, the HTML and
 * docs/report.md alike, with what it means.
 */
export const DUPLICATE_CAUSES: Record<keyof DuplicateCauses, { label: string; why: string }> = {
  producerResend: {
    label: 'producer re-send',
    why: 'a second SQS message of the order: the producer sent it again after a send whose answer it never got',
  },
  queueCopy: {
    label: 'queue copy',
    why: 'the same message again while no attempt at it had failed: SQS delivered it once more on its own',
  },
  retryAfterFailure: {
    label: 'retry after failure',
    why: 'the same message after an attempt at it failed or timed out',
  },
};

/** The one name of each metric, as every rendering shows it. */
export const METRIC_LABELS = {
  accepted: 'accepted',
  deliveries: 'deliveries',
  duplicateDeliveries: 'duplicate deliveries',
  producerResend: `duplicates: ${DUPLICATE_CAUSES.producerResend.label}`,
  queueCopy: `duplicates: ${DUPLICATE_CAUSES.queueCopy.label}`,
  retryAfterFailure: `duplicates: ${DUPLICATE_CAUSES.retryAfterFailure.label}`,
  redeliveries: 'redeliveries (SQS receive count > 1)',
  suppressed: 'suppressed by idempotency',
  refusedByEffectGuard: 'refused by the effect guard',
  processed: 'processed',
  duplicateEffects: 'duplicate effects',
  outOfOrder: 'out-of-order applies',
  inversions: 'inversions (Kendall distance)',
  customersAffected: 'customers affected',
  applyIndexGaps: 'apply index gaps',
  inDlq: 'in DLQ',
  appliedInDlq: 'applied, a copy in DLQ',
  dlqDepth: 'DLQ messages (SQS, all runs)',
  dlqUnread: 'DLQ messages unread',
  lost: 'lost',
} as const;

const METRIC_ROWS: { field: string; label: string; get: (m: QueueMetrics) => number | null }[] = [
  { field: 'deliveries', label: METRIC_LABELS.deliveries, get: (m) => m.deliveries },
  {
    field: 'duplicateDeliveries',
    label: METRIC_LABELS.duplicateDeliveries,
    get: (m) => m.duplicateDeliveries,
  },
  {
    field: 'duplicateCauses.producerResend',
    label: METRIC_LABELS.producerResend,
    get: (m) => m.duplicateCauses.producerResend,
  },
  {
    field: 'duplicateCauses.queueCopy',
    label: METRIC_LABELS.queueCopy,
    get: (m) => m.duplicateCauses.queueCopy,
  },
  {
    field: 'duplicateCauses.retryAfterFailure',
    label: METRIC_LABELS.retryAfterFailure,
    get: (m) => m.duplicateCauses.retryAfterFailure,
  },
  { field: 'redeliveries', label: METRIC_LABELS.redeliveries, get: (m) => m.redeliveries },
  { field: 'suppressed', label: METRIC_LABELS.suppressed, get: (m) => m.suppressed },
  {
    field: 'refusedByEffectGuard',
    label: METRIC_LABELS.refusedByEffectGuard,
    get: (m) => m.refusedByEffectGuard,
  },
  { field: 'processed', label: METRIC_LABELS.processed, get: (m) => m.processed },
  {
    field: 'duplicateEffects',
    label: METRIC_LABELS.duplicateEffects,
    get: (m) => m.duplicateEffects,
  },
  { field: 'outOfOrder', label: METRIC_LABELS.outOfOrder, get: (m) => m.outOfOrder },
  { field: 'inversions', label: METRIC_LABELS.inversions, get: (m) => m.inversions },
  {
    field: 'customersAffected',
    label: METRIC_LABELS.customersAffected,
    get: (m) => m.customersAffected,
  },
  { field: 'applyIndexGaps', label: METRIC_LABELS.applyIndexGaps, get: (m) => m.applyIndexGaps },
  { field: 'inDlq', label: METRIC_LABELS.inDlq, get: (m) => m.inDlq },
  { field: 'appliedInDlq', label: METRIC_LABELS.appliedInDlq, get: (m) => m.appliedInDlq },
  { field: 'dlqDepth', label: METRIC_LABELS.dlqDepth, get: (m) => m.dlqDepth },
  { field: 'dlqUnread', label: METRIC_LABELS.dlqUnread, get: (m) => m.dlqUnread },
  { field: 'lost', label: METRIC_LABELS.lost, get: (m) => m.lost },
  { field: 'latencyMs.p50', label: 'latency p50 (ms)', get: (m) => m.latencyMs.p50 },
  { field: 'latencyMs.p95', label: 'latency p95 (ms)', get: (m) => m.latencyMs.p95 },
  { field: 'latencyMs.p99', label: 'latency p99 (ms)', get: (m) => m.latencyMs.p99 },
  { field: 'latencyMs.max', label: 'latency max (ms)', get: (m) => m.latencyMs.max },
  {
    field: 'throughputPerSec',
    // End to end: what it measures is the slowest of the load, the producer and the consumers.
    label: 'throughput (orders/s, first accept to last apply)',
    get: (m) => m.throughputPerSec,
  },
];

export function comparisonRows(report: Report): ComparisonRow[] {
  const rows: ComparisonRow[] = [
    {
      field: 'accepted',
      label: METRIC_LABELS.accepted,
      fifo: String(report.accepted),
      standard: String(report.accepted),
    },
  ];
  for (const r of METRIC_ROWS) {
    rows.push({
      field: r.field,
      label: r.label,
      fifo: fmt(r.get(report.queues.fifo)),
      standard: fmt(r.get(report.queues.standard)),
    });
  }
  return rows;
}
