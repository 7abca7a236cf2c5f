import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  Metric,
  SingleValueWidget,
  Stats,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { QueueConfig } from '../../../shared/src/config/pipeline';
import {
  CONSUMER_METRICS,
  type ConsumerMetricKey,
  consumerDimensions,
  METRICS_NAMESPACE,
} from '../../../shared/src/metrics';
import { QUEUE_KINDS, type QueueKind } from '../../../shared/src/queue-kind';
import type { AlarmTopic } from './alarm-topic';

export interface PipelineSide {
  config: QueueConfig;
  queue: Queue;
  dlq: Queue;
  consumer: NodejsFunction;
}

export interface PipelineDashboardProps {
  dashboardName: string;
  sides: Record<QueueKind, PipelineSide>;
  producer: NodejsFunction;
  /** Every alarm notifies this topic when it fires and when it recovers. */
  alarmTopic: AlarmTopic;
}

const PERIOD = Duration.minutes(1);

/**
 * Oldest-message alarm threshold: a message still queued after every receive it is allowed
 * (maxReceiveCount x visibility timeout) means the consumer is not keeping up or not running.
 */
export function oldestMessageThresholdSeconds(config: QueueConfig): number {
  return config.dlq.maxReceiveCount * config.visibilityTimeoutSeconds;
}

/** One of the consumers' own metrics (shared/src/metrics.ts) on one queue. */
export function consumerMetric(
  key: ConsumerMetricKey,
  queue: QueueKind,
  statistic: string = Stats.SUM,
  period: Duration = PERIOD,
): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: CONSUMER_METRICS[key].name,
    dimensionsMap: consumerDimensions(queue),
    statistic,
    period,
  });
}

/**
 * The alarms worth waking someone for, all notifying one SNS topic, and one dashboard that puts
 * FIFO and standard side by side: first what the comparison is about (the consumers' own metrics,
 * from their embedded-metric-format log lines), then the queues and functions underneath.
 */
export class PipelineDashboard extends Construct {
  readonly dashboard: Dashboard;
  readonly dlqAlarms: Record<QueueKind, Alarm>;
  readonly ageAlarms: Record<QueueKind, Alarm>;
  readonly consumerErrorAlarms: Record<QueueKind, Alarm>;
  /** FIFO promises per-customer order: one out-of-order apply there is a bug, not a statistic. */
  readonly fifoOutOfOrderAlarm: Alarm;
  readonly producerErrorAlarm: Alarm;

  constructor(scope: Construct, id: string, props: PipelineDashboardProps) {
    super(scope, id);
    const { sides } = props;

    this.dlqAlarms = {} as Record<QueueKind, Alarm>;
    this.ageAlarms = {} as Record<QueueKind, Alarm>;
    this.consumerErrorAlarms = {} as Record<QueueKind, Alarm>;
    for (const kind of QUEUE_KINDS) {
      const side = sides[kind];
      this.dlqAlarms[kind] = new Alarm(this, `${kind}-dlq-not-empty`, {
        alarmDescription: `An order reached ${side.config.dlq.name}: it failed ${side.config.dlq.maxReceiveCount} times. Inspect, fix, then redrive.`,
        metric: side.dlq.metricApproximateNumberOfMessagesVisible({
          period: PERIOD,
          statistic: Stats.MAXIMUM,
        }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        // SQS stops sending datapoints for a queue nothing touches for six hours, even one that
        // holds messages: a missing datapoint must not turn the alarm OK (and mail "recovered")
        // while orders wait in the DLQ. The alarm keeps its state until a datapoint says 0.
        treatMissingData: TreatMissingData.IGNORE,
      });
      this.ageAlarms[kind] = new Alarm(this, `${kind}-oldest-message-age`, {
        alarmDescription: `The oldest message on ${side.config.name} has waited longer than maxReceiveCount x visibility timeout: consumers are behind or stuck.`,
        metric: side.queue.metricApproximateAgeOfOldestMessage({
          period: PERIOD,
          statistic: Stats.MAXIMUM,
        }),
        threshold: oldestMessageThresholdSeconds(side.config),
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      // A failed record is reported through the partial batch response and retried by SQS; a
      // Lambda error means a whole invocation died (crash, timeout, out of memory), so every
      // record of its batch is retried and counts one more receive towards the DLQ.
      this.consumerErrorAlarms[kind] = new Alarm(this, `${kind}-consumer-errors`, {
        alarmDescription: `The ${kind} consumer failed whole invocations (crash, timeout or out of memory) in 3 of the last 5 minutes; their batches are retried and move towards the DLQ.`,
        metric: side.consumer.metricErrors({ period: PERIOD, statistic: Stats.SUM }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
    }
    this.fifoOutOfOrderAlarm = new Alarm(this, 'fifo-out-of-order', {
      alarmDescription:
        "The FIFO consumer applied an order after a higher sequence of the same customer: FIFO's per-group order was broken (a consumer bug, or a client that sent out of sequence).",
      metric: consumerMetric('outOfOrderApplies', 'fifo'),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // The consumer emits the metric only when it applies something.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.producerErrorAlarm = new Alarm(this, 'producer-errors', {
      alarmDescription:
        'The producer failed invocations in 3 of the last 5 minutes: the API answers 502 and clients must retry with their Idempotency-Key.',
      metric: props.producer.metricErrors({ period: PERIOD, statistic: Stats.SUM }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    for (const alarm of this.alarms()) props.alarmTopic.notify(alarm);

    const both = (
      title: string,
      metric: (side: PipelineSide, kind: QueueKind) => IMetric | IMetric[],
      width = 8,
    ) =>
      new GraphWidget({
        title,
        width,
        height: 6,
        left: QUEUE_KINDS.flatMap((kind) => metric(sides[kind], kind)),
      });
    const opts = (kind: QueueKind, statistic: string = Stats.MAXIMUM) => ({
      period: PERIOD,
      statistic,
      label: kind,
    });
    const perMinute = (key: ConsumerMetricKey) => (_: PipelineSide, kind: QueueKind) =>
      consumerMetric(key, kind).with({ label: kind });

    this.dashboard = new Dashboard(this, 'dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(1),
    });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: [
          '# FIFO vs standard',
          'Same orders on both queues. Top rows: what the consumers saw, from their own metrics (namespace `' +
            METRICS_NAMESPACE +
            '`, dimension `queue`). FIFO should show no out-of-order applies and no suppressed copies but its client retries; standard shows both, and idempotency stops every copy. Below: the queues and functions. `npm run report -- --target aws --run <id>` gives the per-run comparison.',
        ].join('\n'),
        width: 24,
        height: 3,
      }),
    );
    this.dashboard.addWidgets(
      new SingleValueWidget({
        title: 'Totals over the selected time range',
        width: 24,
        height: 4,
        setPeriodToTimeRange: true,
        metrics: (
          ['ordersApplied', 'outOfOrderApplies', 'copiesSuppressed', 'retriesAfterFailure'] as const
        ).flatMap((key) =>
          QUEUE_KINDS.map((kind) =>
            consumerMetric(key, kind).with({ label: `${CONSUMER_METRICS[key].name} ${kind}` }),
          ),
        ),
      }),
    );
    this.dashboard.addWidgets(
      both('Orders applied per minute', perMinute('ordersApplied')),
      both('Out-of-order applies per minute', perMinute('outOfOrderApplies')),
      both('Copies suppressed by idempotency per minute', perMinute('copiesSuppressed')),
    );
    this.dashboard.addWidgets(
      // RetriesAfterFailure counts every delivery SQS handed out before (receive count above 1): the
      // report's "redeliveries", of which its "retry after failure" is one cause.
      both('Redeliveries (SQS receive count > 1) per minute', perMinute('retriesAfterFailure')),
      both('Accepted to applied latency p50 and p99 (ms)', (_, kind) =>
        (['p50', 'p99'] as const).map((p) =>
          consumerMetric('acceptedToAppliedLatency', kind, p).with({ label: `${kind} ${p}` }),
        ),
      ),
      both('Failed deliveries per minute', perMinute('deliveryFailures')),
    );
    this.dashboard.addWidgets(
      both('Queue depth (visible)', (s, k) =>
        s.queue.metricApproximateNumberOfMessagesVisible(opts(k)),
      ),
      both('In flight (not visible)', (s, k) =>
        s.queue.metricApproximateNumberOfMessagesNotVisible(opts(k)),
      ),
      both('Age of oldest message (s)', (s, k) =>
        s.queue.metricApproximateAgeOfOldestMessage(opts(k)),
      ),
    );
    this.dashboard.addWidgets(
      both('Consumer duration p99 (ms)', (s, k) => s.consumer.metricDuration(opts(k, Stats.p(99)))),
      both('Consumer concurrency', (s, k) =>
        s.consumer.metric('ConcurrentExecutions', opts(k, Stats.MAXIMUM)),
      ),
      both('Consumer errors', (s, k) => s.consumer.metricErrors(opts(k, Stats.SUM))),
    );
    this.dashboard.addWidgets(
      both('DLQ depth', (s, k) => s.dlq.metricApproximateNumberOfMessagesVisible(opts(k))),
      both('Messages received', (s, k) =>
        s.queue.metricNumberOfMessagesReceived(opts(k, Stats.SUM)),
      ),
      new GraphWidget({
        title: 'Producer',
        width: 8,
        height: 6,
        left: [
          props.producer.metricInvocations({ period: PERIOD, statistic: Stats.SUM }),
          props.producer.metricErrors({ period: PERIOD, statistic: Stats.SUM }),
        ],
        right: [props.producer.metricDuration({ period: PERIOD, statistic: Stats.p(99) })],
      }),
    );
  }

  /** Every alarm of the pipeline. */
  alarms(): Alarm[] {
    return [
      ...QUEUE_KINDS.flatMap((k) => [
        this.dlqAlarms[k],
        this.ageAlarms[k],
        this.consumerErrorAlarms[k],
      ]),
      this.fifoOutOfOrderAlarm,
      this.producerErrorAlarm,
    ];
  }
}
