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
export const DUPLICATE_CAUSES: Record<
  keyof DuplicateCauses,
  {
    label: string;
    /** The label of more than one. */
    labels: string;
    why: string;
  }
> = {
  producerResend: {
    label: 'producer re-send',
    labels: 'producer re-sends',
    why: 'a second SQS message of the order: the producer sent it again after a send whose answer it never got',
  },
  queueCopy: {
    label: 'queue copy',
    labels: 'queue copies',
    why: "the same message again with no failed attempt at it before it in SQS's order: SQS delivered it once more on its own",
  },
  retryAfterFailure: {
    label: 'retry after failure',
    labels: 'retries after failure',
    why: 'the same message received again after an attempt at it failed or never finished',
  },
  dlqRedrive: {
    label: 'DLQ redrive',
    labels: 'DLQ redrives',
    why: 'a new SQS message of the order that the producer never sent, after an earlier one went to the DLQ: a redrive put it back',
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
  dlqRedrive: `duplicates: ${DUPLICATE_CAUSES.dlqRedrive.label}`,
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

interface MetricRow {
  field: string;
  label: string;
  get: (m: QueueMetrics) => number | null;
}

/** A count of QueueMetrics with its one name: field, label and value come from the key. */
type CountKey = {
  [K in keyof QueueMetrics]: QueueMetrics[K] extends number ? K : never;
}[keyof QueueMetrics] &
  keyof typeof METRIC_LABELS;

const count = (key: CountKey): MetricRow => ({
  field: key,
  label: METRIC_LABELS[key],
  get: (m) => m[key],
});

const cause = (key: keyof DuplicateCauses): MetricRow => ({
  field: `duplicateCauses.${key}`,
  label: METRIC_LABELS[key],
  get: (m) => m.duplicateCauses[key],
});

const latency = (p: 'p50' | 'p95' | 'p99' | 'max'): MetricRow => ({
  field: `latencyMs.${p}`,
  label: `latency ${p} (ms)`,
  get: (m) => m.latencyMs[p],
});

const METRIC_ROWS: MetricRow[] = [
  count('deliveries'),
  count('duplicateDeliveries'),
  cause('producerResend'),
  cause('queueCopy'),
  cause('retryAfterFailure'),
  cause('dlqRedrive'),
  count('redeliveries'),
  count('suppressed'),
  count('refusedByEffectGuard'),
  count('processed'),
  count('duplicateEffects'),
  count('outOfOrder'),
  count('inversions'),
  count('customersAffected'),
  count('applyIndexGaps'),
  count('inDlq'),
  count('appliedInDlq'),
  count('dlqDepth'),
  count('dlqUnread'),
  count('lost'),
  latency('p50'),
  latency('p95'),
  latency('p99'),
  latency('max'),
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
