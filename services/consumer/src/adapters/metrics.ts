import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  CONSUMER_METRICS,
  type ConsumerMetricKey,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  ORDER_EVENTS_KEY,
  type OrderEvent,
  QUEUE_DIMENSION,
} from '../../../../shared/src/metrics';
import type { QueueKind } from '../../../../shared/src/queue-kind';
import type { ConsumerMetricsPort } from '../domain/ports';

/**
 * The consumer's metrics through Powertools Metrics: values are buffered during an invocation
 * and written as one embedded-metric-format line on stdout at its end, which CloudWatch Logs
 * turns into metrics (no PutMetricData call, no extra permission) and the local cloud's live view
 * reads. The line also carries the invocation's order events as metadata.
 */
export class PowertoolsConsumerMetrics implements ConsumerMetricsPort {
  private events: OrderEvent[] = [];

  constructor(
    queue: QueueKind,
    private readonly metrics: Metrics = new Metrics({
      namespace: METRICS_NAMESPACE,
      serviceName: METRICS_SERVICE,
      defaultDimensions: { [QUEUE_DIMENSION]: queue },
    }),
  ) {}

  private add(key: ConsumerMetricKey, value: number): void {
    const m = CONSUMER_METRICS[key];
    this.metrics.addMetric(m.name, MetricUnit[m.unit], value);
  }

  record(event: OrderEvent): void {
    this.events.push(event);
    if (event.receiveCount > 1) this.add('retriesAfterFailure', 1);
    switch (event.event) {
      case 'applied':
        this.add('ordersApplied', 1);
        // A 0 for every in-order apply: the sum counts late applies, and FIFO's alarm gets a
        // datapoint whenever anything was applied.
        this.add('outOfOrderApplies', event.late ? 1 : 0);
        if (event.latencyMs !== undefined) this.add('acceptedToAppliedLatency', event.latencyMs);
        break;
      case 'suppressed':
        this.add('copiesSuppressed', 1);
        break;
      case 'failed':
        this.add('deliveryFailures', 1);
        break;
    }
  }

  publish(): void {
    if (this.events.length === 0) return;
    // Powertools types metadata values as strings but writes them into the line as given; a list
    // of objects keeps each event's fields queryable in Logs Insights (orderEvents.0.orderId).
    // test/unit/consumer/metrics.test.ts pins this down against the installed Powertools.
    this.metrics.addMetadata(ORDER_EVENTS_KEY, this.events as unknown as string);
    // A publish that throws (app.ts logs it) carries nothing into the next invocation's line:
    // the events are dropped here first, and Powertools (2.35) clears its buffered values, the
    // dimensions and the metadata in a `finally` of publishStoredMetrics. The invocation's line
    // is lost, never counted twice (test/unit/consumer/metrics.test.ts holds the installed
    // Powertools to it).
    this.events = [];
    this.metrics.publishStoredMetrics();
  }
}
