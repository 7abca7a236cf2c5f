import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { REPORT_CLIENT_TIMEOUTS, reportClients } from '../../services/report/src/cli/report';
import { LOCAL_CREDENTIALS } from '../../shared/src/aws-clients';
import { startStalledServer } from './support/stalled-server';

/**
 * The report's clients against an endpoint that accepts a connection and never answers (a TCP
 * server on 127.0.0.1 that reads and writes nothing). Real SDK clients over HTTP, made as the
 * report CLI makes them, with one try a call here so the test waits one request timeout, not the
 * SDK's tries. Without a request timeout a call waits forever: the test's guard says "hung".
 */

/** What `work` settled with and when (ms), or 'hung' when it has not settled after `ms`. */
async function within(ms: number, work: Promise<unknown>) {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), ms);
  });
  try {
    return await Promise.race([
      work.then(
        () => ({ outcome: 'fulfilled' as const, afterMs: performance.now() - started }),
        (error: unknown) => ({
          outcome: 'rejected' as const,
          name: (error as Error).name,
          afterMs: performance.now() - started,
        }),
      ),
      guard,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe("the report's clients against an endpoint that never answers", () => {
  it('end an SQS and a DynamoDB call with a TimeoutError at the request timeout', async () => {
    const stalled = await startStalledServer();
    const { sqsClient, documentClient } = reportClients({
      endpoint: stalled.endpoint,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      const guardMs = REPORT_CLIENT_TIMEOUTS.requestTimeoutMs + 3000;
      const [sqs, dynamodb] = await Promise.all([
        within(
          guardMs,
          sqsClient.send(
            new GetQueueAttributesCommand({
              QueueUrl: `${stalled.endpoint}/000000000000/orders-standard`,
              AttributeNames: ['ApproximateNumberOfMessages'],
            }),
          ),
        ),
        within(
          guardMs,
          documentClient.send(
            new QueryCommand({
              TableName: 'ledger',
              KeyConditionExpression: 'pk = :pk',
              ExpressionAttributeValues: { ':pk': 'run' },
            }),
          ),
        ),
      ]);
      for (const result of [sqs, dynamodb]) {
        expect(result).toMatchObject({ outcome: 'rejected', name: 'TimeoutError' });
        if (result !== 'hung') {
          expect(result.afterMs).toBeGreaterThanOrEqual(
            REPORT_CLIENT_TIMEOUTS.requestTimeoutMs - 50,
          );
        }
      }
    } finally {
      sqsClient.destroy();
      documentClient.destroy();
      await stalled.close();
    }
  }, 15_000);
});
