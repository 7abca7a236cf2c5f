import {
  CONSUMER_METRICS,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  ORDER_EVENTS_KEY,
  type OrderEvent,
  QUEUE_DIMENSION,
} from '../../../shared/src/metrics';
import type { QueueKind } from '../../../shared/src/queue-kind';

/**
 * An EMF line shaped as Powertools Metrics writes it (test/unit/consumer checks the consumer's
 * real lines against the same parser), from the order events it describes.
 */
export function emfLine(queue: QueueKind, events: OrderEvent[]): string {
  const values: Record<string, number[]> = {};
  const add = (name: string, v: number) => {
    values[name] = [...(values[name] ?? []), v];
  };
  for (const e of events) {
    if (e.receiveCount > 1) add(CONSUMER_METRICS.retriesAfterFailure.name, 1);
    if (e.event === 'applied') {
      add(CONSUMER_METRICS.ordersApplied.name, 1);
      add(CONSUMER_METRICS.outOfOrderApplies.name, e.late ? 1 : 0);
      add(CONSUMER_METRICS.acceptedToAppliedLatency.name, e.latencyMs ?? 0);
    }
    if (e.event === 'suppressed') add(CONSUMER_METRICS.copiesSuppressed.name, 1);
    if (e.event === 'failed') add(CONSUMER_METRICS.deliveryFailures.name, 1);
  }
  const units = Object.fromEntries(Object.values(CONSUMER_METRICS).map((m) => [m.name, m.unit]));
  return JSON.stringify({
    _aws: {
      Timestamp: 1,
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [['service', QUEUE_DIMENSION]],
          Metrics: Object.keys(values).map((Name) => ({ Name, Unit: units[Name] })),
        },
      ],
    },
    [ORDER_EVENTS_KEY]: events,
    service: METRICS_SERVICE,
    [QUEUE_DIMENSION]: queue,
    ...Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v.length === 1 ? v[0] : v])),
  });
}

export function applied(
  customerId: string,
  sequence: number,
  opts: {
    late?: boolean;
    applyIndex?: number;
    runId?: string;
    latencyMs?: number;
    receiveCount?: number;
  } = {},
): OrderEvent {
  return {
    event: 'applied',
    runId: opts.runId ?? 'run-1',
    orderId: `${customerId}-${sequence}`,
    customerId,
    sequence,
    receiveCount: opts.receiveCount ?? 1,
    latencyMs: opts.latencyMs ?? 10,
    ...(opts.late ? { late: true } : {}),
    ...(opts.applyIndex !== undefined ? { applyIndex: opts.applyIndex } : {}),
  };
}

export function suppressed(customerId: string, sequence: number, runId = 'run-1'): OrderEvent {
  return {
    event: 'suppressed',
    runId,
    orderId: `${customerId}-${sequence}`,
    customerId,
    sequence,
    receiveCount: 1,
  };
}
