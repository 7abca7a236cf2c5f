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
  it.each(['standard', 'fifo'])('%s', (kind) => {
    process.stdout.write(`counts-model: seed ${seed} (${kind}); SQS_COUNTS_SEED=${seed}\n`);
    const rng = createRng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
    const fifo = kind === 'fifo';
    const clock = new FrozenClock();
    const suffix = fifo ? '.fifo' : '';
    const dlq = new Queue(`dlq${suffix}`, {}, '000000000000', 'us-east-1', clock);
    const q = new Queue(
      `q${suffix}`,
      {
        MessageRetentionPeriod: '60',
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 2 }),
      },
      '000000000000',
      'us-east-1',
      clock,
    );
    const dice = new FaultDice(seed);
    const faulty = fifo
      ? PRESETS.none
      : { ...PRESETS.none, duplicateRate: 0.3, survivingCopyRate: 0.2, reorderRate: 0.2 };
    const receipts: string[] = [];
    let sent = 0;
    const moveToDlq = (m: StoredMessage) => {
      dlq.adopt({ ...m, deadLetterSourceArn: q.arn }, 'dead-letter');
      return true;
    };
    const check = (step: number, op: string) => {
      for (const queue of [q, dlq]) {
        const kept = queue.counts();
        const counted = queue.recount();
        if (JSON.stringify(kept) !== JSON.stringify(counted)) {
          throw new Error(
            `seed ${seed} (${kind}), step ${step} (${op}), ${queue.name}: kept ${JSON.stringify(kept)}, recounted ${JSON.stringify(counted)}`,
          );
        }
      }
    };

    for (let step = 0; step < STEPS; step++) {
      const r = rng();
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
          const got = q.receive({
            max: 1 + Math.floor(rng() * 10),
            visibilityTimeout: pick([0, 1, 5, 20]),
            shortPoll: rng() < 0.5,
            faults: faulty,
            dice,
            moveToDlq,
            maxInFlight: pick([3, 10, Infinity]),
          });
          for (const c of got) receipts.push(c.receipt);
        } catch (err) {
          // A standard short poll at the in-flight quota: OverLimit, nothing taken.
          if (!/Too many messages/.test(String(err))) throw err;
        }
      } else if (r < 0.7 && receipts.length > 0) {
        op = 'delete';
        try {
          q.delete(pick(receipts), faulty, dice);
        } catch {
          // A FIFO handle that expired: refused, nothing changes.
        }
      } else if (r < 0.8 && receipts.length > 0) {
        op = 'change visibility';
        try {
          q.changeVisibility(pick(receipts), pick([0, 0, 3, 30]));
        } catch {
          // A handle whose message is gone or was received again.
        }
      } else if (r < 0.93) {
        op = 'advance';
        clock.advance(pick([100, 1_000, 4_000, 12_000, 30_000]));
      } else if (r < 0.98) {
        op = 'drain';
        for (const m of q.drainAvailable(1 + Math.floor(rng() * 3))) {
          dlq.adopt(m, 'redrive');
        }
      } else {
        op = 'purge';
        q.purge();
      }
      check(step, op);
    }
  });
});
