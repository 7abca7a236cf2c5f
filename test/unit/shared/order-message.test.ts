import type { z } from 'zod';
import { counterValue } from '../../../shared/src/ledger';
import { orderInputSchema } from '../../../shared/src/order';
import { orderMessageRefSchema, orderMessageSchema } from '../../../shared/src/order-message';

const message = {
  orderId: 'generated-id',
  runId: 'run-1',
  customerId: 'cust-1',
  sequence: 3,
  items: [{ sku: 'sku-1', quantity: 2, unitPrice: 5 }],
  amount: 10,
  currency: 'EUR',
  acceptedAt: 1_764_050_000_000,
};

function input() {
  const { orderId: _o, runId: _r, acceptedAt: _a, ...rest } = message;
  return rest;
}

/** Every object schema inside a schema, with its path and whether it refuses unknown keys. */
function objectSchemas(schema: z.ZodType, path = ''): { path: string; strict: boolean }[] {
  const def = schema._zod.def as {
    type: string;
    shape?: Record<string, z.ZodType>;
    catchall?: z.ZodType;
    element?: z.ZodType;
    innerType?: z.ZodType;
  };
  switch (def.type) {
    case 'object':
      return [
        { path, strict: def.catchall?._zod.def.type === 'never' },
        ...Object.entries(def.shape ?? {}).flatMap(([key, field]) =>
          objectSchemas(field, path ? `${path}.${key}` : key),
        ),
      ];
    case 'array':
      return objectSchemas(def.element as z.ZodType, `${path}[]`);
    case 'optional':
    case 'nullable':
    case 'default':
      return objectSchemas(def.innerType as z.ZodType, path);
    default:
      return [];
  }
}

describe('the order message schema', () => {
  it('takes the message the producer sends, unchanged', () => {
    expect(orderMessageSchema.parse(message)).toEqual(message);
  });

  it('is the order input plus what acceptance decides: every input field, sequence required', () => {
    const inputKeys = Object.keys(orderInputSchema.shape);
    expect(Object.keys(orderMessageSchema.shape).sort()).toEqual(
      [...new Set([...inputKeys, 'orderId', 'runId', 'acceptedAt'])].sort(),
    );
    const { sequence: _, ...withoutSequence } = message;
    expect(orderMessageSchema.safeParse(withoutSequence).success).toBe(false);
  });

  it.each([
    ['no order id', { orderId: undefined }],
    ['an order id the API would refuse', { orderId: 'a b' }],
    ['a run id the API would refuse', { runId: 'run#1' }],
    ['a sequence that is not a positive integer', { sequence: 0 }],
    ['a fractional sequence', { sequence: 1.5 }],
    ['no items', { items: [] }],
    ['an item the API would refuse', { items: [{ sku: 'sku-1', quantity: 0, unitPrice: 5 }] }],
    ['a currency that is not ISO 4217', { currency: 'euro' }],
    ['no acceptance time', { acceptedAt: undefined }],
    ['a non-integer acceptance time', { acceptedAt: 'yesterday' }],
    // A whole number below 2^53, taken before: the consumer copied it into the effect it wrote,
    // and the report refused the effect (a time past the last a Date holds) and its whole run.
    ['an acceptance time past the last a Date holds', { acceptedAt: 8.64e15 + 1 }],
  ])('refuses %s', (_name, change) => {
    expect(orderMessageSchema.safeParse({ ...message, ...change }).success).toBe(false);
  });

  it('takes the last acceptance time a Date holds, 8.64e15 ms', () => {
    expect(orderMessageSchema.parse({ ...message, acceptedAt: 8.64e15 }).acceptedAt).toBe(8.64e15);
  });

  it('drops an unknown key at any level instead of refusing the message', () => {
    expect(orderMessageSchema.parse({ ...message, addedLater: true })).toEqual(message);
    const items = [{ ...message.items[0], discount: 0.5 }];
    expect(orderMessageSchema.parse({ ...message, items })).toEqual(message);
  });

  // A reader tolerates what a newer writer adds, at every level: no object inside the message
  // schema refuses unknown keys, so a nested object added later cannot reintroduce the refusal.
  it('has no object anywhere in it that refuses unknown keys', () => {
    const objects = objectSchemas(orderMessageSchema);
    expect(objects.length).toBeGreaterThanOrEqual(2);
    expect(objects.filter(({ strict }) => strict).map(({ path }) => path)).toEqual([]);
  });

  it('finds a strict object however deep it sits (the check above can fail)', () => {
    const strict = objectSchemas(orderInputSchema).filter((o) => o.strict);
    expect(strict.map((o) => o.path)).toEqual(['', 'items[]']);
  });

  // The API's request stays strict on purpose: a client's unknown field is a 400, not ignored.
  it.each([
    ['at the top level', { ...input(), note: 'x' }],
    ['inside an item', { ...input(), items: [{ sku: 's', quantity: 1, unitPrice: 5, x: 1 }] }],
  ])('leaves the order input refusing an unknown key %s', (_where, body) => {
    expect(orderInputSchema.safeParse(body).success).toBe(false);
  });

  it('attributes a message to its order and run even when the rest of it is bad', () => {
    expect(orderMessageRefSchema.parse({ orderId: 'o-1', runId: 'r-1', items: 'bad' })).toEqual({
      orderId: 'o-1',
      runId: 'r-1',
    });
    expect(orderMessageRefSchema.safeParse({ orderId: 'o-1' }).success).toBe(false);
  });
});

describe('counterValue', () => {
  it('answers the count an ADD returned', () => {
    expect(counterValue({ value: 7 }, 'sequence')).toBe(7);
  });

  it.each([
    ['no attributes', undefined],
    ['no value', {}],
    ['a string', { value: '7' }],
    ['NaN', { value: Number.NaN }],
    ['zero', { value: 0 }],
    ['a fraction', { value: 1.5 }],
  ])('refuses %s with an error naming the counter', (_name, attributes) => {
    expect(() => counterValue(attributes, 'sequence')).toThrow(
      /^sequence counter answered .*not a count$/,
    );
  });

  it('refuses a count beyond 2^53 (the document client reads it as a BigInt) with its own error, the count in digits', () => {
    expect(() => counterValue({ value: 2n ** 53n + 1n }, 'apply')).toThrow(
      /^apply counter answered 9007199254740993, not a count$/,
    );
  });
});
