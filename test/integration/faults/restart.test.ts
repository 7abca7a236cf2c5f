import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalCloud } from '../../../local/cloud';
import { QUEUE_KINDS } from '../../../shared/src/queue-kind';
import { describeWhere } from '../support/differences';
import { newRunId, order, postOrder, waitFor } from '../support/pipeline-client';
import { type Target, targetOnLocalCloud } from '../support/target';
import { deliveriesOnceQuiet, expectExactlyOnce, queueRecords, settle } from './run-check';

const HELD = 'held-';

/**
 * What survives `npm start -- --data-dir <dir>` being stopped and started again:
 * - DynamoDB (dynalite on disk): the ledger (accepted orders, their sequences, deliveries,
 *   effects, counters) and the idempotency records. Tables are reused on start.
 * - Not SQS: the emulator keeps queues in memory, so messages waiting or in flight at the stop
 *   are gone, and so is the FIFO queues' deduplication history.
 * Recovery is the client's retry with the same Idempotency-Key: the producer finds the accepted
 * order on disk, sees that each queue was created after its send (the queue that took it is gone)
 * and re-sends it wherever it was never applied; the orders already applied get no second
 * message.
 */
describeWhere('restart')(
  'the local cloud restarted on its on-disk data in the middle of a run',
  () => {
    let dataDir: string;
    const targets: Target[] = [];

    const start = async (consumerEnv?: Record<string, string>) => {
      const cloud = await startLocalCloud({
        port: 0,
        apiPort: 0,
        dataDir,
        seed: 9090,
        faults: 'none',
        pollWaitSeconds: 1,
        ...(consumerEnv ? { consumerEnv: { fifo: consumerEnv, standard: consumerEnv } } : {}),
      });
      const target = targetOnLocalCloud(cloud);
      targets.push(target);
      return target;
    };

    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'restart-'));
    });

    afterAll(async () => {
      for (const t of targets) await t.stop();
      await rm(dataDir, { recursive: true, force: true });
    }, 30_000);

    it('keeps what was applied, and client retries recover what was still queued, each applied once', async () => {
      // Prepare: before the stop, three orders are applied and two are still queued (their
      // consumer fails them, so they wait for the visibility timeout when the cloud stops).
      const runId = newRunId('restart');
      const customerId = 'cust-restart';
      const applied = ['a1', 'a2', 'a3'].map((k) => `${k}-${runId}`);
      const held = ['b4', 'b5'].map((k) => `${HELD}${k}-${runId}`);
      const all = [...applied, ...held];
      const before = await start({ FAULT_POISON_PREFIX: HELD });
      for (const [i, key] of all.entries()) {
        const res = await postOrder(before, order(customerId, i + 1), {
          runId,
          idempotencyKey: key,
        });
        expect(res.status).toBe(202);
      }
      await settle(before, runId, applied, { advanceEvery: Number.POSITIVE_INFINITY });
      // FIFO stops the customer's group at the first held order (the second waits behind it);
      // the standard queue tried and failed both.
      const failedBeforeStop = { fifo: held.slice(0, 1), standard: held };
      await waitFor(
        'the held orders failed before the stop',
        () => Promise.all(QUEUE_KINDS.map((q) => queueRecords(before, runId, q))),
        ([fifo, standard]) =>
          (fifo?.failures.length ?? 0) >= failedBeforeStop.fifo.length &&
          (standard?.failures.length ?? 0) >= failedBeforeStop.standard.length,
      );
      for (const q of QUEUE_KINDS) {
        const { failures, effects } = await queueRecords(before, runId, q);
        expect(new Set(failures.map((f) => f.orderId))).toEqual(new Set(failedBeforeStop[q]));
        expect(effects.map((e) => e.orderId).sort()).toEqual([...applied].sort());
      }

      // Act: stop, start again on the same data, and let the client retry every order.
      await before.stop();
      const after = await start();
      for (const [i, key] of all.entries()) {
        const res = await postOrder(after, order(customerId, i + 1), {
          runId,
          idempotencyKey: key,
        });
        expect(res.status).toBe(202);
        expect(res.json).toMatchObject({ orderId: key, sequence: i + 1 });
      }
      await settle(after, runId, all);
      const deliveries = await deliveriesOnceQuiet(after, runId);

      // Assess: the ledger and idempotency records survived; the queues recreated at the start
      // cannot hold what was sent before, so the producer re-sent exactly the orders not applied
      // there; the applied ones got no second message. Nothing lost, nothing applied twice, FIFO
      // order kept across the restart.
      for (const q of QUEUE_KINDS) {
        const { effects } = await queueRecords(after, runId, q);
        expect(effects.map((e) => e.orderId).sort()).toEqual([...all].sort());
        for (const key of applied) {
          const outcomes = deliveries[q].filter((d) => d.orderId === key).map((d) => d.outcome);
          expect({ q, key, outcomes }).toEqual({ q, key, outcomes: ['applied'] });
        }
        for (const key of held) {
          const outcomes = deliveries[q].filter((d) => d.orderId === key).map((d) => d.outcome);
          expect({ q, key, applied: outcomes.includes('applied') }).toEqual({
            q,
            key,
            applied: true,
          });
        }
      }
      await expectExactlyOnce(after, runId, all);
    }, 90_000);
  },
);
