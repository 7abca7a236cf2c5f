import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import os from 'node:os';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { NODE_MEMORY_ENV, NODE_MEMORY_FLAGS } from '../../local/node-flags';
import {
  CliError,
  type CommandSpec,
  intOption,
  parseCommandLine,
  runMain,
  UsageError,
} from '../../shared/src/cli/args';

/**
 * `npm run bench:sqs`: the same SDK client against four SQS servers, rounds alternated, in one
 * run. Per phase: messages per second, and the server process's own CPU per message (the SDK
 * client is the bottleneck on this machine, so only CPU per message tells the servers apart).
 */

const SERVERS = ['noop', 'ours', 'fauxqs', 'local-aws-sqs'] as const;
type ServerKind = (typeof SERVERS)[number];
const TICKS_PER_SECOND = 100; // Linux USER_HZ, what /proc/<pid>/stat counts in
const BODY = 'x'.repeat(1024);

export const SPEC: CommandSpec = {
  usage: 'npm run bench:sqs -- [--rounds n] [--messages n] [--memory-messages n] [--servers list]',
  summary:
    'SendMessage x1, x16 and drain on standard and FIFO queues against our emulator, fauxqs, local-aws-sqs and a no-op server.',
  options: {
    rounds: {
      type: 'string' as const,
      value: '<n>',
      description: 'rounds, servers alternated within each',
      default: '3',
    },
    messages: {
      type: 'string' as const,
      value: '<n>',
      description: 'messages per phase',
      default: '2000',
    },
    servers: {
      type: 'string' as const,
      value: '<list>',
      description: `servers to run, comma-separated (ratios need noop and fauxqs): ${SERVERS.join(',')}`,
      default: SERVERS.join(','),
    },
    'memory-messages': {
      type: 'string' as const,
      value: '<n>',
      description: '1 KiB messages queued for the RSS figure (0 skips)',
      default: '100000',
    },
  },
};

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

async function startServer(
  kind: ServerKind,
): Promise<{ child: ChildProcess; pid: number; url: string }> {
  // BENCH_SQS_PROFILE=<dir>: each server process writes a V8 CPU profile there (node --cpu-prof).
  // One file per thread (tsx's module hooks run on their own thread), named by node with the
  // pid and thread id: the server's profile is the big one.
  const profile = process.env.BENCH_SQS_PROFILE
    ? [
        '--cpu-prof',
        `--cpu-prof-dir=${process.env.BENCH_SQS_PROFILE}/${kind}`,
        // The default 1 ms sampling gives only a few hundred samples per phase here.
        '--cpu-prof-interval=100',
      ]
    : [];
  // Every server starts with the node flags and environment `npm start` runs our emulator with:
  // the servers are compared under the same V8 and malloc settings, ours as users run it.
  const child = spawn(
    process.execPath,
    [...NODE_MEMORY_FLAGS, ...profile, '--import', 'tsx', 'bench/sqs/server.ts', kind],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      // As the scripts' launcher does: the caller's own setting wins.
      env: { ...NODE_MEMORY_ENV, ...process.env },
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code}`)));
  });
  return { child, pid: child.pid!, url: `http://127.0.0.1:${port}` };
}

function client(url: string): SQSClient {
  return new SQSClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler({
      httpAgent: new Agent({ keepAlive: true, maxSockets: 32 }),
    }),
  });
}

interface Figure {
  perSec: number;
  cpuUsPerMsg: number;
}

async function measure(pid: number, messages: number, work: () => Promise<void>): Promise<Figure> {
  const t0 = cpuTicks(pid);
  const start = process.hrtime.bigint();
  await work();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpuSeconds = (cpuTicks(pid) - t0) / TICKS_PER_SECOND;
  return { perSec: messages / seconds, cpuUsPerMsg: (cpuSeconds * 1e6) / messages };
}

async function phases(
  kind: ServerKind,
  url: string,
  pid: number,
  n: number,
  fifo: boolean,
  round: number,
): Promise<Record<string, Figure>> {
  const sqs = client(url);
  const name = `bench-${round}-${fifo ? 'f' : 's'}${fifo ? '.fifo' : ''}`;
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({ QueueName: name, Attributes: fifo ? { FifoQueue: 'true' } : {} }),
  );
  let seq = 0;
  const sendOne = () =>
    sqs.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: BODY,
        ...(fifo
          ? { MessageGroupId: `g${seq % 100}`, MessageDeduplicationId: `d${round}-${seq++}` }
          : {}),
      }),
    );
  const send1 = await measure(pid, n, async () => {
    for (let i = 0; i < n; i++) await sendOne();
  });
  const send16 = await measure(pid, n, async () => {
    let left = n;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (left-- > 0) await sendOne();
      }),
    );
  });
  // The two send phases left 2n messages queued; drain n of them plus whatever the server holds.
  const drain = await measure(pid, n, async () => {
    let got = 0;
    let empties = 0;
    while (got < n && empties < 5) {
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          VisibilityTimeout: 60,
        }),
      );
      const msgs = out.Messages ?? [];
      if (!msgs.length) {
        empties++;
        continue;
      }
      got += msgs.length;
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl,
          Entries: msgs.map((m, i) => ({ Id: `e${i}`, ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
    if (got < n) throw new CliError(`${kind}: drained only ${got} of ${n} messages`);
  });
  sqs.destroy();
  return { 'send x1': send1, 'send x16': send16, drain };
}

async function memory(kind: ServerKind, count: number): Promise<number | undefined> {
  if (count === 0 || kind === 'noop') return undefined;
  const server = await startServer(kind);
  try {
    const sqs = client(server.url);
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'memory' }));
    await new Promise((r) => setTimeout(r, 300));
    const before = rssKiB(server.pid);
    let left = count;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (left > 0) {
          const k = Math.min(10, left);
          left -= k;
          await sqs.send(
            new SendMessageBatchCommand({
              QueueUrl,
              Entries: Array.from({ length: k }, (_, i) => ({ Id: `e${i}`, MessageBody: BODY })),
            }),
          );
        }
      }),
    );
    global.gc?.();
    await new Promise((r) => setTimeout(r, 500));
    sqs.destroy();
    return ((rssKiB(server.pid) - before) * 1024) / count;
  } finally {
    server.child.kill();
  }
}

async function main(): Promise<void> {
  const values = parseCommandLine(SPEC);
  const rounds = intOption(values, 'rounds', { min: 1, max: 20 })!;
  const n = intOption(values, 'messages', { min: 100, max: 100_000 })!;
  const memN = intOption(values, 'memory-messages', { min: 0, max: 1_000_000 })!;
  const chosen = String(values.servers)
    .split(',')
    .map((x) => x.trim());
  const unknown = chosen.filter((k) => !(SERVERS as readonly string[]).includes(k));
  if (unknown.length > 0)
    throw new UsageError(`--servers: unknown ${unknown.join(', ')}; use ${SERVERS.join(',')}`);
  const servers = SERVERS.filter((k) => chosen.includes(k));
  process.stdout.write(
    `bench:sqs on ${os.cpus().length} cores (${os.cpus()[0]?.model}), node ${process.version}, ${new Date().toISOString()}\n`,
  );
  const results = new Map<string, Figure[]>();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    for (const kind of order) {
      const server = await startServer(kind);
      try {
        for (const fifo of [false, true]) {
          const figs = await phases(kind, server.url, server.pid, n, fifo, round);
          for (const [phase, f] of Object.entries(figs)) {
            const key = `${kind}|${fifo ? 'fifo' : 'standard'}|${phase}`;
            results.set(key, [...(results.get(key) ?? []), f]);
          }
        }
        process.stdout.write(`round ${round + 1}/${rounds}: ${kind} done\n`);
      } finally {
        server.child.kill();
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const lines = [
    '| queue | phase | server | msgs/s | % of no-op | server CPU µs/msg | vs fauxqs CPU |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const queue of ['standard', 'fifo']) {
    for (const phase of ['send x1', 'send x16', 'drain']) {
      const get = (k: ServerKind) => results.get(`${k}|${queue}|${phase}`) ?? [];
      const noop = median(get('noop').map((f) => f.perSec));
      const faux = median(get('fauxqs').map((f) => f.cpuUsPerMsg));
      for (const kind of servers) {
        const perSec = median(get(kind).map((f) => f.perSec));
        const cpu = median(get(kind).map((f) => f.cpuUsPerMsg));
        lines.push(
          `| ${queue} | ${phase} | ${kind} | ${perSec.toFixed(0)} | ${((100 * perSec) / noop).toFixed(0)}% | ${cpu.toFixed(0)} | ${kind === 'noop' ? '' : (cpu / faux).toFixed(2)} |`,
        );
      }
    }
  }
  process.stdout.write(
    `\nmedians of ${rounds} rounds, ${n} messages of 1 KiB per phase\n${lines.join('\n')}\n`,
  );
  if (memN > 0) {
    const mem = [
      '',
      `RSS growth per queued 1 KiB message (${memN} messages):`,
      '| server | bytes/msg |',
      '|---|---|',
    ];
    for (const kind of servers.filter((k) => k !== 'noop')) {
      const b = await memory(kind, memN);
      mem.push(`| ${kind} | ${b?.toFixed(0) ?? 'n/a'} |`);
    }
    process.stdout.write(`${mem.join('\n')}\n`);
  }
}

if (require.main === module) runMain(main, SPEC);
