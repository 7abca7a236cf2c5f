import fc from 'fast-check';
import { countInversions, countOutOfOrder } from '../../../services/report/src/domain/inversions';
import {
  histogram,
  percentile,
  summarizeLatency,
} from '../../../services/report/src/domain/percentiles';

const SEED = 20261125;
console.log(`fast-check seed ${SEED}`);

function bruteForce(values: number[]): number {
  let n = 0;
  for (let i = 0; i < values.length; i++)
    for (let j = i + 1; j < values.length; j++) if (values[i]! > values[j]!) n++;
  return n;
}

describe('countInversions', () => {
  it('counts a reversed sequence as n(n-1)/2', () => {
    expect(countInversions([5, 4, 3, 2, 1])).toBe(10);
  });
  it('counts one swap as one inversion', () => {
    expect(countInversions([1, 3, 2, 4])).toBe(1);
  });
  it('equals the brute-force pair count for any sequence', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -50, max: 50 }), { maxLength: 80 }), (xs) => {
        expect(countInversions(xs)).toBe(bruteForce(xs));
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
  it('returns 0 for any sequence applied in order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer(), { maxLength: 200 }), (xs) => {
        const sorted = xs.slice().sort((a, b) => a - b);
        expect(countInversions(sorted)).toBe(0);
        expect(countOutOfOrder(sorted)).toBe(0);
      }),
      { seed: SEED },
    );
  });
  it('does not mutate its input', () => {
    const xs = [3, 1, 2];
    countInversions(xs);
    expect(xs).toEqual([3, 1, 2]);
  });
  it('handles 100,000 reversed values (O(n log n))', () => {
    const xs = Array.from({ length: 100_000 }, (_, i) => 100_000 - i);
    expect(countInversions(xs)).toBe((100_000 * 99_999) / 2);
  });
});

describe('countOutOfOrder', () => {
  it('counts each value that arrives after a higher one', () => {
    expect(countOutOfOrder([1, 4, 2, 3, 5])).toBe(2);
  });
  it('does not count an apply of the same sequence as the highest so far (a client may send one twice)', () => {
    expect(countOutOfOrder([1, 2, 2, 3])).toBe(0);
    expect(countOutOfOrder([3, 3, 1])).toBe(1);
    expect(countInversions([1, 2, 2, 3])).toBe(0);
  });
  it('is at most the number of inversions and zero exactly when there are none', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 60 }), (xs) => {
        const inv = countInversions(xs);
        const late = countOutOfOrder(xs);
        expect(late).toBeLessThanOrEqual(inv);
        expect(late === 0).toBe(inv === 0);
      }),
      { seed: SEED },
    );
  });
});

describe('percentiles', () => {
  it('uses the nearest rank', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 95)).toBe(95);
    expect(percentile(xs, 99)).toBe(99);
    expect(summarizeLatency([30, 10, 20])).toEqual({ p50: 20, p95: 30, p99: 30, max: 30 });
  });
  it('sorts the samples by value in any order, each percentile at its own rank and the max apart', () => {
    // 1..200 given largest first; sorted as text, 100 would come before 11.
    const xs = Array.from({ length: 200 }, (_, i) => 200 - i);
    expect(summarizeLatency(xs)).toEqual({ p50: 100, p95: 190, p99: 198, max: 200 });
  });
  it('returns nulls for no samples', () => {
    expect(summarizeLatency([])).toEqual({ p50: null, p95: null, p99: null, max: null });
  });
  it('puts every sample in exactly one histogram bucket', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(5000), { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 1, max: 40 }),
        (xs, b) => {
          const bins = histogram(xs, b);
          expect(bins).toHaveLength(b);
          expect(bins.reduce((n, x) => n + x.count, 0)).toBe(xs.length);
        },
      ),
      { seed: SEED },
    );
  });
});
