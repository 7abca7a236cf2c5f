import { NO_PRODUCER_FAULTS } from '../../../services/producer/src/domain/faults';
import {
  createOrderHandling,
  type OrderHandling,
  SendLeaseBidNotWithdrawnError,
} from '../../../services/producer/src/domain/order-handling';
import {
  type AcceptedOrder,
  QueueUnavailableError,
  type SendLease,
} from '../../../services/producer/src/domain/ports';
import {
  type ParsedOrderRequest,
  payloadHash,
} from '../../../services/producer/src/domain/request';
import { type OrderInput, validateOrder } from '../../../shared/src/order';
import postFixture from '../../events/apigateway/post-order.json';
import { DAY, dayOldQueues, FakeLedger, type FakeLifetimes, FakeQueues, NOW } from './fakes';

/**
 * The producer's use case in its own words, over in-memory fakes of the ports: what placing an
 * order and asking for it return, and what each asks of the ledger, the queues and the log. How
 * those outcomes are said in HTTP is api.test.ts's subject.
 */

const input: OrderInput = (() => {
  const parsed = validateOrder(JSON.parse(postFixture.body));
  if (!parsed.ok) throw new Error('the POST fixture holds no valid order');
  return parsed.value;
})();

function request(fields: Partial<ParsedOrderRequest> = {}): ParsedOrderRequest {
  const order = fields.input ?? input;
  return { runId: 'run-1', input: order, payloadHash: payloadHash(order), ...fields };
}

/** The producer's timeout plus the clock margin, as loadProducerConfig gives it. */
const WINDOW_MS = 11_000;
const CLOCK_MARGIN_MS = 1000;

/** The invocation running each request: 9 s left unless a test says otherwise. */
let remaining: number;
const invocation = { remainingMs: () => remaining };

let ledger: FakeLedger;
let queues: FakeQueues;
let lifetimes: FakeLifetimes;
let log: { warns: { message: string; data: Record<string, unknown> }[]; keys: unknown[] };
let orders: OrderHandling;
let requestIds: number;

beforeEach(() => {
  remaining = 9000;
  requestIds = 0;
  ledger = new FakeLedger();
  queues = new FakeQueues();
  lifetimes = dayOldQueues();
  log = { warns: [], keys: [] };
  orders = createOrderHandling({
    ledger,
    queues,
    lifetimes,
    log: {
      warn: (message, data) => log.warns.push({ message, data }),
      appendKeys: (keys) => log.keys.push(keys),
    },
    faults: NO_PRODUCER_FAULTS,
    now: () => NOW,
    newOrderId: () => 'new-id',
    newRequestId: () => `req-${++requestIds}`,
    inProgressWindowMs: WINDOW_MS,
    clockMarginMs: CLOCK_MARGIN_MS,
  });
});

/** Order `key-9` accepted an hour ago in run `run-old`, with the given fields. */
function existing(fields: Partial<AcceptedOrder> = {}): void {
  ledger.orders.set('key-9', {
    runId: 'run-old',
    orderId: 'key-9',
    customerId: 'cust-1',
    sequence: 4,
    acceptedAt: NOW - 3600 * 1000,
    payloadHash: payloadHash(input),
    messageIds: { fifo: '', standard: '' },
    requests: 1,
    ...fields,
  });
}

describe('placing an order', () => {
  it('accepts a new order, sends it to both queues as a first send and names it in the log', async () => {
    const outcome = await orders.place(request(), invocation);

    expect(outcome).toEqual({
      kind: 'sent',
      created: true,
      receipt: {
        orderId: 'new-id',
        sequence: 1,
        messageIds: { fifo: 'fifo-msg', standard: 'standard-msg' },
      },
      sent: { fifo: 'first', standard: 'first' },
    });
    expect(queues.queues()).toEqual(['fifo', 'standard']);
    expect(ledger.orders.get('new-id')?.messageIds).toEqual({
      fifo: 'fifo-msg',
      standard: 'standard-msg',
    });
    expect(log.keys).toEqual([{ orderId: 'new-id', runId: 'run-1' }]);
  });

  it('answers a retry whose sends are both recorded from the record, sending nothing', async () => {
    existing({
      messageIds: { fifo: 'f-1', standard: 's-1' },
      sentAt: { fifo: NOW, standard: NOW },
    });

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    expect(outcome).toEqual({
      kind: 'answered-from-record',
      receipt: { orderId: 'key-9', sequence: 4, messageIds: { fifo: 'f-1', standard: 's-1' } },
    });
    expect(queues.sent).toEqual([]);
    expect(ledger.orders.get('key-9')?.requests).toBe(2);
    expect(log.keys).toEqual([{ orderId: 'key-9', runId: 'run-old' }]);
  });

  it('re-sends a retry only where the outcome of the send is unknown', async () => {
    existing({ messageIds: { fifo: 'f-1', standard: '' }, sentAt: { fifo: NOW } });

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    expect(outcome).toMatchObject({
      kind: 'sent',
      created: false,
      receipt: { messageIds: { fifo: 'f-1', standard: 'standard-msg' } },
      sent: { standard: 'outcome-unknown' },
    });
    expect(queues.queues()).toEqual(['standard']);
  });

  it('records only the queues it sent to: an id another request recorded meanwhile is kept', async () => {
    // Prepare: claimed an hour ago, nothing recorded (its request died). While this retry sends,
    // another retry records its FIFO id; this retry's own FIFO send fails.
    existing({ sentAt: {} });
    queues.answer = (queue) => {
      if (queue === 'standard') return 'standard-msg';
      const order = ledger.orders.get('key-9');
      if (order) {
        order.messageIds.fifo = 'fifo-other';
        order.sentAt = { ...order.sentAt, fifo: NOW - 5 };
      }
      throw new QueueUnavailableError('fifo');
    };

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    expect(outcome.kind).toBe('queue-unavailable');
    expect(ledger.orders.get('key-9')).toMatchObject({
      messageIds: { fifo: 'fifo-other', standard: 'standard-msg' },
      sentAt: { fifo: NOW - 5, standard: NOW },
      sendsEndedAt: NOW,
    });
  });

  it('takes a recorded send as still queued, with a warning, when the lifetime cannot be read', async () => {
    existing({ messageIds: { fifo: 'f-1', standard: 's-1' }, sentAt: { fifo: 0, standard: 0 } });
    lifetimes.failure = new Error('no attributes');

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    expect(outcome.kind).toBe('answered-from-record');
    expect(log.warns.map((w) => [w.message, w.data.queue])).toEqual([
      ['queue lifetime unknown', 'fifo'],
      ['queue lifetime unknown', 'standard'],
    ]);
  });

  it('returns a reused key as its own outcome, writing nothing and naming no order in the log', async () => {
    existing({ payloadHash: 'another order' });

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    expect(outcome).toEqual({ kind: 'key-reused', orderId: 'key-9' });
    // The refused claim is the only call: it changed nothing.
    expect(ledger.writes()).toEqual(['claim']);
    expect(queues.sent).toEqual([]);
    expect(log.keys).toEqual([]);
  });

  it('keeps an order a queue could not take, records the send that went, and says which queue failed', async () => {
    const outage = new QueueUnavailableError('standard');
    queues.answer = (queue) => {
      if (queue === 'standard') throw outage;
      return 'fifo-msg';
    };

    const outcome = await orders.place(request(), invocation);

    expect(outcome).toEqual({ kind: 'queue-unavailable', orderId: 'new-id', failure: outage });
    expect(ledger.orders.get('new-id')?.messageIds).toEqual({ fifo: 'fifo-msg', standard: '' });
  });

  it('rethrows a send failure that is no outage, after recording what was sent', async () => {
    const permanent = new Error('access denied');
    queues.answer = (queue) => {
      if (queue === 'fifo') throw permanent;
      return 'standard-msg';
    };

    await expect(orders.place(request(), invocation)).rejects.toBe(permanent);
    expect(ledger.calls).toContain('recordSends');
  });
});

describe('the send lease', () => {
  /** Another retry writes `fields` on order key-9 after this one read it, before it bids. */
  const anotherRetryBeforeLease = (fields: Partial<AcceptedOrder>) => {
    ledger.beforeLease = () => {
      const order = ledger.orders.get('key-9');
      if (order) Object.assign(order, fields);
    };
  };
  /** Both ids, as another retry records them. */
  const OTHER_RECORDED_BOTH = {
    messageIds: { fifo: 'f-other', standard: 's-other' },
    sentAt: { fifo: NOW - 5, standard: NOW - 5 },
  };
  /** Claimed by `req-0` an hour ago; its sends failed and it said so (a 503): no id recorded. */
  const endedFirst = {
    sentAt: {},
    claimId: 'req-0',
    sendingBy: 'req-0',
    sendingUntil: NOW - 3600 * 1000 + 10_000,
    sendsEndedAt: NOW - 3600 * 1000 + 2000,
    sendsEndedBy: 'req-0',
  } satisfies Partial<AcceptedOrder>;

  it("is the first request's claim, to the invocation's end plus the margin: no write more than the claim and the record of its sends", async () => {
    remaining = 4200;

    await orders.place(request(), invocation);

    expect(ledger.calls).toEqual(['nextSequence', 'claim', 'recordSends']);
    expect(ledger.orders.get('new-id')).toMatchObject({
      claimId: 'req-1',
      sendingBy: 'req-1',
      sendingUntil: NOW + 4200 + CLOCK_MARGIN_MS,
      sendsEndedBy: 'req-1',
    });
  });

  it('is taken by a retry before it sends again, and freed by its record of the sends', async () => {
    existing(endedFirst);
    remaining = 6000;
    let leasedAtSend: unknown;
    queues.answer = (queue) => {
      leasedAtSend = ledger.orders.get('key-9')?.sendingBy;
      return `${queue}-msg`;
    };

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    expect(outcome).toMatchObject({ kind: 'sent', created: false });
    expect(ledger.calls).toEqual(['claim', 'countRequest', 'leaseSends', 'recordSends']);
    expect(leasedAtSend).toBe('req-1');
    expect(ledger.orders.get('key-9')).toMatchObject({
      sendingBy: 'req-1',
      sendingUntil: NOW + 6000 + CLOCK_MARGIN_MS,
      sendsEndedBy: 'req-1',
      messageIds: { fifo: 'fifo-msg', standard: 'standard-msg' },
    });
  });

  it("answers 409 for the rest of another retry's live lease, bidding for nothing and sending nothing", async () => {
    existing({ ...endedFirst, sendingBy: 'req-other', sendingUntil: NOW + 4000 });

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    expect(outcome).toEqual({ kind: 'in-progress', orderId: 'key-9', retryAfterMs: 4000 });
    expect(ledger.calls).toEqual(['claim', 'countRequest']);
    expect(queues.sent).toEqual([]);
  });

  it("answers 409 for a live lease when one queue has no id, reading neither the other queue's lifetime nor its effect", async () => {
    // FIFO's id recorded 5 days ago (past retention): read, it would be due again too.
    existing({
      ...endedFirst,
      messageIds: { fifo: 'f-1', standard: '' },
      sentAt: { fifo: NOW - 5 * DAY },
      sendingBy: 'req-other',
      sendingUntil: NOW + 4000,
    });
    const lives = jest.spyOn(lifetimes, 'life');

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    expect(outcome).toEqual({ kind: 'in-progress', orderId: 'key-9', retryAfterMs: 4000 });
    expect(lives).not.toHaveBeenCalled();
    expect(ledger.calls).toEqual(['claim', 'countRequest']);
    expect(queues.sent).toEqual([]);
  });

  it('answers 409 when another retry took the lease between this one reading it free and bidding', async () => {
    existing(endedFirst);
    anotherRetryBeforeLease({ sendingBy: 'req-other', sendingUntil: NOW + 5000 });

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    expect(outcome).toEqual({ kind: 'in-progress', orderId: 'key-9', retryAfterMs: 5000 });
    expect(queues.sent).toEqual([]);
    expect(ledger.orders.get('key-9')?.sendingBy).toBe('req-other');
  });

  it('answers a retry refused the lease from the record when its holder recorded every send: 202, not 409', async () => {
    // Prepare: read with no id and a free lease; before this retry bids, another retry took the
    // lease, sent and recorded both ids, and has not yet written its end (it holds the lease).
    existing(endedFirst);
    anotherRetryBeforeLease({
      ...OTHER_RECORDED_BOTH,
      sendingBy: 'req-other',
      sendingUntil: NOW + 5000,
    });

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    expect(outcome).toEqual({
      kind: 'answered-from-record',
      receipt: {
        orderId: 'key-9',
        sequence: 4,
        messageIds: { fifo: 'f-other', standard: 's-other' },
      },
    });
    expect(queues.sent).toEqual([]);
    // It held no lease, so it wrote no end: the holder's lease is left as it was.
    expect(ledger.calls).toEqual(['claim', 'countRequest', 'leaseSends']);
    expect(ledger.orders.get('key-9')).toMatchObject({ sendingBy: 'req-other' });
  });

  it('answers 409 when the record that refused the lease has every id but a queue may have lost its message', async () => {
    // Sent 5 days ago (past the 4 days' retention), never applied: every id is recorded, and the
    // holder of the lease may be sending again.
    existing({
      ...endedFirst,
      messageIds: { fifo: 'f-1', standard: 's-1' },
      sentAt: { fifo: NOW - 5 * DAY, standard: NOW - 5 * DAY },
    });
    anotherRetryBeforeLease({ sendingBy: 'req-other', sendingUntil: NOW + 5000 });

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    expect(outcome).toEqual({ kind: 'in-progress', orderId: 'key-9', retryAfterMs: 5000 });
    expect(queues.sent).toEqual([]);
  });

  it('makes no bid on a lease it read held, though a queue may have lost its message: a late copy of that bid would take the lease once its holder ended, for a request answered 409 long before (review)', async () => {
    // Prepare: every id recorded 5 days ago (past retention), never applied; another retry holds
    // the lease, re-sending. Every bid this request makes is kept, to arrive again later (the
    // SDK's try that it gave up on, reaching DynamoDB late).
    existing({
      ...endedFirst,
      messageIds: { fifo: 'f-1', standard: 's-1' },
      sentAt: { fifo: NOW - 5 * DAY, standard: NOW - 5 * DAY },
      sendingBy: 'req-other',
      sendingUntil: NOW + 5000,
    });
    const bids: SendLease[] = [];
    const leaseSends = ledger.leaseSends.bind(ledger);
    jest.spyOn(ledger, 'leaseSends').mockImplementation(async (orderId, lease) => {
      bids.push(lease);
      return leaseSends(orderId, lease);
    });

    // Act: the retry; then the holder ends, and any bid of the retry reaches the ledger again.
    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);
    Object.assign(ledger.orders.get('key-9') ?? {}, { sendsEndedBy: 'req-other' });
    for (const bid of bids) await leaseSends('key-9', bid);

    // Assess: 409 for the rest of the holder's lease, and no bid at all, so the lease is left
    // free for the next retry. A bid made while the holder held it would have been refused, and
    // its late copy, finding the holder it read and the lease free, would have taken it for this
    // request, which ended: every retry 409 until this request's deadline.
    expect(outcome).toEqual({ kind: 'in-progress', orderId: 'key-9', retryAfterMs: 5000 });
    expect(bids).toEqual([]);
    expect(ledger.orders.get('key-9')).toMatchObject({
      sendingBy: 'req-other',
      sendsEndedBy: 'req-other',
    });
  });

  it('sends an order dead-lettered past retention again once per queue however often a client loops on it (what bounds sentMessageIds)', async () => {
    // Sent 5 days ago (past the 4 days' retention), never applied (in the DLQ, say).
    existing({
      ...endedFirst,
      messageIds: { fifo: 'f-1', standard: 's-1' },
      sentAt: { fifo: NOW - 5 * DAY, standard: NOW - 5 * DAY },
    });

    const outcomes = [];
    for (let i = 0; i < 20; i++) {
      outcomes.push((await orders.place(request({ idempotencyKey: 'key-9' }), invocation)).kind);
    }

    // The first retry re-sends (queue-lost-it) and records when; every later one is answered from
    // the record: each id SQS answers is appended once, not once per retry.
    expect(outcomes).toEqual(['sent', ...Array(19).fill('answered-from-record')]);
    expect(queues.queues()).toEqual(['fifo', 'standard']);
    // The record is from before the list of ids sent: the list starts with the ids it held,
    // which the re-send replaced as the latest per queue.
    expect(ledger.orders.get('key-9')?.sentMessageIds).toEqual([
      'f-1',
      's-1',
      'fifo-msg',
      'standard-msg',
    ]);
  });

  it('keeps its answer but records nothing when the lease passed to another request while it sent (it ran past its deadline)', async () => {
    existing(endedFirst);
    queues.answer = (queue) => {
      const order = ledger.orders.get('key-9');
      if (order) Object.assign(order, { sendingBy: 'req-next', sendingUntil: NOW + 9000 });
      return `${queue}-msg`;
    };

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    expect(outcome).toMatchObject({
      kind: 'sent',
      receipt: { messageIds: { fifo: 'fifo-msg', standard: 'standard-msg' } },
    });
    expect(log.warns).toEqual([
      {
        message: 'sends not recorded: the send lease passed to another request',
        data: { sent: ['fifo', 'standard'] },
      },
    ]);
    // The record is the next holder's: no id, no end of this request over it. Its ids are on the
    // order's list of ids sent all the same: its messages are in the queues.
    expect(ledger.orders.get('key-9')).toMatchObject({
      messageIds: { fifo: '', standard: '' },
      sendingBy: 'req-next',
      sendsEndedBy: 'req-0',
      sentMessageIds: ['fifo-msg', 'standard-msg'],
    });
  });

  it("says its sends are recorded when only the SDK's retry of its record was refused, after another request took the lease its first try freed", async () => {
    // Prepare: the record's first try commits (both ids, and this request's end, which frees the
    // lease); its answer is lost; another retry takes the lease before the SDK sends it again.
    existing(endedFirst);
    ledger.answerOfRecordLost = () => {
      const order = ledger.orders.get('key-9');
      if (order) Object.assign(order, { sendingBy: 'req-next', sendingUntil: NOW + 9000 });
    };

    // Act
    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    // Assess: the log says what happened; the ids are on the record (from the first try), so
    // none is appended again.
    expect(outcome).toMatchObject({
      kind: 'sent',
      receipt: { messageIds: { fifo: 'fifo-msg', standard: 'standard-msg' } },
    });
    expect(log.warns).toEqual([
      {
        message:
          "sends recorded; the SDK's retry of that write was refused: another request took the send lease since",
        data: { sent: ['fifo', 'standard'] },
      },
    ]);
    expect(ledger.calls).not.toContain('recordSentIds');
    expect(ledger.orders.get('key-9')).toMatchObject({
      messageIds: { fifo: 'fifo-msg', standard: 'standard-msg' },
      sendsEndedBy: 'req-1',
      sendingBy: 'req-next',
      sentMessageIds: ['fifo-msg', 'standard-msg'],
    });
  });

  it('says so too when the later holder already ended over its end: its ids on the record tell', async () => {
    existing(endedFirst);
    ledger.answerOfRecordLost = () => {
      const order = ledger.orders.get('key-9');
      if (order) Object.assign(order, { sendingBy: 'req-next', sendsEndedBy: 'req-next' });
    };

    await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    expect(log.warns.map((w) => w.message)).toEqual([
      "sends recorded; the SDK's retry of that write was refused: another request took the send lease since",
    ]);
  });

  it('keeps its answer when the ids of its unrecorded sends cannot be kept either, and says so', async () => {
    existing(endedFirst);
    queues.answer = (queue) => {
      const order = ledger.orders.get('key-9');
      if (order) Object.assign(order, { sendingBy: 'req-next', sendingUntil: NOW + 9000 });
      return `${queue}-msg`;
    };
    ledger.failures.set('recordSentIds', new Error('DynamoDB is down'));

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    expect(outcome).toMatchObject({ kind: 'sent', created: false });
    expect(log.warns.map((w) => w.message)).toEqual([
      'sends not recorded: the send lease passed to another request',
      'ids of sends not recorded were not kept either',
    ]);
    expect(ledger.orders.get('key-9')?.sentMessageIds).toBeUndefined();
  });

  it('gives its lease back when it fails before recording its sends: the next retry sends at once, not 409', async () => {
    // Prepare: the first request ended (503) before keeping a sequence; DynamoDB then fails the
    // keeping of the sequence for the retry that took the lease.
    existing(endedFirst);
    delete ledger.orders.get('key-9')?.sequence;
    const down = new Error('DynamoDB is down');
    ledger.failures.set('recordSequence', down);

    // Act
    const failed = orders.place(request({ idempotencyKey: 'key-9' }), invocation);
    await expect(failed).rejects.toBe(down);
    ledger.failures.clear();
    const next = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    // Assess: the failed retry recorded no send and ended; the next one took the lease and sent.
    expect(ledger.calls.slice(0, 7)).toEqual([
      'claim',
      'countRequest',
      'leaseSends',
      'nextSequence',
      'recordSequence',
      'recordSends',
      'claim',
    ]);
    expect(next).toMatchObject({ kind: 'sent', created: false });
    expect(queues.sent.map((m) => m.queue)).toEqual(['fifo', 'standard']);
  });

  it.each([
    ['a client retry that sent again', 'key-9', 'req-1'],
    ['the first request', undefined, 'req-1'],
  ])(
    'keeps the ids SQS answered when its record of them fails: giving the lease back records them, so the next retry sends nothing (%s; review)',
    async (_who, idempotencyKey, holder) => {
      // Prepare: both sends reach their queue; the record of them fails (DynamoDB down through
      // the SDK's own tries), then DynamoDB is back for the giving back of the lease.
      if (idempotencyKey) existing(endedFirst);
      const down = new Error('DynamoDB is down');
      jest.spyOn(ledger, 'recordSends').mockRejectedValueOnce(down);

      // Act
      await expect(orders.place(request({ idempotencyKey }), invocation)).rejects.toBe(down);
      const orderId = idempotencyKey ?? 'new-id';
      const next = await orders.place(request({ idempotencyKey: orderId }), invocation);

      // Assess: the ids are on the record, and the lease is free; the retry is answered from the
      // record: no second message on either queue. Given back with no id, the retry would send
      // both again, and the ids of the first messages would be on no record (the report would
      // take them for messages the producer never sent).
      expect(ledger.orders.get(orderId)).toMatchObject({
        messageIds: { fifo: 'fifo-msg', standard: 'standard-msg' },
        sendingBy: holder,
        sendsEndedBy: holder,
        sentMessageIds: ['fifo-msg', 'standard-msg'],
      });
      expect(next).toMatchObject({
        kind: 'answered-from-record',
        receipt: { messageIds: { fifo: 'fifo-msg', standard: 'standard-msg' } },
      });
      expect(queues.queues()).toEqual(['fifo', 'standard']);
    },
  );

  it('withdraws a bid that failed, with the same lease, when its write committed all the same: the next retry sends at once, not 409 (review)', async () => {
    // Prepare: the bid's write commits, then its answer is lost through every try of the SDK.
    existing(endedFirst);
    remaining = 6000;
    const lost = new Error('socket hang up');
    const leaseSends = ledger.leaseSends.bind(ledger);
    const bids: SendLease[] = [];
    jest.spyOn(ledger, 'leaseSends').mockImplementationOnce(async (orderId, lease) => {
      bids.push(lease);
      await leaseSends(orderId, lease);
      throw lost;
    });
    const withdrawn = jest.spyOn(ledger, 'withdrawBid');

    // Act
    await expect(orders.place(request({ idempotencyKey: 'key-9' }), invocation)).rejects.toBe(lost);
    const afterFailure = { ...ledger.orders.get('key-9') };
    const next = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    // Assess: withdrawn with the bid's own lease, which is left ended by the request that bid;
    // the next retry takes it and sends.
    expect(withdrawn).toHaveBeenCalledWith('key-9', bids[0], NOW);
    expect(afterFailure).toMatchObject({ sendingBy: 'req-1', sendsEndedBy: 'req-1' });
    expect(next).toMatchObject({ kind: 'sent', created: false });
    expect(queues.queues()).toEqual(['fifo', 'standard']);
  });

  it("fails with its bid's failure and how long a late try of the bid may hold the lease when withdrawing it fails too, and says so in the log (review)", async () => {
    // Prepare: 9 s left of the invocation, so the bid's deadline is NOW + 10 s.
    existing(endedFirst);
    const down = new Error('DynamoDB is down');
    ledger.failures.set('leaseSends', down);
    ledger.failures.set('withdrawBid', new Error('still down'));

    // Act
    const failed = orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    // Assess: the rest of the bid's lease, its deadline less now; the bid's failure the cause.
    await expect(failed).rejects.toBeInstanceOf(SendLeaseBidNotWithdrawnError);
    await expect(failed).rejects.toMatchObject({
      orderId: 'key-9',
      retryAfterMs: 10_000,
      cause: down,
    });
    expect(log.warns).toEqual([
      {
        message: 'failed send lease bid not withdrawn: a late try of it may hold the lease',
        data: { error: new Error('still down'), heldForMs: 10_000 },
      },
    ]);
    expect(ledger.calls).toEqual(['claim', 'countRequest', 'leaseSends', 'withdrawBid']);
  });

  it("counts the rest of the bid's lease from when its withdrawal failed, not from when it bid: the bid's tries took their time (review)", async () => {
    // Prepare: 9 s left of the invocation when the bid is made, so its deadline is NOW + 10 s;
    // the SDK's tries of the bid take 1.6 s and fail, and so does the withdrawal.
    let clock = NOW;
    const timed = createOrderHandling({
      ledger,
      queues,
      lifetimes,
      log: { warn: () => undefined, appendKeys: () => undefined },
      faults: NO_PRODUCER_FAULTS,
      now: () => clock,
      newOrderId: () => 'new-id',
      newRequestId: () => 'req-1',
      inProgressWindowMs: WINDOW_MS,
      clockMarginMs: CLOCK_MARGIN_MS,
    });
    existing(endedFirst);
    const bids: SendLease[] = [];
    jest.spyOn(ledger, 'leaseSends').mockImplementation(async (_orderId, lease) => {
      bids.push(lease);
      clock += 1600;
      throw new Error('DynamoDB is down');
    });
    ledger.failures.set('withdrawBid', new Error('still down'));

    // Act
    const failed = timed.place(request({ idempotencyKey: 'key-9' }), invocation);

    // Assess: 8.4 s of the lease are left when the request fails, not the 10 s it had at the bid.
    await expect(failed).rejects.toMatchObject({ retryAfterMs: 8400 });
    expect(bids).toMatchObject([{ now: NOW, until: NOW + 10_000 }]);
  });

  it('rethrows its own failure when giving the lease back fails too, and says so in the log', async () => {
    existing(endedFirst);
    delete ledger.orders.get('key-9')?.sequence;
    const down = new Error('DynamoDB is down');
    ledger.failures.set('recordSequence', down);
    ledger.failures.set('recordSends', new Error('still down'));

    await expect(orders.place(request({ idempotencyKey: 'key-9' }), invocation)).rejects.toBe(down);

    expect(log.warns.map((w) => w.message)).toEqual(['send lease not given back after a failure']);
    expect(ledger.orders.get('key-9')).toMatchObject({ sendingBy: 'req-1', sendsEndedBy: 'req-0' });
  });

  it('takes no sequence for an order without one when another retry holds the lease: no hole', async () => {
    // Prepare: the first request died before keeping a sequence; another retry leases first.
    existing({ ...endedFirst, sendsEndedAt: undefined, sendsEndedBy: undefined });
    delete ledger.orders.get('key-9')?.sequence;
    Object.assign(ledger.orders.get('key-9') ?? {}, { sendingUntil: NOW - 1 });
    anotherRetryBeforeLease({ sendingBy: 'req-other', sendingUntil: NOW + 5000 });

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    expect(outcome).toMatchObject({ kind: 'in-progress', retryAfterMs: 5000 });
    expect(ledger.calls).not.toContain('nextSequence');
    expect(ledger.sequences.size).toBe(0);
  });

  it('sends nothing and writes nothing when another retry took the lease, sent, recorded both ids and ended before this one bid', async () => {
    existing(endedFirst);
    anotherRetryBeforeLease({
      ...OTHER_RECORDED_BOTH,
      sendingBy: 'req-other',
      sendsEndedBy: 'req-other',
    });

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    expect(outcome).toEqual({
      kind: 'answered-from-record',
      receipt: {
        orderId: 'key-9',
        sequence: 4,
        messageIds: { fifo: 'f-other', standard: 's-other' },
      },
    });
    expect(queues.sent).toEqual([]);
    // Its bid, made on the record as it read it (held by req-0), is refused: the record that
    // refused it answers. The lease is left to the one that ended it, free.
    expect(ledger.calls).toEqual(['claim', 'countRequest', 'leaseSends']);
    expect(ledger.orders.get('key-9')).toMatchObject({
      sendingBy: 'req-other',
      sendsEndedBy: 'req-other',
    });
  });

  it('bids again, on the record as it is now, when another retry took the lease and ended it (sending only part) between its read and its bid', async () => {
    existing(endedFirst);
    anotherRetryBeforeLease({
      messageIds: { fifo: 'f-other', standard: '' },
      sentAt: { fifo: NOW - 5 },
      sendingBy: 'req-other',
      sendsEndedBy: 'req-other',
    });

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    expect(outcome).toMatchObject({ kind: 'sent', sent: { standard: 'outcome-unknown' } });
    expect(queues.queues()).toEqual(['standard']);
    expect(ledger.calls).toEqual([
      'claim',
      'countRequest',
      'leaseSends',
      'leaseSends',
      'recordSends',
    ]);
    expect(ledger.orders.get('key-9')).toMatchObject({
      messageIds: { fifo: 'f-other', standard: 'standard-msg' },
      sendingBy: 'req-1',
      sendsEndedBy: 'req-1',
    });
  });

  it('answers 409 after bidding three times on a lease that each time changed hands and was freed again', async () => {
    existing(endedFirst);
    let holders = 0;
    ledger.beforeLease = () => {
      const order = ledger.orders.get('key-9');
      const other = `req-other-${++holders}`;
      if (order) Object.assign(order, { sendingBy: other, sendsEndedBy: other });
    };

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    expect(outcome).toEqual({ kind: 'in-progress', orderId: 'key-9', retryAfterMs: 0 });
    expect(ledger.calls.filter((c) => c === 'leaseSends')).toHaveLength(3);
    expect(queues.sent).toEqual([]);
  });

  it('is taken over once its holder died: its deadline passed without its end', async () => {
    existing({ ...endedFirst, sendingBy: 'req-dead', sendingUntil: NOW - 1 });

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

    expect(outcome).toMatchObject({ kind: 'sent', sent: { fifo: 'outcome-unknown' } });
    expect(queues.queues()).toEqual(['fifo', 'standard']);
  });

  it.each([
    ['claimed 3 s ago, not ended: its claim may still be sending', NOW - 3000, undefined, 8000],
    ['claimed 11 s ago (the window), not ended: it died', NOW - WINDOW_MS, undefined, 0],
    ['claimed 3 s ago, its sends ended', NOW - 3000, NOW - 1000, 0],
  ])(
    'reads a record from before leases by its claim time and end: %s',
    async (_case, acceptedAt, sendsEndedAt, retryAfterMs) => {
      existing({ acceptedAt, sentAt: {}, ...(sendsEndedAt ? { sendsEndedAt } : {}) });

      const outcome = await orders.place(request({ idempotencyKey: 'key-9' }), invocation);

      if (retryAfterMs > 0) {
        expect(outcome).toEqual({ kind: 'in-progress', orderId: 'key-9', retryAfterMs });
        expect(queues.sent).toEqual([]);
      } else {
        expect(outcome.kind).toBe('sent');
        expect(ledger.orders.get('key-9')).toMatchObject({
          sendingBy: 'req-1',
          sendsEndedBy: 'req-1',
        });
      }
    },
  );
});

describe('finding an order', () => {
  it('returns the accepted order with where each queue has it', async () => {
    existing();
    ledger.facts.set('run-old/fifo/key-9', { deliveries: 1, effects: 1, finalFailures: 0 });

    const outcome = await orders.find('key-9');

    expect(outcome).toMatchObject({
      kind: 'found',
      status: {
        orderId: 'key-9',
        customerId: 'cust-1',
        sequence: 4,
        runId: 'run-old',
        acceptedAt: NOW - 3600 * 1000,
        fifo: { status: 'processed' },
        standard: { status: 'accepted' },
      },
    });
  });

  it('returns not-found for an order never accepted, asking nothing more', async () => {
    expect(await orders.find('nobody')).toEqual({ kind: 'not-found' });
    expect(ledger.calls).toEqual(['getAccepted']);
  });
});
