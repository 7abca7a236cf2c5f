import {
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { QUEUE_KINDS, type QueueKind } from '../../../shared/src/queue-kind';
import { describeWhere } from '../support/differences';
import { type Json, newRunId, order, postOrder, waitFor } from '../support/pipeline-client';
import { stopsAfterAll } from '../support/stop-after-all';
import { startTarget, type Target } from '../support/target';
import { deliveriesOnceQuiet, drain, runCheck, skipWhenIdle } from './run-check';

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;
/** Orders whose id starts with this fail after their effect until the consumers are fixed. */
const LATE = 'late-';

async function dlqDepth(target: Target, q: QueueKind): Promise<number> {
  const out = await target.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: target.queueUrls[`${q}Dlq`],
      AttributeNames: ['ApproximateNumberOfMessages'],
    }),
  );
  return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0);
}

async function redriveBothDlqs(target: Target): Promise<void> {
  for (const q of QUEUE_KINDS) {
    const arn = await target.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: target.queueUrls[`${q}Dlq`],
        AttributeNames: ['QueueArn'],
      }),
    );
    const sourceArn = arn.Attributes?.QueueArn ?? '';
    await target.sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn }));
    await waitFor(
      `the ${q} move task completed`,
      () => target.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn })),
      (out) => out.Results?.[0]?.Status === 'COMPLETED',
    );
  }
}

const refusedByEffect = (deliveries: Json[]) =>
  deliveries.filter((d) => d.outcome === 'suppressed' && d.suppressedBy === 'effect').length;

/**
 * Every protection against a second effect has a window (docs/guarantees.md): FIFO's 5-minute
 * deduplication, Powertools' record (1 hour), its in-progress expiry (the function timeout),
 * retention (4 days, 14 in a DLQ). These scenarios act after the windows have closed, on the
 * local cloud's clock (SQS and the functions' Date.now together), with the standard queue's fault
 * model off and on.
 */
describeWhere('consumerEnv', 'clock')('after the windows have closed', () => {
  describe.each(['none', 'chaos'] as const)('standard queue faults %s', (faults) => {
    let target: Target;

    const keep = stopsAfterAll();
    beforeAll(async () => {
      const env = { FAULT_FAIL_AFTER_EFFECT_PREFIX: LATE };
      target = await keep(
        startTarget({
          seed: 2026,
          faults,
          consumerEnv: { fifo: env, standard: env },
        }),
      );
    }, 60_000);

    const guard = async (on: boolean) => {
      for (const q of QUEUE_KINDS) {
        await target.updateConsumerEnv(q, { EFFECT_GUARD_ENABLED: String(on) });
      }
    };

    /** An order whose first sends' answers are lost, applied, then retried 2 hours later. */
    const lostAnswerRetriedLater = async (label: string) => {
      const runId = newRunId(label);
      const key = `${label}-${runId}`;
      const body = order(`${label}-cust`, 1);
      await target.updateProducerEnv({ FAULT_LOST_SEND_ANSWER_RATE: '1' });
      const first = await postOrder(target, body, { runId, idempotencyKey: key });
      await target.updateProducerEnv({ FAULT_LOST_SEND_ANSWER_RATE: '0' });
      await drain(target, runId);
      // FIFO's deduplication window (5 minutes) and Powertools' record (1 hour) are over.
      await target.advanceClock(2 * HOUR);
      const retry = await postOrder(target, body, { runId, idempotencyKey: key });
      await drain(target, runId);
      const deliveries = await deliveriesOnceQuiet(target, runId);
      return { first, retry, deliveries, violations: await runCheck(target, runId, [key]) };
    };

    /** An order applied, then failing after its effect into both DLQs, redriven 3 days later. */
    const redrivenLater = async (label: string) => {
      const runId = newRunId(label);
      const key = `${LATE}${label}-${runId}`;
      const posted = await postOrder(target, order(`${label}-cust`, 1), {
        runId,
        idempotencyKey: key,
      });
      expect(posted.status).toBe(202);
      await waitFor(
        'the order in both DLQs',
        () => Promise.all(QUEUE_KINDS.map((q) => dlqDepth(target, q))),
        (depths) => depths.every((d) => d >= 1),
        { onPoll: skipWhenIdle(target, 3), intervalMs: 200, timeoutMs: 40_000 },
      );
      // Powertools' record (COMPLETED on the first receive) expired long ago; the message is
      // still well inside the 4-day retention and the DLQ's 14 days.
      await target.advanceClock(3 * DAY);
      for (const q of QUEUE_KINDS) {
        await target.updateConsumerEnv(q, { FAULT_FAIL_AFTER_EFFECT_PREFIX: '' });
      }
      try {
        await redriveBothDlqs(target);
        await drain(target, runId);
      } finally {
        for (const q of QUEUE_KINDS) {
          await target.updateConsumerEnv(q, { FAULT_FAIL_AFTER_EFFECT_PREFIX: LATE });
        }
      }
      const deliveries = await deliveriesOnceQuiet(target, runId);
      const depths = await Promise.all(QUEUE_KINDS.map((q) => dlqDepth(target, q)));
      return { deliveries, depths, violations: await runCheck(target, runId, [key]) };
    };

    it('answers a client retry 2 hours after the order was applied from its record: no new message', async () => {
      // Prepare
      const runId = newRunId('retry-2h');
      const key = `retry-2h-${runId}`;
      const body = order('retry-2h-cust', 1);
      const first = await postOrder(target, body, { runId, idempotencyKey: key });
      await drain(target, runId);

      // Act
      await target.advanceClock(2 * HOUR);
      const retry = await postOrder(target, body, { runId, idempotencyKey: key });
      const deliveries = await deliveriesOnceQuiet(target, runId);

      // Assess
      expect(first.status).toBe(202);
      expect(retry.json).toEqual(first.json);
      for (const q of QUEUE_KINDS) {
        const ids = new Set(deliveries[q].map((d) => d.messageId));
        expect({ q, messages: ids.size }).toEqual({ q, messages: 1 });
      }
      expect(await runCheck(target, runId, [key])).toEqual([]);
    }, 90_000);

    it('re-sends a lost-answer order retried 2 hours later to both queues, and the effect refuses it on each', async () => {
      // Act
      const { first, retry, deliveries, violations } = await lostAnswerRetriedLater('lost-2h');

      // Assess: a second message on each queue (FIFO's window was over), delivered after
      // Powertools' record expired, refused by the effect's conditional write.
      expect([first.status, retry.status]).toEqual([503, 202]);
      expect(violations).toEqual([]);
      for (const q of QUEUE_KINDS) {
        const ids = new Set(deliveries[q].map((d) => d.messageId));
        expect({ q, messages: ids.size, refused: refusedByEffect(deliveries[q]) > 0 }).toEqual({
          q,
          messages: 2,
          refused: true,
        });
      }
    }, 90_000);

    it('applies a DLQ message redriven 3 days after the failure no second time', async () => {
      // Act
      const { deliveries, depths, violations } = await redrivenLater('redrive-3d');

      // Assess
      expect(violations).toEqual([]);
      expect(depths).toEqual([0, 0]);
      for (const q of QUEUE_KINDS) {
        expect({ q, refused: refusedByEffect(deliveries[q]) > 0 }).toEqual({ q, refused: true });
      }
    }, 90_000);

    if (faults === 'none') {
      it('fails both checks with the effect guard off, naming the order applied twice (the test of the tests)', async () => {
        await guard(false);
        try {
          // Act
          const lost = await lostAnswerRetriedLater('lost-2h-unguarded');
          const redriven = await redrivenLater('redrive-3d-unguarded');

          // Assess
          for (const q of QUEUE_KINDS) {
            for (const violations of [lost.violations, redriven.violations]) {
              expect(violations).toContainEqual(
                expect.stringMatching(new RegExp(`^${q}: order \\S+ was applied 2 times$`)),
              );
            }
          }
        } finally {
          await guard(true);
        }
      }, 180_000);
    }
  });
});
