import {
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { QUEUE_KINDS, type QueueKind } from '../../../shared/src/queue-kind';
import { describeWhere } from '../support/differences';
import { newRunId, order, postOrder, VISIBILITY_MS, waitFor } from '../support/pipeline-client';
import { stopsAfterAll } from '../support/stop-after-all';
import { startTarget, type Target } from '../support/target';
import {
  expectExactlyOnce,
  queueRecords,
  reportData,
  runCheck,
  settle,
  skipWhenIdle,
} from './run-check';

const POISON_PREFIX = 'poison-';

async function queueAttribute(
  target: Target,
  url: string,
  name: 'QueueArn' | 'ApproximateNumberOfMessages',
) {
  const out = await target.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: [name] }),
  );
  return out.Attributes?.[name] ?? '';
}

const dlqUrl = (target: Target, q: QueueKind) => target.queueUrls[`${q}Dlq`];

const DAY = 24 * 3600 * 1000;

/**
 * The runbook's redrive, end to end: a poison order fails maxReceiveCount times and lands in
 * each DLQ; the consumer is fixed (its environment updated, as a deploy would); a message move
 * task sends the dead letters back to their source queues, where they are processed once.
 */
describeWhere('consumerEnv', 'clock')('a poison order redriven from the DLQ after the fix', () => {
  let target: Target;

  const keep = stopsAfterAll();
  beforeAll(async () => {
    const env = { FAULT_POISON_PREFIX: POISON_PREFIX };
    target = await keep(
      startTarget({
        seed: 77,
        faults: 'none',
        consumerEnv: { fifo: env, standard: env },
      }),
    );
  }, 60_000);

  it('dead-letters the order, then a move task brings it back and it is applied once', async () => {
    // Prepare: the poison order ends in both DLQs.
    const runId = newRunId('redrive');
    const orderId = `${POISON_PREFIX}${runId}`;
    const posted = await postOrder(target, order('cust-redrive', 1), {
      runId,
      idempotencyKey: orderId,
    });
    expect(posted.status).toBe(202);
    await settle(target, runId, [orderId]);
    await waitFor(
      'the poison order visible in both DLQs',
      () =>
        Promise.all(
          QUEUE_KINDS.map((q) =>
            queueAttribute(target, dlqUrl(target, q), 'ApproximateNumberOfMessages'),
          ),
        ),
      (depths) => depths.every((d) => d === '1'),
      // The last failed receive leaves it in flight; SQS moves it on the next receive after
      // the visibility timeout.
      { onPoll: () => target.advanceClock(VISIBILITY_MS), intervalMs: 300 },
    );
    for (const q of QUEUE_KINDS) {
      const { effects, failures } = await queueRecords(target, runId, q);
      expect(effects).toHaveLength(0);
      expect(failures.filter((f) => f.final)).toHaveLength(1);
    }
    // The report reads the order from both DLQs (without consuming it), and the check passes
    // only with it expected there.
    const { report: before } = await reportData(target, runId);
    expect([before.queues.fifo.inDlq, before.queues.standard.inDlq]).toEqual([1, 1]);
    for (const q of QUEUE_KINDS) {
      // Every receive after the first is SQS's retry of the one message the producer sent.
      const retries = before.config.queues[q].maxReceiveCount - 1;
      expect({ q, causes: before.queues[q].duplicateCauses }).toEqual({
        q,
        causes: { producerResend: 0, queueCopy: 0, retryAfterFailure: retries, dlqRedrive: 0 },
      });
    }
    expect([before.queues.fifo.lost, before.queues.standard.lost]).toEqual([0, 0]);
    expect(
      await runCheck(target, runId, [orderId], { fifo: [orderId], standard: [orderId] }),
    ).toEqual([]);
    expect(await runCheck(target, runId, [orderId])).toEqual([
      `fifo: order ${orderId} is in the DLQ`,
      'fifo: the DLQ holds 1 messages as SQS reports it, expected 0',
      `standard: order ${orderId} is in the DLQ`,
      'standard: the DLQ holds 1 messages as SQS reports it, expected 0',
    ]);

    // Act: fix the consumer, then redrive each DLQ to its source queue.
    for (const q of QUEUE_KINDS) await target.updateConsumerEnv(q, { FAULT_POISON_PREFIX: '' });
    for (const q of QUEUE_KINDS) {
      const sourceArn = await queueAttribute(target, dlqUrl(target, q), 'QueueArn');
      const task = await target.sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn }));
      expect(task.TaskHandle).toBeTruthy();
      const tasks = await waitFor(
        `the ${q} move task completed`,
        () => target.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn })),
        (out) => out.Results?.[0]?.Status === 'COMPLETED',
      );
      expect(tasks.Results?.[0]?.ApproximateNumberOfMessagesMoved).toBe(1);
    }
    await waitFor(
      'the redriven order applied on both queues',
      () => Promise.all(QUEUE_KINDS.map((q) => queueRecords(target, runId, q))),
      (all) => all.every((r) => r.effects.length === 1),
    );

    // Assess: applied once each, the DLQs empty, and the report no longer counts it as dead.
    for (const q of QUEUE_KINDS) {
      expect(await queueAttribute(target, dlqUrl(target, q), 'ApproximateNumberOfMessages')).toBe(
        '0',
      );
    }
    const { report: after, ledger } = await reportData(target, runId);
    expect([after.queues.fifo.inDlq, after.queues.standard.inDlq]).toEqual([0, 0]);
    // The redriven message is a new SQS message (a new message id) that the producer never sent:
    // its delivery is a DLQ redrive, not a producer re-send. The producer's record lists the one
    // message it sent per queue.
    expect(ledger.producerSends).toEqual([
      expect.objectContaining({ orderId, sentMessageIds: expect.any(Array) }),
    ]);
    expect(ledger.producerSends?.[0]?.sentMessageIds).toHaveLength(2);
    for (const q of QUEUE_KINDS) {
      const ids = new Set(ledger.deliveries.filter((d) => d.queue === q).map((d) => d.messageId));
      expect({ q, messages: ids.size }).toEqual({ q, messages: 2 });
      const retries = after.config.queues[q].maxReceiveCount - 1;
      expect({ q, causes: after.queues[q].duplicateCauses }).toEqual({
        q,
        causes: { producerResend: 0, queueCopy: 0, retryAfterFailure: retries, dlqRedrive: 1 },
      });
    }
    await expectExactlyOnce(target, runId, [orderId]);
  }, 60_000);

  it("counts each re-send of a dead-lettered order past retention as a producer re-send, also one that is no longer the producer's latest id", async () => {
    // Prepare: the consumers fail the order every time (again: the scenario above fixed them).
    for (const q of QUEUE_KINDS) {
      await target.updateConsumerEnv(q, { FAULT_POISON_PREFIX: POISON_PREFIX });
    }
    const runId = newRunId('resent');
    const orderId = `${POISON_PREFIX}${runId}`;
    const body = order('cust-resent', 1);
    const depths = () =>
      Promise.all(
        QUEUE_KINDS.map(async (q) =>
          Number(await queueAttribute(target, dlqUrl(target, q), 'ApproximateNumberOfMessages')),
        ),
      );
    const before = await depths();
    const deadLettered = async (n: number) => {
      // Its n-th message's last allowed receive failed on both queues (the visibility timeout
      // skipped only while no batch is being processed, so receives keep their order)...
      await waitFor(
        `${n} final failures of the order on both queues`,
        () =>
          Promise.all(
            QUEUE_KINDS.map(async (q) =>
              (await queueRecords(target, runId, q)).failures.filter((f) => f.final),
            ),
          ),
        (finals) => finals.every((f) => f.length === n),
        { timeoutMs: 45_000, intervalMs: 150, onPoll: skipWhenIdle(target, 4) },
      );
      // ...and SQS moved it on its next receive.
      await waitFor(
        `${n} messages of the order in both DLQs`,
        depths,
        (now) => now.every((d, i) => d - (before[i] ?? 0) === n),
        { onPoll: () => target.advanceClock(VISIBILITY_MS), intervalMs: 300 },
      );
    };

    // Act: sent and dead-lettered; the client retries once the queues' retention (4 days) has
    // passed, so the producer sends it again (the queue lost it, it was never applied), twice.
    expect((await postOrder(target, body, { runId, idempotencyKey: orderId })).status).toBe(202);
    await deadLettered(1);
    for (const n of [2, 3]) {
      await target.advanceClock(5 * DAY);
      const retry = await postOrder(target, body, { runId, idempotencyKey: orderId });
      expect(retry.status).toBe(202);
      await deadLettered(n);
    }

    // Assess: three messages per queue, every one the producer's: each new one after a dead
    // letter, and the second no longer the latest id the producer holds (messageIds), only in
    // its list of every id sent. None is a redrive.
    const { report, ledger } = await reportData(target, runId);
    const sent = ledger.producerSends?.[0];
    for (const q of QUEUE_KINDS) {
      const ids = [
        ...new Set(ledger.deliveries.filter((d) => d.queue === q).map((d) => d.messageId)),
      ];
      expect({ q, messages: ids.length }).toEqual({ q, messages: 3 });
      const retries = 3 * (report.config.queues[q].maxReceiveCount - 1);
      expect({ q, causes: report.queues[q].duplicateCauses }).toEqual({
        q,
        causes: { producerResend: 2, queueCopy: 0, retryAfterFailure: retries, dlqRedrive: 0 },
      });
      expect({ q, unsent: ids.filter((id) => !sent?.sentMessageIds?.includes(id)) }).toEqual({
        q,
        unsent: [],
      });
      expect({ q, latestIsOne: ids.filter((id) => sent?.messageIds?.[q] === id).length }).toEqual({
        q,
        latestIsOne: 1,
      });
    }
  }, 90_000);
});
