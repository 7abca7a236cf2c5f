import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FAULT_PRESETS, type FaultPreset } from '../../local/sqs/faults';
import {
  type CommandSpec,
  choiceOption,
  decimalInteger,
  intOption,
  numberOption,
  type ParsedValues,
  parseCommandLine,
  runMain,
  UsageError,
} from '../../shared/src/cli/args';
import { ensureDirectory, outputDirectory } from '../../shared/src/cli/directory';
import { pipelineConfig } from '../../shared/src/config/pipeline';
import { QUEUE_KINDS } from '../../shared/src/queue-kind';
import { freshSeed } from '../../shared/src/random';
import {
  cutOffLine,
  givenUpFile,
  givenUpNote,
  loadFailure,
  notAccepted,
  reportGivenUp,
} from '../given-up';
import { UNREACHABLE_AFTER_OPTION, unreachableAfterMs } from '../loadgen/unreachable-flag';
import { type LocalRunOptions, runOnLocalCloud } from '../local-run';
import {
  DEFAULT_SERVICE_MS,
  type RunOnCloud,
  runIdempotencyKeyExperiment,
  runSweep,
  sweepGrid,
} from './experiments';
import {
  inFlightLabel,
  pointLabel,
  renderKeyTable,
  renderSweepHtml,
  renderSweepTable,
  skipNote,
  sweepExplanation,
} from './render';

const common = {
  orders: { type: 'string', value: '<n>', description: 'orders per run' },
  seed: { type: 'string', value: '<s>', description: 'seed of every run (printed)' },
  faults: {
    type: 'string',
    value: '<preset>',
    description: `SQS fault preset: ${FAULT_PRESETS.join(', ')}`,
    default: 'demo',
  },
  'retry-rate': {
    type: 'string',
    value: '<p>',
    description: 'fraction of orders the client sends twice',
  },
  'unreachable-after': UNREACHABLE_AFTER_OPTION,
  out: {
    type: 'string',
    value: '<dir>',
    description:
      "where the results go (default reports/<name>-<seed>), with given-up-<run>.json for a run whose load client gave up on orders (no 202 after its retries): every such order, as the soak's given-up.json",
  },
} as const satisfies CommandSpec['options'];

export const SWEEP_SPEC: CommandSpec = {
  usage: 'npm run experiment -- sweep [options]',
  summary:
    'Fills both queues with the same orders for every combination of message groups x maximum concurrency x batch size (a fresh local cloud each), drains each queue alone with a fixed service time per effect, and charts how fast each queue type lets its consumers go and how it orders (sweep.json, sweep.html). Exits 1 with a line naming each point whose load client gave up on orders the API does not hold, had client retries answered wrongly or not at all, or was cut off (--unreachable-after), as `npm run load` does.',
  options: {
    groups: {
      type: 'string',
      value: '<list>',
      description: 'message groups (customers)',
      default: '1,10',
    },
    concurrency: {
      type: 'string',
      value: '<list>',
      description: 'maximum concurrency (2-1000)',
      default: '2,5',
    },
    'batch-size': {
      type: 'string',
      value: '<list>',
      description: 'batch size (1-10)',
      default: '1,10',
    },
    'service-ms': {
      type: 'string',
      value: '<ms>',
      description: "simulated work of every effect, in ms (the consumers' service time)",
      default: String(DEFAULT_SERVICE_MS),
    },
    ...common,
    orders: { ...common.orders, default: '200' },
    'retry-rate': { ...common['retry-rate'], default: '0' },
  },
  examples: [
    'npm run experiment -- sweep --groups 1,10 --concurrency 5 --batch-size 10',
    'npm run experiment -- sweep --groups 1,5,20 --concurrency 2,10 --batch-size 10 --service-ms 200',
  ],
};

export const KEY_SPEC: CommandSpec = {
  usage: 'npm run experiment -- idempotency-key [options]',
  summary:
    "Runs the same load twice: consumers keyed on orderId, then on messageId. A send whose answer was lost is sent again on the client's retry, as a new SQS message with a new id: messageId keying lets it through as a second effect. Exits 1 when the two runs did not send the same load: an order given up (even one the API holds), a client retry answered wrongly or not at all, or a load cut off (--unreachable-after).",
  options: {
    customers: { type: 'string', value: '<m>', description: 'customers', default: '10' },
    'lost-answers': {
      type: 'string',
      value: '<p>',
      description:
        "fraction of orders whose first send SQS takes while its answer is lost (the client's retry sends it again)",
      default: '0.05',
    },
    ...common,
    orders: { ...common.orders, default: '300' },
    'retry-rate': { ...common['retry-rate'], default: '0.1' },
  },
  examples: [
    'npm run experiment -- idempotency-key',
    'npm run experiment -- idempotency-key --orders 1000 --lost-answers 0.1 --seed 7',
  ],
};

const EXPERIMENTS = { sweep: SWEEP_SPEC, 'idempotency-key': KEY_SPEC } as const;
type ExperimentName = keyof typeof EXPERIMENTS;

export function topHelp(): string {
  return [
    'Usage: npm run experiment -- <experiment> [options]',
    '',
    'Experiments (each runs on fresh in-process local clouds):',
    `  sweep            ${SWEEP_SPEC.summary}`,
    `  idempotency-key  ${KEY_SPEC.summary}`,
    '',
    'Run `npm run experiment -- <experiment> --help` for its options.',
  ].join('\n');
}

/** A comma-separated list of integers in [min, max], e.g. `1,5,20`. */
export function intList(values: ParsedValues, name: string, min: number, max: number): number[] {
  const raw = String(values[name] ?? '');
  const items = raw.split(',').map((s) => s.trim());
  const out = items.map((s) => decimalInteger(s));
  if (out.some((n) => n === undefined)) {
    throw new UsageError(
      `--${name} must be a comma-separated list of integers in decimal digits, got "${raw}"`,
    );
  }
  const ints = out as number[];
  const bad = ints.find((n) => n < min || n > max);
  if (bad !== undefined) throw new UsageError(`--${name}: ${bad} is outside ${min}-${max}`);
  return [...new Set(ints)];
}

function loadOptions(v: ParsedValues) {
  return {
    orders: intOption(v, 'orders', { min: 1, max: 100_000 })!,
    retryRate: numberOption(v, 'retry-rate', { min: 0, max: 1 })!,
    seed: intOption(v, 'seed', { min: 0, max: 0xffffffff }) ?? freshSeed(),
    faults: choiceOption<FaultPreset>(v, 'faults', FAULT_PRESETS)!,
  };
}

const say = (line: string) => process.stderr.write(`${line}\n`);

async function write(dir: string, files: Record<string, string>): Promise<void> {
  ensureDirectory(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  say(
    `wrote ${Object.keys(files)
      .map((f) => join(dir, f))
      .join(', ')}`,
  );
}

export async function main(
  argv: string[] = process.argv.slice(2),
  run?: RunOnCloud,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(`${topHelp()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (!(name in EXPERIMENTS)) {
    throw new UsageError(
      `unknown experiment "${name}"; use ${Object.keys(EXPERIMENTS).join(' or ')}`,
    );
  }
  const spec = EXPERIMENTS[name as ExperimentName];
  const v = parseCommandLine(spec, rest);
  const load = loadOptions(v);
  const out = typeof v.out === 'string' ? v.out : join('reports', `${name}-${load.seed}`);
  // Every run's load client gets the cut-off; the runs themselves (experiments.ts) are as before.
  const unreachableWindowMs = unreachableAfterMs(v);
  const onCloud = run ?? runOnLocalCloud;
  const runner = {
    run: (options: LocalRunOptions) => onCloud({ ...options, unreachableWindowMs }),
  };

  if (name === 'sweep') {
    const points = sweepGrid(
      intList(v, 'groups', 1, 10_000),
      intList(v, 'concurrency', 2, 1000),
      intList(v, 'batch-size', 1, 10),
    );
    const serviceMs = intOption(v, 'service-ms', { min: 0, max: 5000 })!;
    // FIFO runs a batch's records one after another: a batch whose service time alone reaches
    // the consumer's timeout can only time out, and the sweep would time the retries.
    const batchBudgetMs = pipelineConfig.consumers.fifo.timeoutSeconds * 1000;
    const largest = Math.max(...points.map((p) => p.batchSize));
    if (serviceMs * largest > batchBudgetMs / 2) {
      throw new UsageError(
        `--service-ms ${serviceMs} x batch size ${largest} is ${serviceMs * largest} ms of work per FIFO batch; keep it at most half the consumers' ${batchBudgetMs / 1000} s timeout (the rest is each order's own overhead, which a loaded machine stretches)`,
      );
    }
    outputDirectory('out', out);
    const settings = { seed: load.seed, orders: load.orders, serviceMs, faults: load.faults };
    say(
      `sweep: ${points.length} points x ${load.orders} orders, effect service time ${serviceMs} ms, faults ${load.faults}, seed ${load.seed}`,
    );
    const results = await runSweep(
      points,
      { ...load, serviceMs },
      {
        ...runner,
        onPoint: (r, i) =>
          say(
            `[${i + 1}/${points.length}] ${pointLabel(r)}: fifo ${r.queues.fifo.consumptionPerSec} orders/s, ${inFlightLabel(r.queues.fifo)} batches in flight, ${r.queues.fifo.outOfOrder} out of order; standard ${r.queues.standard.consumptionPerSec} orders/s, ${inFlightLabel(r.queues.standard)} batches in flight, ${r.queues.standard.outOfOrder} out of order${QUEUE_KINDS.map(
              (q) => {
                const note = skipNote(r.queues[q]);
                return note ? `; ${q} ${note}` : '';
              },
            ).join('')}${r.load.givenUp.length > 0 ? `; ${givenUpNote(r.load.givenUp)}` : ''}`,
          ),
      },
    );
    process.stdout.write(renderSweepTable(results));
    process.stdout.write(`\n${sweepExplanation(settings)}\n`);
    ensureDirectory(out);
    for (const r of results) {
      const lines = await reportGivenUp(r.load.givenUp, out, givenUpFile(pointLabel(r)));
      for (const [i, line] of lines.entries()) say(i === 0 ? `${pointLabel(r)}: ${line}` : line);
    }
    await write(out, {
      'sweep.json': `${JSON.stringify({ ...settings, measures: sweepExplanation(settings), results }, null, 2)}\n`,
      'sweep.html': renderSweepHtml(results, settings),
    });
    // A point whose load lost orders (given up, not held by the API), had client retries answered
    // wrongly or not at all, or was cut off (--unreachable-after) did not send what it claims: as
    // `npm run load` and the demo exit 1 for such a load, a line per point naming it, exit 1.
    const failures = results.flatMap((r) => {
      const failure = loadFailure(r.load, join(out, givenUpFile(pointLabel(r))));
      return failure === undefined ? [] : [`error: ${pointLabel(r)}: ${failure}`];
    });
    for (const line of failures) say(line);
    return failures.length > 0 ? 1 : 0;
  }

  const customers = intOption(v, 'customers', { min: 1, max: 100_000 })!;
  const lostAnswerRate = numberOption(v, 'lost-answers', { min: 0, max: 1 })!;
  outputDirectory('out', out);
  say(
    `idempotency-key: ${load.orders} orders, ${customers} customers, client retries ${load.retryRate}, lost send answers ${lostAnswerRate}, faults ${load.faults}, seed ${load.seed}`,
  );
  const results = await runIdempotencyKeyExperiment(
    { ...load, customers, lostAnswerRate },
    {
      ...runner,
      onRun: (r) =>
        say(
          `keyed on ${r.key}: standard lost answers ${r.lostAnswers.standard}, re-sends ${r.queues.standard.duplicateCauses.producerResend}, duplicate effects ${r.queues.standard.duplicateEffects}${r.load.givenUp.length > 0 ? `; ${givenUpNote(r.load.givenUp)}` : ''}`,
        ),
    },
  );
  // The comparison holds only if both runs sent the same requests: a 202 for every order, so
  // every planned client retry sent (an order given up is sent without its client retries, even
  // one the API holds).
  ensureDirectory(out);
  const unequal = results.filter(
    (r) => r.load.errors > 0 || r.load.givenUp.length > 0 || r.load.unreachable !== undefined,
  );
  for (const r of results) {
    const lines = await reportGivenUp(r.load.givenUp, out, givenUpFile(r.key));
    for (const [i, line] of lines.entries()) say(i === 0 ? `keyed on ${r.key}: ${line}` : line);
  }
  for (const r of unequal) {
    const lost = notAccepted(r.load.givenUp).length;
    // The load's errors are its given-up orders the API does not hold and its client retries
    // answered wrongly.
    const mismatches = r.load.errors - lost;
    const why = [
      ...(r.load.givenUp.length > 0
        ? [
            `the client gave up on ${r.load.givenUp.length} orders (${lost} not accepted by the API)`,
          ]
        : []),
      ...(mismatches > 0
        ? [`${mismatches} client retries were not answered 202 with the same order id`]
        : []),
      // Cut off after every order was accepted: no error, but planned client retries unmade.
      ...(r.load.unreachable ? [cutOffLine(r.load)!] : []),
    ];
    say(`error: keyed on ${r.key}, ${why.join(' and ')}: the two runs did not send the same load`);
  }
  process.stdout.write(renderKeyTable(results));
  process.stdout.write(
    [
      '',
      'A client retry of an order whose sends are recorded is answered from the record: no new message.',
      'A send whose answer was lost (injected: the message is in the queue, the producer cannot know) is sent',
      "again on the client's retry: a second SQS message of the same order, with a new message id. A send retried",
      'after its answer timed out (a loaded machine) is one too: re-sends counts both, from the ledger.',
      'orderId: every copy of an order, from SQS or from that re-send, carries the same key: applied once.',
      'messageId: the re-send is a new key, so the standard consumer applies it again (one per standard re-send);',
      "SQS's own copies keep their message id and are still suppressed.",
      'FIFO shows no difference here: the re-send carries the same deduplication id (the order id), and FIFO',
      'drops it within its 5-minute window before any consumer sees it.',
      '',
    ].join('\n'),
  );
  await write(out, {
    'idempotency-key.json': `${JSON.stringify({ seed: load.seed, orders: load.orders, customers, results }, null, 2)}\n`,
  });
  return unequal.length > 0 ? 1 : 0;
}

if (require.main === module) runMain(() => main());
