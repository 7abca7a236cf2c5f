import os from 'node:os';
import type { Queue } from '../../local/sqs/queue';
import { intOption, parseCommandLine, runMain } from '../../shared/src/cli/args';
import { type Impl, loadImpls } from './impl';

/**
 * `npm run bench:sqs-wake`: what one SendMessage costs the emulator's main thread while long
 * polls wait on a queue full of messages no receive can take: standard, 100,000 delayed
 * messages and 400 long polls; FIFO, 50,000 groups each held by a message in flight and 200
 * long polls. The queue is driven in process, as ReceiveMessage drives it (a woken poll
 * receives in a microtask, and waits again if it got nothing), so the time from the send to the
 * last woken poll's receive is the time the event loop was held. With --before <rev>, the same
 * against that revision's local/sqs, rounds alternated, in one run: read the ratio.
 */

const spec = {
  usage:
    'npm run bench:sqs-wake -- [--before rev] [--rounds n] [--sends n] [--delayed n] [--polls n] [--groups n] [--fifo-polls n]',
  summary:
    'Main-thread time and work per SendMessage with long polls waiting on a queue of delayed messages (standard) or held groups (FIFO).',
  options: {
    before: {
      type: 'string' as const,
      value: '<rev>',
      description: 'also run this git revision of local/sqs, alternated with the working tree',
    },
    rounds: { type: 'string' as const, value: '<n>', description: 'rounds', default: '3' },
    sends: { type: 'string' as const, value: '<n>', description: 'sends a round', default: '20' },
    delayed: {
      type: 'string' as const,
      value: '<n>',
      description: 'delayed messages (standard)',
      default: '100000',
    },
    polls: {
      type: 'string' as const,
      value: '<n>',
      description: 'long polls (standard)',
      default: '400',
    },
    groups: {
      type: 'string' as const,
      value: '<n>',
      description: 'held groups (FIFO)',
      default: '50000',
    },
    'fifo-polls': {
      type: 'string' as const,
      value: '<n>',
      description: 'long polls (FIFO)',
      default: '200',
    },
  },
};

/** Long polls as ReceiveMessage runs them: woken, receive in a microtask; empty, wait again. */
function startPolls(
  impl: Impl,
  q: Queue,
  n: number,
  got: { woken: number; taken: number; stopped: boolean },
) {
  // The revision before this change had no addWaiter: its polls added themselves to `waiters`.
  const add = (w: () => void) =>
    typeof q.addWaiter === 'function' ? q.addWaiter(w) : q.waiters.add(w);
  const remove = (w: () => void) =>
    typeof q.removeWaiter === 'function' ? q.removeWaiter(w) : q.waiters.delete(w);
  for (let i = 0; i < n; i++) {
    const poll = () => {
      remove(poll);
      got.woken++;
      queueMicrotask(() => {
        const copies = q.receive({
          max: 10,
          visibilityTimeout: 30,
          shortPoll: false,
          faults: impl.none,
          dice: impl.dice,
        });
        got.taken += copies.length;
        for (const c of copies) q.delete(c.receipt, impl.none, impl.dice);
        if (!got.stopped) add(poll);
      });
    };
    add(poll);
  }
}

interface Figure {
  ms: number[];
  woken: number;
  visited: number | undefined;
  sends: number;
}

async function measure(
  impl: Impl,
  fifo: boolean,
  opts: { sends: number; delayed: number; polls: number; groups: number; fifoPolls: number },
): Promise<Figure> {
  const q = new impl.Queue(
    fifo ? 'b.fifo' : 'b',
    {},
    '000000000000',
    'us-east-1',
    new impl.Clock(),
  );
  let seq = 0;
  const send = (groupId?: string, delaySeconds?: number) =>
    q.send({
      body: `m${seq}`,
      attributes: {},
      senderId: 'bench',
      ...(fifo ? { groupId, dedupId: `d${seq++}` } : { delaySeconds }),
    });
  if (fifo) {
    // Each group: one message in flight, one behind it.
    for (let g = 0; g < opts.groups; g++) send(`g${g}`);
    const rx = { max: 10, visibilityTimeout: 900, shortPoll: true, faults: impl.none };
    while (q.receive({ ...rx, dice: impl.dice }).length > 0) {}
    for (let g = 0; g < opts.groups; g++) send(`g${g}`);
  } else {
    for (let i = 0; i < opts.delayed; i++) send(undefined, 900);
  }
  const got = { woken: 0, taken: 0, stopped: false };
  startPolls(impl, q, fifo ? opts.fifoPolls : opts.polls, got);
  const work = (q as { work?: { visited: number } }).work;
  const visitedBefore = work?.visited ?? 0;
  const ms: number[] = [];
  for (let i = 0; i < opts.sends; i++) {
    const t0 = performance.now();
    send(fifo ? `new${i}` : undefined, 0);
    // The woken polls' receives run in microtasks: done before this timer's turn.
    await new Promise<void>((r) => setImmediate(r));
    ms.push(performance.now() - t0);
  }
  if (got.taken !== opts.sends) throw new Error(`${impl.name}: took ${got.taken} of ${opts.sends}`);
  const woken = got.woken;
  got.stopped = true;
  q.wake();
  return {
    ms,
    woken,
    visited: work ? work.visited - visitedBefore : undefined,
    sends: opts.sends,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const values = parseCommandLine(spec);
  const opts = {
    rounds: intOption(values, 'rounds', { min: 1, max: 20 })!,
    sends: intOption(values, 'sends', { min: 1, max: 1000 })!,
    delayed: intOption(values, 'delayed', { min: 0, max: 1_000_000 })!,
    polls: intOption(values, 'polls', { min: 1, max: 10_000 })!,
    groups: intOption(values, 'groups', { min: 0, max: 1_000_000 })!,
    fifoPolls: intOption(values, 'fifo-polls', { min: 1, max: 10_000 })!,
  };
  const before = values.before === undefined ? undefined : String(values.before);
  const { impls, cleanup } = await loadImpls(before, 'wake');
  try {
    process.stdout.write(
      `bench:sqs-wake on ${os.cpus().length} cores (${os.cpus()[0]?.model}), node ${process.version}, ${new Date().toISOString()}\n`,
    );
    const results = new Map<string, Figure[]>();
    for (let round = 0; round < opts.rounds; round++) {
      const order = round % 2 === 0 ? impls : [...impls].reverse();
      for (const impl of order) {
        for (const fifo of [false, true]) {
          const f = await measure(impl, fifo, opts);
          const key = `${impl.name}|${fifo ? 'FIFO' : 'standard'}`;
          results.set(key, [...(results.get(key) ?? []), f]);
        }
      }
    }
    const rows = [
      '| code | queue | ms a send (median) | polls woken a send | messages and groups visited a send |',
      '|---|---|---|---|---|',
    ];
    for (const [key, figs] of results) {
      const [name, kind] = key.split('|');
      const ms = median(figs.flatMap((f) => f.ms));
      const sends = figs.reduce((a, f) => a + f.sends, 0);
      const woken = figs.reduce((a, f) => a + f.woken, 0) / sends;
      const visited = figs.every((f) => f.visited !== undefined)
        ? (figs.reduce((a, f) => a + f.visited!, 0) / sends).toFixed(1)
        : 'not counted';
      rows.push(`| ${name} | ${kind} | ${ms.toFixed(2)} | ${woken.toFixed(1)} | ${visited} |`);
    }
    if (impls.length === 2) {
      for (const kind of ['standard', 'FIFO']) {
        const a = median(results.get(`${impls[0]!.name}|${kind}`)!.flatMap((f) => f.ms));
        const b = median(results.get(`${impls[1]!.name}|${kind}`)!.flatMap((f) => f.ms));
        rows.push(`| before / after | ${kind} | ${(a / b).toFixed(0)}x | | |`);
      }
    }
    process.stdout.write(`${rows.join('\n')}\n`);
  } finally {
    cleanup();
  }
}

runMain(main, spec);
