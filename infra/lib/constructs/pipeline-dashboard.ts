import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  Stats,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { QUEUE_KINDS, type QueueConfig, type QueueKind } from '../../../shared/src/config/pipeline';

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
}

const PERIOD = Duration.minutes(1);

/**
 * Oldest-message alarm threshold: a message still queued after every receive it is allowed
 * (maxReceiveCount x visibility timeout) means the consumer is not keeping up or not running.
 */
export function oldestMessageThresholdSeconds(config: QueueConfig): number {
  return config.dlq.maxReceiveCount * config.visibilityTimeoutSeconds;
}

/** Alarms on both DLQs and both queues' backlog age, and one dashboard comparing the two sides. */
export class PipelineDashboard extends Construct {
  readonly dashboard: Dashboard;
  readonly dlqAlarms: Record<QueueKind, Alarm>;
  readonly ageAlarms: Record<QueueKind, Alarm>;

  constructor(scope: Construct, id: string, props: PipelineDashboardProps) {
    super(scope, id);
    const { sides } = props;

    this.dlqAlarms = {} as Record<QueueKind, Alarm>;
    this.ageAlarms = {} as Record<QueueKind, Alarm>;
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
        // SQS sends no datapoints for an idle queue; idle is healthy.
        treatMissingData: TreatMissingData.NOT_BREACHING,
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
    }

    const both = (title: string, metric: (side: PipelineSide, kind: QueueKind) => IMetric) =>
      new GraphWidget({
        title,
        width: 8,
        height: 6,
        left: QUEUE_KINDS.map((kind) => metric(sides[kind], kind)),
      });
    const opts = (kind: QueueKind, statistic: string = Stats.MAXIMUM) => ({
      period: PERIOD,
      statistic,
      label: kind,
    });

    this.dashboard = new Dashboard(this, 'dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(1),
    });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          '# FIFO vs standard\nSame orders on both queues. Left: backlog; middle: consumers; right: failures. `npm run report -- --target aws --run <id>` gives ordering and duplicates.',
        width: 24,
        height: 2,
      }),
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
}
