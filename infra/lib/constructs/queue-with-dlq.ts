import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  DeduplicationScope,
  FifoThroughputLimit,
  Queue,
  QueueEncryption,
  RedrivePermission,
} from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { QueueConfig } from '../../../shared/src/config/pipeline';

export interface QueueWithDlqProps {
  config: QueueConfig;
}

/** One pipeline queue and its dead-letter queue, both built from the shared QueueConfig. */
export class QueueWithDlq extends Construct {
  readonly queue: Queue;
  readonly dlq: Queue;

  constructor(scope: Construct, id: string, props: QueueWithDlqProps) {
    super(scope, id);
    const { config } = props;

    // A FIFO queue's DLQ must itself be FIFO (AWS rule), so the DLQ copies the queue's type.
    this.dlq = new Queue(this, 'dlq', {
      queueName: config.dlq.name,
      fifo: config.fifo ? true : undefined,
      retentionPeriod: Duration.seconds(config.dlq.retentionPeriodSeconds),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Only the pipeline's own queue may dead-letter here (RedriveAllowPolicy byQueue), so a
      // stray queue cannot mix its failures into the pipeline's. The source is named by its ARN,
      // built from the configured name: a reference to the queue construct would make a cycle
      // (the queue's RedrivePolicy already points at this DLQ).
      redriveAllowPolicy: {
        redrivePermission: RedrivePermission.BY_QUEUE,
        sourceQueues: [
          Queue.fromQueueArn(
            this,
            'source',
            Stack.of(this).formatArn({ service: 'sqs', resource: config.name }),
          ),
        ],
      },
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.queue = new Queue(this, 'queue', {
      queueName: config.name,
      fifo: config.fifo ? true : undefined,
      visibilityTimeout: Duration.seconds(config.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(config.retentionPeriodSeconds),
      receiveMessageWaitTime: Duration.seconds(config.receiveWaitTimeSeconds),
      contentBasedDeduplication: config.fifo ? config.contentBasedDeduplication : undefined,
      // A standard queue with these set is refused by describeDeployment before this runs.
      deduplicationScope: deduplicationScope(config.deduplicationScope),
      fifoThroughputLimit: fifoThroughputLimit(config.fifoThroughputLimit),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.dlq, maxReceiveCount: config.dlq.maxReceiveCount },
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }
}

function deduplicationScope(v: QueueConfig['deduplicationScope']): DeduplicationScope | undefined {
  if (v === undefined) return undefined;
  return v === 'queue' ? DeduplicationScope.QUEUE : DeduplicationScope.MESSAGE_GROUP;
}

function fifoThroughputLimit(
  v: QueueConfig['fifoThroughputLimit'],
): FifoThroughputLimit | undefined {
  if (v === undefined) return undefined;
  return v === 'perQueue'
    ? FifoThroughputLimit.PER_QUEUE
    : FifoThroughputLimit.PER_MESSAGE_GROUP_ID;
}
