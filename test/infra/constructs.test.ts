import { type PipelineConfig, pipelineConfig } from '../../shared/src/config/pipeline';
import { DeploymentConfigError } from '../../shared/src/deployment';
import { buildUnbundled } from './support/unbundled';

const withConfig = (edit: (c: PipelineConfig) => void): PipelineConfig => {
  const c = structuredClone(pipelineConfig);
  edit(c);
  return c;
};

const ledger = (t: ReturnType<ReturnType<typeof buildUnbundled>['template']>) =>
  Object.values(
    t.findResources('AWS::DynamoDB::Table', {
      Properties: { TableName: pipelineConfig.tables.ledger.name },
    }),
  )[0];

describe('OrderPipelineStack', () => {
  it('deletes the ledger on destroy by default', () => {
    expect(ledger(buildUnbundled().template())?.DeletionPolicy).toBe('Delete');
  });

  it('retains the ledger with -c retainData=true', () => {
    const t = buildUnbundled({ context: { retainData: 'true' } }).template();
    expect(ledger(t)?.DeletionPolicy).toBe('Retain');
  });

  it('always deletes the idempotency table', () => {
    const t = buildUnbundled({ context: { retainData: 'true' } }).template();
    const table = Object.values(
      t.findResources('AWS::DynamoDB::Table', {
        Properties: { TableName: pipelineConfig.tables.idempotency.name },
      }),
    )[0];
    expect(table?.DeletionPolicy).toBe('Delete');
  });
});

describe('ConsumerFunction', () => {
  it('rejects a visibility timeout below 6x the consumer timeout', () => {
    const config = withConfig((c) => {
      c.queues.standard.visibilityTimeoutSeconds = 6 * c.consumers.standard.timeoutSeconds - 1;
    });
    expect(() => buildUnbundled({ config })).toThrow(DeploymentConfigError);
    expect(() => buildUnbundled({ config })).toThrow(/below 6 x the consumer timeout/);
  });

  it('rejects a redrive policy allowing fewer than 5 receives', () => {
    const config = withConfig((c) => {
      c.queues.fifo.dlq.maxReceiveCount = 4;
    });
    expect(() => buildUnbundled({ config })).toThrow(DeploymentConfigError);
    expect(() => buildUnbundled({ config })).toThrow(
      `queue ${config.queues.fifo.name}: maxReceiveCount 4 is below 5`,
    );
  });

  it('rejects a batching window on the FIFO event source', () => {
    const config = withConfig((c) => {
      c.consumers.fifo.maxBatchingWindowSeconds = 1;
    });
    expect(() => buildUnbundled({ config })).toThrow(/batching window on a FIFO event source/);
  });
});

describe('QueueWithDlq', () => {
  it('rejects FIFO-only settings on a standard queue', () => {
    const config = withConfig((c) => {
      c.queues.standard.deduplicationScope = 'messageGroup';
    });
    expect(() => buildUnbundled({ config })).toThrow(/FIFO-only settings on a standard queue/);
  });

  it('builds a FIFO DLQ for the FIFO queue and a standard DLQ for the standard queue', () => {
    const t = buildUnbundled().template();
    for (const kind of ['fifo', 'standard'] as const) {
      const q = pipelineConfig.queues[kind];
      const dlq = Object.values(
        t.findResources('AWS::SQS::Queue', { Properties: { QueueName: q.dlq.name } }),
      )[0];
      expect(dlq?.Properties.FifoQueue).toBe(q.fifo ? true : undefined);
    }
  });

  it('lets only its own queue dead-letter into each DLQ, without a dependency cycle', () => {
    const t = buildUnbundled().template();
    for (const kind of ['fifo', 'standard'] as const) {
      const q = pipelineConfig.queues[kind];
      const dlq = Object.values(
        t.findResources('AWS::SQS::Queue', { Properties: { QueueName: q.dlq.name } }),
      )[0];
      const policy = dlq?.Properties.RedriveAllowPolicy as {
        redrivePermission: string;
        sourceQueueArns: unknown[];
      };
      expect(policy.redrivePermission).toBe('byQueue');
      expect(policy.sourceQueueArns).toHaveLength(1);
      // The ARN is built from partition, region, account and the configured name, not from a
      // reference to the source queue (which would be a cycle CloudFormation refuses).
      expect(JSON.stringify(policy.sourceQueueArns[0])).toContain(`:${q.name}`);
      expect(JSON.stringify(policy.sourceQueueArns[0])).not.toContain('Fn::GetAtt');
    }
  });
});

describe('AlarmTopic', () => {
  it('subscribes the address given with -c alarmEmail, and none without it', () => {
    const withEmail = buildUnbundled({ context: { alarmEmail: 'ops@example.com' } }).template();
    withEmail.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    buildUnbundled().template().resourceCountIs('AWS::SNS::Subscription', 0);
  });
});
