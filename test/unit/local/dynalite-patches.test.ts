/**
 * dynalite's condition parser, loaded memoised (local/dynalite-patches.cjs), against
 * dynalite's own: the same answer for every expression, in time linear in its length. The set
 * operations' and BatchGetItem's patches are tested through DynamoDB
 * (test/integration/dynamodb.test.ts).
 */

interface Parser {
  parse(input: string, options: { context: Record<string, unknown> }): unknown;
}
const PARSER_PATH = require.resolve('dynalite/db/conditionParser');
const original = require(PARSER_PATH) as Parser;
const patches = require('../../../local/dynalite-patches.cjs') as {
  loadPatched: (path: string, transform: (source: string) => string) => Parser;
  memoizeParserSource: (source: string) => string;
  linearSetUpdatesSource: (source: string) => string;
  linearSetEqualitySource: (source: string) => string;
  batchGetEveryTableSource: (source: string) => string;
};
const db = require('dynalite/db') as { compare: unknown };
const memoized = patches.loadPatched(PARSER_PATH, patches.memoizeParserSource);

/** What dynalite's validations hand the parser (validations/index.js), fresh per parse. */
const context = () => ({
  attrNames: { '#a': 'a', '#b': 'b' },
  attrVals: { ':v': { N: '1' }, ':w': { N: '2' }, ':s': { S: 'x' } },
  unusedAttrNames: { '#a': true, '#b': true },
  unusedAttrVals: { ':v': true, ':w': true, ':s': true },
  isReserved: (name: string) => /^(size|name|data)$/i.test(name),
  compare: db.compare,
});

/** The parse's result or error, and the names and values it marked as used. */
function outcome(parser: Parser, expression: string) {
  const ctx = context();
  let result: unknown;
  try {
    result = parser.parse(expression, { context: ctx });
  } catch (err) {
    result = { thrown: (err as Error).name, message: (err as Error).message };
  }
  return {
    result,
    unused: [Object.keys(ctx.unusedAttrNames), Object.keys(ctx.unusedAttrVals)],
  };
}

const nested = (levels: number, inner: (s: string) => string, start = 'a = :v') => {
  let s = start;
  for (let i = 0; i < levels; i++) s = inner(s);
  return s;
};

const CORPUS = [
  'a = :v',
  '(a = :v)',
  '((a = :v))',
  '((a = :v) AND (b = :s))',
  'a = :v AND b = :s',
  'a = :v OR b = :v AND NOT a = :w',
  '(a = :v AND (b = :s OR NOT (a < :w)))',
  'a <> :v OR (b >= :w AND (a <= :v))',
  'NOT a = :v',
  'NOT (a = :v)',
  'NOT NOT a = :v',
  'a BETWEEN :v AND :w',
  'a BETWEEN :w AND :v',
  'a IN (:v, :w)',
  'a IN ()',
  'attribute_exists(a)',
  'attribute_exists(:v)',
  'attribute_not_exists(#a) OR #b = :s',
  'attribute_type(a, :s)',
  'begins_with(a, :s)',
  'begins_with(:s, a)',
  'contains(a, :s)',
  'contains(size(a), :v)',
  'size(a) > :v',
  'size(a) = size(b)',
  'size(size(a)) = :v',
  'a.b[0].c = :v',
  '#a.#b = :v',
  'a[] = :v',
  'a.1 = :v',
  '(a) = :v',
  'a = (:v)',
  'a = ((:v))',
  'a = :v AND',
  'a = :v)',
  '(a = :v',
  '(',
  ')',
  '',
  'a = :x',
  '#z = :v',
  'size = :v',
  'a = a',
  ':v = :v',
  'aNd = :v',
  'a=:v',
  '  a  =  :v  ',
  '\u00e9 = :v',
  ...[1, 2, 3, 5, 7].flatMap((levels) => [
    nested(levels, (s) => `(${s})`),
    nested(levels, (s) => `(a = :v AND ${s})`),
    nested(levels, (s) => `(${s} OR b = :s)`),
    nested(levels, (s) => `NOT (${s})`),
  ]),
];

describe("dynalite's condition parser, memoised", () => {
  it.each(CORPUS.map((e) => [e]))('answers %j as dynalite does', (expression) => {
    expect(outcome(memoized, expression)).toEqual(outcome(original, expression));
  });

  it('parses 300 levels of parentheses in time linear in their length (12 levels took 0.2 s, 20 took 16 s before)', () => {
    const redundant = nested(300, (s) => `(${s})`);
    const meaningful = nested(300, (s) => `(a = :w OR ${s})`);
    const started = performance.now();
    expect(outcome(memoized, redundant).result).toBe('The expression has redundant parentheses;');
    expect(outcome(memoized, meaningful).result).toMatchObject({ expression: { type: 'or' } });
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('the patches refuse a dynalite they do not know (an upgrade fails loudly, not unpatched)', () => {
  it.each([
    [
      'the condition parser',
      () => patches.memoizeParserSource('module.exports = {};'),
      /PEG\.js 0\.10/,
    ],
    ['updateItem', () => patches.linearSetUpdatesSource('module.exports = {};'), /0 of 4 sites/],
    ['db.valsEqual', () => patches.linearSetEqualitySource('module.exports = {};'), /0 of 1 sites/],
    [
      'batchGetItem',
      () => patches.batchGetEveryTableSource('module.exports = {};'),
      /0 of 1 sites/,
    ],
  ])('%s', (_, patch, why) => {
    expect(patch).toThrow(why);
  });
});
