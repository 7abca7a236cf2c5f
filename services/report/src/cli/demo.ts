import { join } from 'node:path';
import {
  type CommandSpec,
  intOption,
  parseCommandLine,
  runMain,
} from '../../../../shared/src/cli/args';
import { freshSeed } from '../../../../shared/src/random';
import { defaultRunId } from '../../../loadgen/src/run-load';
import { renderTable } from '../domain/render-text';
import { writeReportFiles } from '../generate';
import { runOnLocalCloud } from '../local-run';

export const DEMO_SPEC: CommandSpec = {
  usage: 'npm run demo -- [options]',
  summary:
    'Starts the local cloud in this process, sends a load with client retries, waits for both queues to drain and prints the FIFO vs standard comparison.',
  options: {
    out: {
      type: 'string',
      value: '<dir>',
      description: 'where report.json/.md/.html go (default reports/<runId>)',
    },
    orders: { type: 'string', value: '<n>', description: 'orders to send', default: '2000' },
    customers: { type: 'string', value: '<m>', description: 'customers', default: '20' },
    seed: {
      type: 'string',
      value: '<s>',
      description: 'seed of the load and the fault model (printed)',
    },
    'no-idempotency': {
      type: 'boolean',
      description: 'consumers run without idempotency: duplicates become duplicate effects',
    },
    live: {
      type: 'boolean',
      description:
        'print the live page url at start (FIFO and standard side by side as orders apply) and keep the local cloud up after the run until Ctrl-C',
    },
  },
};

/** Resolves on the first Ctrl-C or SIGTERM. */
function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  const v = parseCommandLine(DEMO_SPEC, argv);
  const orders = intOption(v, 'orders', { min: 1, max: 1_000_000 })!;
  const customers = intOption(v, 'customers', { min: 1, max: 100_000 })!;
  const seed = intOption(v, 'seed', { min: 0, max: 0xffffffff }) ?? freshSeed();
  const runId = defaultRunId(seed).replace(/^load-/, 'demo-');
  const out = typeof v.out === 'string' ? v.out : join('reports', runId);
  const env = v['no-idempotency'] ? { IDEMPOTENCY_ENABLED: 'false' } : undefined;
  process.stderr.write(`demo ${runId} seed ${seed}: starting the local cloud\n`);
  const tty = Boolean(process.stderr.isTTY);
  const live = Boolean(v.live);
  let liveUrl = '';
  const { data } = await runOnLocalCloud({
    runId,
    seed,
    orders,
    customers,
    retryRate: 0.05,
    // A copy that survives its delete comes back after the 60 s visibility timeout; the
    // emulator's clock skips that wait once nothing is being processed, so the demo's time is
    // spent on work. (Latency is measured on the wall clock from the first effect: unaffected.)
    skipVisibilityWaits: true,
    ...(env ? { consumerEnv: { fifo: env, standard: env } } : {}),
    onStarted: (_edge, _api, url) => {
      liveUrl = url;
      if (live) process.stdout.write(`live: ${url}\n`);
    },
    ...(live
      ? {
          beforeStop: async ({ data: run }) => {
            process.stdout.write(renderTable(run.report));
            const files = await writeReportFiles(run, out);
            process.stdout.write(`wrote ${files.join(', ')}\n`);
            process.stdout.write(`live: ${liveUrl} stays up; Ctrl-C stops the local cloud\n`);
            await untilInterrupted();
          },
        }
      : {}),
    onLoadProgress: (p) => {
      if (tty) process.stderr.write(`\rsent ${p.done}/${p.total}\x1b[K`);
      if (tty && p.done === p.total) process.stderr.write('\n');
    },
    onDrainProgress: (s, ms) =>
      process.stderr.write(
        `draining: fifo ${s.queued.fifo} standard ${s.queued.standard} queued, ${Math.round(ms / 1000)} s\n`,
      ),
  });
  if (!live) {
    process.stdout.write(renderTable(data.report));
    const files = await writeReportFiles(data, out);
    process.stdout.write(`wrote ${files.join(', ')}\n`);
  }
  return 0;
}

if (require.main === module) runMain(() => main());
