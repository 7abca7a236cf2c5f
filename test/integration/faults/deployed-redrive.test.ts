import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import { generateReport } from '../../../services/report/src/generate';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { QUEUE_KINDS, type QueueKind } from '../../../shared/src/queue-kind';
import { describeWhere } from '../support/differences';
import { newRunId, order, postOrder, waitFor } from '../support/pipeline-client';
import { startTarget, type Target } from '../support/target';
import { drain, expectExactlyOnce, queueRecords, skipWhenIdle } from './run-check';

const POISON_PREFIX = 'poison-';
/** The queues' maxReceiveCount as deployed here; the repository's is another. */
const DEPLOYED = 7;
const REPO = pipelineConfig.queues.standard.dlq.maxReceiveCount;

async function setMaxReceiveCount(target: Target, q: QueueKind, max: number | undefined) {
  const dlq = await target.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: target.queueUrls[`${q}Dlq`],
      AttributeNames: ['QueueArn'],
    }),
  );
  await target.sqs.send(
    new SetQueueAttributesCommand({
      QueueUrl: target.queueUrls[q],
      Attributes: {
        RedrivePolicy:
          max === undefined
            ? ''
            : JSON.stringify({
                deadLetterTargetArn: dlq.Attributes?.QueueArn,
                maxReceiveCount: max,
              }),
      },
    }),
  );
}

/**
 * The report against queues whose RedrivePolicy says another maxReceiveCount than the
 * repository's config, read the way the CLI reads a run (`config: pipelineConfig`): the numbers
 * that depend on it follow the queue's.
 */
describeWhere('consumerEnv', 'clock')(
  'a report of queues deployed with another maxReceiveCount',
  () => {
    let target: Target;

    beforeAll(async () => {
      // The consumers know the deployed limit too (they mark a failure final by it), and fail the
      // poison order until told otherwise.
      const env = { FAULT_POISON_PREFIX: POISON_PREFIX, MAX_RECEIVE_COUNT: String(DEPLOYED) };
      target = await startTarget({
        seed: 78,
        faults: 'none',
        consumerEnv: { fifo: env, standard: env },
      });
      expect(REPO).not.toBe(DEPLOYED);
      for (const q of QUEUE_KINDS) await setMaxReceiveCount(target, q, DEPLOYED);
    }, 60_000);

    afterAll(async () => {
      await target?.stop();
    }, 30_000);

    /** The run's report now (no drain wait), with the repository's config as the CLI reads it. */
    const reportNow = async (runId: string) =>
      (
        await generateReport({
          runId,
          target: target.name,
          config: pipelineConfig,
          waitTimeoutMs: 0,
          source: {
            documentClient: target.documents,
            sqsClient: target.sqs,
            ledgerTable: target.tableNames.ledger,
            queueUrls: target.queueUrls,
          },
        })
      ).report;

    /**
     * The note on the target's clock skips, which the run check helpers write to the run's ledger
     * (drain, reportData: Target.recordClockSkips): every one the target made so far.
     */
    const skipNote = () =>
      expect.stringMatching(
        new RegExp(
          `^the run's runner advanced the functions' clock ${target.clockSkips().length} times?, `,
        ),
      );

    it("counts a message the producer never recorded, after the repository's last receive but before the queue's, as a re-send, and shows the queue's maxReceiveCount", async () => {
      // Prepare: the poison order fails its first REPO receives on both queues, none of them final
      // (the queues allow DEPLOYED).
      const runId = newRunId('deployed');
      const orderId = `${POISON_PREFIX}${runId}`;
      const body = order('cust-deployed', 1);
      const posted = await postOrder(target, body, { runId, idempotencyKey: orderId });
      expect(posted.status).toBe(202);
      const failures = await waitFor(
        `${REPO} failed receives of the order on both queues`,
        () =>
          Promise.all(
            QUEUE_KINDS.map(async (q) => (await queueRecords(target, runId, q)).failures),
          ),
        (all) => all.every((f) => f.length >= REPO),
        { timeoutMs: 45_000, intervalMs: 150, onPoll: skipWhenIdle(target, 4) },
      );
      for (const f of failures) {
        expect(f.filter((x) => x.final)).toEqual([]);
        expect(f.length).toBeLessThan(DEPLOYED);
      }

      // Act: the consumer is fixed, and a second message of the order, one the producer never
      // sent (put on each queue by hand), arrives; the first is received once more and applies.
      for (const q of QUEUE_KINDS) await target.updateConsumerEnv(q, { FAULT_POISON_PREFIX: '' });
      const message = JSON.stringify({
        ...body,
        orderId,
        runId,
        sequence: 1,
        acceptedAt: Date.now(),
      });
      for (const q of QUEUE_KINDS) {
        await target.sqs.send(
          new SendMessageCommand({
            QueueUrl: target.queueUrls[q],
            MessageBody: message,
            ...(q === 'fifo'
              ? { MessageGroupId: body.customerId, MessageDeduplicationId: `by-hand-${runId}` }
              : {}),
          }),
        );
      }
      const data = await drain(target, runId);

      // Assess: the queues' maxReceiveCount is the deployed one, the new message is a re-send (no
      // message of the order had reached its last allowed receive), and nothing was dead-lettered.
      const { report, ledger } = data;
      for (const q of QUEUE_KINDS) {
        const failed = failures[QUEUE_KINDS.indexOf(q)]!.length;
        const ids = new Set(ledger.deliveries.filter((d) => d.queue === q).map((d) => d.messageId));
        expect({ q, messages: ids.size }).toEqual({ q, messages: 2 });
        expect({ q, config: report.config.queues[q] }).toMatchObject({
          q,
          config: { maxReceiveCount: DEPLOYED, maxReceiveCountFrom: 'queue' },
        });
        expect(report.config.queues[q].deadLetterTargetArn).toMatch(/dlq/);
        expect({ q, causes: report.queues[q].duplicateCauses }).toEqual({
          q,
          causes: { producerResend: 1, queueCopy: 0, retryAfterFailure: failed, dlqRedrive: 0 },
        });
        expect({ q, inDlq: report.queues[q].inDlq, lost: report.queues[q].lost }).toEqual({
          q,
          inDlq: 0,
          lost: 0,
        });
      }
      expect(report.notes).toEqual([
        ...QUEUE_KINDS.map(
          (q) =>
            `${q}: the queue's RedrivePolicy says maxReceiveCount ${DEPLOYED}, the report's config ${REPO}: the report uses the queue's`,
        ),
        skipNote(),
      ]);
      await expectExactlyOnce(target, runId, [orderId]);
    }, 90_000);

    it("falls back to the config's maxReceiveCount, and says so, for a queue without a RedrivePolicy", async () => {
      await setMaxReceiveCount(target, 'standard', undefined);
      const runId = newRunId('no-policy');
      const posted = await postOrder(target, order('cust-no-policy', 1), {
        runId,
        idempotencyKey: `plain-${runId}`,
      });
      expect(posted.status).toBe(202);
      await drain(target, runId);
      const report = await reportNow(runId);
      expect(report.config.queues.standard).toMatchObject({
        maxReceiveCount: REPO,
        maxReceiveCountFrom: 'config',
      });
      expect(report.config.queues.fifo).toMatchObject({
        maxReceiveCount: DEPLOYED,
        maxReceiveCountFrom: 'queue',
      });
      expect(report.notes).toEqual([
        `fifo: the queue's RedrivePolicy says maxReceiveCount ${DEPLOYED}, the report's config ${REPO}: the report uses the queue's`,
        `standard: maxReceiveCount ${REPO} is the report's config, not the queue's: the queue has no RedrivePolicy`,
        skipNote(),
      ]);
      expect(report.queues.standard.processed).toBe(1);
    }, 60_000);

    it('says so when a message was received more often than the maxReceiveCount it measures against (the policy removed during the run)', async () => {
      // The standard queue dead-letters at the config's 5 when the run starts; its policy is
      // removed after the poison order's second failure, so SQS hands it out a sixth time, past
      // the 5 the report falls back to.
      await setMaxReceiveCount(target, 'standard', REPO);
      await target.updateConsumerEnv('standard', { FAULT_POISON_PREFIX: POISON_PREFIX });
      const runId = newRunId('removed');
      const orderId = `${POISON_PREFIX}${runId}`;
      const posted = await postOrder(target, order('cust-removed', 1), {
        runId,
        idempotencyKey: orderId,
      });
      expect(posted.status).toBe(202);
      await waitFor(
        'two failed receives of the order on the standard queue',
        async () => (await queueRecords(target, runId, 'standard')).failures,
        (f) => f.length >= 2,
        { timeoutMs: 45_000, intervalMs: 150, onPoll: skipWhenIdle(target, 4) },
      );
      await setMaxReceiveCount(target, 'standard', undefined);
      await waitFor(
        `${REPO + 1} failed receives of the order on the standard queue`,
        async () => (await queueRecords(target, runId, 'standard')).failures,
        (f) => f.length >= REPO + 1,
        { timeoutMs: 45_000, intervalMs: 150, onPoll: skipWhenIdle(target, 4) },
      );
      await target.updateConsumerEnv('standard', { FAULT_POISON_PREFIX: '' });
      const { report, ledger } = await drain(target, runId);
      const highest = Math.max(
        ...ledger.deliveries.filter((d) => d.queue === 'standard').map((d) => d.receiveCount),
      );
      expect(highest).toBeGreaterThan(REPO);
      expect(report.config.queues.standard).toMatchObject({
        maxReceiveCount: REPO,
        maxReceiveCountFrom: 'config',
      });
      expect(report.notes).toEqual([
        `fifo: the queue's RedrivePolicy says maxReceiveCount ${DEPLOYED}, the report's config ${REPO}: the report uses the queue's`,
        `standard: maxReceiveCount ${REPO} is the report's config, not the queue's: the queue has no RedrivePolicy`,
        `standard: the ledger holds a receive #${highest}, above the maxReceiveCount ${REPO} the report used: SQS did not move messages to the DLQ at ${REPO} throughout the run (its RedrivePolicy was changed or removed during it, or the queue had none); a failed receive at ${REPO} still counts as a dead letter`,
        skipNote(),
      ]);
      expect(report.queues.standard).toMatchObject({ processed: 1, inDlq: 0, lost: 0 });
      expect(report.queues.standard.duplicateCauses).toEqual({
        producerResend: 0,
        queueCopy: 0,
        retryAfterFailure: highest - 1,
        dlqRedrive: 0,
      });
    }, 90_000);

    it('says so when the RedrivePolicy names another DLQ than the one the report reads', async () => {
      // The standard queue now dead-letters to a queue of its own (as a central DLQ, in another
      // account, would be): the report still reads the stack's DLQ, and its note says which.
      const other = await target.sqs.send(
        new CreateQueueCommand({ QueueName: `central-dlq-${Date.now()}` }),
      );
      const otherArn = (
        await target.sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: other.QueueUrl, AttributeNames: ['QueueArn'] }),
        )
      ).Attributes?.QueueArn;
      const readArn = (
        await target.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: target.queueUrls.standardDlq,
            AttributeNames: ['QueueArn'],
          }),
        )
      ).Attributes?.QueueArn;
      expect(otherArn).toBeDefined();
      await target.sqs.send(
        new SetQueueAttributesCommand({
          QueueUrl: target.queueUrls.standard,
          Attributes: {
            RedrivePolicy: JSON.stringify({ deadLetterTargetArn: otherArn, maxReceiveCount: REPO }),
          },
        }),
      );
      const report = await reportNow(newRunId('other-dlq'));
      expect(report.config.queues.standard).toMatchObject({
        maxReceiveCount: REPO,
        maxReceiveCountFrom: 'queue',
        deadLetterTargetArn: otherArn,
      });
      expect(report.notes).toEqual([
        `fifo: the queue's RedrivePolicy says maxReceiveCount ${DEPLOYED}, the report's config ${REPO}: the report uses the queue's`,
        `standard: the queue's RedrivePolicy moves messages to ${otherArn}, not to the DLQ the report read (${readArn}): in DLQ, applied in DLQ, the DLQ's messages and lost count without what SQS moved there`,
      ]);
    }, 60_000);

    it("uses the queue's VisibilityTimeout, and says so, where it differs from the config's", async () => {
      // The standard queue's policy as the first test left it; its visibility timeout raised.
      await setMaxReceiveCount(target, 'standard', DEPLOYED);
      const configured = pipelineConfig.queues.standard.visibilityTimeoutSeconds;
      const deployed = configured + 30;
      const visibility = (seconds: number) =>
        target.sqs.send(
          new SetQueueAttributesCommand({
            QueueUrl: target.queueUrls.standard,
            Attributes: { VisibilityTimeout: String(seconds) },
          }),
        );
      await visibility(deployed);
      try {
        const report = await reportNow(newRunId('visibility'));
        expect(report.config.queues.standard).toMatchObject({
          visibilityTimeoutSeconds: deployed,
          visibilityTimeoutSecondsFrom: 'queue',
        });
        expect(report.config.queues.fifo).toMatchObject({
          visibilityTimeoutSeconds: pipelineConfig.queues.fifo.visibilityTimeoutSeconds,
          visibilityTimeoutSecondsFrom: 'queue',
        });
        expect(report.notes).toEqual([
          `fifo: the queue's RedrivePolicy says maxReceiveCount ${DEPLOYED}, the report's config ${REPO}: the report uses the queue's`,
          `standard: the queue's RedrivePolicy says maxReceiveCount ${DEPLOYED}, the report's config ${REPO}: the report uses the queue's`,
          `standard: the queue's VisibilityTimeout is ${deployed} s, the report's config ${configured} s: the report uses the queue's`,
        ]);
      } finally {
        await visibility(configured);
      }
    }, 60_000);
  },
);
