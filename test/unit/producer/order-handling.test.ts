import { NO_PRODUCER_FAULTS } from '../../../services/producer/src/domain/faults';
import {
  createOrderHandling,
  type OrderHandling,
} from '../../../services/producer/src/domain/order-handling';
import {
  type AcceptedOrder,
  QueueUnavailableError,
} from '../../../services/producer/src/domain/ports';
import {
  type ParsedOrderRequest,
  payloadHash,
} from '../../../services/producer/src/domain/request';
import { type OrderInput, validateOrder } from '../../../shared/src/order';
import postFixture from '../../events/apigateway/post-order.json';
import { dayOldQueues, FakeLedger, type FakeLifetimes, FakeQueues, NOW } from './fakes';

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

let ledger: FakeLedger;
let queues: FakeQueues;
let lifetimes: FakeLifetimes;
let log: { warns: { message: string; data: Record<string, unknown> }[]; keys: unknown[] };
let orders: OrderHandling;

beforeEach(() => {
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
    inProgressWindowMs: WINDOW_MS,
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
    const outcome = await orders.place(request());

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

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }));

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

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }));

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

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }));

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

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }));

    expect(outcome.kind).toBe('answered-from-record');
    expect(log.warns.map((w) => [w.message, w.data.queue])).toEqual([
      ['queue lifetime unknown', 'fifo'],
      ['queue lifetime unknown', 'standard'],
    ]);
  });

  it('returns a reused key as its own outcome, writing nothing and naming no order in the log', async () => {
    existing({ payloadHash: 'another order' });

    const outcome = await orders.place(request({ idempotencyKey: 'key-9' }));

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

    const outcome = await orders.place(request());

    expect(outcome).toEqual({ kind: 'queue-unavailable', orderId: 'new-id', failure: outage });
    expect(ledger.orders.get('new-id')?.messageIds).toEqual({ fifo: 'fifo-msg', standard: '' });
  });

  it('rethrows a send failure that is no outage, after recording what was sent', async () => {
    const permanent = new Error('access denied');
    queues.answer = (queue) => {
      if (queue === 'fifo') throw permanent;
      return 'standard-msg';
    };

    await expect(orders.place(request())).rejects.toBe(permanent);
    expect(ledger.calls).toContain('recordSends');
  });
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
