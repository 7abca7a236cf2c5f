import {
  CONSUMER_METRICS,
  METRICS_NAMESPACE,
  ORDER_EVENTS_KEY,
  type OrderEvent,
  type OrderEventKind,
  QUEUE_DIMENSION,
} from '../../shared/src/metrics';
import { QUEUE_KINDS, type QueueKind } from '../../shared/src/queue-kind';

/**
 * Reads one line a function wrote to stdout as CloudWatch would: a JSON object whose
 * `_aws.CloudWatchMetrics` names the namespace, dimensions and metrics, with each metric's value
 * (a number or a list of numbers) as a top-level key. Only the pipeline's namespace and a known
 * queue are taken; anything else (a log line, a half-written line, another namespace) is not a
 * metric line here, as CloudWatch would not extract it into these metrics either.
 */

export interface MetricLine {
  queue: QueueKind;
  /** Values per metric name, as written (a single value becomes a list of one). */
  values: Record<string, number[]>;
  events: OrderEvent[];
}

const KNOWN_METRICS = new Set<string>(Object.values(CONSUMER_METRICS).map((m) => m.name));
const EVENT_KINDS = new Set<OrderEventKind>(['applied', 'suppressed', 'failed']);

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * CloudWatch "rejects values that are either too small or too large. Values must be in the range
 * of -2^360 to 2^360. In addition, special values (for example, NaN, +Infinity, -Infinity) are
 * not supported" (MetricDatum.Value, CloudWatch API Reference). A metric with such a value is not
 * taken here either; summed, two values near the largest double made a counter Infinity, which
 * the page received as null.
 */
const MAX_METRIC_VALUE = 2 ** 360;

const isMetricValue = (x: unknown): x is number =>
  typeof x === 'number' && Math.abs(x) <= MAX_METRIC_VALUE;

function toValues(v: unknown): number[] | undefined {
  if (isMetricValue(v)) return [v];
  if (Array.isArray(v) && v.every(isMetricValue)) return v;
  return undefined;
}

function toEvent(v: unknown): OrderEvent | undefined {
  if (!isRecord(v)) return undefined;
  const { event, runId, orderId, customerId, sequence, receiveCount, late, applyIndex, latencyMs } =
    v;
  if (
    typeof event !== 'string' ||
    !EVENT_KINDS.has(event as OrderEventKind) ||
    typeof runId !== 'string' ||
    typeof orderId !== 'string' ||
    typeof customerId !== 'string' ||
    // An order's sequence and SQS's ApproximateReceiveCount are whole numbers (shared/src/order.ts
    // caps the sequence at MAX_SAFE_INTEGER). JSON reads `1e999` as Infinity, which the page
    // would receive as null: such an event describes no delivery and is dropped.
    !Number.isSafeInteger(sequence) ||
    !Number.isSafeInteger(receiveCount)
  ) {
    return undefined;
  }
  return {
    event: event as OrderEventKind,
    runId,
    orderId,
    customerId,
    sequence: sequence as number,
    receiveCount: receiveCount as number,
    ...(late === true ? { late: true } : {}),
    ...(Number.isSafeInteger(applyIndex) ? { applyIndex: applyIndex as number } : {}),
    ...(typeof latencyMs === 'number' && Number.isFinite(latencyMs) ? { latencyMs } : {}),
  };
}

export function parseMetricLine(line: string): MetricLine | undefined {
  // Cheap test first: most lines a function writes are plain log lines.
  if (!line.includes('"CloudWatchMetrics"')) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isRecord(doc) || !isRecord(doc._aws) || !Array.isArray(doc._aws.CloudWatchMetrics)) {
    return undefined;
  }
  const directive = doc._aws.CloudWatchMetrics.find(
    (d: unknown) => isRecord(d) && d.Namespace === METRICS_NAMESPACE,
  ) as Record<string, unknown> | undefined;
  if (!directive || !Array.isArray(directive.Metrics)) return undefined;
  const queue = doc[QUEUE_DIMENSION];
  if (typeof queue !== 'string' || !QUEUE_KINDS.includes(queue as QueueKind)) return undefined;

  const values: Record<string, number[]> = Object.create(null);
  for (const m of directive.Metrics) {
    if (!isRecord(m) || typeof m.Name !== 'string' || !KNOWN_METRICS.has(m.Name)) continue;
    const v = toValues(doc[m.Name]);
    if (v) values[m.Name] = v;
  }
  const rawEvents = doc[ORDER_EVENTS_KEY];
  const events = Array.isArray(rawEvents)
    ? rawEvents.map(toEvent).filter((e): e is OrderEvent => e !== undefined)
    : [];
  return { queue: queue as QueueKind, values, events };
}
