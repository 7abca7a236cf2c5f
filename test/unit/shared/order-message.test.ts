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
    ['an unknown key inside an item', { items: [{ sku: 's', quantity: 1, unitPrice: 5, x: 1 }] }],
    ['a currency that is not ISO 4217', { currency: 'euro' }],
    ['no acceptance time', { acceptedAt: undefined }],
    ['a non-integer acceptance time', { acceptedAt: 'yesterday' }],
  ])('refuses %s', (_name, change) => {
    expect(orderMessageSchema.safeParse({ ...message, ...change }).success).toBe(false);
  });

  it('drops an unknown top-level key instead of refusing the message', () => {
    expect(orderMessageSchema.parse({ ...message, addedLater: true })).toEqual(message);
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
});
