import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { createApiHandler } from '../../../services/producer/src/app';
import { loadProducerConfig } from '../../../services/producer/src/config';
import {
  type AcceptedOrder,
  QueueUnavailableError,
} from '../../../services/producer/src/domain/ports';
import { payloadHash } from '../../../services/producer/src/domain/request';
import { orderMessageSchema } from '../../../shared/src/order-message';
import getFixture from '../../events/apigateway/get-order.json';
import postFixture from '../../events/apigateway/post-order.json';
import { DAY, dayOldQueues, FakeLedger, type FakeLifetimes, FakeQueues, NOW } from './fakes';

/**
 * The producer's API handler over in-memory fakes of its ports: what it answers and what it
 * asks of the ledger and the queues. The adapters' own tests cover how that is said to DynamoDB
 * and SQS (ledger-adapter.test.ts, queues-adapter.test.ts).
 */

const ENV_VARS = {
  LEDGER_TABLE_NAME: 'ledger',
  FIFO_QUEUE_URL: 'http://127.0.0.1:1/000000000000/orders.fifo',
  STANDARD_QUEUE_URL: 'http://127.0.0.1:1/000000000000/orders-standard',
  MAX_BODY_BYTES: '1024',
  DEFAULT_RUN_ID: 'adhoc',
};

const silent = { info() {}, warn() {}, error() {}, appendKeys() {}, removeKeys() {} };

let ledger: FakeLedger;
let queues: FakeQueues;
/** Both queues created a day before NOW, keeping messages 4 days (unless a test says otherwise). */
let lifetimes: FakeLifetimes;

beforeEach(() => {
  ledger = new FakeLedger();
  queues = new FakeQueues();
  lifetimes = dayOldQueues();
});

function makeHandler(env: Record<string, string> = {}, now: () => number = () => NOW) {
  return createApiHandler(loadProducerConfig({ ...ENV_VARS, ...env }), {
    ledger,
    queues,
    lifetimes,
    logger: silent as never,
    now,
    newOrderId: () => 'generated-id',
    newRequestId: () => 'req-1',
  });
}

function post(overrides: Partial<APIGatewayProxyEvent> = {}): APIGatewayProxyEvent {
  return { ...(structuredClone(postFixture) as unknown as APIGatewayProxyEvent), ...overrides };
}

const getEvent = () => structuredClone(getFixture) as unknown as APIGatewayProxyEvent;

const validBody = JSON.parse(postFixture.body) as Record<string, unknown>;

/** An accepted order `key-9` in run `run-old`, as a retry with that Idempotency-Key finds it. */
function existing(fields: Partial<AcceptedOrder>) {
  ledger.orders.set('key-9', {
    runId: 'run-old',
    orderId: 'key-9',
    customerId: 'cust-1',
    sequence: 4,
    acceptedAt: NOW - 2 * 3600 * 1000,
    payloadHash: payloadHash({ ...validBody } as never),
    messageIds: { fifo: '', standard: '' },
    requests: 1,
    ...fields,
  });
}

const retryOfKey9 = () => post({ headers: { ...postFixture.headers, 'Idempotency-Key': 'key-9' } });

describe('POST /orders', () => {
  it('accepts an order, assigns a sequence and sends the same message to both queues', async () => {
    // Prepare: the customer's counter stands at 6.
    ledger.sequences.set('run-unit/cust-1', 6);

    // Act
    const res = await makeHandler()(post());

    // Assess
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body)).toEqual({
      orderId: 'generated-id',
      sequence: 7,
      messageIds: { fifo: 'fifo-msg', standard: 'standard-msg' },
    });
    expect(queues.queues()).toEqual(['fifo', 'standard']);
    const [fifo, standard] = queues.sent.map((s) => s.message);
    expect(fifo).toEqual({
      orderId: 'generated-id',
      runId: 'run-unit',
      customerId: 'cust-1',
      sequence: 7,
      items: [{ sku: 'sku-1', quantity: 2, unitPrice: 5 }],
      amount: 10,
      currency: 'EUR',
      acceptedAt: NOW,
    });
    expect(standard).toEqual(fifo);
    // The message is exactly what the schema describes: it parses, and parsing drops nothing.
    expect(orderMessageSchema.parse(fifo)).toEqual(fifo);
    expect(ledger.orders.get('generated-id')).toEqual({
      runId: 'run-unit',
      orderId: 'generated-id',
      customerId: 'cust-1',
      sequence: 7,
      acceptedAt: NOW,
      payloadHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      messageIds: { fifo: 'fifo-msg', standard: 'standard-msg' },
      sentAt: { fifo: NOW, standard: NOW },
      sentMessageIds: ['fifo-msg', 'standard-msg'],
      sendsEndedAt: NOW,
      requests: 1,
      // The claim is the request's send lease: without a Lambda context, for the whole 10 s
      // timeout plus the 1 s clock margin; its end, written by it, frees the lease.
      claimId: 'req-1',
      sendingBy: 'req-1',
      sendingUntil: NOW + 11_000,
      sendsEndedBy: 'req-1',
    });
  });

  it("takes the claim's send lease deadline from the invocation's remaining time", async () => {
    // Prepare: an invocation with 4.2 s left of its 10 s.
    const context = { getRemainingTimeInMillis: () => 4200 } as unknown as Context;
    queues.answer = () => {
      throw new QueueUnavailableError('fifo');
    };

    // Act
    const res = await makeHandler()(post(), context);

    // Assess: the lease runs to the invocation's end plus the clock margin, not the 11 s window.
    expect(res.statusCode).toBe(503);
    expect(ledger.orders.get('generated-id')).toMatchObject({
      sendingBy: 'req-1',
      sendingUntil: NOW + 4200 + 1000,
      sendsEndedBy: 'req-1',
    });
  });

  it('takes a context that answers no remaining time as one with the whole timeout', async () => {
    const context = { getRemainingTimeInMillis: () => Number.NaN } as unknown as Context;

    const res = await makeHandler()(post(), context);

    expect(res.statusCode).toBe(202);
    expect(ledger.orders.get('generated-id')?.sendingUntil).toBe(NOW + 11_000);
  });

  it('claims a new order and records its sends, reading nothing', async () => {
    // Act
    const res = await makeHandler()(
      post({
        headers: { ...postFixture.headers, 'Idempotency-Key': 'k-1' },
        body: JSON.stringify({ ...validBody, sequence: 3 }),
      }),
    );

    // Assess
    expect(res.statusCode).toBe(202);
    expect(ledger.calls).toEqual(['claim', 'recordSends']);
  });

  it('takes no sequence for a retry that carries none: the claim is refused first (no hole)', async () => {
    // Prepare
    existing({ messageIds: { fifo: 'f', standard: 's' }, sentAt: { fifo: NOW, standard: NOW } });

    // Act
    const res = await makeHandler()(retryOfKey9());

    // Assess
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body)).toMatchObject({ orderId: 'key-9', sequence: 4 });
    expect(ledger.calls).toEqual(['claim', 'countRequest']);
    expect(ledger.sequences.size).toBe(0);
  });

  it('takes the sequence of a keyed order without one after winning the claim, kept before any send', async () => {
    // Prepare: the customer's counter stands at 6.
    ledger.sequences.set('run-unit/cust-1', 6);
    const keptAtSend: (number | undefined)[] = [];
    queues.answer = (queue) => {
      keptAtSend.push(ledger.orders.get('k-2')?.sequence);
      return `${queue}-msg`;
    };

    // Act
    const res = await makeHandler()(
      post({ headers: { ...postFixture.headers, 'Idempotency-Key': 'k-2' } }),
    );

    // Assess: as many requests as before (a look, the counter, the claim, the record).
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body)).toMatchObject({ orderId: 'k-2', sequence: 7 });
    expect(ledger.calls).toEqual(['claim', 'nextSequence', 'recordSequence', 'recordSends']);
    expect(keptAtSend).toEqual([7, 7]);
    expect(queues.sent.map((s) => s.message.sequence)).toEqual([7, 7]);
  });

  it('answers 409 with Retry-After to a retry while the claiming request may still be sending', async () => {
    // Prepare: claimed 3 s ago, no id recorded, its sends not ended.
    existing({ acceptedAt: NOW - 3000, sentAt: {} });

    // Act
    const res = await makeHandler()(retryOfKey9());

    // Assess: the window is the producer's 10 s timeout plus 1 s: 8 s left.
    expect(res.statusCode).toBe(409);
    expect(res.headers).toMatchObject({ 'retry-after': '8' });
    expect(JSON.parse(res.body)).toEqual({
      message: expect.stringContaining('may still be sending order key-9'),
      orderId: 'key-9',
      idempotencyKey: 'key-9',
    });
    expect(queues.sent).toEqual([]);
    expect(ledger.writes()).toEqual(['claim', 'countRequest']);
  });

  it('re-sends to both queues a retry of a recent claim whose request ended with no id recorded', async () => {
    // Prepare: claimed 3 s ago; its sends failed (or their answers were lost), and it said so.
    existing({ acceptedAt: NOW - 3000, sentAt: {}, sendsEndedAt: NOW - 1000 });

    // Act
    const res = await makeHandler()(retryOfKey9());

    // Assess
    expect(res.statusCode).toBe(202);
    expect(queues.queues()).toEqual(['fifo', 'standard']);
  });

  it('re-sends to both queues a retry once the claiming request can no longer be running', async () => {
    // Prepare: claimed 11 s ago (the window), no id recorded, no end: that request died.
    existing({ acceptedAt: NOW - 11_000, sentAt: {} });

    // Act
    const res = await makeHandler()(retryOfKey9());

    // Assess
    expect(res.statusCode).toBe(202);
    expect(queues.queues()).toEqual(['fifo', 'standard']);
  });

  it("uses the client's sequence and Idempotency-Key without taking a counter value", async () => {
    const res = await makeHandler()(
      post({
        headers: { ...postFixture.headers, 'idempotency-key': 'client-key-1' },
        body: JSON.stringify({ ...validBody, sequence: 3 }),
      }),
    );
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body)).toMatchObject({ orderId: 'client-key-1', sequence: 3 });
    expect(ledger.calls).not.toContain('nextSequence');
    expect(queues.sent.map((s) => s.message.sequence)).toEqual([3, 3]);
  });

  it('answers a retry from the record when both sends are recorded, sending nothing', async () => {
    // Prepare: accepted and sent two hours ago (Powertools' records would have expired by now).
    const sentAt = NOW - 2 * 3600 * 1000;
    existing({
      messageIds: { fifo: 'fifo-old', standard: 'std-old' },
      sentAt: { fifo: sentAt, standard: sentAt },
    });

    // Act
    const res = await makeHandler()(retryOfKey9());

    // Assess
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body)).toEqual({
      orderId: 'key-9',
      sequence: 4,
      messageIds: { fifo: 'fifo-old', standard: 'std-old' },
    });
    expect(queues.sent).toEqual([]);
    expect(ledger.writes()).toEqual(['claim', 'countRequest']);
    expect(ledger.orders.get('key-9')?.requests).toBe(2);
  });

  it('re-sends a retry only to the queue whose send outcome was never recorded', async () => {
    // Prepare: the standard send's answer never came back (lost, timed out, or the function died).
    existing({ messageIds: { fifo: 'fifo-old', standard: '' }, sentAt: { fifo: NOW - 1000 } });

    // Act
    const res = await makeHandler()(retryOfKey9());

    // Assess
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body).messageIds).toEqual({ fifo: 'fifo-old', standard: 'standard-msg' });
    expect(queues.queues()).toEqual(['standard']);
    expect(ledger.orders.get('key-9')).toMatchObject({
      messageIds: { fifo: 'fifo-old', standard: 'standard-msg' },
      sentAt: { fifo: NOW - 1000, standard: NOW },
    });
  });

  it('re-sends a retry of an order with no record of its sends at all to both queues', async () => {
    // Prepare: an accepted order from before sends were recorded.
    existing({ messageIds: undefined as never });

    // Act
    const res = await makeHandler()(retryOfKey9());

    // Assess
    expect(res.statusCode).toBe(202);
    expect(queues.queues()).toEqual(['fifo', 'standard']);
  });

  it('re-sends to a queue created after the send (the one that took it is gone) unless applied there', async () => {
    // Prepare: both queues recreated an hour ago, after the send; the order applied on standard.
    const sentAt = NOW - 2 * 3600 * 1000;
    existing({
      messageIds: { fifo: 'fifo-old', standard: 'std-old' },
      sentAt: { fifo: sentAt, standard: sentAt },
    });
    lifetimes.lives.fifo.createdAt = NOW - 3600 * 1000;
    lifetimes.lives.standard.createdAt = NOW - 3600 * 1000;
    ledger.effects.add('run-old/standard/key-9');

    // Act
    const res = await makeHandler()(retryOfKey9());

    // Assess
    expect(res.statusCode).toBe(202);
    expect(queues.queues()).toEqual(['fifo']);
  });

  it('re-sends once the queue retention has passed since the send without an effect', async () => {
    // Prepare
    const sentAt = NOW - 4 * DAY;
    existing({
      messageIds: { fifo: 'fifo-old', standard: 'std-old' },
      sentAt: { fifo: sentAt, standard: sentAt },
    });
    lifetimes.lives.fifo.createdAt = NOW - 30 * DAY;
    lifetimes.lives.standard.createdAt = NOW - 30 * DAY;

    // Act
    await makeHandler()(retryOfKey9());

    // Assess
    expect(queues.queues()).toEqual(['fifo', 'standard']);
  });

  it('answers from the record when the queue lifetime cannot be read', async () => {
    // Prepare
    existing({ messageIds: { fifo: 'f', standard: 's' }, sentAt: { fifo: 1, standard: 1 } });
    lifetimes.failure = new Error('sqs down');

    // Act
    const res = await makeHandler()(retryOfKey9());

    // Assess
    expect(res.statusCode).toBe(202);
    expect(queues.sent).toEqual([]);
  });

  it('loses the answer of an injected first send: 503, the messages sent, no id recorded', async () => {
    // Act
    const res = await makeHandler({ FAULT_LOST_SEND_ANSWER_RATE: '1', FAULT_SEED: '3' })(post());

    // Assess: SQS has both messages; the producer knows neither, and records that its sends ended.
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body)).toMatchObject({ idempotencyKey: 'generated-id' });
    expect(queues.queues()).toEqual(['fifo', 'standard']);
    expect(ledger.orders.get('generated-id')).toMatchObject({
      messageIds: { fifo: '', standard: '' },
      sentAt: {},
      sendsEndedAt: NOW,
    });
  });

  it('never loses the answer of a re-send (the fault hits first requests only)', async () => {
    // Prepare
    existing({ messageIds: { fifo: '', standard: '' } });

    // Act
    const res = await makeHandler({ FAULT_LOST_SEND_ANSWER_RATE: '1' })(retryOfKey9());

    // Assess
    expect(res.statusCode).toBe(202);
    expect(ledger.calls.filter((c) => c === 'recordSends')).toHaveLength(1);
  });

  it('answers 422 when an Idempotency-Key is reused for a different order', async () => {
    existing({ payloadHash: 'something-else' });
    const before = structuredClone(ledger.orders.get('key-9'));
    const res = await makeHandler()(
      post({
        headers: { ...postFixture.headers, 'Idempotency-Key': 'key-9' },
        body: JSON.stringify({ ...validBody, sequence: 4 }),
      }),
    );
    expect(res.statusCode).toBe(422);
    expect(queues.sent).toEqual([]);
    // The refused claim is the only call: it changed nothing.
    expect(ledger.calls).toEqual(['claim']);
    expect(ledger.orders.get('key-9')).toEqual(before);
  });

  it('answers 409 to a request that lost the claim to one still sending, taking no sequence', async () => {
    // Prepare: the winner claims the key (without a sequence yet) just before our claim.
    ledger.beforeClaim = () =>
      ledger.orders.set('race-1', {
        runId: 'run-unit',
        orderId: 'race-1',
        customerId: 'cust-1',
        acceptedAt: NOW - 5,
        payloadHash: payloadHash(validBody as never),
        messageIds: { fifo: '', standard: '' },
        sentAt: {},
        requests: 1,
      });

    // Act
    const res = await makeHandler()(
      post({ headers: { ...postFixture.headers, 'Idempotency-Key': 'race-1' } }),
    );

    // Assess
    expect(res.statusCode).toBe(409);
    expect(res.headers).toMatchObject({ 'retry-after': '11' });
    expect(ledger.calls).toEqual(['claim', 'countRequest']);
    expect(ledger.sequences.size).toBe(0);
    expect(queues.sent).toEqual([]);
  });

  it('keeps a sequence for, and sends, an order whose claiming request died before keeping one', async () => {
    // Prepare: claimed a minute ago without a sequence; nothing after.
    ledger.sequences.set('run-old/cust-1', 4);
    existing({ sequence: undefined, acceptedAt: NOW - 60_000, sentAt: {} });
    delete ledger.orders.get('key-9')?.sequence;

    // Act
    const res = await makeHandler()(retryOfKey9());

    // Assess
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body)).toMatchObject({ orderId: 'key-9', sequence: 5 });
    expect(ledger.orders.get('key-9')?.sequence).toBe(5);
    expect(queues.sent.map((s) => [s.queue, s.message.sequence])).toEqual([
      ['fifo', 5],
      ['standard', 5],
    ]);
  });

  it.each([
    ['a non-JSON content type', { headers: { 'Content-Type': 'text/plain' } }, 415],
    ['a body declared as JSON that does not parse', { body: '{"customerId":' }, 400],
    ['an empty body declared as JSON', { body: null }, 400],
    [
      'a body over the limit',
      { body: JSON.stringify({ ...validBody, pad: 'x'.repeat(2000) }) },
      413,
    ],
    [
      'a base64 body over the limit',
      {
        isBase64Encoded: true,
        body: Buffer.from(`${postFixture.body}${' '.repeat(1100)}`).toString('base64'),
      },
      413,
    ],
    [
      'a malformed Idempotency-Key',
      { headers: { ...postFixture.headers, 'Idempotency-Key': 'has space' } },
      400,
    ],
    ['a malformed X-Run-Id', { headers: { ...postFixture.headers, 'X-Run-Id': 'a#b' } }, 400],
    [
      'a body with a key twice',
      { body: JSON.stringify(validBody).replace(/^\{/, '{"customerId":"cust-other",') },
      400,
    ],
    [
      'a body declared in UTF-16',
      {
        headers: { ...postFixture.headers, 'Content-Type': 'application/json; charset=utf-16' },
      },
      415,
    ],
  ])('rejects %s and touches nothing', async (_what, overrides, status) => {
    const res = await makeHandler()(post(overrides as Partial<APIGatewayProxyEvent>));
    expect(res.statusCode).toBe(status);
    expect(JSON.parse(res.body).message).toEqual(expect.any(String));
    expect(ledger.calls).toEqual([]);
    expect(queues.sent).toEqual([]);
  });

  it('accepts a base64 body within the limit', async () => {
    const res = await makeHandler()(
      post({ isBase64Encoded: true, body: Buffer.from(postFixture.body).toString('base64') }),
    );
    expect(res.statusCode).toBe(202);
  });

  it('answers 400 with field errors for an invalid order', async () => {
    const res = await makeHandler()(
      post({
        body: JSON.stringify({
          ...validBody,
          items: [{ sku: 'sku-1', quantity: 0, unitPrice: 5 }],
        }),
      }),
    );
    expect(res.statusCode).toBe(400);
    const body = JSON.parse(res.body);
    expect(body.errors).toEqual([
      expect.objectContaining({ path: 'items[0].quantity', message: expect.any(String) }),
    ]);
    expect(ledger.calls).toEqual([]);
  });

  it('answers 503 naming the order and the key to retry it with when a queue stays unavailable', async () => {
    queues.answer = (queue) => {
      if (queue === 'fifo') {
        throw new QueueUnavailableError('fifo', { cause: new Error('secret internal detail') });
      }
      return 'standard-msg';
    };
    const res = await makeHandler()(post());
    expect(res.statusCode).toBe(503);
    expect(res.body).not.toContain('secret');
    // The request carried no Idempotency-Key: the answer hands out the one that finds this order.
    expect(JSON.parse(res.body)).toMatchObject({
      orderId: 'generated-id',
      idempotencyKey: 'generated-id',
      message: expect.stringContaining('Idempotency-Key: generated-id'),
    });
    // The standard send went through: its id is recorded, so the retry sends to FIFO alone.
    expect(ledger.orders.get('generated-id')).toMatchObject({
      messageIds: { fifo: '', standard: 'standard-msg' },
      sentAt: { standard: NOW },
    });
  });

  it('answers a failure that is no outage (a permanent SQS error) as a plain 500, not "retry" 503', async () => {
    queues.answer = (queue) => {
      if (queue === 'fifo') throw new Error('no such queue');
      return 'standard-msg';
    };
    const res = await makeHandler()(post());
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body)).toEqual({ message: 'internal error' });
  });

  it.each([
    ['withdrawn', undefined, undefined],
    ['not withdrawn either', new Error('still down'), '11'],
  ])(
    "answers a retry whose lease bid failed and was %s 500, with Retry-After only when a late try of the bid may hold the lease: to the bid's deadline (review)",
    async (_what, withdrawal, retryAfter) => {
      // Prepare: a retry due to send again (its claiming request died, its lease ran out); its
      // bid fails, and its withdrawal as the case says.
      existing({ acceptedAt: NOW - 11_000, sentAt: {} });
      ledger.failures.set('leaseSends', new Error('DynamoDB is down'));
      if (withdrawal) ledger.failures.set('withdrawBid', withdrawal);

      // Act: no context, so the invocation has the whole 10 s timeout.
      const res = await makeHandler()(retryOfKey9());

      // Assess: the bid's deadline is the invocation's 10 s plus the 1 s clock margin.
      expect(res.statusCode).toBe(500);
      expect(res.headers?.['retry-after']).toBe(retryAfter);
      expect(res.body).not.toContain('down');
      expect(ledger.calls).toEqual(['claim', 'countRequest', 'leaseSends', 'withdrawBid']);
      expect(queues.sent).toEqual([]);
    },
  );

  it.each([
    ['a part of a second left: rounded up, not to the nearest second', 4001, 0, '6'],
    ['none left (its deadline passed while the bid failed): 1 s, never 0', 0, 1500, '1'],
  ])(
    "gives the Retry-After of a retry whose lease bid and its withdrawal failed in whole seconds, the rest of the bid's lease when the withdrawal failed, with %s (review)",
    async (_what, remainingMs, bidTakesMs, retryAfter) => {
      // Prepare: a retry due to send again; its bid takes `bidTakesMs` and fails, and so does its
      // withdrawal; the bid's deadline is the invocation's remaining time plus the 1 s margin.
      existing({ acceptedAt: NOW - 11_000, sentAt: {} });
      let clock = NOW;
      jest.spyOn(ledger, 'leaseSends').mockImplementation(async () => {
        clock += bidTakesMs;
        throw new Error('DynamoDB is down');
      });
      ledger.failures.set('withdrawBid', new Error('still down'));
      const context = { getRemainingTimeInMillis: () => remainingMs } as unknown as Context;

      // Act
      const res = await makeHandler({}, () => clock)(retryOfKey9(), context);

      // Assess: 5.001 s left of the lease is 6 s (5 would end before it); -0.5 s is 1 s.
      expect(res.statusCode).toBe(500);
      expect(res.headers?.['retry-after']).toBe(retryAfter);
      expect(JSON.parse(res.body)).toEqual({
        message: `internal error; retry after ${retryAfter} s`,
      });
    },
  );

  it('answers 500 without detail when the ledger fails', async () => {
    ledger.failures.set('claim', new Error('table exploded'));
    const res = await makeHandler()(post());
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain('exploded');
    expect(queues.sent).toEqual([]);
  });

  // A port implementation or a library may reject with anything: whatever is thrown gets the
  // app's own 500 and an error log line, never the router's answer or a failed invocation.
  it.each([
    ['an Error', new Error('table exploded')],
    ['an Error subclass', new TypeError('table exploded')],
    ['a string', 'table exploded'],
    ['a plain object', { reason: 'table exploded' }],
    ['null', null],
    ['undefined', undefined],
  ])('answers 500 internal error, and logs it, when a port throws %s', async (_what, thrown) => {
    const logged: { message: string; extra: unknown }[] = [];
    ledger.failures.set('claim', thrown);
    const handler = createApiHandler(loadProducerConfig(ENV_VARS), {
      ledger,
      queues,
      lifetimes,
      logger: {
        ...silent,
        error: (message: string, extra: unknown) => logged.push({ message, extra }),
      } as never,
    });

    const res = await handler(post());

    expect(res).toMatchObject({
      statusCode: 500,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'internal error' }),
    });
    expect(logged.map((l) => l.message)).toEqual(['request failed']);
    // The log line carries what was thrown: the error itself, or the value as its cause.
    const { error } = (logged[0] as { extra: { error: unknown } }).extra;
    expect(error).toBeInstanceOf(Error);
    expect(error === thrown || (error as Error).cause === thrown).toBe(true);
    expect(queues.sent).toEqual([]);
  });

  it('answers 500 internal error, and logs it, for an event that is no event at all', async () => {
    const logged: string[] = [];
    const handler = createApiHandler(loadProducerConfig(ENV_VARS), {
      ledger,
      queues,
      lifetimes,
      logger: { ...silent, error: (message: string) => logged.push(message) } as never,
    });
    const res = await handler(null as never);
    expect(res).toMatchObject({
      statusCode: 500,
      body: JSON.stringify({ message: 'internal error' }),
    });
    expect(logged).toEqual(['request failed']);
  });
});

describe('GET /orders/{orderId}', () => {
  beforeEach(() => {
    ledger.orders.set('order-1', {
      orderId: 'order-1',
      runId: 'run-unit',
      customerId: 'cust-1',
      sequence: 1,
      acceptedAt: 10,
      payloadHash: 'h',
      messageIds: { fifo: 'f', standard: 's' },
      requests: 1,
    });
  });

  it('reports processed, delivered and accepted per queue', async () => {
    ledger.facts.set('run-unit/fifo/order-1', { deliveries: 2, effects: 1, finalFailures: 0 });
    ledger.facts.set('run-unit/standard/order-1', { deliveries: 1, effects: 0, finalFailures: 0 });
    const res = await makeHandler()(getEvent());
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({
      orderId: 'order-1',
      customerId: 'cust-1',
      sequence: 1,
      runId: 'run-unit',
      acceptedAt: 10,
      fifo: { status: 'processed', deliveries: 2, effects: 1 },
      standard: { status: 'delivered', deliveries: 1, effects: 0 },
    });
  });

  it('reports dlq after a final failure', async () => {
    ledger.facts.set('run-unit/standard/order-1', { deliveries: 3, effects: 0, finalFailures: 1 });
    const res = await makeHandler()(getEvent());
    expect(JSON.parse(res.body).standard.status).toBe('dlq');
    expect(JSON.parse(res.body).fifo.status).toBe('accepted');
  });

  it('answers 404 for an unknown order and 400 for a malformed id', async () => {
    const handler = makeHandler();
    const missing = await handler({
      ...getEvent(),
      pathParameters: { orderId: 'nope' },
    });
    expect(missing.statusCode).toBe(404);
    const bad = await handler({
      ...getEvent(),
      pathParameters: { orderId: 'a#b' },
    });
    expect(bad.statusCode).toBe(400);
  });
});

describe('routing', () => {
  it('answers an unrouted resource or method with 404 naming it, as JSON', async () => {
    const handler = makeHandler();
    for (const [httpMethod, resource] of [
      ['GET', '/nope'],
      ['DELETE', '/orders'],
      ['PROPFIND', '/orders'],
      // Methods a router release may start to answer itself (automatic HEAD, CORS preflight).
      ['HEAD', '/orders/{orderId}'],
      ['OPTIONS', '/orders'],
      ['GET', '/orders'],
      // Not a resource of the API, though a URL parser or the router's trailing-slash rule would
      // take each for /orders.
      ['POST', '/orders?x'],
      ['POST', '/orders#x'],
      ['POST', '/orders/'],
    ] as const) {
      const res = await handler({ ...post(), httpMethod, resource, path: resource });
      expect(res).toMatchObject({
        statusCode: 404,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message: `no route for ${httpMethod} ${resource}` }),
      });
    }
    expect(ledger.calls).toEqual([]);
  });

  it('answers with the JSON content type alone and the body as serialized', async () => {
    const res = await makeHandler()(post());
    expect(res.headers).toEqual({ 'content-type': 'application/json' });
    expect(res.multiValueHeaders).toBeUndefined();
    expect(res.body).toBe(
      JSON.stringify({
        orderId: 'generated-id',
        sequence: 1,
        messageIds: { fifo: 'fifo-msg', standard: 'standard-msg' },
      }),
    );
  });

  it('routes on the resource API Gateway matched, whatever the path carries (a base path)', async () => {
    const res = await makeHandler()(post({ path: '/v1/orders' }));
    expect(res.statusCode).toBe(202);
  });

  // What a client controls must never make the router fail before a route runs: each of these
  // gets the answer the same request gets without it.
  it.each([
    ['an X-Forwarded-Proto that is no URL scheme', { 'X-Forwarded-Proto': 'not a scheme' }],
    ['a Host that is no host name', { Host: 'a b' }],
    ['a header value a Headers object refuses', { 'X-Note': 'price in \u20ac' }],
  ])('accepts an order sent with %s', async (_what, extra) => {
    const res = await makeHandler()(post({ headers: { ...postFixture.headers, ...extra } }));
    expect(res.statusCode).toBe(202);
  });

  it('answers a GET that carries a body as it answers one without', async () => {
    const res = await makeHandler()({ ...getEvent(), body: '{"x":1}' });
    expect(res.statusCode).toBe(404);
    expect(JSON.parse(res.body).message).toBe('order order-1 not found');
  });

  it('answers 400, not a 5xx, for an order id that is not valid percent-encoding', async () => {
    const res = await makeHandler()({
      ...getEvent(),
      path: '/orders/100%',
      pathParameters: { orderId: '100%' },
    });
    expect(res.statusCode).toBe(400);
  });

  it('answers an event that lacks what API Gateway always sends as an unrouted one', async () => {
    const { resource: _, ...noResource } = post();
    const res = await makeHandler()(noResource as APIGatewayProxyEvent);
    expect(res.statusCode).toBe(404);
    expect(JSON.parse(res.body).message).toBe('no route for POST undefined');
    const odd = await makeHandler()({ ...post(), pathParameters: 'x', stageVariables: 1 } as never);
    expect(odd.statusCode).toBe(202);
  });
});

describe('loadProducerConfig', () => {
  it('fails at cold start without a queue url', () => {
    const { FIFO_QUEUE_URL: _, ...rest } = ENV_VARS;
    expect(() => loadProducerConfig(rest)).toThrow(/FIFO_QUEUE_URL/);
  });

  it('fails at cold start on a lost-answer rate outside 0..1', () => {
    expect(() => loadProducerConfig({ ...ENV_VARS, FAULT_LOST_SEND_ANSWER_RATE: '2' })).toThrow(
      /FAULT_LOST_SEND_ANSWER_RATE must be between 0 and 1/,
    );
  });
});

describe('handlers/api module', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('builds the handler from process.env when imported', () => {
    // Prepare
    process.env = { ...saved, ...ENV_VARS, AWS_REGION: 'eu-west-1' };

    // Act
    let handler: unknown;
    jest.isolateModules(() => {
      handler = require('../../../services/producer/src/handlers/api').handler;
    });

    // Assess
    expect(typeof handler).toBe('function');
  });

  it('fails at import without the ledger table name', () => {
    // Prepare
    process.env = { ...saved, ...ENV_VARS, LEDGER_TABLE_NAME: '' };

    // Act / Assess
    jest.isolateModules(() => {
      expect(() => require('../../../services/producer/src/handlers/api')).toThrow(
        'environment variable LEDGER_TABLE_NAME is required',
      );
    });
  });
});

describe('the table keys', () => {
  it('are built by the adapters alone: the use case and the domain name no key', () => {
    const src = join(__dirname, '../../../services/producer/src');
    const files = [
      join(src, 'app.ts'),
      join(src, 'config.ts'),
      ...readdirSync(join(src, 'domain')).map((f) => join(src, 'domain', f)),
    ];
    expect(files.length).toBeGreaterThan(5);
    const keyBuilders =
      /\b(acceptedKeys|orderPk|runPk|ORDER_SK|acceptedSk|sequenceCounterSk|applyCounterSk|deliverySk|effectSk|failureSk|SK_PREFIX|ACCEPTED_BY_RUN)\b|\b(pk|sk|byRunPk|byRunSk):/;
    const offenders = files.filter((f) => keyBuilders.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
