import os from 'node:os';
import type { Queue } from '../../local/sqs/queue';
import { intOption, parseCommandLine, runMain } from '../../shared/src/cli/args';
import { type Impl, loadImpls } from './impl';

/**
 * `npm run bench:sqs-walks`: what
 * GetQueueAttributes' counts, a rate-limited message move task's step and a receive near the
 * in-flight quota cost the emulator's main thread on a queue with many messages in flight. The queue is driven in process, as the actions drive it:
 * - counts: `counts()` on a standard queue of --messages, half of them in flight;
 * - drain: `drainAvailable(1)` as a task with a rate calls it, one step a message, past
 *   --messages in flight before 1,000 to move;
 * - quota: a receive of one message and its delete, with the quota (--quota) all but 5 held.
 * With --before <rev>, the same against that revision's local/sqs, rounds alternated, in one run:
 * read the ratio.
 */

const spec = {
  usage: 'npm run bench:sqs-walks -- [--before rev] [--rounds n] [--messages n] [--quota n]',
  summary:
    'Main-thread time of GetQueueAttributes counts, a move-task step and a receive near the in-flight quota.',
  options: {
    before: {
      type: 'string' as const,
      value: '<rev>',
      description: 'also run this git revision of local/sqs, alternated with the working tree',
    },
    rounds: { type: 'string' as const, value: '<n>', description: 'rounds', default: '3' },
    messages: {
      type: 'string' as const,
      value: '<n>',
      description: 'messages (counts: half in flight; drain: in flight before 1,000)',
      default: '100000',
    },
    quota: {
      type: 'string' as const,
      value: '<n>',
      description: 'in-flight quota for the quota scenario',
      default: '120000',
    },
  },
};

const SCENARIOS = ['counts', 'drain', 'quota'] as const;
type Scenario = (typeof SCENARIOS)[number];

/** A queue of `n` messages with the first `held` in flight for an hour. */
function filled(impl: Impl, n: number, held: number): Queue {
  const q = new impl.Queue('b', {}, '000000000000', 'us-east-1', new impl.Clock());
  for (let i = 0; i < n; i++) q.send({ body: `m${i}`, attributes: {}, senderId: 'bench' });
  for (let got = 0; got < held; ) {
    got += q.receive({
      max: Math.min(10, held - got),
      visibilityTimeout: 3600,
      shortPoll: false,
      faults: impl.none,
      dice: impl.dice,
    }).length;
  }
  return q;
}

/** Milliseconds per operation, one figure per operation. */
function measure(impl: Impl, scenario: Scenario, opts: { messages: number; quota: number }) {
  const ms: number[] = [];
  const time = (f: () => void) => {
    const t0 = performance.now();
    f();
    ms.push(performance.now() - t0);
  };
  if (scenario === 'counts') {
    const q = filled(impl, opts.messages, opts.messages / 2);
    for (let i = 0; i < 50; i++) time(() => q.counts());
  } else if (scenario === 'drain') {
    const q = filled(impl, opts.messages + 1000, opts.messages);
    for (let i = 0; i < 1000; i++) {
      time(() => {
        if (q.drainAvailable(1).length !== 1) throw new Error(`${impl.name}: drain found none`);
      });
    }
  } else {
    const q = filled(impl, opts.quota + 1000, opts.quota - 5);
    for (let i = 0; i < 200; i++) {
      time(() => {
        const [c] = q.receive({
          max: 1,
          visibilityTimeout: 30,
          shortPoll: true,
          faults: impl.none,
          dice: impl.dice,
          maxInFlight: opts.quota,
        });
        if (!c) throw new Error(`${impl.name}: receive took none`);
        q.delete(c.receipt, impl.none, impl.dice);
      });
    }
  }
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const values = parseCommandLine(spec);
  const opts = {
    rounds: intOption(values, 'rounds', { min: 1, max: 20 })!,
    messages: intOption(values, 'messages', { min: 2, max: 1_000_000 })!,
    quota: intOption(values, 'quota', { min: 10, max: 1_000_000 })!,
  };
  const before = values.before === undefined ? undefined : String(values.before);
  const { impls, cleanup } = await loadImpls(before, 'walks');
  try {
    process.stdout.write(
      `bench/sqs/walks.ts on ${os.cpus().length} cores (${os.cpus()[0]?.model}), node ${process.version}, ${new Date().toISOString()}, ${opts.messages} messages, quota ${opts.quota}\n`,
    );
    const results = new Map<string, number[]>();
    for (let round = 0; round < opts.rounds; round++) {
      const order = round % 2 === 0 ? impls : [...impls].reverse();
      for (const impl of order) {
        for (const scenario of SCENARIOS) {
          const key = `${impl.name}|${scenario}`;
          results.set(key, [...(results.get(key) ?? []), ...measure(impl, scenario, opts)]);
        }
      }
    }
    const head = impls.map((i) => `median ms, ${i.name}`).join(' | ');
    const rows = [
      `| operation | ${head} |${impls.length === 2 ? ' before / after |' : ''}`,
      `|---|${impls.map(() => '---:').join('|')}|${impls.length === 2 ? '---:|' : ''}`,
    ];
    for (const scenario of SCENARIOS) {
      const m = impls.map((i) => median(results.get(`${i.name}|${scenario}`)!));
      const ratio = m.length === 2 ? ` ${(m[0]! / m[1]!).toFixed(0)}x |` : '';
      rows.push(`| ${scenario} | ${m.map((x) => x.toFixed(4)).join(' | ')} |${ratio}`);
    }
    process.stdout.write(`${rows.join('\n')}\n`);
  } finally {
    cleanup();
  }
}

runMain(main, spec);
