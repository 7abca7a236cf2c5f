import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { NODE_MEMORY_ENV, NODE_MEMORY_FLAGS } from '../../../local/node-flags';

const ROOT = resolve(__dirname, '../../..');
const scripts = (require(resolve(ROOT, 'package.json')) as { scripts: Record<string, string> })
  .scripts;

/** The scripts that run the local cloud, or a benchmark of what runs in it. */
const LOCAL_CLOUD_SCRIPTS = [
  'start',
  'demo',
  'soak',
  'experiment',
  'bench:sqs',
  'bench:pipeline',
  'bench:report',
];

/**
 * The largest the young generation grows, MiB, in a node started with `flags`: the main
 * thread's, or with `workerCapMb` a worker thread's started with that cap
 * (`resourceLimits.maxYoungGenerationSizeMb`, as the local cloud starts its threads).
 */
function youngGenerationMb(flags: readonly string[], workerCapMb?: number): number {
  // Objects that live a while (a window of 20,000) make V8 grow the young generation to its cap.
  const churn = `
    const v8 = require('node:v8');
    let keep = [];
    let most = 0;
    for (let i = 0; i < 3e6; i++) {
      keep.push({ i, s: 'x' + i });
      if (keep.length > 20000) keep = [];
      if (i % 10000 === 0) {
        const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
        most = Math.max(most, young.space_size);
      }
    }
    const answer = String(most / 1048576);
  `;
  const program =
    workerCapMb === undefined
      ? `${churn} process.stdout.write(answer);`
      : `
    const { Worker } = require('node:worker_threads');
    const code = ${JSON.stringify(`${churn} require('node:worker_threads').parentPort.postMessage(answer);`)};
    new Worker(code, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: ${workerCapMb} } })
      .once('message', (answer) => process.stdout.write(answer));
  `;
  return Number(execFileSync(process.execPath, [...flags, '-e', program], { encoding: 'utf8' }));
}

/** The launcher that starts node with NODE_MEMORY_ENV set (local/launch.cjs). */
const LAUNCHER = 'local/launch.cjs';

/**
 * How many glibc malloc arenas besides the main one a node started with `command` (a script's
 * prefix up to and including `node` and its flags) holds after 8 worker threads each allocated
 * 20,000 small buffers. Each such arena is a 64 MiB mapping aligned on 64 MiB (its used part
 * read-write, the rest reserved), which is how /proc/self/maps shows it.
 */
function mallocArenas(command: string): number {
  const worker = `
    const keep = [];
    for (let i = 0; i < 20000; i++) keep.push(Buffer.alloc(200 + (i % 50)));
    require('node:worker_threads').parentPort.postMessage('allocated');
    setTimeout(() => keep.length, 2000);
  `;
  const program = `
    const { Worker } = require('node:worker_threads');
    let ready = 0;
    const workers = [];
    for (let i = 0; i < 8; i++) {
      const w = new Worker(${JSON.stringify(worker)}, { eval: true });
      workers.push(w);
      w.on('message', () => {
        if (++ready < 8) return;
        const maps = require('node:fs').readFileSync('/proc/self/maps', 'utf8').trim().split('\\n')
          .map((line) => {
            const [range, perms, , , inode] = line.split(/\\s+/);
            const [from, to] = range.split('-').map((x) => BigInt('0x' + x));
            return { from, to, perms, inode };
          });
        const size = 64n << 20n;
        let arenas = 0;
        maps.forEach((m, i) => {
          if (m.inode !== '0' || m.perms !== 'rw-p' || m.from % size !== 0n) return;
          const next = maps[i + 1];
          const end = next && next.from === m.to && next.perms === '---p' ? next.to : m.to;
          if (end - m.from === size) arenas++;
        });
        process.stdout.write(String(arenas));
        for (const x of workers) x.terminate();
      });
    }
  `;
  const dir = mkdtempSync(join(tmpdir(), 'arenas-'));
  try {
    const file = join(dir, 'arenas.js');
    writeFileSync(file, program);
    const [bin, ...args] = command.split(' ');
    if (bin !== 'node') throw new Error(`not a node command: ${command}`);
    // What the caller's environment says about arenas is left out (some hosts and CI images set
    // MALLOC_ARENA_MAX themselves), so only the command decides.
    const env = { ...process.env };
    delete env.MALLOC_ARENA_MAX;
    delete env.GLIBC_TUNABLES;
    return Number(
      execFileSync(process.execPath, [...args, file], { cwd: ROOT, encoding: 'utf8', env }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** glibc's version, or undefined where the C library is another (macOS, Windows, musl). */
const glibc = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header
  .glibcVersionRuntime;

describe('node memory flags', () => {
  it.each(LOCAL_CLOUD_SCRIPTS)(
    'npm run %s starts node through the launcher with them, tsx as its loader',
    (name) => {
      expect(scripts[name]).toMatch(
        new RegExp(`^node ${LAUNCHER} ${NODE_MEMORY_FLAGS.join(' ')} --import tsx [\\w/.-]+\\.ts$`),
      );
    },
  );

  (glibc ? it : it.skip)(
    'reach glibc: a node started as the scripts start it holds at most one extra malloc arena',
    () => {
      // Without the variable the 8 threads get arenas of their own (13 here, 2 cores).
      expect(mallocArenas('node')).toBeGreaterThan(2);
      const prefix = scripts.demo!.slice(0, scripts.demo!.indexOf(' --import'));
      expect(mallocArenas(prefix)).toBeLessThanOrEqual(
        Number(NODE_MEMORY_ENV.MALLOC_ARENA_MAX) - 1,
      );
    },
    60_000,
  );

  // Node 20's V8 keeps a young generation at 1 MiB semi-spaces with the flags (2 MiB here); Node
  // 24's grows its semi-spaces in 256 KiB steps even so (3-4 MiB here, a passing peak of 8.25 seen
  // once in 60 runs). So each bound is a quarter of what the same node grows to without them.
  it('reach V8 in a node started with them: the young generation stays small', () => {
    // Without the flags V8 grows it to 32 MiB here on Node 20 (two 16 MiB semi-spaces), 64 on 24.
    const without = youngGenerationMb([]);
    expect(without).toBeGreaterThanOrEqual(32);
    expect(youngGenerationMb(NODE_MEMORY_FLAGS)).toBeLessThanOrEqual(without / 4);
  }, 60_000);

  it("keep a worker's young generation small too, whatever cap the worker was given", () => {
    // Without the flags a worker's cap is what its young generation grows to. With them V8 keeps
    // every isolate's near its first size: the caps local/function-runtime.ts and
    // local/dynamodb.ts give their workers count only in a node started without them.
    expect(youngGenerationMb([], 64)).toBeGreaterThanOrEqual(64);
    expect(youngGenerationMb(NODE_MEMORY_FLAGS, 64)).toBeLessThanOrEqual(16);
  }, 60_000);
});
