import { Duration } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { MappingSpec } from '../../../shared/src/deployment';
import { PipelineFunction, type PipelineFunctionProps } from './pipeline-function';
import { grantOnTable } from './table-grant';

export interface ConsumerFunctionProps {
  /** The function, its environment included (from its FunctionSpec). */
  function: PipelineFunctionProps;
  /** How its queue feeds it (from the deployment's MappingSpec). */
  mapping: MappingSpec;
  queue: Queue;
  ledgerTable: Table;
  idempotencyTable: Table;
  /** DynamoDB actions the consumer may call on each table (nothing else is granted). */
  ledgerActions: readonly string[];
  idempotencyActions: readonly string[];
}

/** One consumer Lambda, its SQS event source mapping and exactly the grants it needs. */
export class ConsumerFunction extends Construct {
  readonly function: PipelineFunction;
  readonly eventSource: SqsEventSource;

  constructor(scope: Construct, id: string, props: ConsumerFunctionProps) {
    super(scope, id);
    const { mapping } = props;
    this.function = new PipelineFunction(this, 'function', props.function);
    this.eventSource = new SqsEventSource(props.queue, {
      batchSize: mapping.batchSize,
      maxConcurrency: mapping.maximumConcurrency,
      reportBatchItemFailures: mapping.reportBatchItemFailures,
      maxBatchingWindow:
        mapping.maxBatchingWindowSeconds > 0
          ? Duration.seconds(mapping.maxBatchingWindowSeconds)
          : undefined,
    });
    this.function.fn.addEventSource(this.eventSource);

    grantOnTable(props.ledgerTable, this.function.fn, props.ledgerActions);
    grantOnTable(props.idempotencyTable, this.function.fn, props.idempotencyActions);
  }
}
