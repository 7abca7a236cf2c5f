import { join } from 'node:path';
import { FAULT_PRESETS, type FaultPreset } from '../../local/sqs/faults';
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
import { ENV } from '../../shared/src/config/function-env';
import { freshSeed } from '../../shared/src/random';
import { cutOffLine, GIVEN_UP_NAMED, notAccepted, reportGivenUp } from '../given-up';
import { UNREACHABLE_AFTER_OPTION, unreachableAfterMs } from '../loadgen/unreachable-flag';
import { type LocalRunOptions, type LocalRunResult, runOnLocalCloud } from '../local-run';
import { cpuBetween, cpuReadingNow, phasesLine } from '../phases';
import { orderHistory, ordersNamed, runFindings } from './check';

export const SOAK_SPEC: CommandSpec = {
  usage: 'npm run soak -- [options]',
  summary:
    "A bounded soak: many orders with faults on, through both queues of an in-process local cloud; checks every order the client got a 202 for: applied exactly once on each queue, FIFO in the order SQS took each customer's messages (its SequenceNumber, not the client's sequence), no order left in a DLQ, an applied order's copy in a DLQ only after its message used its last allowed receive (printed with its history), the report agreeing. Fails too when the load client lost orders, had client retries answered wrongly or not at all, or was cut off (--unreachable-after: it did not send the load the soak claims).",
  options: {
    orders: { type: 'string', value: '<n>', description: 'orders to send', default: '20000' },
    customers: { type: 'string', value: '<m>', description: 'customers', default: '100' },
    seed: {
      type: 'string',
      value: '<s>',
      description: 'seed of the load and every fault (printed)',
    },
    faults: {
      type: 'string',
      value: '<preset>',
      description: `SQS fault preset: ${FAULT_PRESETS.join(', ')}`,
      default: 'demo',
    },
    'failure-rate': {
      type: 'string',
      value: '<p>',
      description: 'fraction of orders whose first receive the consumers fail',
      default: '0.01',
    },
    'retry-rate': {
      type: 'string',
      value: '<p>',
      description: 'fraction of orders the client sends twice',
      default: '0.05',
    },
    'lost-answers': {
      type: 'string',
      value: '<p>',
      description:
        "fraction of orders whose first send reaches SQS while SQS's answer is lost (the client's retry re-sends it)",
      default: '0.01',
    },
    'crash-rate': {
      type: 'string',
      value: '<p>',
      description:
        "fraction of orders whose first receive crashes the consumer right after the effect, before Powertools' COMPLETED",
      default: '0.001',
    },
    'unreachable-after': UNREACHABLE_AFTER_OPTION,
    out: {
      type: 'string',
      value: '<dir>',
      description:
        'where report.json/.md/.html (and given-up.json, the orders the load gave up on) go (default reports/<runId>)',
    },
  },
  examples: [
    'npm run soak',
    'npm run soak -- --orders 500 --seed 7',
    'npm run soak -- --faults chaos --failure-rate 0.05',
  ],
};

/**
 * The soak: exit 0 only when the check found nothing and the client got every order accepted.
 * `run` is injectable (as the experiments' is) so its verdict is unit-tested without a cloud.
 */
export async function main(
  argv: string[] = process.argv.slice(2),
  run: (options: LocalRunOptions) => Promise<LocalRunResult> = runOnLocalCloud,
): Promise<number> {
  const v = parseCommandLine(SOAK_SPEC, argv);
  const orders = intOption(v, 'orders', { min: 1, max: 1_000_000 })!;
  const customers = intOption(v, 'customers', { min: 1, max: 100_000 })!;
  const seed = intOption(v, 'seed', { min: 0, max: 0xffffffff }) ?? freshSeed();
  const faults = choiceOption<FaultPreset>(v, 'faults', FAULT_PRESETS)!;
  const failureRate = numberOption(v, 'failure-rate', { min: 0, max: 1 })!;
  const retryRate = numberOption(v, 'retry-rate', { min: 0, max: 1 })!;
  const lostAnswers = numberOption(v, 'lost-answers', { min: 0, max: 1 })!;
  const crashRate = numberOption(v, 'crash-rate', { min: 0, max: 1 })!;
  const unreachableWindowMs = unreachableAfterMs(v);
  // The run id names the load plan's order ids, customers and client retries, so it comes from
  // the seed alone: the same seed sends the same orders (each soak has a cloud of its own).
  const runId = `soak-${seed}`;
  const out = typeof v.out === 'string' ? v.out : join('reports', runId);
  // Before the cloud starts: an --out that cannot hold the files was found after the whole run.
  outputDirectory('out', out);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const started = Date.now();
  const elapsed = () => `${Math.round((Date.now() - started) / 1000)} s`;
  // performance.now() counts from node's start: what the modules took to load is start-up too.
  const startedAt = performance.now();
  const startedCpu = cpuReadingNow();
  log(
    `soak ${runId}: seed ${seed}, ${orders} orders over ${customers} customers, SQS faults ${faults}, consumer first-attempt failures ${failureRate}, crashes after the effect ${crashRate}, client retries ${retryRate}, lost send answers ${lostAnswers}`,
  );
  const env = {
    [ENV.FAULT_FIRST_ATTEMPT_FAILURE_RATE]: String(failureRate),
    [ENV.FAULT_CRASH_AFTER_EFFECT_RATE]: String(crashRate),
  };
  let nextTenth = 1;
  let nextDrainLine = 0;
  const { data, load, lostDeletes, functionTimeoutMs, recordBudgetMs, timings, clockSkips } =
    await run({
      runId,
      seed,
      orders,
      customers,
      retryRate,
      unreachableWindowMs,
      faults,
      consumerEnv: { fifo: env, standard: env },
      producerEnv: { [ENV.FAULT_LOST_SEND_ANSWER_RATE]: String(lostAnswers) },
      drainTimeoutMs: 20 * 60_000,
      // Failed receives wait for their visibility timeout (60 s); the emulator's clock skips that
      // wait once nothing is being processed, so the soak's time goes into work, not waiting.
      skipVisibilityWaits: true,
      onStarted: (edge, api) => log(`local cloud: edge ${edge}, api ${api}`),
      onLoadProgress: (p) => {
        if (p.done * 10 >= nextTenth * p.total) {
          log(
            `sent ${p.done}/${p.total} (${p.accepted} accepted, ${p.errors} errors) after ${elapsed()}`,
          );
          nextTenth = Math.floor((p.done * 10) / p.total) + 1;
        }
      },
      onDrainProgress: (s, ms) => {
        // The report's quiet polls, the only ones that count the ledger: the queues are empty and
        // nothing is in flight, and each poll confirms the ledger no longer grows. A line each
        // (two or three), with the time since the load ended, shows what that confirmation takes.
        if (s.ledgerItems !== undefined) {
          log(
            `drained: fifo ${s.queued.fifo} standard ${s.queued.standard} queued, ledger ${s.ledgerItems} items, ${(ms / 1000).toFixed(1)} s after the load`,
          );
          return;
        }
        if (ms >= nextDrainLine) {
          nextDrainLine = ms + 10_000;
          log(`draining: fifo ${s.queued.fifo} standard ${s.queued.standard} queued, ${elapsed()}`);
        }
      },
      // The lines show the queues only: a count of the run's ledger items (a Query over its whole
      // partition, 100,000 items and more by the end of a 20,000-order soak) is work for DynamoDB's
      // thread, which the consumers still draining need, and each poll would wait for it. The
      // report's own drain rule counts the ledger once the queues are empty, as before.
      countLedgerWhileDraining: false,
    });
  const filesAt = performance.now();
  const filesCpu = cpuReadingNow();
  process.stdout.write(renderTable(data.report));
  const files = await writeReportFiles(data, out);
  log(`wrote ${files.join(', ')}`);
  const checkAt = performance.now();
  const checkCpu = cpuReadingNow();
  const findings = runFindings({
    acceptedIds: load.orderIds,
    report: data.report,
    ledger: data.ledger,
    lostDeletes,
    // The consumers' timeout as the run deployed them, which a hand-back's deadline is held to.
    functionTimeoutMs,
    // The record budget the consumers' environment gave them, which a hand-back after a stall is
    // held to.
    recordBudgetMs,
    ...(clockSkips ? { clockSkips } : {}),
  });
  const failed = findings.violations;
  // The orders the client got no 202 for, apart from its retries answered wrongly: every one is
  // kept in the output dir, the first few named here with why and what the API said last.
  const givenUp = load.givenUp;
  const lost = notAccepted(givenUp);
  for (const line of await reportGivenUp(givenUp, out)) log(line);
  if (lost.length > 0) {
    failed.push(
      `${lost.length} orders were given up by the client and never accepted by the API (${lost
        .slice(0, GIVEN_UP_NAMED)
        .map((g) => g.idempotencyKey)
        .join(', ')}${lost.length > GIVEN_UP_NAMED ? ', ...' : ''})`,
    );
  }
  if (load.retryMismatches > 0) {
    failed.push(
      `${load.retryMismatches} client retries of accepted orders were not answered 202 with the same order id`,
    );
  }
  // A client retry being tried when the load was cut off: accepted, its retry never answered.
  const unanswered = load.retriesUnanswered ?? 0;
  if (unanswered > 0) {
    failed.push(`${unanswered} client retries were not answered (the API was unreachable)`);
  }
  // Errors none of these accounts for (none, as the load counts them).
  const otherErrors = load.errors - lost.length - load.retryMismatches - unanswered;
  if (otherErrors > 0) failed.push(`${otherErrors} more load errors`);
  // A load cut off (--unreachable-after) did not send what the soak claims to have run, even when
  // every order was accepted first and only planned client retries were left unmade (no error,
  // nothing given up: the check had found nothing and the soak passed).
  const cutOff = cutOffLine(load);
  if (cutOff !== undefined)
    failed.push(`the load was cut off, so the soak did not run it: ${cutOff}`);
  /** The ledger's history of the first orders named, so a rare case can be read from its log. */
  const histories = (lines: readonly string[]) => {
    for (const { queue, orderId } of ordersNamed(lines, 5)) {
      log(`history of ${queue} order ${orderId}:`);
      for (const line of orderHistory(data.ledger, queue, orderId)) log(`    ${line}`);
    }
  };
  if (findings.explainedDlqCopies.length > 0) {
    log(
      "applied orders' copies in a DLQ, where SQS's redrive rule puts them (applied once; nothing to redo):",
    );
    for (const line of findings.explainedDlqCopies) log(`  - ${line}`);
    histories(findings.explainedDlqCopies);
  }
  if (findings.notAttemptedInDlq.length > 0) {
    log(
      'orders in a DLQ never attempted at their last receive (FIFO: handed back behind a failure of their group; either queue: not started, too little time left after a DynamoDB call ran out of time):',
    );
    for (const line of findings.notAttemptedInDlq) log(`  - ${line}`);
    histories(findings.notAttemptedInDlq);
  }
  const endedAt = performance.now();
  const endedCpu = cpuReadingNow();
  if (timings.visibilitySkips !== undefined) {
    log(
      `visibility timeouts skipped on the cloud's clock once nothing was in flight: ${timings.visibilitySkips}; client retries after a lost or refused answer: ${load.backoffRetries}`,
    );
  }
  log(
    phasesLine(timings, {
      startedAt,
      startedCpu,
      endedAt,
      endedCpu,
      after: [
        { name: 'files', ms: checkAt - filesAt, cpu: cpuBetween(filesCpu, checkCpu) },
        { name: 'check', ms: endedAt - checkAt, cpu: cpuBetween(checkCpu, endedCpu) },
      ],
    }).trimEnd(),
  );
  if (failed.length > 0) {
    log(`soak FAILED after ${elapsed()} (seed ${seed}):`);
    for (const f of failed) log(`  - ${f}`);
    histories(failed);
    return 1;
  }
  log(
    `soak passed in ${elapsed()} (seed ${seed}): ${orders} orders, nothing lost, no effect twice, FIFO in order`,
  );
  return 0;
}

if (require.main === module) runMain(() => main());
