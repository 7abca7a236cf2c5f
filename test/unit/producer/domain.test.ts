import { isTransientSqsError } from '../../../services/producer/src/adapters/queues';
import { orderMessage } from '../../../services/producer/src/domain/message';
import {
  canonicalJson,
  header,
  parseOrderRequest,
  payloadHash,
} from '../../../services/producer/src/domain/request';
import { withRetries } from '../../../services/producer/src/domain/retry';
import { queueStatus } from '../../../services/producer/src/domain/status';
import type { OrderInput } from '../../../shared/src/order';
import { orderMessageSchema } from '../../../shared/src/order-message';

const order = {
  customerId: 'cust-1',
  items: [{ sku: 'sku-1', quantity: 2, unitPrice: 5 }],
  amount: 10,
  currency: 'EUR',
};

describe('canonicalJson and payloadHash', () => {
  it('hashes the same order the same whatever the key order', () => {
    // Prepare
    const reordered = { currency: 'EUR', amount: 10, items: order.items, customerId: 'cust-1' };

    // Act / Assess
    expect(canonicalJson(reordered)).toBe(canonicalJson(order));
    expect(payloadHash(reordered as never)).toBe(payloadHash(order as never));
  });

  it('hashes a different amount differently', () => {
    // Act / Assess
    expect(payloadHash({ ...order, amount: 11 } as never)).not.toBe(payloadHash(order as never));
  });
});

describe('orderMessage', () => {
  const accepted = {
    orderId: 'order-1',
    runId: 'run-1',
    customerId: 'cust-1',
    sequence: 7,
    acceptedAt: 1_764_050_000_000,
  };

  it('is the order as sent plus what acceptance decided, exactly what the schema reads', () => {
    // Act
    const message = orderMessage(order, accepted);

    // Assess
    expect(message).toEqual({ ...order, ...accepted });
    expect(orderMessageSchema.parse(message)).toEqual(message);
  });

  it('takes the sequence acceptance decided over none sent', () => {
    expect(orderMessage({ ...order, sequence: 7 }, accepted).sequence).toBe(7);
    expect(orderMessage(order, accepted).sequence).toBe(7);
  });

  // The input's fields flow into the message by construction: a field added to the order
  // schema (and so to the message schema, built from it) is sent without a second list to edit.
  it('carries a field the order input gains, without a list of fields to update', () => {
    // Prepare: an input with a field today's schema does not have, as a newer schema's would.
    const input = { ...order, note: 'leave at the door' } as OrderInput;

    // Act
    const message = orderMessage(input, accepted);

    // Assess
    expect(message).toHaveProperty('note', 'leave at the door');
  });
});

describe('header', () => {
  it('finds a header whatever its case', () => {
    // Act / Assess
    expect(header({ 'IDEMPOTENCY-key': 'k1' }, 'Idempotency-Key')).toBe('k1');
    expect(header(null, 'X-Run-Id')).toBeUndefined();
  });
});

describe('parseOrderRequest', () => {
  const limits = { maxBodyBytes: 1024, defaultRunId: 'adhoc' };

  it('defaults the run id and accepts a JSON media type with parameters', () => {
    // Prepare
    const req = {
      headers: { 'Content-Type': 'application/json; charset=utf-8' },
      body: JSON.stringify(order),
      isBase64Encoded: false,
    };

    // Act
    const parsed = parseOrderRequest(req, limits);

    // Assess
    expect(parsed.runId).toBe('adhoc');
    expect(parsed.idempotencyKey).toBeUndefined();
    expect(parsed.payloadHash).toBe(payloadHash(parsed.input));
  });

  it('checks the size before parsing, so an oversized non-JSON body answers 413', () => {
    // Prepare
    const req = {
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(2000),
      isBase64Encoded: false,
    };

    // Act / Assess
    expect(() => parseOrderRequest(req, limits)).toThrow(
      expect.objectContaining({ statusCode: 413 }),
    );
  });
});

describe('withRetries', () => {
  it('retries transient errors with capped exponential full-jitter delays', async () => {
    // Prepare
    const delays: number[] = [];
    let calls = 0;
    const op = async () => {
      calls++;
      if (calls < 5) throw new Error('transient');
      return 'ok';
    };

    // Act
    const result = await withRetries(
      op,
      () => true,
      { attempts: 5, baseDelayMs: 100, maxDelayMs: 300 },
      async (ms) => {
        delays.push(ms);
      },
      () => 0.999,
    );

    // Assess
    expect(result).toBe('ok');
    expect(delays).toEqual([99, 199, 299, 299]);
  });

  it('gives up after the last attempt with the last error', async () => {
    // Prepare
    let calls = 0;
    const op = async () => {
      calls++;
      throw new Error(`fail ${calls}`);
    };

    // Act / Assess
    await expect(
      withRetries(
        op,
        () => true,
        { attempts: 3, baseDelayMs: 0, maxDelayMs: 0 },
        async () => {},
      ),
    ).rejects.toThrow('fail 3');
    expect(calls).toBe(3);
  });

  it('does not retry a permanent error', async () => {
    // Prepare
    let calls = 0;
    const op = async () => {
      calls++;
      throw new Error('permanent');
    };

    // Act / Assess
    await expect(withRetries(op, () => false)).rejects.toThrow('permanent');
    expect(calls).toBe(1);
  });
});

describe('queueStatus', () => {
  it.each([
    [{ deliveries: 0, effects: 0, finalFailures: 0 }, 'accepted'],
    [{ deliveries: 2, effects: 0, finalFailures: 0 }, 'delivered'],
    [{ deliveries: 3, effects: 0, finalFailures: 1 }, 'dlq'],
    [{ deliveries: 3, effects: 1, finalFailures: 1 }, 'processed'],
  ])('maps %o to %s', (facts, status) => {
    // Act / Assess
    expect(queueStatus(facts).status).toBe(status);
  });
});

describe('isTransientSqsError', () => {
  it.each([
    [{ name: 'ThrottlingException' }, true],
    [{ name: 'X', $metadata: { httpStatusCode: 503 } }, true],
    [{ name: 'X', code: 'ECONNREFUSED' }, true],
    [{ name: 'X', $retryable: {} }, true],
    [{ name: 'QueueDoesNotExist', $metadata: { httpStatusCode: 400 } }, false],
    ['a string', false],
  ])('classifies %j as transient=%s', (err, expected) => {
    // Act / Assess
    expect(isTransientSqsError(err)).toBe(expected);
  });
});
