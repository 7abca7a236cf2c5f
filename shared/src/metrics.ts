import type { QueueKind } from './queue-kind';

/**
 * The consumers' metrics contract, read by everything that writes or reads them: the consumer
 * (Powertools Metrics, embedded metric format on stdout), the CDK dashboard and alarms (CloudWatch
 * extracts the same lines into metrics, no PutMetricData call) and the local cloud's live view
 * (it reads the same lines from its function workers). Rename nothing here without the dashboard,
 * the alarms and the live page following: a name is the only link between writer and reader.
 */

/** CloudWatch namespace of every pipeline metric. */
export const METRICS_NAMESPACE = 'OrderPipelineLab';

/**
 * Powertools Metrics always adds a `service` dimension. It is fixed here (not the function's
 * POWERTOOLS_SERVICE_NAME) so a dashboard can name the exact dimension set {service, queue}
 * without knowing the function names.
 */
export const METRICS_SERVICE = 'order-pipeline';

/** The dimension that splits every metric into the FIFO and the standard side. */
export const QUEUE_DIMENSION = 'queue';

/** CloudWatch units as EMF spells them (Powertools' MetricUnit and CDK's Unit use the same strings). */
export type MetricUnitName = 'Count' | 'Milliseconds';

export interface MetricDefinition {
  name: string;
  unit: MetricUnitName;
  /** What one value means; the dashboard and docs show it. */
  description: string;
}

/** Every metric the consumer emits, one value per event (per delivery or per apply). */
export const CONSUMER_METRICS = {
  ordersApplied: {
    name: 'OrdersApplied',
    unit: 'Count',
    description: "an order's effect committed on this queue (the first and only time)",
  },
  outOfOrderApplies: {
    name: 'OutOfOrderApplies',
    unit: 'Count',
    description:
      "an apply after a higher sequence of the same customer applied on this queue with a lower apply index (the report's rule), asked of each apply whose turn found a higher sequence",
  },
  copiesSuppressed: {
    name: 'CopiesSuppressed',
    unit: 'Count',
    description:
      "an extra delivery of an order already applied, caught by idempotency (the record, or the effect's conditional write) instead of running the effect again",
  },
  retriesAfterFailure: {
    name: 'RetriesAfterFailure',
    unit: 'Count',
    description:
      'a delivery whose ApproximateReceiveCount is above 1 (a redelivery: an earlier receive of the same message failed, timed out, or was not deleted); the report splits these by cause, a retry after failure being one. The name is kept for dashboards and alarms already built on it',
  },
  deliveryFailures: {
    name: 'DeliveryFailures',
    unit: 'Count',
    description:
      'a delivery the consumer reported as failed (it returns to the queue, or to the DLQ)',
  },
  acceptedToAppliedLatency: {
    name: 'AcceptedToAppliedLatency',
    unit: 'Milliseconds',
    description: 'from the API accepting the order to its effect committing on this queue',
  },
} as const satisfies Record<string, MetricDefinition>;

export type ConsumerMetricKey = keyof typeof CONSUMER_METRICS;

/**
 * Per-order detail carried in the same EMF line as metadata (top-level keys CloudWatch keeps in
 * the log event but does not turn into metrics): what the live view draws, and what a Logs
 * Insights query filters on to find which orders were late or suppressed.
 */
export const ORDER_EVENTS_KEY = 'orderEvents';

export type OrderEventKind = 'applied' | 'suppressed' | 'failed';

export interface OrderEvent {
  event: OrderEventKind;
  runId: string;
  orderId: string;
  customerId: string;
  sequence: number;
  /** applied only: the apply came after a higher sequence of the same customer. */
  late?: boolean;
  /**
   * applied only: the apply's index among its customer's turns on the queue, by which the live
   * view orders applies (shared/src/apply-order.ts).
   */
  applyIndex?: number;
  /** applied only: accepted to committed, ms. */
  latencyMs?: number;
  /** The delivery's ApproximateReceiveCount. */
  receiveCount: number;
}

/** The dimensions of every consumer metric on one queue. */
export function consumerDimensions(queue: QueueKind): Record<string, string> {
  return { service: METRICS_SERVICE, [QUEUE_DIMENSION]: queue };
}
