import { Duration } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../../shared/src/config/function-env';
import type { ConsumerConfig, QueueConfig } from '../../../shared/src/config/pipeline';
import { InfraConfigError } from '../errors';
import { PipelineFunction } from './pipeline-function';

export interface ConsumerFunctionProps {
  config: ConsumerConfig;
  queueConfig: QueueConfig;
  queue: Queue;
  ledgerTable: Table;
  idempotencyTable: Table;
  /** DynamoDB actions the consumer may call on each table (nothing else is granted). */
  ledgerActions: readonly string[];
  idempotencyActions: readonly string[];
  entry: string;
  functionName: string;
  /** Shared variables (table names, queue urls, run id) the stack gives every function. */
  environment: Record<string, string>;
  idempotency: { expiresAfterSeconds: number; keyPrefix: string };
}

/** Lambda's guidance for SQS event sources: visibility timeout at least 6x the function timeout. */
export const VISIBILITY_TO_TIMEOUT_RATIO = 6;

/** One consumer Lambda, its SQS event source mapping and exactly the grants it needs. */
export class ConsumerFunction extends Construct {
  readonly function: PipelineFunction;
  readonly eventSource: SqsEventSource;

  constructor(scope: Construct, id: string, props: ConsumerFunctionProps) {
    super(scope, id);
    const { config, queueConfig } = props;

    // Shorter and a batch still running could reappear on the queue and run twice at once.
    if (
      queueConfig.visibilityTimeoutSeconds <
      VISIBILITY_TO_TIMEOUT_RATIO * config.timeoutSeconds
    ) {
      throw new InfraConfigError(
        `queue ${queueConfig.name}: visibility timeout ${queueConfig.visibilityTimeoutSeconds}s is below ${VISIBILITY_TO_TIMEOUT_RATIO} x the consumer timeout ${config.timeoutSeconds}s`,
      );
    }
    if (queueConfig.fifo && config.maxBatchingWindowSeconds > 0) {
      throw new InfraConfigError(
        `consumer ${config.functionId}: Lambda rejects a batching window on a FIFO event source`,
      );
    }

    this.function = new PipelineFunction(this, 'function', {
      functionName: props.functionName,
      entry: props.entry,
      timeoutSeconds: config.timeoutSeconds,
      memorySizeMb: config.memorySizeMb,
      serviceName: config.functionId,
      environment: {
        ...props.environment,
        [ENV.QUEUE_KIND]: config.kind,
        [ENV.BATCH_PROCESSING]: config.processing,
        [ENV.MAX_RECEIVE_COUNT]: String(queueConfig.dlq.maxReceiveCount),
        [ENV.IDEMPOTENCY_ENABLED]: 'true',
        [ENV.IDEMPOTENCY_KEY]: 'orderId',
        [ENV.IDEMPOTENCY_EXPIRES_AFTER_SECONDS]: String(props.idempotency.expiresAfterSeconds),
        [ENV.IDEMPOTENCY_KEY_PREFIX]: props.idempotency.keyPrefix,
      },
    });

    this.eventSource = new SqsEventSource(props.queue, {
      batchSize: config.batchSize,
      maxConcurrency: config.maximumConcurrency,
      // Without it one failed record sends the whole batch back, re-running the ones that worked.
      reportBatchItemFailures: true,
      maxBatchingWindow:
        config.maxBatchingWindowSeconds > 0
          ? Duration.seconds(config.maxBatchingWindowSeconds)
          : undefined,
    });
    this.function.fn.addEventSource(this.eventSource);

    props.ledgerTable.grant(this.function.fn, ...props.ledgerActions);
    props.idempotencyTable.grant(this.function.fn, ...props.idempotencyActions);
  }
}
