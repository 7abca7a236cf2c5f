import { encode } from '@jridgewell/sourcemap-codec';
import { FRAME_FIELDS, frameTable } from '../../../local/function-bundle';

describe('frameTable', () => {
  it('lays out every mapped position in generated order, leaving out those without a source', () => {
    // Prepare: line 0 has its segments out of column order and one without a source.
    const mappings = encode([[[20, 1, 7, 2], [4, 0, 3, 0], [9]], [], [[0, 1, 8, 4]]]);

    // Act
    const table = frameTable({ sources: ['a.ts', 'b.ts'], mappings });

    // Assess
    expect(table.rows).toBeInstanceOf(SharedArrayBuffer);
    expect(table.sources).toEqual(['a.ts', 'b.ts']);
    expect(Array.from(new Int32Array(table.rows))).toEqual([
      ...[0, 4, 0, 3, 0],
      ...[0, 20, 1, 7, 2],
      ...[2, 0, 1, 8, 4],
    ]);
    expect(new Int32Array(table.rows).length).toBe(3 * FRAME_FIELDS);
  });
});

describe('frameTable on a malformed map', () => {
  const fields = (table: { rows: SharedArrayBuffer }) => Array.from(new Int32Array(table.rows));

  it('keeps no row from mappings that are not VLQ (decode yields negative numbers for them)', () => {
    // Prepare: decode() does not throw on garbage; these segments hold negative values.
    const mappings = 'AAAA,ZZZZZZZZZZZZZZZ;////;!!!!';

    // Act
    const table = frameTable({ sources: ['a.ts'], mappings });

    // Assess: only the one valid segment (AAAA: column 0 of source 0, line 0, column 0) is kept.
    expect(fields(table)).toEqual([0, 0, 0, 0, 0]);
    expect(fields(table).every((n) => n >= 0)).toBe(true);
  });

  it('keeps no row that points at a null source, and keeps the other sources at their indices', () => {
    // Prepare: `null` is a legal `sources` entry.
    const mappings = encode([
      [
        [0, 0, 1, 0],
        [5, 1, 2, 3],
      ],
    ]);

    // Act
    const table = frameTable({ sources: [null, 'b.ts'], mappings });

    // Assess
    expect(table.sources).toEqual([null, 'b.ts']);
    expect(fields(table)).toEqual([0, 5, 1, 2, 3]);
  });

  it('keeps no row for a source that is not a string', () => {
    // Act
    const table = frameTable({
      sources: [null, 7, {}],
      mappings: encode([
        [
          [0, 0, 0, 0],
          [1, 1, 0, 0],
          [2, 2, 0, 0],
        ],
      ]),
    });

    // Assess
    expect(table.sources).toEqual([null, null, null]);
    expect(fields(table)).toEqual([]);
  });

  it('keeps no row whose source index is out of range', () => {
    // Prepare: one source; indices 1 and 40 are past it.
    const mappings = encode([
      [
        [0, 0, 0, 0],
        [3, 1, 0, 0],
      ],
      [[2, 40, 1, 1]],
    ]);

    // Act
    const table = frameTable({ sources: ['a.ts'], mappings });

    // Assess
    expect(fields(table)).toEqual([0, 0, 0, 0, 0]);
  });

  it.each([
    ['missing', undefined],
    ['an object', { 0: 'a.ts' }],
    ['a string', 'a.ts'],
  ])('treats a `sources` that is %s as empty', (_label, sources) => {
    // Act
    const table = frameTable({ sources, mappings: encode([[[0, 0, 0, 0]]]) });

    // Assess
    expect(table.sources).toEqual([]);
    expect(fields(table)).toEqual([]);
  });

  it('keeps no row when `mappings` is not a string', () => {
    // Act
    const table = frameTable({ sources: ['a.ts'], mappings: 42 });

    // Assess
    expect(fields(table)).toEqual([]);
  });

  it('maps a valid map exactly, with garbage segments around the valid ones left out', () => {
    // Prepare: the valid rows of the first test, each line padded with an out-of-range index.
    const mappings = encode([
      [[20, 1, 7, 2], [4, 0, 3, 0], [9], [30, 2, 0, 0]],
      [[0, 9, 9, 9]],
      [[0, 1, 8, 4]],
    ]);

    // Act
    const table = frameTable({ sources: ['a.ts', 'b.ts'], mappings });

    // Assess
    expect(fields(table)).toEqual([...[0, 4, 0, 3, 0], ...[0, 20, 1, 7, 2], ...[2, 0, 1, 8, 4]]);
  });
});
