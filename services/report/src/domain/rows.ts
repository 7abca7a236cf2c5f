import type { QueueMetrics } from './metrics';
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

const METRIC_ROWS: { field: string; label: string; get: (m: QueueMetrics) => number | null }[] = [
  { field: 'deliveries', label: 'deliveries', get: (m) => m.deliveries },
  {
    field: 'duplicateDeliveries',
    label: 'duplicate deliveries',
    get: (m) => m.duplicateDeliveries,
  },
  { field: 'redeliveries', label: 'redeliveries (receive count > 1)', get: (m) => m.redeliveries },
  { field: 'suppressed', label: 'suppressed by idempotency', get: (m) => m.suppressed },
  { field: 'processed', label: 'processed', get: (m) => m.processed },
  { field: 'duplicateEffects', label: 'duplicate effects', get: (m) => m.duplicateEffects },
  { field: 'outOfOrder', label: 'out-of-order applies', get: (m) => m.outOfOrder },
  { field: 'inversions', label: 'inversions (Kendall distance)', get: (m) => m.inversions },
  { field: 'customersAffected', label: 'customers affected', get: (m) => m.customersAffected },
  { field: 'inDlq', label: 'in DLQ', get: (m) => m.inDlq },
  { field: 'lost', label: 'lost', get: (m) => m.lost },
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
      label: 'accepted',
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
