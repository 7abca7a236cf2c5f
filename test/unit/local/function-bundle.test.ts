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
