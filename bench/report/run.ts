import { performance } from 'node:perf_hooks';
import { renderHtml } from '../../services/report/src/domain/render-html';
import {
  renderJson,
  renderMarkdown,
  renderTable,
} from '../../services/report/src/domain/render-text';
import { buildReport } from '../../services/report/src/domain/report';
import { type CommandSpec, parseCommandLine, runMain } from '../../shared/src/cli/args';
import { pipelineConfig } from '../../shared/src/config/pipeline';
import { syntheticLedger } from './synthetic-ledger';

/**
 * Report generation cost: time to compute every metric and render all four formats, per 100,000
 * deliveries, at three sizes. Linear means the per-100k figure stays flat as the run grows.
 * Reading the ledger from DynamoDB is not included (that is the table's Query throughput).
 */
export const SPEC: CommandSpec = {
  usage: 'npm run bench:report -- [options]',
  summary:
    "Report generation cost (every metric, all four formats) per 100,000 deliveries at 50,000, 100,000 and 200,000 orders a queue, best of 3. The environment variable BENCH_SEED sets the synthetic ledger's seed (default 1).",
  options: {},
};

const SEED = Number(process.env.BENCH_SEED ?? 1);
const SIZES = [50_000, 100_000, 200_000];
const REPEATS = 3;

function once(ordersPerQueue: number) {
  const ledger = syntheticLedger(ordersPerQueue, 100, SEED);
  const deliveries = ledger.deliveries.length;
  const times: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    const data = buildReport({ runId: 'bench', target: 'local', config: pipelineConfig, ledger });
    renderTable(data.report);
    renderMarkdown(data.report);
    renderJson(data.report);
    renderHtml(data);
    times.push(performance.now() - t0);
  }
  const best = Math.min(...times);
  return { ordersPerQueue, deliveries, bestMs: best, msPer100k: (best / deliveries) * 100_000 };
}

async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  parseCommandLine(SPEC, argv);
  console.log(`report bench seed ${SEED}, node ${process.version}, best of ${REPEATS}`);
  console.log('orders/queue  deliveries  best ms  ms per 100k deliveries');
  for (const size of SIZES) {
    const r = once(size);
    console.log(
      `${String(r.ordersPerQueue).padStart(12)}  ${String(r.deliveries).padStart(10)}  ${r.bestMs.toFixed(0).padStart(7)}  ${r.msPer100k.toFixed(0).padStart(22)}`,
    );
  }
  return 0;
}

if (require.main === module) runMain(() => main(), SPEC);
