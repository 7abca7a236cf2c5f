import { Clock } from '../../local/sqs/clock';
import { FaultDice, PRESETS } from '../../local/sqs/faults';
import { Queue, type StoredMessage } from '../../local/sqs/queue';
import { createRng } from '../../shared/src/random';

/**
 * The counts a queue keeps up to date as its messages change state (GetQueueAttributes' three
 * counts, and the in-flight quota, which reads the in-flight one) against a recount of its
 * messages, after every operation of random runs: sends (some delayed), receives (visibility
 * timeouts of 0-20 s, copies left by the duplicate fault, dead-letter moves past
 * maxReceiveCount 2), deletes through current and stale handles (some lost by the
 * surviving-copy fault), visibility changes, the clock passing timeouts, delays and the 60 s
 * retention period, move-task drains, purges. Standard and FIFO. Each run prints its seed;
 * SQS_COUNTS_SEED=<n> runs that one alone.
 * Also: the messages a receive holds (the in-flight quota's count, held()) against a walk; a
 * queue that is its own DLQ; receives, deletes and visibility changes on the DLQ; move tasks
 * back from the DLQ (some returned, as a move that cannot finish puts them back); the retention
 * period changed (SetQueueAttributes); a FIFO queue delay.
 */

const STEPS = 400;
const SEEDS = process.env.SQS_COUNTS_SEED
  ? [Number(process.env.SQS_COUNTS_SEED)]
  : [1, 2, 3, 4, 5, 6, 7, 8];

/** A clock that moves only when advanced. */
class FrozenClock extends Clock {
  private readonly base = Date.UTC(2026, 0, 1);
  override now(): number {
    return this.base + this.offset;
  }
}

describe.each(SEEDS)('the kept counts against a recount, seed %i', (seed) => {
  it.each([
    ['standard', 'a DLQ'],
    ['fifo', 'a DLQ'],
    ['standard', 'itself as DLQ'],
    ['fifo', 'itself as DLQ'],
  ])('%s, %s', (kind, dlqKind) => {
    process.stdout.write(
      `counts-model: seed ${seed} (${kind}, ${dlqKind}); SQS_COUNTS_SEED=${seed}\n`,
    );
    const own = dlqKind === 'itself as DLQ';
    const rng = createRng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
    const fifo = kind === 'fifo';
    const clock = new FrozenClock();
    const suffix = fifo ? '.fifo' : '';
    const dlq = new Queue(`dlq${suffix}`, {}, '000000000000', 'us-east-1', clock);
    const q = new Queue(
      `q${suffix}`,
      { MessageRetentionPeriod: '60', ...(fifo ? { DelaySeconds: '2' } : {}) },
      '000000000000',
      'us-east-1',
      clock,
    );
    const target = own ? q : dlq;
    q.attributes.RedrivePolicy = JSON.stringify({
      deadLetterTargetArn: target.arn,
      maxReceiveCount: 2,
    });
    const dice = new FaultDice(seed);
    const faulty = fifo
      ? PRESETS.none
      : { ...PRESETS.none, duplicateRate: 0.3, survivingCopyRate: 0.2, reorderRate: 0.2 };
    const receipts: [Queue, string][] = [];
    let sent = 0;
    const moveToDlq = (m: StoredMessage) => {
      target.adopt({ ...m, deadLetterSourceArn: q.arn }, 'dead-letter', !own);
      return true;
    };
    const check = (step: number, op: string) => {
      for (const queue of [q, dlq]) {
        const kept = queue.counts();
        const counted = queue.recount();
        const held = queue.held();
        const heldCounted = queue.recountHeld();
        if (JSON.stringify(kept) !== JSON.stringify(counted) || held !== heldCounted) {
          throw new Error(
            `seed ${seed} (${kind}), step ${step} (${op}), ${queue.name}: kept ${JSON.stringify(kept)} held ${held}, recounted ${JSON.stringify(counted)} held ${heldCounted}`,
          );
        }
      }
    };

    for (let step = 0; step < STEPS; step++) {
      const r = rng();
      // Mostly the source; a receive, delete, visibility change or purge on the DLQ now and then.
      const on = rng() < 0.8 ? q : dlq;
      let op: string;
      if (r < 0.3) {
        op = 'send';
        const n = sent++;
        q.send({
          body: `m${n}`,
          attributes: {},
          senderId: 'model',
          ...(fifo
            ? { groupId: `g${Math.floor(rng() * 4)}`, dedupId: `d${n}` }
            : { delaySeconds: rng() < 0.2 ? Math.floor(rng() * 5) : 0 }),
        });
      } else if (r < 0.55) {
        op = 'receive';
        try {
          const got = on.receive({
            max: 1 + Math.floor(rng() * 10),
            visibilityTimeout: pick([0, 1, 5, 20]),
            shortPoll: rng() < 0.5,
            faults: faulty,
            dice,
            ...(on === q ? { moveToDlq } : {}),
            maxInFlight: pick([3, 10, Infinity]),
          });
          for (const c of got) receipts.push([on, c.receipt]);
        } catch (err) {
          // A standard short poll at the in-flight quota: OverLimit, nothing taken.
          if (!/Too many messages/.test(String(err))) throw err;
        }
      } else if (r < 0.7 && receipts.length > 0) {
        op = 'delete';
        try {
          const [x, handle] = pick(receipts);
          x.delete(handle, faulty, dice);
        } catch {
          // A FIFO handle that expired: refused, nothing changes.
        }
      } else if (r < 0.8 && receipts.length > 0) {
        op = 'change visibility';
        try {
          const [x, handle] = pick(receipts);
          x.changeVisibility(handle, pick([0, 0, 3, 30]));
        } catch {
          // A handle whose message is gone or was received again.
        }
      } else if (r < 0.93) {
        op = 'advance';
        clock.advance(pick([100, 1_000, 4_000, 12_000, 30_000]));
      } else if (r < 0.955) {
        op = 'drain';
        for (const m of q.drainAvailable(1 + Math.floor(rng() * 3))) {
          dlq.adopt(m, 'redrive');
        }
      } else if (r < 0.98) {
        op = 'drain back';
        for (const m of dlq.drainAvailable(1 + Math.floor(rng() * 3))) {
          if (rng() < 0.2) dlq.adopt(m, 'return');
          else q.adopt(m, 'redrive');
        }
      } else if (r < 0.99) {
        op = 'retention';
        q.attributes.MessageRetentionPeriod = String(pick([30, 60, 120]));
      } else {
        op = 'purge';
        on.purge();
      }
      check(step, op);
    }
  });
});
