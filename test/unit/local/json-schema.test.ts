import { validateJsonSchema } from '../../../local/json-schema';

/** The local API's request validator (local/json-schema.ts): lengths and keys of hostile bodies. */
describe('the request validator', () => {
  const name = { type: 'string', minLength: 2, maxLength: 4 };

  it.each([
    ['a', 'too short'],
    ['ab', undefined],
    ['\u{1F600}\u{1F600}\u{1F600}\u{1F600}', undefined],
    ['\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}', 'too long'],
    ['abcde', 'too long'],
    ['\u{1F600}', 'too short'],
  ])('counts the length of %j in code points, as JSON Schema does', (value, problem) => {
    const answer = validateJsonSchema(name, value);
    if (problem === undefined) expect(answer).toBeUndefined();
    else expect(answer).toBe(`$: ${problem}`);
  });

  it('refuses a 10 MB string at once, without an array of its code points (found in review: most of a second of the main thread)', () => {
    const long = 'c'.repeat(10_000_000);
    const started = performance.now();
    for (let i = 0; i < 5; i++) expect(validateJsonSchema(name, long)).toBe('$: too long');
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('names the first key a closed object does not allow, a prototype name like any other', () => {
    const closed = { type: 'object', properties: { a: {} }, additionalProperties: false };
    const body = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i]));
    expect(validateJsonSchema(closed, body)).toBe('$.k0: not allowed');
    expect(validateJsonSchema(closed, JSON.parse('{"a": 1, "__proto__": 2}'))).toBe(
      '$.__proto__: not allowed',
    );
    expect(validateJsonSchema(closed, { a: 1 })).toBeUndefined();
  });
});
