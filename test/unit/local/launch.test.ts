import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { NODE_MEMORY_ENV } from '../../../local/node-flags';

const LAUNCHER = resolve(__dirname, '../../../local/launch.cjs');
const SIGNALS = resolve(__dirname, '../../../shared/src/cli/signals.ts');
const REQUIRE_SIGNALS = `const { onStopSignal } = require(${JSON.stringify(SIGNALS)});`;
const ASK = "onStopSignal((reason) => { console.log('stopping: ' + reason); process.exit(0); });";

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
}

/** `node local/launch.cjs <args>`; `whenStarted` runs once the child has written a line. */
function launch(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  whenStarted?: (launcherPid: number) => void,
): Promise<Ended> {
  return new Promise((done, fail) => {
    const proc = spawn(process.execPath, [LAUNCHER, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    let started = false;
    proc.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!started && stdout.includes('\n')) {
        started = true;
        whenStarted?.(proc.pid!);
      }
    });
    proc.on('error', fail);
    // 'exit', not 'close': a child left running (a launcher that did not pass the signal on)
    // would hold the pipe open; its own timer ends it within 10 s.
    proc.on('exit', (code, signal) => setTimeout(() => done({ code, signal, stdout }), 50));
  });
}

describe('local/launch.cjs', () => {
  it('passes every argument on byte for byte, and sets MALLOC_ARENA_MAX=2 unless the caller did', async () => {
    const odd = ["it's", 'a\\$b', '', '\\\\host\\share', '{"a":"b\\n"}', '$HOME', 'x y'];
    const print =
      'console.log(JSON.stringify([process.argv.slice(1), process.env.MALLOC_ARENA_MAX]))';
    const env = { ...process.env };
    delete env.MALLOC_ARENA_MAX;
    const set = await launch(['-e', print, '--', ...odd], env);
    expect(JSON.parse(set.stdout)).toEqual([odd, NODE_MEMORY_ENV.MALLOC_ARENA_MAX]);
    const kept = await launch(['-e', print, '--', 'x'], { ...env, MALLOC_ARENA_MAX: '7' });
    expect(JSON.parse(kept.stdout)).toEqual([['x'], '7']);
  });

  // A function with a loop, called until TurboFan has optimised it (bit 6 of V8's optimisation
  // status, the same on Node 20 and 24); with compilation on the calling thread, so the count
  // is V8's budget and not a race with a helper thread.
  const CALLS_TO_TURBOFAN = `
    function hot(a) { let s = 0; for (let i = 0; i < 50; i++) s += (a * i) % 7; return s; }
    let calls = 0;
    while (calls < 1e6 && (%GetOptimizationStatus(hot) & 64) === 0) hot(calls++);
    console.log(JSON.stringify({ calls, flags: process.execArgv.slice(0, process.execArgv.indexOf('-e')) }));
  `;
  const callsToTurbofan = async (via: 'launcher' | 'plain node') => {
    const args = [
      '--allow-natives-syntax',
      '--no-concurrent-recompilation',
      '-e',
      CALLS_TO_TURBOFAN,
    ];
    if (via === 'launcher') return JSON.parse((await launch(args)).stdout);
    const plain = spawnSync(process.execPath, args, { encoding: 'utf8' });
    return JSON.parse(plain.stdout);
  };

  (process.versions.node.split('.')[0] === '20' ? it : it.skip)(
    'on Node 20 starts node with --interrupt-budget=270336 ahead of the arguments, and V8 optimises later',
    async () => {
      const plain = await callsToTurbofan('plain node');
      const launched = await callsToTurbofan('launcher');
      expect(launched.flags).toEqual([
        '--interrupt-budget=270336',
        '--allow-natives-syntax',
        '--no-concurrent-recompilation',
      ]);
      // 45 and 175 calls here: 4x the budget, less the calls before the first tick.
      expect(launched.calls).toBeGreaterThanOrEqual(3 * plain.calls);
    },
  );

  (process.versions.node.split('.')[0] === '20' ? it.skip : it)(
    'on Node 22 and later adds no V8 flag (Node 24 rejects --interrupt-budget)',
    async () => {
      const launched = await callsToTurbofan('launcher');
      expect(launched.flags).toEqual(['--allow-natives-syntax', '--no-concurrent-recompilation']);
    },
  );

  it('runs a tsx script with a temp directory nothing can be written in: tsx is told to keep its cache in memory', async () => {
    // Prepare: TMPDIR under a regular file, so every mkdir in it fails (ENOTDIR), as root too.
    // tsx made its cache directory there when it compiled the script, and node ended on a stack
    // trace before the script ran.
    const dir = mkdtempSync(join(tmpdir(), 'launch-tmpdir-'));
    try {
      writeFileSync(join(dir, 'file'), '');
      const script = join(dir, 'script.ts');
      writeFileSync(
        script,
        'const n: number = 6 * 7;\nconsole.log(JSON.stringify([n, process.env.TSX_DISABLE_CACHE ?? null]));\n',
      );
      const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: join(dir, 'file', 'tmp') };
      delete env.TSX_DISABLE_CACHE;

      // Act
      const unwritable = await launch(['--import', 'tsx', script], env);
      const writable = await launch(['--import', 'tsx', script], { ...env, TMPDIR: dir });

      // Assess: the script ran; only where the cache cannot be made is it turned off.
      expect(unwritable.code).toBe(0);
      expect(JSON.parse(unwritable.stdout)).toEqual([42, '1']);
      expect(writable.code).toBe(0);
      expect(JSON.parse(writable.stdout)).toEqual([42, null]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ends as the child ended: its exit code, or the signal that ended it', async () => {
    expect((await launch(['-e', 'process.exit(3)'])).code).toBe(3);
    const killed = await launch(['-e', "process.kill(process.pid, 'SIGKILL')"]);
    expect(killed).toMatchObject({ code: null, signal: 'SIGKILL' });
  });

  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)(
    'passes %s sent to it alone on to the child and waits for it to stop',
    async (signal) => {
      // The child takes the signal as the CLIs do (stops, then exits 0) after 300 ms of work.
      const child = `
        process.on('${signal}', (s) => setTimeout(() => { console.log('stopped on ' + s); process.exit(0); }, 300));
        console.log('ready');
        setTimeout(() => process.exit(9), 10000);
      `;
      const ended = await launch(['-e', child], process.env, (pid) => process.kill(pid, signal));
      expect(ended.stdout).toBe(`ready\nstopped on ${signal}\n`);
      expect(ended).toMatchObject({ code: 0, signal: null });
    },
  );

  it('ends by the same signal when the child does not handle it', async () => {
    const ended = await launch(
      ['-e', "console.log('ready'); setTimeout(() => process.exit(9), 10000)"],
      process.env,
      (pid) => process.kill(pid, 'SIGTERM'),
    );
    expect(ended).toMatchObject({ code: null, signal: 'SIGTERM' });
  });

  // SIGKILL cannot be passed on; the child sees its parent change and stops (as on SIGTERM). The launcher is
  // killed once the child has written `ready`: while it asks to be told of a stop, before it has
  // loaded the module that watches (as while node loads the cloud), or after loading it but before
  // asking (the demo's --live asks only after its run).
  it.each([
    ['asking', `${REQUIRE_SIGNALS} ${ASK}; console.log('ready');`],
    [
      'not yet loaded',
      `console.log('ready'); setTimeout(() => { ${REQUIRE_SIGNALS} ${ASK} }, 1500);`,
    ],
    [
      'loaded, not yet asking',
      `${REQUIRE_SIGNALS} console.log('ready'); setTimeout(() => { ${ASK} }, 1500);`,
    ],
  ])(
    'a child that stops on signals (shared/src/cli/signals.ts) stops when the launcher alone is killed with SIGKILL, the child %s',
    async (_, child) => {
      const proc = spawn(
        process.execPath,
        [LAUNCHER, '--import', 'tsx', '-e', `${child} setTimeout(() => process.exit(9), 10000);`],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let stdout = '';
      proc.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout === 'ready\n') proc.kill('SIGKILL');
      });
      // The pipe closes when the last process holding it, the child, has exited.
      await new Promise((done) => proc.stdout.on('close', done));
      expect(proc.signalCode).toBe('SIGKILL');
      expect(stdout).toBe('ready\nstopping: launcher gone\n');
    },
    20_000,
  );
});
