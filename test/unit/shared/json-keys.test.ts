import fc from 'fast-check';
import { parseJson } from '../../../shared/src/json-keys';

/** fast-check's seed for this file's properties (printed): the same seed draws the same cases. */
const SEED = Number(process.env.FC_SEED ?? 20261204);
console.log(`fast-check seed ${SEED} (FC_SEED=${SEED} repeats these cases)`);

/**
 * A value as its keys are laid out: objects as [key, value] lists in Object.keys order (toEqual
 * alone does not compare the order), and whether each object's prototype is Object.prototype.
 */
type Shape = unknown;
function shape(value: unknown): Shape {
  if (Array.isArray(value)) return value.map(shape);
  if (typeof value !== 'object' || value === null) return value;
  return {
    proto: Object.getPrototypeOf(value) === Object.prototype,
    entries: Object.keys(value).map((k) => [k, shape((value as Record<string, unknown>)[k])]),
  };
}

/** A key written with each character as itself, as \uXXXX, or with JSON's short escape. */
function written(key: string, styles: readonly number[]): string {
  let out = '';
  for (let n = 0; n < key.length; n++) {
    const ch = key[n]!;
    const style = styles[n % styles.length]!;
    const plain = JSON.stringify(ch).slice(1, -1);
    if (style === 1) out += `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
    else if (style === 2 && ch === '/') out += '\\/';
    else out += plain;
  }
  return `"${out}"`;
}

/**
 * The key V8's JSON.parse on Node 24 and 26 reads a written key as when the map it builds has a
 * transition by that key (nodejs/node#63785): the key's text as written, cut to its decoded
 * length. Written as text (escaped by JSON.stringify), it is the key a poisoning body gives.
 */
const poisonOf = (key: string, text: string): string =>
  JSON.stringify(text.slice(1, 1 + key.length));

/** A JSON value: its text, the text with each escaped key replaced by its poison, the value. */
interface Drawn {
  text: string;
  poison: string;
  value: unknown;
}

const unit = fc.constantFrom(...'am"\\/{}:, \n', 'é', '😀', '\ud800', '\udc00', '\u0000');
const key = fc.tuple(
  fc.string({ unit, maxLength: 4 }),
  fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 3 }),
);
const { json } = fc.letrec<{ json: Drawn }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small' },
    fc.string({ unit, maxLength: 4 }).map((s) => ({
      text: JSON.stringify(s),
      poison: JSON.stringify(s),
      value: s,
    })),
    fc.constantFrom(0, -1.5e3, true, false, null).map((v) => ({
      text: JSON.stringify(v),
      poison: JSON.stringify(v),
      value: v,
    })),
    fc.array(tie('json'), { maxLength: 3 }).map((items) => ({
      text: `[${items.map((i) => i.text).join(',')}]`,
      poison: `[${items.map((i) => i.poison).join(',')}]`,
      value: items.map((i) => i.value),
    })),
    fc.array(fc.tuple(key, tie('json')), { maxLength: 4 }).map((entries) => {
      const value: Record<string, unknown> = {};
      const text: string[] = [];
      const poison: string[] = [];
      for (const [[k, styles], v] of entries) {
        const w = written(k, styles);
        text.push(`${w}:${v.text}`);
        poison.push(`${w.includes('\\') ? poisonOf(k, w) : w}:${v.poison}`);
        // As JSON.parse defines a key: `__proto__` too, a repeated key at its first place.
        Object.defineProperty(value, k, {
          value: v.value,
          writable: true,
          enumerable: true,
          configurable: true,
        });
      }
      return { text: `{${text.join(',')}}`, poison: `{${poison.join(',')}}`, value };
    }),
  ),
}));

describe('parseJson (nodejs/node#63785: V8 can read an escaped key as a key met before)', () => {
  it('reads an escaped key right after a body whose key is the escape written as text', () => {
    // Prepare: on Node 24, after JSON.parse met the key \u0061 (six characters) at this place,
    // a later "\u0061mount" there came back as that key.
    JSON.parse(String.raw`{"customerId":"c","\\u0061":1}`);

    // Act
    const read = parseJson(String.raw`{"customerId":"c","\u0061mount":10}`);

    // Assess
    expect(shape(read)).toEqual(shape({ customerId: 'c', amount: 10 }));
  });

  it('reads a key that needs its escape right after a body with a backslash key there', () => {
    // Prepare: on Node 24, after a key `\` (written "\\") a later key `"` came back as `\`.
    JSON.parse(String.raw`{"h":[],"\\":0}`);

    // Act
    const read = parseJson(String.raw`{"h":1,"\"":2}`);

    // Assess
    expect(shape(read)).toEqual(shape({ h: 1, '"': 2 }));
  });

  it('keeps the last of a key given plain and then escaped, as JSON says, after a poisoning body', () => {
    // Prepare: the misread had kept the first (5) and added a key \u0061 holding the 7.
    JSON.parse(String.raw`{"amount":0,"\\u0061":0}`);

    // Act
    const read = parseJson(String.raw`{"amount":5,"\u0061mount":7}`);

    // Assess
    expect(shape(read)).toEqual(shape({ amount: 7 }));
  });

  it('reads any JSON as its keys are written, each parsed right after the body that poisons it', () => {
    let escaped = 0;
    fc.assert(
      fc.property(json, ({ text, poison, value }) => {
        JSON.parse(poison);
        if (text.includes('\\')) escaped++;
        expect(shape(parseJson(text))).toEqual(shape(value));
      }),
      { seed: SEED, numRuns: 3000 },
    );
    // Texts with escapes (keys or values) were tried many times.
    expect(escaped).toBeGreaterThan(1000);
  });

  it.each([
    ['no escape at all', '{"a":[1,{"b":"c"}]}'],
    ['escapes in values only', String.raw`{"a":"\"\u0062\\"}`],
    ['escaped keys that can be written as themselves', String.raw`{"\u0061":{"b\/":1}}`],
    ['a key that needs its escape', String.raw`{"a\"":[{"\\":-0.5e-3,"x":true}],"n":null}`],
  ])('gives JSON.parse’s value for %s', (_, text) => {
    expect(shape(parseJson(text))).toEqual(shape(JSON.parse(text)));
    expect(Object.is((parseJson('[-0,{"\\"":-0}]') as [number])[0], -0)).toBe(true);
  });

  it('makes __proto__ an own key, as JSON.parse does, also where a key needs its escape', () => {
    const read = parseJson(String.raw`{"__proto__":{"x":1},"\"":2}`) as Record<string, unknown>;
    expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
    expect(Object.keys(read)).toEqual(['__proto__', '"']);
    expect((read as { x?: number }).x).toBeUndefined();
  });

  it.each(['{', '{"a":1,}', String.raw`{"\x":1}`, ''])(
    'throws JSON.parse’s own SyntaxError for %j',
    (text) => {
      let expected: unknown;
      try {
        JSON.parse(text);
      } catch (err) {
        expected = err;
      }
      expect(() => parseJson(text)).toThrow(expected as Error);
    },
  );

  it('reads 100,000 levels of nesting with a key that needs its escape, without recursion', () => {
    const depth = 100_000;
    const text = `${'['.repeat(depth)}{"\\"":1}${']'.repeat(depth)}`;
    let read = parseJson(text);
    for (let n = 0; n < depth; n++) read = (read as unknown[])[0];
    expect(read).toEqual({ '"': 1 });
  });
});
