import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { runFindings } from '../../../lab/soak/check';
import { startLocalCloud } from '../../../local/cloud';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { SK_PREFIX } from '../../../shared/src/ledger';
import { describeWhere } from '../support/differences';
import {
  getOrder,
  type Json,
  ledgerRecords,
  newRunId,
  order,
  postOrder,
  waitFor,
} from '../support/pipeline-client';
import { type Target, targetOnLocalCloud } from '../support/target';
import { queueDepths, reportData, skipWhenIdle } from './run-check';

const POISON_PREFIX = 'poison-';
const LAST = pipelineConfig.queues.fifo.dlq.maxReceiveCount;

async function visibleIn(target: Target, url: string): Promise<number> {
  const out = await target.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages'],
    }),
  );
  return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0);
}

/**
 * A poison FIFO order with other orders batched behind it. The consumers start paused, so the
 * five orders are all in the FIFO queue when the first poll comes, and SQS hands them over in one
 * batch: customer A's poison order (sequence 1), A's sequences 2 to 4 behind it in A's message
 * group, and customer B's order in a group of its own.
 *
 * A failure stops only its own group: B's order runs in that first batch. A's later orders are
 * handed back unrun every time, yet each receive counts (ApproximateReceiveCount is "the number
 * of times a message has been received across all queues but not deleted"), so they reach
 * maxReceiveCount with the poison and SQS dead-letters them on the next receive without their
 * ever having run. That is SQS's rule, not hidden: each gets a final not-attempted failure, the
 * API says `dlq` for it, and the soak check explains it, and fails a dead letter it cannot explain.
 */
describeWhere('consumerEnv', 'clock')(
  'a poison FIFO order and the orders batched behind it',
  () => {
    let target: Target;
    /** The cloud's switch for its paused consumers (the Target does not carry it). */
    let startConsumers: () => void = () => undefined;

    beforeAll(async () => {
      const env = { FAULT_POISON_PREFIX: POISON_PREFIX };
      const cloud = await startLocalCloud({
        port: 0,
        apiPort: 0,
        seed: 5,
        faults: 'none',
        pollWaitSeconds: 1,
        consumersPaused: true,
        consumerEnv: { fifo: env, standard: env },
      });
      target = targetOnLocalCloud(cloud);
      startConsumers = () => cloud.startConsumers();
    }, 60_000);

    afterAll(async () => {
      await target?.stop();
    }, 30_000);

    it("applies the other customer's order, and dead-letters the poison's group with a not-attempted failure each", async () => {
      // Prepare: five orders queued before any consumer polls.
      const runId = newRunId('poison-group');
      const poison = `${POISON_PREFIX}${runId}`;
      const keys = [
        { key: poison, customer: 'cust-a', sequence: 1 },
        ...[2, 3, 4].map((s) => ({ key: `a${s}-${runId}`, customer: 'cust-a', sequence: s })),
        { key: `b1-${runId}`, customer: 'cust-b', sequence: 1 },
      ];
      const ids: string[] = [];
      for (const { key, customer, sequence } of keys) {
        const res = await postOrder(target, order(customer, sequence), {
          runId,
          idempotencyKey: key,
        });
        expect(res.status).toBe(202);
        ids.push(res.json.orderId as string);
      }
      const [poisonId, a2, a3, a4, b1] = ids as [string, string, string, string, string];
      const behind = [a2, a3, a4];

      // Act: the consumers start on the full queues; failed receives come back whenever nothing
      // runs (the clock skips the visibility timeout), until the poison has used its receives and
      // the next receive has moved what it takes to each DLQ.
      startConsumers();
      await waitFor(
        'the poison in both DLQs and both queues empty',
        async () => ({
          fifoDlq: await visibleIn(target, target.queueUrls.fifoDlq),
          standardDlq: await visibleIn(target, target.queueUrls.standardDlq),
          ...(await queueDepths(target)),
        }),
        (d) => d.fifoDlq >= 1 && d.standardDlq >= 1 && d.fifo === 0 && d.standard === 0,
        { timeoutMs: 60_000, intervalMs: 200, onPoll: skipWhenIdle(target, 3) },
      );

      // Assess: B's order was applied on FIFO and is not in its DLQ; A's group is, all of it.
      const data = await reportData(target, runId);
      const fifoDlq = data.ledger.dlq?.fifo?.orderIds ?? [];
      expect([...fifoDlq].sort()).toEqual([poisonId, ...behind].sort());
      expect(data.ledger.dlq?.standard?.orderIds).toEqual([poisonId]);
      const fifoEffects = await ledgerRecords(target, runId, SK_PREFIX.effect('fifo'));
      expect(fifoEffects.map((e) => e.orderId)).toEqual([b1]);
      expect(data.report.queues.fifo).toMatchObject({ processed: 1, inDlq: 4, lost: 0 });
      expect(data.report.queues.standard).toMatchObject({ processed: 4, inDlq: 1, lost: 0 });

      // The ledger says why each of A's later orders is there: one final failure at the last
      // receive, not attempted, in an invocation where the poison's delivery failed. They never
      // ran, so no delivery of them is counted, and the failed deliveries are the poison's alone.
      const failures = await ledgerRecords(target, runId, SK_PREFIX.failure('fifo'));
      const deliveries = await ledgerRecords(target, runId, SK_PREFIX.delivery('fifo'));
      const poisonFailedIn = new Set(
        deliveries
          .filter((d: Json) => d.orderId === poisonId && d.outcome === 'failed')
          .map((d: Json) => d.invocationId as string),
      );
      for (const id of behind) {
        const own = failures.filter((f: Json) => f.orderId === id);
        expect(own).toEqual([
          expect.objectContaining({
            final: true,
            notAttempted: true,
            receiveCount: LAST,
            error: expect.stringMatching(/^NotAttempted: an earlier message of its group failed/),
          }),
        ]);
        expect(poisonFailedIn.has(own[0]?.invocationId as string)).toBe(true);
        expect(deliveries.filter((d: Json) => d.orderId === id)).toEqual([]);
      }
      expect(failures.filter((f: Json) => f.orderId === poisonId)).toHaveLength(LAST);
      expect(data.failedDeliveries.fifo).toBe(LAST);
      expect(data.report.queues.fifo.deliveries).toBe(LAST + 1);

      // GET /orders/{id} tells the same: A's later orders in the DLQ, B's processed.
      for (const id of behind) {
        const view = await getOrder(target, id);
        expect(view.status).toBe(200);
        expect(view.json.fifo).toEqual({ status: 'dlq', deliveries: 0, effects: 0 });
        expect(view.json.standard).toMatchObject({ status: 'processed' });
      }
      expect((await getOrder(target, b1)).json.fifo).toMatchObject({ status: 'processed' });

      // The soak check on this run: with the poison expected in both DLQs, A's later orders are
      // explained as never attempted behind it, and nothing else is wrong...
      const expectedInDlq = { fifo: [poisonId], standard: [poisonId] };
      const findings = runFindings({
        acceptedIds: ids,
        report: data.report,
        ledger: data.ledger,
        expectedInDlq,
        clockSkips: target.clockSkips(),
      });
      expect(findings.violations).toEqual([]);
      expect(findings.notAttemptedInDlq).toHaveLength(3);
      for (const id of behind) {
        expect(findings.notAttemptedInDlq).toContainEqual(
          expect.stringContaining(
            `fifo: order ${id} is in the DLQ never attempted: at its receive #${LAST} order ${poisonId} of its group failed in the same batch`,
          ),
        );
      }
      // ...and the same run without a2's not-attempted failure is a dead letter nothing explains.
      const without = {
        ...data.ledger,
        failures: data.ledger.failures.filter((f) => !(f.orderId === a2 && f.notAttempted)),
      };
      expect(
        runFindings({
          acceptedIds: ids,
          report: data.report,
          ledger: without,
          expectedInDlq,
          clockSkips: target.clockSkips(),
        }).violations,
      ).toEqual([
        `fifo: order ${a2} is in the DLQ`,
        'fifo: the DLQ holds 4 messages as SQS reports it, expected 3 (2 never attempted behind a failure of their group)',
      ]);
    }, 120_000);
  },
);
