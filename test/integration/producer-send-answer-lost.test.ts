import { queueRecords, reportData, runCheck, settle } from './faults/run-check';
import { describeWhere } from './support/differences';
import { type DynamoDbProxy, startDynamoDbProxy } from './support/dynamodb-proxy';
import { newRunId, order, postOrder, waitFor } from './support/pipeline-client';
import { stopsAfterAll } from './support/stop-after-all';
import { startTarget, type Target } from './support/target';

/**
 * A SendMessage that committed and whose answer was lost, inside one request: the producer's SQS
 * client tries once (adapters/queues.ts PRODUCER_SQS_CLIENT) and its own loop (domain/retry.ts)
 * sends the same message again after a reset connection or a request timeout. The first try is
 * in the queue already. A real HTTP proxy between the producer and the local cloud's edge (the
 * producer's queue URLs point at it; the emulator finds a queue by the URL's path) forwards the
 * first SendMessage of the order to each queue, lets it commit, and resets the producer's
 * connection instead of answering.
 *
 * On standard that leaves two messages of the order, two message ids, of which the producer
 * records only the one it was answered: a duplicate the producer made, not SQS's at-least-once
 * delivery. The report must call it a producer re-send (a message id no earlier delivery of the
 * order had), not a queue copy (the same message id again). On FIFO the send again carries the
 * same MessageDeduplicationId (the order id) within SQS's 5-minute deduplication interval: SQS
 * accepts it and delivers nothing more ("accepted successfully but aren't delivered", SendMessage
 * API Reference); the local cloud's SQS answers it with the first message's id.
 */
describeWhere('consumerEnv')(
  'a send to a queue that committed and lost its answer, sent again by the producer',
  () => {
    let target: Target;
    let proxy: DynamoDbProxy;
    /** Per order id: SendMessage tries the proxy saw per queue (the first committed, unanswered). */
    const lose = new Map<string, { fifo: number; standard: number }>();

    const keep = stopsAfterAll();
    beforeAll(async () => {
      target = await keep(startTarget({ seed: 91, faults: 'none' }));
      proxy = await keep(
        startDynamoDbProxy(async (received, forward) => {
          if (received.headers['x-amz-target'] !== 'AmazonSQS.SendMessage') return undefined;
          const body = JSON.parse(received.body.toString('utf8')) as {
            QueueUrl?: string;
            MessageBody?: string;
          };
          const orderId = (JSON.parse(body.MessageBody ?? '{}') as { orderId?: string }).orderId;
          const tries = orderId === undefined ? undefined : lose.get(orderId);
          if (!tries) return undefined;
          const queue = body.QueueUrl?.endsWith('.fifo') ? 'fifo' : 'standard';
          tries[queue]++;
          if (tries[queue] > 1) return undefined;
          // Committed in the queue; the producer hears a reset connection and sends again.
          await forward(received);
          return 'reset';
        }, target.endpoint),
      );
      const viaProxy = (url: string) => `${proxy.endpoint}${new URL(url).pathname}`;
      await target.updateProducerEnv({
        FIFO_QUEUE_URL: viaProxy(target.queueUrls.fifo),
        STANDARD_QUEUE_URL: viaProxy(target.queueUrls.standard),
      });
    }, 60_000);

    it('is a producer re-send on standard, two message ids and one effect, and nothing more on FIFO', async () => {
      // Prepare
      const runId = newRunId('send-answer-lost');
      const orderId = `o-${runId}`;
      lose.set(orderId, { fifo: 0, standard: 0 });

      // Act: the client's one request; the producer's sends each lose their first answer.
      const posted = await postOrder(target, order('cust-send-lost', 1), {
        runId,
        idempotencyKey: orderId,
      });
      await settle(target, runId, [orderId]);
      // Both receives ended: settle waits for the effect, and a receipt is written when its batch
      // begins, its outcome only by the invocation's end write, so the second receive can still
      // read `pending` after both are in the ledger.
      const standard = await waitFor(
        'both standard messages of the order received and their deliveries ended',
        () => queueRecords(target, runId, 'standard'),
        (r) => r.deliveries.length === 2 && r.deliveries.every((d) => d.outcome !== 'pending'),
      );

      // Assess: answered 202 with the ids of the second tries; each queue was sent to twice.
      expect(posted.status).toBe(202);
      expect(lose.get(orderId)).toEqual({ fifo: 2, standard: 2 });
      const standardIds = standard.deliveries.map((d) => d.messageId as string);
      expect(new Set(standardIds).size).toBe(2);
      expect(standardIds).toContain(posted.json.messageIds.standard);
      // FIFO: one message, the first try's, whose id the emulator answered the second try with.
      const fifo = await queueRecords(target, runId, 'fifo');
      expect(fifo.deliveries.map((d) => d.messageId)).toEqual([posted.json.messageIds.fifo]);

      const data = await reportData(target, runId);
      expect(data.report.queues.standard).toMatchObject({
        deliveries: 2,
        duplicateDeliveries: 1,
        duplicateCauses: { producerResend: 1, queueCopy: 0, retryAfterFailure: 0, dlqRedrive: 0 },
        suppressed: 1,
        processed: 1,
        duplicateEffects: 0,
      });
      expect(data.report.queues.fifo).toMatchObject({
        deliveries: 1,
        duplicateDeliveries: 0,
        duplicateCauses: { producerResend: 0, queueCopy: 0, retryAfterFailure: 0, dlqRedrive: 0 },
        processed: 1,
      });
      expect(await runCheck(target, runId, [orderId])).toEqual([]);
    }, 90_000);
  },
);
