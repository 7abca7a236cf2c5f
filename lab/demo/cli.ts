import { join } from 'node:path';
import { DYNAMODB_ENGINES } from '../../local/dynamodb';
import { renderTable } from '../../services/report/src/domain/render-text';
import { writeReportFiles } from '../../services/report/src/generate';
import {
  type CommandSpec,
  choiceOption,
  intOption,
  numberOption,
  parseCommandLine,
  runMain,
} from '../../shared/src/cli/args';
import { outputDirectory } from '../../shared/src/cli/directory';
import { onStopSignal } from '../../shared/src/cli/signals';
import { ENV } from '../../shared/src/config/function-env';
import { freshSeed } from '../../shared/src/random';
import { GIVEN_UP_FILE, loadFailure, reportGivenUp } from '../given-up';
import type { LoadProgress } from '../loadgen/run-load';
import { UNREACHABLE_AFTER_OPTION, unreachableAfterMs } from '../loadgen/unreachable-flag';
import {
  type DrainProgress,
  type LocalRunOptions,
  type LocalRunResult,
  runOnLocalCloud,
} from '../local-run';
import { phasesLine } from '../phases';

export const DEMO_SPEC: CommandSpec = {
  usage: 'npm run demo -- [options]',
  summary:
    'Starts the local cloud in this process, sends a load with client retries (and a few lost send answers), waits for both queues to drain and prints the FIFO vs standard comparison; under it, the orders the load client gave up on (no 202 after its retries): how many the API holds all the same, the first 10 named. Exits 1, with one line naming them, when the API does not hold some of them (as `npm run load` does).',
  options: {
    out: {
      type: 'string',
      value: '<dir>',
      description:
        'where report.json/.md/.html go, and given-up.json: every order the load client gave up on, when it gave up on any (default reports/<runId>)',
    },
    orders: { type: 'string', value: '<n>', description: 'orders to send', default: '2000' },
    customers: { type: 'string', value: '<m>', description: 'customers', default: '20' },
    seed: {
      type: 'string',
      value: '<s>',
      description: 'seed of the load and the fault model (printed)',
    },
    'lost-answers': {
      type: 'string',
      value: '<p>',
      description:
        "fraction of orders whose first send reaches SQS while SQS's answer is lost: the client's retry re-sends them (a producer re-send)",
      default: '0.01',
    },
    'failure-rate': {
      type: 'string',
      value: '<p>',
      description:
        "fraction of orders whose first receive the consumers fail: SQS retries each after the visibility timeout; FIFO holds the customer's later orders back until then, standard applies them meanwhile",
      default: '0',
    },
    'no-idempotency': {
      type: 'boolean',
      description: 'consumers run without idempotency: duplicates become duplicate effects',
    },
    dynamodb: {
      type: 'string',
      value: `<${DYNAMODB_ENGINES.join('|')}>`,
      description:
        'what serves DynamoDB: dynalite, or prototype: the in-memory prototype of the pipeline subset (measuring only; docs/benchmarks.md)',
      default: 'dynalite',
    },
    'unreachable-after': UNREACHABLE_AFTER_OPTION,
    live: {
      type: 'boolean',
      description:
        'print the live page url at start (FIFO and standard side by side as orders apply) and keep the local cloud up after the run until Ctrl-C',
    },
  },
  examples: [
    'npm run demo',
    'npm run demo -- --orders 300 --customers 5',
    'npm run demo -- --live',
    'npm run demo -- --no-idempotency --seed 7',
    'npm run demo -- --failure-rate 0.02 --out reports/failures',
  ],
};

/**
 * The load's progress, `sent n/N`: on a terminal redrawn in place as each order is done; piped
 * (CI, `2>&1 | tee`), a line at the first order and at each tenth, so a log shows the load of a
 * minute or two going rather than nothing until the drain's lines.
 */
export function loadProgressWriter(
  tty: boolean,
  write: (s: string) => void,
): (p: LoadProgress) => void {
  let lastTenth = -1;
  return (p) => {
    if (tty) {
      write(`\rsent ${p.done}/${p.total}\x1b[K${p.done === p.total ? '\n' : ''}`);
      return;
    }
    const tenth = p.total > 0 ? Math.floor((p.done / p.total) * 10) : 10;
    if (tenth === lastTenth) return;
    lastTenth = tenth;
    write(`sent ${p.done}/${p.total}\n`);
  };
}

/** How often a piped drain writes a line (the wait polls both queues a few times a second). */
export const PIPED_DRAIN_LINE_MS = 5000;

/**
 * The drain's progress, `draining: fifo q standard q queued, t s`: on a terminal redrawn in place
 * at each poll (`end()` closes the line); piped, a line at the first poll and then one a poll
 * that comes PIPED_DRAIN_LINE_MS or more after the last line, where a line at every poll (two a
 * second) had filled a log.
 */
export function drainProgressWriter(
  tty: boolean,
  write: (s: string) => void,
): { progress: (s: DrainProgress, elapsedMs: number) => void; end: () => void } {
  let lastLineAt: number | undefined;
  let open = false;
  return {
    progress: (s, elapsedMs) => {
      const text = `draining: fifo ${s.queued.fifo} standard ${s.queued.standard} queued, ${Math.round(elapsedMs / 1000)} s`;
      if (tty) {
        write(`\r${text}\x1b[K`);
        open = true;
        return;
      }
      if (lastLineAt !== undefined && elapsedMs - lastLineAt < PIPED_DRAIN_LINE_MS) return;
      lastLineAt = elapsedMs;
      write(`${text}\n`);
    },
    end: () => {
      if (open) write('\n');
      open = false;
    },
  };
}

/**
 * The demo. `run` is injectable (as the soak's is) so what it prints of a run is tested without a
 * cloud, or with one whose options a test adjusts.
 */
export async function main(
  argv: string[] = process.argv.slice(2),
  run: (options: LocalRunOptions) => Promise<LocalRunResult> = runOnLocalCloud,
): Promise<number> {
  const v = parseCommandLine(DEMO_SPEC, argv);
  const orders = intOption(v, 'orders', { min: 1, max: 1_000_000 })!;
  const customers = intOption(v, 'customers', { min: 1, max: 100_000 })!;
  const seed = intOption(v, 'seed', { min: 0, max: 0xffffffff }) ?? freshSeed();
  // The run id names the load plan's order ids, customers and client retries, so it comes from
  // the seed alone: the same seed sends the same orders (each demo has a cloud of its own).
  const runId = `demo-${(seed >>> 0).toString(36)}`;
  const out = typeof v.out === 'string' ? v.out : join('reports', runId);
  const lostAnswers = numberOption(v, 'lost-answers', { min: 0, max: 1 })!;
  const failureRate = numberOption(v, 'failure-rate', { min: 0, max: 1 })!;
  const dynamodb = choiceOption(v, 'dynamodb', DYNAMODB_ENGINES)!;
  const unreachableWindowMs = unreachableAfterMs(v);
  // Before the cloud starts: an --out that cannot hold the files was found after the whole run.
  outputDirectory('out', out);
  const env = {
    ...(v['no-idempotency'] ? { [ENV.IDEMPOTENCY_ENABLED]: 'false' } : {}),
    ...(failureRate > 0 ? { [ENV.FAULT_FIRST_ATTEMPT_FAILURE_RATE]: String(failureRate) } : {}),
  };
  process.stderr.write(`demo ${runId} seed ${seed}: starting the local cloud\n`);
  const tty = Boolean(process.stderr.isTTY);
  const live = Boolean(v.live);
  let liveUrl = '';
  let releaseSignals = () => {};
  const drain = drainProgressWriter(tty, (s) => process.stderr.write(s));
  // performance.now() counts from node's start: what the modules took to load is start-up too.
  const startedAt = performance.now();
  const running = run({
    runId,
    seed,
    orders,
    customers,
    retryRate: 0.05,
    unreachableWindowMs,
    dynamodb,
    // A copy that survives its delete comes back after the 60 s visibility timeout; the cloud's
    // clock skips that wait once nothing is being processed, so the demo's time is spent on work.
    skipVisibilityWaits: true,
    // The function environments are idle once the queues drain: ended before the report's read
    // and render, the run's peak memory is its processing, not the report on top of it.
    releaseIdleEnvironments: true,
    producerEnv: { [ENV.FAULT_LOST_SEND_ANSWER_RATE]: String(lostAnswers) },
    ...(Object.keys(env).length > 0 ? { consumerEnv: { fifo: env, standard: env } } : {}),
    onStarted: (_edge, _api, url) => {
      liveUrl = url;
      if (live) process.stdout.write(`live: ${url}\n`);
    },
    ...(live
      ? {
          beforeStop: async ({ data, load }) => {
            drain.end();
            await writeResults(data, load, out);
            process.stdout.write(`live: ${liveUrl} stays up; Ctrl-C stops the local cloud\n`);
            // Until the first Ctrl-C or SIGTERM. The handlers stay while the cloud stops, until
            // the run ends: the same Ctrl-C arriving again at once is ignored, a later one ends
            // the process (onStopSignal).
            await new Promise<void>((resolve) => {
              releaseSignals = onStopSignal(
                () => resolve(),
                (signal) => process.stderr.write(`${signal} again: exiting now\n`),
              );
            });
          },
        }
      : {}),
    onLoadProgress: loadProgressWriter(tty, (s) => process.stderr.write(s)),
    onDrainProgress: drain.progress,
    // Its lines show the queues only: no ledger count for them, which each poll would wait for.
    countLedgerWhileDraining: false,
  });
  const { data, load, timings } = await running.finally(() => {
    drain.end();
    releaseSignals();
  });
  if (!live) {
    const filesAt = performance.now();
    await writeResults(data, load, out);
    const endedAt = performance.now();
    process.stdout.write(
      phasesLine(timings, {
        startedAt,
        endedAt,
        after: [{ name: 'files', ms: endedAt - filesAt }],
      }),
    );
  }
  // The orders the load client gave up on and the API does not hold reached no queue: the table
  // leaves them out, and the demo had exited 0 with them lost. As `npm run load` exits 1 for
  // the same load: one line naming them (every one in given-up.json), exit 1.
  const failure = loadFailure(load, join(out, GIVEN_UP_FILE));
  if (failure !== undefined) {
    process.stderr.write(`error: ${failure}\n`);
    return 1;
  }
  return 0;
}

/**
 * The table on stdout, then the orders the load client gave up on (the headline and the first
 * few; every one in `out`/given-up.json), then the files written. An order given up and not held
 * by the API reached no queue: the table leaves it out, so only these lines say it is missing.
 */
async function writeResults(
  data: LocalRunResult['data'],
  load: LocalRunResult['load'],
  out: string,
): Promise<void> {
  process.stdout.write(renderTable(data.report));
  const files = await writeReportFiles(data, out);
  for (const line of await reportGivenUp(load.givenUp, out)) process.stdout.write(`${line}\n`);
  process.stdout.write(`wrote ${files.join(', ')}\n`);
}

if (require.main === module) runMain(() => main());
