import { runEdgeFuzz } from './support/edge-fuzz';

/**
 * The edge fuzzer (support/edge-fuzz.ts) with a fixed seed and a few hundred cases: SQS over AWS
 * JSON and Query, DynamoDB and the HTTP framing in front of them, each case checked for a 5xx,
 * a health check that fails, and a refused request that changed a queue, a tag or an item.
 * EDGE_FUZZ_SEED and EDGE_FUZZ_CASES change the run; `npx tsx test/fuzz/edge.ts --seed <n>
 * --cases <n>` runs longer ones outside jest.
 */

const SEED = Number(process.env.EDGE_FUZZ_SEED ?? 20261203);
const CASES = Number(process.env.EDGE_FUZZ_CASES ?? 400);

describe('edge fuzzing: refused requests change nothing', () => {
  it(`${CASES} cases from seed ${SEED}`, async () => {
    const report = await runEdgeFuzz({ seed: SEED, cases: CASES, timeLimitMs: 60_000 });
    process.stdout.write(
      `edge fuzz: seed ${SEED} (EDGE_FUZZ_SEED=${SEED} repeats these requests), ${report.cases} cases ` +
        `${JSON.stringify(report.byKind)}, answers ${JSON.stringify(report.byStatus)}\n`,
    );
    expect(report.failures).toEqual([]);
    expect(report.cases).toBe(CASES);
  }, 120_000);
});
