import { freshSeed } from '../../shared/src/random';
import { runEdgeFuzz } from '../integration/support/edge-fuzz';

/**
 * The edge fuzzer outside jest, for long runs: `npx tsx test/fuzz/edge.ts [--seed <n>]
 * [--cases <n>] [--keep-going]`. Prints the seed (the same seed sends the same requests in the
 * same order), the cases run and every failure; exit 1 when there was one.
 */
function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

async function main(): Promise<void> {
  const seed = Number(flag('seed') ?? freshSeed());
  const cases = Number(flag('cases') ?? 2000);
  process.stdout.write(`edge fuzz: seed ${seed}, ${cases} cases\n`);
  const report = await runEdgeFuzz({
    seed,
    cases,
    stopOnFailure: !process.argv.includes('--keep-going'),
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(
    `edge fuzz: seed ${seed}: ${report.cases} cases ${JSON.stringify(report.byKind)}, answers ${JSON.stringify(report.byStatus)}, ${report.failures.length} failures\n`,
  );
  process.exitCode = report.failures.length ? 1 : 0;
}

void main();
