import { shapeBounds } from '../../../local/gateway';
import { type ShapeBounds, shapeProblem } from '../../../local/json-shape';
import { orderJsonSchema } from '../../../shared/src/order';
import { repeatedKey } from '../../support/hostile-json';

/** The API's bounds for an order (3 deep, 5 keys, 50 items), as its validator derives them. */
const ORDER: ShapeBounds = shapeBounds(orderJsonSchema())!;

/** shapeProblem's answer, and the keys it decoded (each a JSON.parse of one key). */
function scan(text: string, bounds: ShapeBounds) {
  const parse = jest.spyOn(JSON, 'parse');
  try {
    const problem = shapeProblem(text, bounds);
    return { problem, decoded: parse.mock.calls.length };
  } finally {
    parse.mockRestore();
  }
}

describe('shapeProblem, an object that says its keys again', () => {
  it('has the order model its 5 keys', () => {
    expect(ORDER).toEqual({ depth: 3, keys: 5, items: 50 });
  });

  it('refuses one object of 10 MB that says one escaped key a million times, having decoded 11 keys of it', () => {
    // Prepare: just under API Gateway's 10 MB payload limit.
    const body = repeatedKey(10 * 1024 * 1024 - 64);

    // Act
    const { problem, decoded } = scan(body, ORDER);

    // Assess: refused at its eleventh member, where counting distinct keys only passed it, after
    // decoding every one of its 950,000 keys, to JSON.parse (scan and parse about 0.5 s).
    expect(body.length).toBeGreaterThan(10_000_000);
    expect(problem).toBe('an object has more than 10 members');
    expect(decoded).toBe(11);
  });

  it('refuses a key said again without an escape the same way, and in a nested object', () => {
    const plain = `{${Array(100_000).fill('"a":0').join(',')}}`;
    const nested = `{"items":[{${Array(100_000).fill('"sku":"x"').join(',')}}]}`;
    expect(shapeProblem(plain, ORDER)).toBe('an object has more than 10 members');
    expect(shapeProblem(nested, ORDER)).toBe('an object has more than 10 members');
  });

  it('passes an order that says each of its keys twice (the producer names the repetition)', () => {
    // Prepare: every key of the order and of each of its 50 items said twice, some escaped.
    const item =
      '{"sku":"a","\\u0073ku":"a","quantity":1,"quantity":1,"unitPrice":2,"unitPrice":2}';
    const order =
      `{"customerId":"c1","customerId":"c1","items":[${Array(50).fill(item).join(',')}],` +
      `"items":[${item}],"amount":100,"\\u0061mount":100,"currency":"EUR","currency":"EUR",` +
      '"sequence":1,"sequence":1}';

    // Act and assess: within the bounds (10 members an object), so left to the validator and the
    // producer; a sixth distinct key is still refused.
    expect(shapeProblem(order, ORDER)).toBeUndefined();
    expect(shapeProblem(order.replace('"sequence":1}', '"sequence":1,"x":1}'), ORDER)).toBe(
      'an object has more than 5 keys',
    );
  });
});
