import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { queueRecords, reportData, settle } from './faults/run-check';
import { describeWhere } from './support/differences';
import { newRunId, order, postOrder, VISIBILITY_MS, waitFor } from './support/pipeline-client';
import { stopsAfterAll } from './support/stop-after-all';
import { startTarget, type Target } from './support/target';

const POISON_PREFIX = 'poison-';

async function visibleIn(target: Target, url: string): Promise<string> {
  const out = await target.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages'],
    }),
  );
  return out.Attributes?.ApproximateNumberOfMessages ?? '';
}

/**
 * The report tells a DLQ redrive from a send of the order the producer did not record (its
 * answer was lost) by whether the dead-lettered message is still in the DLQ
 * (services/report/src/domain/metrics.ts, DuplicateCauses.dlqRedrive; docs/report.md).
 */
describeWhere('consumerEnv', 'clock')(
  'the report after a dead letter and a send it holds no record of',
  () => {
    let target: Target;

    const keep = stopsAfterAll();
    beforeAll(async () => {
      target = await keep(
        startTarget({
          seed: 78,
          faults: 'none',
          consumerEnv: { standard: { FAULT_POISON_PREFIX: POISON_PREFIX } },
        }),
      );
    }, 60_000);

    it('counts the new message as a producer re-send while the dead-lettered one is still in the DLQ', async () => {
      // Prepare: the poison order fails every allowed receive on standard and goes to its DLQ.
      const runId = newRunId('resend-dead');
      const orderId = `${POISON_PREFIX}${runId}`;
      const posted = await postOrder(target, order('cust-resend-dead', 1), {
        runId,
        idempotencyKey: orderId,
      });
      expect(posted.status).toBe(202);
      await settle(target, runId, [orderId]);
      const dlqUrl = target.queueUrls.standardDlq;
      await waitFor(
        'the poison order visible in the standard DLQ',
        () => visibleIn(target, dlqUrl),
        (depth) => depth === '1',
        { onPoll: () => target.advanceClock(VISIBILITY_MS), intervalMs: 300 },
      );
      await target.updateConsumerEnv('standard', { FAULT_POISON_PREFIX: '' });

      // Act: the order is sent to the standard queue again, and nobody records the message id:
      // what a client retry's send whose answer was lost leaves. Its body is the dead letter's
      // (looked at with a visibility timeout of 0, so it stays in the DLQ, visible).
      const peek = await target.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 1, VisibilityTimeout: 0 }),
      );
      const body = peek.Messages?.[0]?.Body;
      expect(body).toContain(orderId);
      const resent = await target.sqs.send(
        new SendMessageCommand({ QueueUrl: target.queueUrls.standard, MessageBody: body }),
      );
      await waitFor(
        'the re-sent order applied on standard',
        () => queueRecords(target, runId, 'standard'),
        (r) => r.effects.length === 1,
      );

      // Assess: the dead letter never left the DLQ, so the new message is no redrive of it.
      const { report } = await reportData(target, runId);
      const standard = report.queues.standard;
      const retries = report.config.queues.standard.maxReceiveCount - 1;
      expect(standard.duplicateCauses).toEqual({
        producerResend: 1,
        queueCopy: 0,
        retryAfterFailure: retries,
        dlqRedrive: 0,
      });
      expect([standard.inDlq, standard.appliedInDlq, standard.lost]).toEqual([0, 1, 0]);
      const { deliveries } = await queueRecords(target, runId, 'standard');
      expect(deliveries.filter((d) => d.messageId === resent.MessageId)).toHaveLength(1);
    }, 60_000);
  },
);
