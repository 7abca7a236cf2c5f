import { isTransientSqsError } from '../../../services/producer/src/adapters/queues';
import { canonicalJson, header, payloadHash } from '../../../services/producer/src/domain/request';
import { withRetries } from '../../../services/producer/src/domain/retry';
import { queueStatus } from '../../../services/producer/src/domain/status';

describe('canonicalJson and payloadHash', () => {
  it('ignores key order so a retried order hashes the same', () => {
    const a = {
      customerId: 'c',
      items: [{ sku: 's', quantity: 1, unitPrice: 2 }],
      amount: 2,
      currency: 'EUR',
    };
    const b = {
      currency: 'EUR',
      amount: 2,
      items: [{ unitPrice: 2, quantity: 1, sku: 's' }],
      customerId: 'c',
    };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(payloadHash(a)).toBe(payloadHash(b));
  });

  it('tells different orders apart', () => {
    const a = {
      customerId: 'c',
      items: [{ sku: 's', quantity: 1, unitPrice: 2 }],
      amount: 2,
      currency: 'EUR',
    };
    expect(payloadHash(a)).not.toBe(payloadHash({ ...a, currency: 'USD' }));
    expect(payloadHash(a)).not.toBe(payloadHash({ ...a, sequence: 1 }));
  });
});

describe('header', () => {
  it('finds a header whatever its case', () => {
    expect(header({ 'IDEMPOTENCY-key': 'k' }, 'Idempotency-Key')).toBe('k');
    expect(header(null, 'x')).toBeUndefined();
  });
});

describe('withRetries', () => {
  const noSleep = async () => {};

  it('retries transient errors up to the attempt limit with capped delays', async () => {
    const delays: number[] = [];
    let calls = 0;
    const op = async () => {
      calls++;
      throw new Error('transient');
    };
    await expect(
      withRetries(
        op,
        () => true,
        { attempts: 4, baseDelayMs: 100, maxDelayMs: 250 },
        async (ms) => {
          delays.push(ms);
        },
        () => 0.999,
      ),
    ).rejects.toThrow('transient');
    expect(calls).toBe(4);
    expect(delays).toEqual([99, 199, 249]);
  });

  it('stops at the first permanent error', async () => {
    let calls = 0;
    await expect(
      withRetries(
        async () => {
          calls++;
          throw new Error('permanent');
        },
        () => false,
        undefined,
        noSleep,
      ),
    ).rejects.toThrow('permanent');
    expect(calls).toBe(1);
  });

  it('answers the first success', async () => {
    let calls = 0;
    const value = await withRetries(
      async () => {
        calls++;
        if (calls < 3) throw new Error('again');
        return 'ok';
      },
      () => true,
      undefined,
      noSleep,
    );
    expect(value).toBe('ok');
    expect(calls).toBe(3);
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
    expect(isTransientSqsError(err)).toBe(expected);
  });
});

describe('queueStatus', () => {
  it.each([
    [{ deliveries: 0, effects: 0, finalFailures: 0 }, 'accepted'],
    [{ deliveries: 2, effects: 0, finalFailures: 0 }, 'delivered'],
    [{ deliveries: 3, effects: 0, finalFailures: 1 }, 'dlq'],
    [{ deliveries: 2, effects: 1, finalFailures: 1 }, 'processed'],
  ])('%j is %s', (facts, status) => {
    expect(queueStatus(facts)).toEqual({
      status,
      deliveries: facts.deliveries,
      effects: facts.effects,
    });
  });
});
