import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoLedger } from '../../../services/producer/src/adapters/ledger';
import { payloadHash } from '../../../services/producer/src/domain/request';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { acceptedKeys, counterValue, runPk, sequenceCounterSk } from '../../../shared/src/ledger';
import { validateOrder } from '../../../shared/src/order';
import { QUEUE_KINDS } from '../../../shared/src/queue-kind';
import { describeWhere, where } from '../support/differences';
import {
  getOrder,
  type Json,
  newRunId,
  type OrderBody,
  order,
  postOrder,
} from '../support/pipeline-client';
import { stopsAfterAll } from '../support/stop-after-all';
import { startTarget, type Target } from '../support/target';
import { deliveriesOnceQuiet, expectExactlyOnce, reportData, settle } from './run-check';

/**
 * Requests for one order, or one customer, that overlap. A client retry racing its first request
 * (same Idempotency-Key, both in flight) must not send the order again, nor take a second
 * sequence number for it: the request that loses the claim answers 409 with Retry-After while
 * the one that won may still be sending. The ids each request records are its own queues' only.
 * Two retries that overlap once the first request has ended send the order again once between
 * them: the one that takes the send lease sends, the other is answered 409 or from the record.
 * And the customer's server-assigned sequence follows FIFO's send order when the customer's
 * requests do not overlap.
 */

/** Distinct message ids delivered per order on one queue: copies SQS makes share their id. */
function idsPerOrder(deliveries: Json[]): Map<string, Set<string>> {
  const ids = new Map<string, Set<string>>();
  for (const d of deliveries) {
    const set = ids.get(d.orderId as string) ?? new Set<string>();
    set.add(d.messageId as string);
    ids.set(d.orderId as string, set);
  }
  return ids;
}

/** The customer's sequence counter as the ledger holds it (0: never taken). */
async function counter(target: Target, runId: string, customerId: string): Promise<number> {
  const ledger = await target.documents.send(
    new GetCommand({
      TableName: target.tableNames.ledger,
      Key: { pk: runPk(runId), sk: sequenceCounterSk(customerId) },
      ConsistentRead: true,
    }),
  );
  return ledger.Item ? counterValue(ledger.Item, 'sequence') : 0;
}

describe('overlapping requests for one order or one customer', () => {
  let target: Target;

  const keep = stopsAfterAll();
  beforeAll(async () => {
    target = await keep(startTarget({ seed: 717, faults: 'none' }));
  }, 60_000);

  it('answers a retry racing its first request 409 or from the record: no sequence gap, one message per queue', async () => {
    // Prepare: 20 orders, each of its own customer (one customer's overlapping requests are the
    // next test's subject), no client sequence, each POSTed twice at once.
    const runId = newRunId('race');
    const keys = Array.from({ length: 20 }, (_, i) => `race-${i}-${runId}`);
    const customerOf = (i: number) => `cust-race-${i}`;

    // Act
    const answers = await Promise.all(
      keys.map(async (key, i) => {
        const body = order(customerOf(i));
        const [a, b] = await Promise.all([
          postOrder(target, body, { runId, idempotencyKey: key }),
          postOrder(target, body, { runId, idempotencyKey: key }),
        ]);
        return { key, body, pair: [a, b] };
      }),
    );
    await settle(target, runId, keys);
    // A client told 409 retries after Retry-After: by now the record answers it.
    const later = await Promise.all(
      answers.map(({ key, body }) => postOrder(target, body, { runId, idempotencyKey: key })),
    );
    const deliveries = await deliveriesOnceQuiet(target, runId);

    // Assess: each pair got a 202 and a 202 or a 409 that says when to come back.
    for (const { key, pair } of answers) {
      const statuses = pair.map((r) => r.status).sort();
      expect({ key, statuses }).toEqual({
        key,
        statuses: statuses[0] === 202 && statuses[1] === 202 ? [202, 202] : [202, 409],
      });
      for (const conflict of pair.filter((r) => r.status === 409)) {
        expect(conflict.json).toMatchObject({ orderId: key, idempotencyKey: key });
        expect(conflict.retryAfter).toMatch(/^\d+$/);
        expect(Number(conflict.retryAfter)).toBeGreaterThanOrEqual(1);
        expect(Number(conflict.retryAfter)).toBeLessThanOrEqual(
          pipelineConfig.producer.timeoutSeconds + 1,
        );
      }
    }
    // Each customer's one order has sequence 1, and the counter was taken once: no hole.
    const sequences = answers.map(({ pair }) => pair.map((r) => r.json.sequence ?? null));
    const counters = await Promise.all(keys.map((_, i) => counter(target, runId, customerOf(i))));
    expect({ sequences, counters }).toEqual({
      sequences: answers.map(({ pair }) => pair.map((r) => (r.status === 202 ? 1 : null))),
      counters: keys.map(() => 1),
    });
    // The retry after it is answered from the record, with what the first 202 said.
    later.forEach((res, i) => {
      const first = answers[i]?.pair.find((r) => r.status === 202);
      expect(res.status).toBe(202);
      expect(res.json).toEqual(first?.json);
    });
    // Each queue got each order once: no producer re-send.
    for (const q of QUEUE_KINDS) {
      const ids = idsPerOrder(deliveries[q]);
      expect({ q, orders: ids.size }).toEqual({ q, orders: 20 });
      for (const [orderId, set] of ids)
        expect({ q, orderId, sent: set.size }).toMatchObject({ sent: 1 });
    }
    const report = (await reportData(target, runId)).report;
    for (const q of QUEUE_KINDS) {
      expect({ q, producerResend: report.queues[q].duplicateCauses.producerResend }).toEqual({
        q,
        producerResend: 0,
      });
    }
    await expectExactlyOnce(target, runId, keys);
    // The race was met: some request lost the claim while the winner was still sending.
    expect(answers.filter(({ pair }) => pair.some((r) => r.status === 409)).length).toBeGreaterThan(
      0,
    );
  }, 120_000);

  it("applies one customer's server-sequenced orders on FIFO in sequence when each POST waits for the last", async () => {
    // Prepare
    const runId = newRunId('server-seq');
    const customer = 'cust-serial';

    // Act: no client sequence; each POST after the previous one was answered; with and without
    // an Idempotency-Key (the two ways the producer takes a sequence).
    const accepted: string[] = [];
    const sequences: number[] = [];
    for (let n = 0; n < 8; n++) {
      const res = await postOrder(target, order(customer), {
        runId,
        ...(n % 2 === 0 ? { idempotencyKey: `serial-${n}-${runId}` } : {}),
      });
      expect(res.status).toBe(202);
      accepted.push(res.json.orderId as string);
      sequences.push(res.json.sequence as number);
    }
    await settle(target, runId, accepted);

    // Assess: sequences 1..8 in posting order; FIFO applied them in that order (the check
    // compares every FIFO apply of the customer with the sequence).
    expect(sequences).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const report = (await reportData(target, runId)).report;
    expect(report.queues.fifo.outOfOrder).toBe(0);
    await expectExactlyOnce(target, runId, accepted);
  }, 120_000);
});

describe("the producer's records of its sends in the local cloud's DynamoDB", () => {
  let target: Target;

  const keep = stopsAfterAll();
  beforeAll(async () => {
    target = await keep(startTarget({ seed: 719, faults: 'none' }));
  }, 60_000);

  it('keeps the id one request recorded when another records only its own queue, or none', async () => {
    // Prepare: a claimed order, as the producer claims it (its lease's deadline passed).
    const runId = newRunId('per-queue');
    const ledger = new DynamoLedger(target.documents, target.tableNames.ledger, target.documents, {
      warn: () => {},
    });
    const orderId = `per-queue-${runId}`;
    await ledger.claim({
      claimId: 'claim-1',
      runId,
      orderId,
      customerId: 'cust-pq',
      sequence: 1,
      acceptedAt: 1,
      payloadHash: 'h',
      messageIds: { fifo: '', standard: '' },
      sentAt: {},
      requests: 1,
      sendingBy: 'claim-1',
      sendingUntil: 1,
    });

    // Act: one request reached FIFO only, another standard only, a third no queue at all; each
    // took the send lease before it sent, as a retry does (a record is written by its holder).
    const lease = async (by: string, now: number) => {
      const from = (await ledger.getAccepted(orderId))?.sendingBy;
      expect(
        await ledger.leaseSends(orderId, { by, from, until: now + 5, now, legacyWindowMs: 11_000 }),
      ).toMatchObject({ taken: true });
    };
    await lease('r-1', 2);
    await ledger.recordSends(
      orderId,
      { sent: { fifo: { messageId: 'f-1', sentAt: 10 } } },
      { at: 11, by: 'r-1' },
    );
    await lease('r-2', 12);
    await ledger.recordSends(
      orderId,
      { sent: { standard: { messageId: 's-2', sentAt: 20 } } },
      { at: 21, by: 'r-2' },
    );
    await lease('r-3', 22);
    await ledger.recordSends(orderId, { sent: {} }, { at: 31, by: 'r-3' });

    // Assess
    expect(await ledger.getAccepted(orderId)).toMatchObject({
      messageIds: { fifo: 'f-1', standard: 's-2' },
      sentAt: { fifo: 10, standard: 20 },
      sendsEndedAt: 31,
      sendsEndedBy: 'r-3',
      sequence: 1,
    });
  });
});

describe("the send lease's deadline in the local cloud", () => {
  let target: Target;

  const keep = stopsAfterAll();
  beforeAll(async () => {
    target = await keep(startTarget({ seed: 720, faults: 'none' }));
  }, 60_000);

  // The producer's clock is this process's (its functions run here; this cloud's clock is never
  // advanced), so the invocation's start can be bounded by the test's own clock.
  where('clock')(
    "holds the first request's lease until its invocation's start plus the producer's timeout plus 1 s, however late in it the claim comes",
    async () => {
      // Act: two first requests, each one's start bounded by when it was sent and answered:
      // one keyed with the client's sequence (the claim is its first DynamoDB request), one with
      // neither (it takes a sequence from the customer's counter before it claims).
      const runId = newRunId('lease-deadline');
      const ledger = new DynamoLedger(
        target.documents,
        target.tableNames.ledger,
        target.documents,
        {
          warn: () => {},
        },
      );
      const first = async (options: { idempotencyKey?: string }, sequence?: number) => {
        const sent = Date.now();
        const res = await postOrder(target, order('cust-deadline', sequence), {
          runId,
          ...options,
        });
        const answered = Date.now();
        expect(res.status).toBe(202);
        const record = await ledger.getAccepted(res.json.orderId as string);
        if (!record?.sendingUntil) throw new Error('the order holds no send lease');
        return { sent, answered, record };
      };
      const keyed = await first({ idempotencyKey: `lease-deadline-${runId}` }, 1);
      const counted = await first({});

      // Assess: the claim took the lease to the invocation's remaining time from then plus the
      // 1 s clock margin: the invocation's start plus the timeout plus 1 s. That start lies
      // between the POST and its answer, and no later than the claim (acceptedAt is taken with
      // it); the claim that came after a counter's update came strictly later than the start.
      const timeoutMs = target.config.producer.timeoutSeconds * 1000;
      // The claim reads the clock, then the remaining time: they may be a millisecond apart.
      const slackMs = 2;
      for (const { sent, answered, record } of [keyed, counted]) {
        const start = (record.sendingUntil ?? 0) - timeoutMs - 1000;
        expect(start).toBeGreaterThanOrEqual(sent - slackMs);
        expect(start).toBeLessThanOrEqual(Math.min(record.acceptedAt, answered));
        expect(record).toMatchObject({
          claimId: record.sendingBy,
          sendsEndedBy: record.sendingBy,
        });
      }
      const counter = counted.record;
      expect((counter.sendingUntil ?? 0) - timeoutMs - 1000).toBeLessThan(counter.acceptedAt);
    },
    60_000,
  );
});

describe('a retry of an order whose claiming request may still be sending it', () => {
  let target: Target;

  const keep = stopsAfterAll();
  beforeAll(async () => {
    target = await keep(startTarget({ seed: 718, faults: 'none' }));
  }, 60_000);

  where('clock').each([
    ['with the client sequence', 4],
    ['before it kept a sequence of its own', undefined],
  ] as const)(
    'answers 409 inside the window, and sends to both queues once the claiming request can no longer be running (claimed %s)',
    async (_label, sequence) => {
      // Prepare: the producer's own clock, read from an order it accepts now.
      const runId = newRunId('in-flight');
      const probe = await postOrder(target, order('cust-probe', 1), { runId });
      const producerNow = (await getOrder(target, probe.json.orderId as string)).json
        .acceptedAt as number;
      // A request claimed this order and died before anything else: the claim alone, as the
      // producer writes it (without a sequence when the client gave none).
      const key = `in-flight-${runId}`;
      const body: OrderBody = order('cust-died', sequence);
      await claimedByDeadRequest(target, runId, key, body, producerNow);

      // Act
      const early = await postOrder(target, body, { runId, idempotencyKey: key });
      const windowMs = pipelineConfig.producer.timeoutSeconds * 1000 + 1000;
      await target.advanceClock(windowMs);
      const late = await postOrder(target, body, { runId, idempotencyKey: key });
      await settle(target, runId, [probe.json.orderId as string, key]);
      const deliveries = await deliveriesOnceQuiet(target, runId);

      // Assess: inside the window nothing is sent; after it the order is sent to both queues,
      // with the client's sequence, or the one the retry took and kept.
      expect(early.status).toBe(409);
      expect(Number(early.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(late.status).toBe(202);
      expect(late.json).toMatchObject({ orderId: key, sequence: sequence ?? 1 });
      for (const q of QUEUE_KINDS) {
        const ids = idsPerOrder(deliveries[q]).get(key);
        expect({ q, ids: [...(ids ?? [])] }).toEqual({ q, ids: [late.json.messageIds[q]] });
      }
      const record = await new DynamoLedger(
        target.documents,
        target.tableNames.ledger,
        target.documents,
        { warn: () => {} },
      ).getAccepted(key);
      expect(record).toMatchObject({
        sequence: sequence ?? 1,
        messageIds: late.json.messageIds,
        requests: 3,
      });
      await expectExactlyOnce(target, runId, [probe.json.orderId as string, key]);
    },
    120_000,
  );
});

/**
 * Two retries of each order at once, then (after the orders settled) one more, as a client told
 * 409 comes back after Retry-After; what each got, and each queue's deliveries.
 */
async function retryPairs(target: Target, runId: string, keys: string[], bodies: OrderBody[]) {
  const post = (i: number) =>
    postOrder(target, bodies[i] as OrderBody, { runId, idempotencyKey: keys[i] as string });
  const pairs = await Promise.all(keys.map((_, i) => Promise.all([post(i), post(i)])));
  await settle(target, runId, keys);
  const later = await Promise.all(keys.map((_, i) => post(i)));
  return { pairs, later, deliveries: await deliveriesOnceQuiet(target, runId) };
}

/**
 * Each pair got a 202, and a 202 naming the same message ids (answered from the record) or a 409
 * saying when to come back; the later retry names the same ids; and the standard queue (no
 * deduplication: each send is a message of its own) got `standardMessages` per order, among them
 * the one the answers name. Some pair met the other's lease: the overlap happened.
 */
function expectOneResendPerPair(
  { pairs, later, deliveries }: Awaited<ReturnType<typeof retryPairs>>,
  keys: string[],
  standardMessages: number,
): void {
  pairs.forEach((pair, i) => {
    const key = keys[i];
    const statuses = pair.map((r) => r.status).sort();
    expect({ key, statuses }).toEqual({
      key,
      statuses: statuses[1] === 409 ? [202, 409] : [202, 202],
    });
    const answered = pair.filter((r) => r.status === 202).map((r) => r.json.messageIds);
    expect({ key, answered }).toEqual({ key, answered: answered.map(() => answered[0]) });
    for (const conflict of pair.filter((r) => r.status === 409)) {
      expect(conflict.json).toMatchObject({ orderId: key, idempotencyKey: key });
      expect(Number(conflict.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    expect({ key, later: later[i]?.json.messageIds }).toEqual({ key, later: answered[0] });
  });
  const standard = idsPerOrder(deliveries.standard);
  for (const [i, key] of keys.entries()) {
    expect({ key, messages: standard.get(key)?.size }).toEqual({ key, messages: standardMessages });
    expect(standard.get(key)).toContain(later[i]?.json.messageIds.standard);
  }
  expect(pairs.filter((pair) => pair.some((r) => r.status === 409)).length).toBeGreaterThan(0);
}

describeWhere('consumerEnv')(
  'two client retries that overlap once no request can be sending the order',
  () => {
    let target: Target;

    const keep = stopsAfterAll();
    beforeAll(async () => {
      // Every order's first sends reach both queues and both answers are lost: the first request
      // answers 503 having recorded no id, and its end. A re-send's answer is never lost.
      target = await keep(
        startTarget({
          seed: 721,
          faults: 'none',
          producerEnv: { FAULT_LOST_SEND_ANSWER_RATE: '1' },
        }),
      );
    }, 60_000);

    it('re-sends each order once between them after its first request ended with 503: one takes the send lease and sends, the other is answered 409 or from the record', async () => {
      // Prepare: 12 orders, each first POSTed alone and answered 503.
      const runId = newRunId('retry-pair');
      const keys = Array.from({ length: 12 }, (_, i) => `pair-${i}-${runId}`);
      const bodies = keys.map((_, i) => order(`cust-pair-${i}`, 1));
      const firsts = await Promise.all(
        keys.map((key, i) =>
          postOrder(target, bodies[i] as OrderBody, { runId, idempotencyKey: key }),
        ),
      );
      expect(firsts.map((r) => r.status)).toEqual(keys.map(() => 503));

      // Act
      const seen = await retryPairs(target, runId, keys, bodies);

      // Assess: on the standard queue, the first send (its answer lost) and one re-send.
      // FIFO dropped the re-send by its deduplication id, so its deliveries cannot count them.
      expectOneResendPerPair(seen, keys, 2);
      await expectExactlyOnce(target, runId, keys);
    }, 120_000);

    where('clock')(
      "re-sends each order once between them after its claiming request's lease ran out (it died before sending)",
      async () => {
        // Prepare: the producer's own clock, read from an order it accepts now; then 12 orders
        // claimed as a request claims them, by requests that died before anything else.
        const runId = newRunId('dead-pair');
        const probe = await postOrder(target, order('cust-probe', 1), { runId });
        const producerNow = (await getOrder(target, probe.json.orderId as string)).json
          .acceptedAt as number;
        const keys = Array.from({ length: 12 }, (_, i) => `dead-${i}-${runId}`);
        const bodies = keys.map((_, i) => order(`cust-dead-${i}`, 1));
        await Promise.all(
          keys.map((key, i) =>
            claimedByDeadRequest(target, runId, key, bodies[i] as OrderBody, producerNow, {
              claimId: `claim-${key}`,
              until: producerNow + 10_000 + 1000,
            }),
          ),
        );
        await target.advanceClock(11_000);

        // Act
        const seen = await retryPairs(target, runId, keys, bodies);

        // Assess: nothing was sent before; one send between the two retries, on each queue.
        expectOneResendPerPair(seen, keys, 1);
        const fifo = idsPerOrder(seen.deliveries.fifo);
        for (const key of keys)
          expect({ key, fifo: fifo.get(key)?.size }).toEqual({ key, fifo: 1 });
        await expectExactlyOnce(target, runId, [probe.json.orderId as string, ...keys]);
      },
      120_000,
    );
  },
);

/**
 * Writes an order's claim as the producer writes it, for a request that then died before anything
 * else: no sequence when the client gave none, no message id, no end of its sends; with `lease`,
 * the claim id and send lease a producer with send leases writes (without: a claim from before).
 */
async function claimedByDeadRequest(
  target: Target,
  runId: string,
  key: string,
  body: OrderBody,
  acceptedAt: number,
  lease?: { claimId: string; until: number },
): Promise<void> {
  const input = validateOrder(body);
  if (!input.ok) throw new Error('the order is invalid');
  await target.documents.send(
    new PutCommand({
      TableName: target.tableNames.ledger,
      Item: {
        ...acceptedKeys(runId, key),
        type: 'accepted',
        runId,
        orderId: key,
        customerId: body.customerId,
        ...(body.sequence !== undefined ? { sequence: body.sequence } : {}),
        acceptedAt,
        payloadHash: payloadHash(input.value),
        messageIds: { fifo: '', standard: '' },
        sentAt: {},
        requests: 1,
        ...(lease
          ? { claimId: lease.claimId, sendingBy: lease.claimId, sendingUntil: lease.until }
          : {}),
      },
    }),
  );
}
