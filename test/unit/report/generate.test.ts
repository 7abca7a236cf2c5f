import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { RedrivePolicyError } from '../../../services/report/src/adapters/queues';
import { DRAIN_WAIT, generateReport } from '../../../services/report/src/generate';
import { pipelineConfig } from '../../../shared/src/config/pipeline';

/**
 * generateReport against stubbed clients: what it leaves behind when one of its reads fails.
 * The reads against the local cloud are in test/integration (report-dlq, faults/deployed-redrive).
 */
const sqs = new SQSClient({ region: 'us-east-1' });
const sqsMock = mockClient(sqs);
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const dynamo = mockClient(documents);
afterEach(() => {
  sqsMock.reset();
  dynamo.reset();
});

const base = 'http://sqs.local/000000000000';
/** A DLQ's three counts and ARN as SQS answers them: `visible` visible, none in flight or delayed. */
const dlqCounts = (visible: number) => ({
  ApproximateNumberOfMessages: String(visible),
  ApproximateNumberOfMessagesNotVisible: '0',
  ApproximateNumberOfMessagesDelayed: '0',
  QueueArn: 'arn:aws:sqs:us-east-1:000000000000:a-dlq',
});

const queueUrls = {
  fifo: `${base}/orders.fifo`,
  standard: `${base}/orders-standard`,
  fifoDlq: `${base}/orders-dlq.fifo`,
  standardDlq: `${base}/orders-standard-dlq`,
};

describe('generateReport when a read fails', () => {
  it('rejects only once each DLQ read has made visible again what it received', async () => {
    dynamo.on(QueryCommand).resolves({ Items: [] });
    // The standard queue's RedrivePolicy is not JSON: that read fails at once.
    sqsMock
      .on(GetQueueAttributesCommand, { QueueUrl: queueUrls.standard })
      .resolves({ Attributes: { RedrivePolicy: '{', VisibilityTimeout: '30' } })
      .on(GetQueueAttributesCommand, { QueueUrl: queueUrls.fifo })
      .resolves({ Attributes: { VisibilityTimeout: '30' } })
      .on(GetQueueAttributesCommand, { QueueUrl: queueUrls.fifoDlq })
      .resolves({ Attributes: dlqCounts(0) })
      .on(GetQueueAttributesCommand, { QueueUrl: queueUrls.standardDlq })
      .resolves({ Attributes: dlqCounts(1) });
    // The standard DLQ's receive answers later (a long poll, a slow network), with a message
    // it then hides for 30 s until released.
    let receives = 0;
    sqsMock.on(ReceiveMessageCommand).callsFake(async (input: { QueueUrl?: string }) => {
      if (input.QueueUrl !== queueUrls.standardDlq || receives++ > 0) return { Messages: [] };
      await new Promise((resolve) => setTimeout(resolve, 50));
      return {
        Messages: [{ MessageId: 'm1', ReceiptHandle: 'handle-m1', Body: '{}' }],
      };
    });
    // SQS names each entry in Successful or Failed: m0, its one entry, released.
    sqsMock
      .on(ChangeMessageVisibilityBatchCommand)
      .resolves({ Successful: [{ Id: 'm0' }], Failed: [] });

    await expect(
      generateReport({
        runId: 'run-a',
        target: 'local',
        config: pipelineConfig,
        waitTimeoutMs: 0,
        source: { documentClient: documents, sqsClient: sqs, ledgerTable: 'ledger', queueUrls },
      }),
    ).rejects.toThrow(RedrivePolicyError);

    // When the report's caller sees the error, the DLQ message is visible again.
    const released = sqsMock
      .commandCalls(ChangeMessageVisibilityBatchCommand)
      .flatMap((c) => c.args[0].input.Entries ?? []);
    expect(released).toEqual([{ Id: 'm0', ReceiptHandle: 'handle-m1', VisibilityTimeout: 0 }]);
  });
});

describe('generateReport reading both DLQs', () => {
  it('makes their long polls at the same time, so two empty DLQs cost one wait, not two', async () => {
    dynamo.on(QueryCommand).resolves({ Items: [] });
    sqsMock
      .on(GetQueueAttributesCommand)
      .resolves({ Attributes: { ...dlqCounts(0), VisibilityTimeout: '30' } });
    // Each receive is an empty long poll answered after its wait; how many wait at once is
    // what is measured (the wait is a stand-in for WaitTimeSeconds 1).
    let waiting = 0;
    let mostAtOnce = 0;
    const polled: string[] = [];
    sqsMock.on(ReceiveMessageCommand).callsFake(async (input: { QueueUrl?: string }) => {
      polled.push(input.QueueUrl ?? '');
      waiting++;
      mostAtOnce = Math.max(mostAtOnce, waiting);
      await new Promise((resolve) => setTimeout(resolve, 50));
      waiting--;
      return { Messages: [] };
    });

    await generateReport({
      runId: 'run-a',
      target: 'local',
      config: pipelineConfig,
      waitTimeoutMs: 0,
      source: { documentClient: documents, sqsClient: sqs, ledgerTable: 'ledger', queueUrls },
    });

    expect([...polled].sort()).toEqual([queueUrls.fifoDlq, queueUrls.standardDlq].sort());
    expect(mostAtOnce).toBe(2);
  });
});

describe("generateReport's drain wait per target", () => {
  /** Both queues empty and the ledger's count unchanged at every poll; when each poll was made. */
  async function drainOf(target: 'local' | 'aws'): Promise<number[]> {
    const polledAt: number[] = [];
    let t = 0;
    const drainClock = {
      now: () => t,
      sleep: async (ms: number) => {
        t += ms;
      },
    };
    dynamo.on(QueryCommand).callsFake((input: { Select?: string }) => {
      if (input.Select === 'COUNT') {
        polledAt.push(t);
        return { Count: 5 };
      }
      return { Items: [] };
    });
    sqsMock
      .on(GetQueueAttributesCommand)
      .resolves({ Attributes: { ...dlqCounts(0), VisibilityTimeout: '30' } });
    sqsMock.on(ReceiveMessageCommand).resolves({ Messages: [] });
    await generateReport({
      runId: 'run-a',
      target,
      config: pipelineConfig,
      waitTimeoutMs: 300_000,
      drainClock,
      source: { documentClient: documents, sqsClient: sqs, ledgerTable: 'ledger', queueUrls },
    });
    return polledAt;
  }

  it('on AWS, whose counts lag a minute, ends only after 60 s of quiet polls, one every 5 s', async () => {
    const polledAt = await drainOf('aws');
    // A baseline poll, then quiet polls from 5 s to 65 s.
    expect(polledAt[1]! - polledAt[0]!).toBe(DRAIN_WAIT.aws.intervalMs);
    expect(polledAt.at(-1)).toBe(65_000);
    expect(polledAt).toHaveLength(14);
  });

  it('on the local cloud, whose counts are exact, ends at the second quiet poll a second apart', async () => {
    expect(await drainOf('local')).toEqual([0, 1000, 2000]);
  });
});
