import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  OverLimit,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import { Clock } from '../../local/sqs';
import { createRng } from '../../shared/src/random';
import { type Harness, startEmulator } from './helpers';

/**
 * The in-flight quota against a model of what is in flight, over random runs of the actions that
 * put a message in flight or take it out: receives (visibility timeouts of 0 to 120 s), deletes
 * and visibility changes (to 0 too) through current and stale handles, the clock passing
 * visibility timeouts and the 60 s retention period ("Amazon SQS automatically deletes messages
 * left in a queue longer than the retention period configured for the queue", DeleteMessage, API
 * reference), dead-letter moves, purges, FIFO groups, and deletes the surviving-copy fault loses
 * (the copy stays in flight until its timeout). A small quota, so that runs reach it
 * often. Each run prints its seed; SQS_IN_FLIGHT_SEED=<n> runs that one alone.
 *
 * Checked after every receive: a standard queue's short poll is OverLimit exactly when the model
 * holds the quota in flight, and otherwise takes exactly the messages the model says (in order,
 * up to the room left); a FIFO receive never fails and takes exactly as many as the room, its
 * unblocked groups and MaxNumberOfMessages allow, each the next of an unblocked group. At the end,
 * the counts agree with ApproximateNumberOfMessagesNotVisible, and once every timeout has passed
 * the queue takes the whole quota again: the count cannot drift into a queue that refuses.
 */

const STANDARD_LIMIT = 4;
const FIFO_LIMIT = 3;
const RETENTION_S = 60;
const MAX_RECEIVE_COUNT = 3;
const STEPS = 250;
/**
 * A run is some 250 requests over HTTP through the SDK: 0.2-1.3 s on an idle machine, seed 6's
 * FIFO run 0.4-0.6 s, the same before and after receives took from indexes. Jest's default 5 s
 * is four times that, which a loaded machine (load 5-20) ran out; every receive here is a short
 * poll, so nothing waits on a long poll or a timer.
 */
jest.setTimeout(30_000);

/** A clock that moves only when advanced: the model's times are then the emulator's, to the ms. */
class FrozenClock extends Clock {
  private readonly base = Date.UTC(2026, 0, 1);
  override now(): number {
    return this.base + this.offset;
  }
}

interface ModelMessage {
  body: string;
  group: string;
  enqueuedAt: number;
  visibleAt: number;
  receiveCount: number;
  /** The handle of the latest receive. */
  receipt?: string;
  gone: boolean;
}

const SEEDS = process.env.SQS_IN_FLIGHT_SEED
  ? [Number(process.env.SQS_IN_FLIGHT_SEED)]
  : [4, 6, 7, 8];

describe.each(SEEDS)('the in-flight count against a model, seed %i', (seed) => {
  let h: Harness;
  let clock: FrozenClock;
  beforeEach(async () => {
    clock = new FrozenClock();
    h = await startEmulator('none', 1234, {
      clock,
      maxInFlight: { standard: STANDARD_LIMIT, fifo: FIFO_LIMIT },
    });
  });
  afterEach(() => h.stop());

  for (const [kind, fifo, lossy] of [
    ['standard queue', false, false],
    ['standard queue, half its deletes lost (the surviving-copy fault)', false, true],
    ['FIFO queue', true, false],
  ] as const) {
    it(kind, async () => {
      console.log(`in-flight count, ${kind}: seed ${seed}`);
      const rnd = createRng(seed * 3 + (fifo ? 1 : lossy ? 2 : 0));
      // A lost delete leaves the copy in flight until its timeout, its handle no longer valid.
      if (lossy) h.emulator.setFaults({ survivingCopyRate: 0.5 });
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
      const limit = fifo ? FIFO_LIMIT : STANDARD_LIMIT;
      const suffix = fifo ? '.fifo' : '';
      const fifoAttributes = fifo ? { FifoQueue: 'true', ContentBasedDeduplication: 'true' } : {};
      const dlqUrl = (
        await h.sqs.send(
          new CreateQueueCommand({ QueueName: `dlq${suffix}`, Attributes: fifoAttributes }),
        )
      ).QueueUrl!;
      const dlqArn = `arn:aws:sqs:us-east-1:000000000000:dlq${suffix}`;
      const url = (
        await h.sqs.send(
          new CreateQueueCommand({
            QueueName: `busy${suffix}`,
            Attributes: {
              ...fifoAttributes,
              MessageRetentionPeriod: String(RETENTION_S),
              // Dead-letter moves on the standard queue; a FIFO queue's are not modelled.
              ...(fifo
                ? {}
                : {
                    RedrivePolicy: JSON.stringify({
                      deadLetterTargetArn: dlqArn,
                      maxReceiveCount: MAX_RECEIVE_COUNT,
                    }),
                  }),
            },
          }),
        )
      ).QueueUrl!;

      const model: ModelMessage[] = [];
      const byBody = new Map<string, ModelMessage>();
      const handles: { receipt: string; m: ModelMessage }[] = [];
      let sent = 0;
      let deadLettered = 0;
      const now = () => clock.now();
      const live = (m: ModelMessage) => !m.gone && now() - m.enqueuedAt < RETENTION_S * 1000;
      const inFlight = (m: ModelMessage) => live(m) && m.visibleAt > now();
      const held = () => model.filter(inFlight).length;
      const log: string[] = [];

      const send = async (n: number, groupEach = false) => {
        const entries = Array.from({ length: n }, (_, i) => {
          const body = `m${sent++}`;
          const group = groupEach ? body : `g${Math.floor(rnd() * 3)}`;
          const m: ModelMessage = {
            body,
            group,
            enqueuedAt: now(),
            visibleAt: now(),
            receiveCount: 0,
            gone: false,
          };
          model.push(m);
          byBody.set(body, m);
          return { Id: `e${i}`, MessageBody: body, ...(fifo ? { MessageGroupId: group } : {}) };
        });
        const out = await h.sqs.send(
          new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }),
        );
        expect(out.Failed ?? []).toEqual([]);
      };

      /** The standard queue's receive, as the model sees it (send order, no faults). */
      const expectedStandard = (max: number, visibility: number): ModelMessage[] => {
        const room = limit - held();
        const taken: ModelMessage[] = [];
        for (const m of model) {
          if (taken.length >= Math.min(max, room)) break;
          if (!live(m) || m.visibleAt > now()) continue;
          if (m.receiveCount >= MAX_RECEIVE_COUNT) {
            m.gone = true;
            deadLettered++;
            continue;
          }
          taken.push(m);
        }
        for (const m of taken) {
          m.receiveCount++;
          m.visibleAt = now() + visibility * 1000;
        }
        return taken;
      };

      /** FIFO: each unblocked group's visible messages from its oldest live one. */
      const fifoPrefixes = (): Map<string, ModelMessage[]> => {
        const out = new Map<string, ModelMessage[]>();
        for (const g of new Set(model.map((m) => m.group))) {
          const prefix: ModelMessage[] = [];
          let blocked = false;
          for (const m of model) {
            if (m.group !== g || !live(m)) continue;
            if (m.visibleAt > now()) {
              blocked = m.receiveCount > 0;
              break;
            }
            prefix.push(m);
          }
          if (!blocked) out.set(g, prefix);
        }
        return out;
      };

      const receive = async () => {
        const max = 1 + Math.floor(rnd() * 10);
        const visibility = pick([0, 1, 5, 30, 120]);
        const before = held();
        log.push(`receive max ${max} vt ${visibility} (held ${before})`);
        const prefixes = fifo ? fifoPrefixes() : undefined;
        const expected = fifo ? undefined : expectedStandard(max, visibility);
        const answer = h.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: max,
            VisibilityTimeout: visibility,
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
        );
        if (!fifo && before >= limit) {
          const error = await answer.then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(OverLimit);
          expect(error).toMatchObject({ $metadata: { httpStatusCode: 403 } });
          return;
        }
        const got = (await answer).Messages ?? [];
        if (expected) {
          expect({ log: log.slice(-8), bodies: got.map((m) => m.Body) }).toEqual({
            log: log.slice(-8),
            bodies: expected.map((m) => m.body),
          });
        } else {
          // FIFO: as many as the room, the batch and the unblocked groups allow, none when the
          // quota is held, never an error; each the next of its group.
          const available = [...prefixes!.values()].reduce((n, p) => n + p.length, 0);
          expect({ log: log.slice(-8), taken: got.length }).toEqual({
            log: log.slice(-8),
            taken: Math.max(0, Math.min(max, limit - before, available)),
          });
          const next = new Map([...prefixes!.keys()].map((g) => [g, 0]));
          for (const r of got) {
            const m = byBody.get(r.Body!)!;
            const i = next.get(m.group);
            expect(i).toBeDefined();
            expect(prefixes!.get(m.group)![i!]).toBe(m);
            next.set(m.group, i! + 1);
            m.receiveCount++;
            m.visibleAt = now() + visibility * 1000;
          }
        }
        for (const r of got) {
          const m = byBody.get(r.Body!)!;
          m.receipt = r.ReceiptHandle!;
          handles.push({ receipt: r.ReceiptHandle!, m });
        }
        log.push(`  took ${got.map((m) => m.Body).join(',')}`);
      };

      const remove = async () => {
        if (handles.length === 0) return;
        const { receipt, m } = pick(handles);
        const current = m.receipt === receipt && live(m);
        log.push(`delete ${m.body} (${current ? 'current' : 'stale'} handle)`);
        const lostBefore = h.emulator.lostDeletes(`busy${suffix}`).length;
        const ok = await h.sqs
          .send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: receipt }))
          .then(
            () => true,
            () => false,
          );
        // A standard queue deletes through the latest handle, whatever its timeout; a FIFO
        // queue only while that receive still holds the message.
        if (current && (!fifo || m.visibleAt > now())) expect(ok).toBe(true);
        if (!fifo) expect(ok).toBe(true);
        if (h.emulator.lostDeletes(`busy${suffix}`).length > lostBefore) {
          // Only a delete through the latest handle can be lost (of a message past its
          // retention too: gone either way).
          expect(m.receipt).toBe(receipt);
          delete m.receipt;
        } else if (ok && current) m.gone = true;
      };

      const changeVisibility = async () => {
        if (handles.length === 0) return;
        const { receipt, m } = pick(handles);
        const timeout = pick([0, 0, 1, 10, 60]);
        log.push(`change visibility of ${m.body} to ${timeout}`);
        const ok = await h.sqs
          .send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: url,
              ReceiptHandle: receipt,
              VisibilityTimeout: timeout,
            }),
          )
          .then(
            () => true,
            () => false,
          );
        // Only through the latest handle of a message still there (not deleted, moved, purged
        // or past its retention); through one whose timeout has passed, accepted and ignored.
        const current = m.receipt === receipt && live(m);
        expect({ log: log.slice(-8), ok }).toEqual({ log: log.slice(-8), ok: current });
        if (current && m.visibleAt > now()) m.visibleAt = now() + timeout * 1000;
      };

      const purge = async () => {
        log.push('purge');
        const ok = await h.sqs.send(new PurgeQueueCommand({ QueueUrl: url })).then(
          () => true,
          () => false,
        );
        if (ok) for (const m of model) m.gone = true;
      };

      const advance = () => {
        const ms = pick([0, 500, 1000, 5000, 15_000, 31_000, 61_000]);
        log.push(`advance ${ms}`);
        clock.advance(ms);
      };

      const notVisible = async (queueUrl: string) =>
        Number(
          (
            await h.sqs.send(
              new GetQueueAttributesCommand({
                QueueUrl: queueUrl,
                AttributeNames: [
                  'ApproximateNumberOfMessagesNotVisible',
                  'ApproximateNumberOfMessages',
                ],
              }),
            )
          ).Attributes!.ApproximateNumberOfMessagesNotVisible,
        );

      for (let step = 0; step < STEPS; step++) {
        const r = rnd();
        if (r < 0.22) await send(1 + Math.floor(rnd() * 4));
        else if (r < 0.55) await receive();
        else if (r < 0.7) await remove();
        else if (r < 0.8) await changeVisibility();
        else if (r < 0.98) advance();
        else await purge();
      }

      expect(await notVisible(url)).toBe(held());
      if (!fifo) {
        const dlq = await h.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: dlqUrl,
            AttributeNames: ['ApproximateNumberOfMessages'],
          }),
        );
        expect(Number(dlq.Attributes!.ApproximateNumberOfMessages)).toBe(deadLettered);
      }
      // Every timeout and retention period passed: nothing is in flight, and the whole quota
      // can be taken again.
      clock.advance(200_000);
      log.length = 0;
      await send(limit + 2, true);
      let taken = 0;
      for (let i = 0; i < limit + 2 && taken < limit; i++) {
        const got = await h.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: 1,
            VisibilityTimeout: 60,
          }),
        );
        taken += got.Messages?.length ?? 0;
      }
      expect(taken).toBe(limit);
    });
  }
});
