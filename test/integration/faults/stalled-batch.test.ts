import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { startLocalCloud } from '../../../local/cloud';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { describeWhere } from '../support/differences';
import { type DynamoDbProxy, startDynamoDbProxy } from '../support/dynamodb-proxy';
import { idempotencyKeyOf } from '../support/idempotency-record';
import { type Json, newRunId, order, postOrder, waitFor } from '../support/pipeline-client';
import { type Target, targetOnLocalCloud } from '../support/target';
import { queueRecords } from './run-check';

/**
 * A DynamoDB that stalls in the middle of a FIFO batch. The FIFO consumer reaches DynamoDB through
 * a proxy that forwards every request except Powertools' IN_PROGRESS put of three of the batch's
 * five orders (each its own customer, so its own message group), which it holds without an
 * answer: each of those records waits out its client's 4 tries of 1 s (about 4.2 s) and fails
 * with a TimeoutError. Before the cut-off, the records ran one after another to the function's
 * 10 s timeout (1.2 + 4.2 + 4.2 s, the third stall cut by the timeout): the invocation died, no
 * outcome was written and the whole batch came back, the applied order with it. Now, once a call
 * has run out, a record starts only with one stalled call and a second of room left, so the
 * invocation ends inside its timeout with a partial batch response: the applied order deleted,
 * the failed and the unstarted ones handed back, every outcome in the ledger.
 */

const FUNCTION_TIMEOUT_MS = pipelineConfig.consumers.fifo.timeoutSeconds * 1000;

describeWhere('consumerEnv')('a DynamoDB that stalls in the middle of a FIFO batch', () => {
  let target: Target;
  let proxy: DynamoDbProxy;
  /** Requests the proxy holds without answering. */
  let held = 0;
  let startConsumers: () => void = () => undefined;
  /** Idempotency keys whose IN_PROGRESS put the proxy holds. */
  const stalled = new Set<string>();

  beforeAll(async () => {
    proxy = await startDynamoDbProxy(({ headers, body }) => {
      let parsed: Json = {};
      try {
        parsed = JSON.parse(body.toString()) as Json;
      } catch {
        // forwarded as it came
      }
      if (
        String(headers['x-amz-target'] ?? '').endsWith('.PutItem') &&
        parsed.TableName === pipelineConfig.tables.idempotency.name &&
        stalled.has(String(parsed.Item?.id?.S))
      ) {
        held++;
        return 'hold';
      }
      return undefined;
    });
    const cloud = await startLocalCloud({
      port: 0,
      apiPort: 0,
      seed: 11,
      faults: 'none',
      pollWaitSeconds: 1,
      consumersPaused: true,
      // Only the FIFO consumer goes through the proxy; its timeouts are the defaults.
      consumerEnv: { fifo: { AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint } },
    });
    proxy.setUpstream(cloud.dynamodbUrl);
    target = targetOnLocalCloud(cloud);
    startConsumers = () => cloud.startConsumers(['fifo']);
  }, 60_000);

  afterAll(async () => {
    await target?.stop();
    await proxy?.close();
  }, 30_000);

  it('ends the invocation inside its timeout with a partial batch response, not at the timeout', async () => {
    // Prepare: five customers' orders queued before the FIFO consumer polls (one batch); the
    // 2nd, 3rd and 4th stall in their first DynamoDB call.
    const runId = newRunId('stalled-batch');
    const ids: string[] = [];
    for (let k = 1; k <= 5; k++) {
      const res = await postOrder(target, order(`cust-${k}`, 1), { runId });
      expect(res.status).toBe(202);
      ids.push(res.json.orderId as string);
    }
    const [first, second, , , last] = ids as [string, string, string, string, string];
    for (const id of ids.slice(1, 4)) stalled.add(idempotencyKeyOf('fifo', id));

    // Act
    startConsumers();
    const records = await waitFor(
      "the batch's outcomes in the ledger (written when the invocation returns)",
      () => queueRecords(target, runId, 'fifo'),
      (r) => r.deliveries.some((d) => d.orderId === second && d.outcome === 'failed'),
      { timeoutMs: 25_000, intervalMs: 200 },
    );

    // Assess: one invocation took all five; it returned before its deadline, with the first
    // order applied and the second failed by the stall.
    const invocations = new Set(records.deliveries.map((d) => d.invocationId));
    expect(invocations.size).toBe(1);
    const byOrder = new Map(records.deliveries.map((d) => [d.orderId as string, d]));
    expect(byOrder.get(first)).toMatchObject({ outcome: 'applied' });
    const failed = byOrder.get(second) as Json;
    expect(failed.outcomeAt).toBeLessThan(failed.deadlineAt);
    expect(failed.outcomeAt - failed.receivedAt).toBeLessThan(FUNCTION_TIMEOUT_MS);
    expect(records.effects.map((e) => e.orderId)).toEqual([first]);
    // Powertools' error for its IN_PROGRESS put, with the SDK's TimeoutError under it.
    expect(records.failures.find((f) => f.orderId === second)?.error).toMatch(
      /^IdempotencyPersistenceLayerError: Failed to save in progress record to idempotency store \(cause: TimeoutError: [^()]+\)$/,
    );
    // The last order never started (too little time left after the stalls): no delivery, no
    // effect, no failure (not its last receive); the third and fourth either stalled in turn
    // or were not started either.
    expect(byOrder.has(last)).toBe(false);
    expect(records.failures.some((f) => f.orderId === last)).toBe(false);
    expect(held).toBeGreaterThanOrEqual(4);

    // The partial batch response: the applied order's message deleted, the other four back in
    // the queue (in flight until their visibility timeout passes).
    const attributes = await waitFor(
      'the applied message deleted',
      async () =>
        (
          await target.sqs.send(
            new GetQueueAttributesCommand({
              QueueUrl: target.queueUrls.fifo,
              AttributeNames: [
                'ApproximateNumberOfMessages',
                'ApproximateNumberOfMessagesNotVisible',
              ],
            }),
          )
        ).Attributes ?? {},
      (a) =>
        Number(a.ApproximateNumberOfMessages) + Number(a.ApproximateNumberOfMessagesNotVisible) ===
        4,
      { timeoutMs: 5_000 },
    );
    expect(Number(attributes.ApproximateNumberOfMessagesNotVisible)).toBe(4);
  }, 60_000);
});
