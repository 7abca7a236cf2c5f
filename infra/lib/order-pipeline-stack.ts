import { CfnOutput, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import {
  AttributeType,
  BillingMode,
  ProjectionType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import type { TableConfig } from '../../shared/src/config/pipeline';
import { STACK_OUTPUTS } from '../../shared/src/config/stack-outputs';
import {
  type Deployment,
  entryPath,
  type FunctionSpec,
  resolveEnvironment,
} from '../../shared/src/deployment';
import { QUEUE_KINDS, type QueueKind } from '../../shared/src/queue-kind';
import { AlarmTopic } from './constructs/alarm-topic';
import { ConsumerFunction } from './constructs/consumer-function';
import { OrderApi } from './constructs/order-api';
import { PipelineDashboard, type PipelineSide } from './constructs/pipeline-dashboard';
import { PipelineFunction, type PipelineFunctionProps } from './constructs/pipeline-function';
import { QueueWithDlq } from './constructs/queue-with-dlq';
import { grantOnTable } from './constructs/table-grant';

/**
 * DynamoDB actions per caller, exactly what the code sends (test/infra reads the adapters and
 * Powertools' persistence layer to check this list): no Scan, no stream actions, no index.
 */
export const TABLE_ACTIONS = {
  /**
   * The claim (a conditional put), sends and retries recorded (updates), sequence counters, the
   * accepted order read back by a retry or GET /orders/{orderId}, and Queries of its run's
   * partition (whether an order was applied, GET's counts).
   */
  producerLedger: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
  /**
   * Delivery records, their outcomes and failure records (one batch write per invocation at
   * each end; deletes of records the FIFO processor never ran), the effect (a conditional put),
   * apply counters (updates), and a read of the first effect when a refused write does not
   * return it.
   */
  consumerLedger: [
    'dynamodb:BatchWriteItem',
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
  ],
  /**
   * Powertools DynamoDBPersistenceLayer: get, conditional put, update, delete on failure; and
   * the consumer's end-of-invocation batch write, which carries the COMPLETED records its
   * persistence layer holds (services/consumer/src/adapters/idempotency-store.ts).
   */
  idempotency: [
    'dynamodb:BatchWriteItem',
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
  ],
} as const;

export interface OrderPipelineStackProps extends StackProps {
  /** What to build: shared/src/deployment.ts, from the pipeline config. */
  deployment: Deployment;
  /**
   * Keep the ledger table (and its backups) on `cdk destroy`. Off by default so the lab destroys
   * cleanly; turn on with `-c retainData=true` for anything holding data you care about.
   */
  retainData?: boolean;
  /** Subscribes this e-mail address to the alarm topic (`-c alarmEmail=you@example.com`). */
  alarmEmail?: string;
}

/**
 * The whole pipeline: API, producer, two queues with DLQs, two consumers, tables, operations,
 * each built from the deployment description; the stack adds only what AWS alone has (IAM
 * grants, log groups, bundling, alarms, the dashboard).
 */
export class OrderPipelineStack extends Stack {
  readonly queues: Record<QueueKind, QueueWithDlq>;
  readonly consumers: Record<QueueKind, ConsumerFunction>;
  readonly producer: PipelineFunction;
  readonly ledgerTable: Table;
  readonly idempotencyTable: Table;
  readonly orderApi: OrderApi;
  readonly operations: PipelineDashboard;
  readonly alarmTopic: AlarmTopic;

  constructor(scope: Construct, id: string, props: OrderPipelineStackProps) {
    super(scope, id, props);
    const { deployment } = props;

    this.ledgerTable = this.table('ledger-table', deployment.tables.ledger, {
      removalPolicy: props.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    // Idempotency records expire within the hour and are rebuilt by the next delivery, so the
    // table never needs to survive the stack.
    this.idempotencyTable = this.table('idempotency-table', deployment.tables.idempotency, {
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.queues = {} as Record<QueueKind, QueueWithDlq>;
    for (const kind of QUEUE_KINDS) {
      this.queues[kind] = new QueueWithDlq(this, `${kind}-queue`, {
        config: deployment.queues[kind],
      });
    }

    const tables = { ledger: this.ledgerTable, idempotency: this.idempotencyTable };
    const functionProps = (spec: FunctionSpec): PipelineFunctionProps => ({
      functionName: `${id}-${spec.id}`,
      entry: entryPath(spec.entry),
      timeoutSeconds: spec.timeoutSeconds,
      memorySizeMb: spec.memorySizeMb,
      environment: resolveEnvironment(spec.environment, {
        queueUrl: (kind) => this.queues[kind].queue.queueUrl,
        tableName: (table) => tables[table].tableName,
      }),
    });

    this.producer = new PipelineFunction(
      this,
      deployment.producer.id,
      functionProps(deployment.producer),
    );
    // Accepted and order-index records, the sequence counter, and GET /orders/{orderId} reads.
    grantOnTable(this.ledgerTable, this.producer.fn, TABLE_ACTIONS.producerLedger);
    for (const kind of QUEUE_KINDS) this.queues[kind].queue.grantSendMessages(this.producer.fn);

    this.consumers = {} as Record<QueueKind, ConsumerFunction>;
    for (const kind of QUEUE_KINDS) {
      const spec = deployment.consumers[kind];
      this.consumers[kind] = new ConsumerFunction(this, spec.id, {
        mapping: deployment.mappings[kind],
        queue: this.queues[kind].queue,
        ledgerTable: this.ledgerTable,
        idempotencyTable: this.idempotencyTable,
        ledgerActions: TABLE_ACTIONS.consumerLedger,
        idempotencyActions: TABLE_ACTIONS.idempotency,
        function: functionProps(spec),
      });
    }

    const functions = new Map<string, PipelineFunction>([
      [deployment.producer.id, this.producer],
      ...QUEUE_KINDS.map((k) => [deployment.consumers[k].id, this.consumers[k].function] as const),
    ]);
    this.orderApi = new OrderApi(this, 'order-api', {
      routes: deployment.routes.map((route) => ({
        ...route,
        fn: functions.get(route.functionId)!.fn,
      })),
      throttlingRateLimit: deployment.api.throttlingRateLimit,
      throttlingBurstLimit: deployment.api.throttlingBurstLimit,
      accessLogGroupName: `/aws/apigateway/${id}-access`,
    });

    const sides = {} as Record<QueueKind, PipelineSide>;
    for (const kind of QUEUE_KINDS) {
      sides[kind] = {
        config: deployment.queues[kind],
        queue: this.queues[kind].queue,
        dlq: this.queues[kind].dlq,
        consumer: this.consumers[kind].function.fn,
      };
    }
    this.alarmTopic = new AlarmTopic(this, 'alarms', {
      topicName: `${id}-alarms`,
      ...(props.alarmEmail ? { email: props.alarmEmail } : {}),
    });
    this.operations = new PipelineDashboard(this, 'operations', {
      dashboardName: `${id}-fifo-vs-standard`,
      sides,
      producer: this.producer.fn,
      alarmTopic: this.alarmTopic,
    });

    this.outputs();
    this.acknowledgeNagFindings();
  }

  private table(id: string, config: TableConfig, opts: { removalPolicy: RemovalPolicy }): Table {
    const table = new Table(this, id, {
      tableName: config.name,
      partitionKey: { name: config.partitionKey, type: AttributeType.STRING },
      sortKey: config.sortKey ? { name: config.sortKey, type: AttributeType.STRING } : undefined,
      timeToLiveAttribute: config.ttlAttribute,
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: {
        pointInTimeRecoveryEnabled: config.pointInTimeRecovery,
      },
      encryption: TableEncryption.AWS_MANAGED,
      removalPolicy: opts.removalPolicy,
    });
    for (const index of config.globalIndexes ?? []) {
      table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        projectionType: ProjectionType.INCLUDE,
        nonKeyAttributes: [...index.projected],
      });
    }
    return table;
  }

  private outputs(): void {
    const out = (key: string, value: string, description: string) =>
      new CfnOutput(this, key, { key, value, description });
    out(STACK_OUTPUTS.apiUrl, this.orderApi.api.url, 'Base url of the order API (ends in /).');
    out(
      STACK_OUTPUTS.apiKeyId,
      this.orderApi.apiKey.keyId,
      'API key id; the value: aws apigateway get-api-key --api-key <id> --include-value',
    );
    out(STACK_OUTPUTS.fifoQueueUrl, this.queues.fifo.queue.queueUrl, 'FIFO queue url');
    out(STACK_OUTPUTS.standardQueueUrl, this.queues.standard.queue.queueUrl, 'Standard queue url');
    out(STACK_OUTPUTS.fifoDlqUrl, this.queues.fifo.dlq.queueUrl, 'FIFO DLQ url');
    out(STACK_OUTPUTS.standardDlqUrl, this.queues.standard.dlq.queueUrl, 'Standard DLQ url');
    out(STACK_OUTPUTS.ledgerTableName, this.ledgerTable.tableName, 'Ledger table name');
    out(
      STACK_OUTPUTS.idempotencyTableName,
      this.idempotencyTable.tableName,
      'Idempotency table name',
    );
    out(
      STACK_OUTPUTS.dashboardName,
      this.operations.dashboard.dashboardName,
      'CloudWatch dashboard comparing the two pipelines',
    );
    out(
      STACK_OUTPUTS.alarmTopicArn,
      this.alarmTopic.topic.topicArn,
      'SNS topic every alarm notifies; subscribe with -c alarmEmail=<address> or the SNS console',
    );
  }

  /** cdk-nag AwsSolutions findings this lab accepts, each with the reason it is accepted. */
  private acknowledgeNagFindings(): void {
    for (const kind of QUEUE_KINDS) {
      Validations.of(this.queues[kind].dlq).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason: `${this.queues[kind].dlq.node.id} is itself the dead-letter queue of ${kind}; a DLQ of a DLQ would only move the problem.`,
      });
    }
    Validations.of(this.idempotencyTable).acknowledge({
      id: 'AwsSolutions-DDB3',
      reason:
        "Idempotency records expire after an hour (TTL); a lost or expired record only lets a repeat run the function again, and the effect's own conditional write in the ledger table (keyed on the order per queue) refuses a second effect. Backups would restore nothing the ledger does not already guard.",
    });
  }
}
