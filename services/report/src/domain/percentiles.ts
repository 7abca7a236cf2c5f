export interface LatencySummary {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

/** Nearest-rank percentile (the smallest value with at least p% of the sample at or below it). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export function summarizeLatency(samples: readonly number[]): LatencySummary {
  const sorted = samples.slice().sort((x, y) => x - y);
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : null,
  };
}

/** Counts per bucket of `width` ms, from 0 to the largest sample; for the latency chart. */
export function histogram(
  samples: readonly number[],
  buckets: number,
): { from: number; to: number; count: number }[] {
  if (samples.length === 0 || buckets < 1) return [];
  let max = 0;
  for (const s of samples) if (s > max) max = s;
  const width = Math.max(1, Math.ceil((max + 1) / buckets));
  const out = Array.from({ length: buckets }, (_, i) => ({
    from: i * width,
    to: (i + 1) * width,
    count: 0,
  }));
  for (const s of samples) {
    const i = Math.min(buckets - 1, Math.floor(Math.max(0, s) / width));
    out[i]!.count++;
  }
  return out;
}
