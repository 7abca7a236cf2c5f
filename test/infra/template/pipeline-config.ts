import { Match } from 'aws-cdk-lib/assertions';
import { ENV } from '../../../shared/src/config/function-env';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { describeDeployment, type EnvValue } from '../../../shared/src/deployment';
import { QUEUE_KINDS } from '../../../shared/src/queue-kind';
import type { Synthesized } from '../support/synth';

const deployment = describeDeployment(pipelineConfig);
/** The literal variables of a description's environment (references resolve per target). */
const literals = (env: Readonly<Record<string, EnvValue>>) =>
  Object.fromEntries(Object.entries(env).filter(([, v]) => typeof v === 'string'));

// The template must say what shared/src/config/pipeline.ts says, through the deployment
// description both targets build from (deployment-agreement.test.ts compares the two targets).
/** Registers the tests; `get` returns the one synthesis shared by template.test.ts. */
export function pipelineConfigTests(get: () => Synthesized): void {
  let s!: Synthesized;
  beforeAll(() => {
    s = get();
  });

  const fnName = (functionId: string) => `${pipelineConfig.stackName}-${functionId}`;

  describe.each(QUEUE_KINDS)('%s pipeline', (kind) => {
    const q = pipelineConfig.queues[kind];
    const c = pipelineConfig.consumers[kind];

    it('creates the queue with the configured attributes and redrive', () => {
      s.template.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: q.name,
        VisibilityTimeout: q.visibilityTimeoutSeconds,
        MessageRetentionPeriod: q.retentionPeriodSeconds,
        ReceiveMessageWaitTimeSeconds: q.receiveWaitTimeSeconds,
        FifoQueue: q.fifo ? true : Match.absent(),
        ContentBasedDeduplication: q.fifo ? q.contentBasedDeduplication : Match.absent(),
        DeduplicationScope: q.deduplicationScope ?? Match.absent(),
        FifoThroughputLimit: q.fifoThroughputLimit ?? Match.absent(),
        RedrivePolicy: {
          deadLetterTargetArn: Match.anyValue(),
          maxReceiveCount: q.dlq.maxReceiveCount,
        },
      });
    });

    it('creates the DLQ with the same queue type', () => {
      s.template.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: q.dlq.name,
        MessageRetentionPeriod: q.dlq.retentionPeriodSeconds,
        FifoQueue: q.fifo ? true : Match.absent(),
      });
    });

    it('keeps the visibility timeout at least 6x the consumer timeout', () => {
      expect(q.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(6 * c.timeoutSeconds);
    });

    it('sizes the consumer function and sets its environment from the description', () => {
      const spec = deployment.consumers[kind];
      s.template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: fnName(c.functionId),
        Timeout: c.timeoutSeconds,
        MemorySize: c.memorySizeMb,
        Environment: { Variables: Match.objectLike(literals(spec.environment)) },
      });
    });

    it('maps the queue to the consumer with the configured batch, concurrency and window', () => {
      const mappings = s.template.findResources('AWS::Lambda::EventSourceMapping', {
        Properties: {
          EventSourceArn: {
            'Fn::GetAtt': [Match.stringLikeRegexp(`^${kind}queue[0-9A-F]{8}$`), 'Arn'],
          },
        },
      });
      const props = Object.values(mappings)[0]?.Properties;
      expect(Object.keys(mappings)).toHaveLength(1);
      expect(props.BatchSize).toBe(c.batchSize);
      expect(props.ScalingConfig).toEqual({ MaximumConcurrency: c.maximumConcurrency });
      expect(props.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(props.MaximumBatchingWindowInSeconds).toBe(
        c.maxBatchingWindowSeconds > 0 ? c.maxBatchingWindowSeconds : undefined,
      );
    });
  });

  describe.each(Object.entries(pipelineConfig.tables))('%s table', (_name, table) => {
    it('has the configured keys, TTL, PITR and on-demand billing', () => {
      const keySchema = [{ AttributeName: table.partitionKey, KeyType: 'HASH' }];
      if (table.sortKey) keySchema.push({ AttributeName: table.sortKey, KeyType: 'RANGE' });
      s.template.hasResourceProperties('AWS::DynamoDB::Table', {
        TableName: table.name,
        KeySchema: keySchema,
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: table.ttlAttribute
          ? { AttributeName: table.ttlAttribute, Enabled: true }
          : Match.absent(),
        PointInTimeRecoverySpecification: {
          PointInTimeRecoveryEnabled: table.pointInTimeRecovery,
        },
      });
    });
  });

  describe('producer', () => {
    it('is sized from the config and its environment set from the description', () => {
      const p = pipelineConfig.producer;
      s.template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: fnName(p.functionId),
        Timeout: p.timeoutSeconds,
        MemorySize: p.memorySizeMb,
        Environment: {
          Variables: Match.objectLike({
            ...literals(deployment.producer.environment),
            [ENV.FIFO_QUEUE_URL]: Match.anyValue(),
            [ENV.STANDARD_QUEUE_URL]: Match.anyValue(),
          }),
        },
      });
    });

    it('names the stack from the config', () => {
      expect(s.stack.stackName).toBe(pipelineConfig.stackName);
    });
  });
}
