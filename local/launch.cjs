'use strict';
/**
 * `node local/launch.cjs <node arguments...>`: starts node with those arguments, untouched, in
 * this environment plus MALLOC_ARENA_MAX=2 (unless the caller set it), on Node 20 with V8's
 * `--interrupt-budget=270336` in front of them (below), with TSX_DISABLE_CACHE=1 when tsx's cache
 * directory in the temp directory cannot be made (below), and ends as the child ended. The npm
 * scripts that run the local cloud start through it (local/node-flags.ts says why). glibc reads
 * the variable when a process starts, so it takes a second process; this one holds about 7 MB of
 * its own (the node binary's pages are shared with the child).
 *
 * - Arguments reach the child byte for byte: quotes, backslashes, `$` and empty strings.
 * - SIGINT, SIGTERM and SIGHUP sent to this process alone are passed on, and this process waits
 *   for the child however long it takes. (Ctrl-C reaches both anyway: the child's CLIs ignore
 *   the copy that arrives within 2 s.) SIGKILL cannot be passed on, so the child learns of it
 *   another way: this process's pid is in its LAB_LAUNCHER_PID, and the CLIs that serve until
 *   stopped (local/cli.ts, the demo's --live) stop when their parent is no longer this process
 *   (shared/src/cli/signals.ts; Linux and macOS). Only this process is watched: SIGKILL to npm or
 *   its shell alone leaves this one running.
 * - The child's exit code is this process's; a child ended by a signal ends this process by the
 *   same signal, so a shell or npm sees 130, 137 or 143 as it would have.
 *
 * Plain CommonJS, no TypeScript: it runs before any loader and loads nothing but node's own.
 */
const { spawn } = require('node:child_process');
const { mkdirSync } = require('node:fs');
const { constants, tmpdir, userInfo } = require('node:os');
const { join } = require('node:path');

const ENV = { MALLOC_ARENA_MAX: '2' };

// Later optimisation on Node 20: V8 counts 4x the default interrupt budget (67,584 bytes of
// bytecode run) before it considers a function hot enough for TurboFan, so each of the cloud's
// 16 isolates optimises only what stays hot, not every SDK function that runs a few dozen
// times, and V8's helper threads compile less. The process spent 0.86-0.89x the CPU per order
// in bench:pipeline, the demo 0.90-0.99x (docs/benchmarks.md, issue 13). Only on the V8 it was
// measured on: Node 22 and later tier up through Maglev, and Node 24's V8 rejects the flag
// (`bad option`), so they start as before. A flag of node's command line, so it reaches every
// worker's isolate too.
const V8_FLAGS = process.versions.node.split('.')[0] === '20' ? ['--interrupt-budget=270336'] : [];
const RELAYED = ['SIGINT', 'SIGTERM', 'SIGHUP'];

const env = { ...process.env, LAB_LAUNCHER_PID: String(process.pid) };
for (const [name, value] of Object.entries(ENV)) if (env[name] === undefined) env[name] = value;

// tsx, which every script started here runs through, keeps its cache in tsx-<uid> under the temp
// directory and makes it with mkdirSync when it compiles the first file: with a TMPDIR that
// cannot be written (a read-only mount) node ended there, on a stack trace and before any of the
// project's code ran, unless TSX_DISABLE_CACHE was set. The same directory is made here, as tsx
// would (one mkdir; the child's os.tmpdir() reads the same environment), and when that fails
// tsx is told to keep its cache in memory: it then compiles each file it loads, every start.
if (env.TSX_DISABLE_CACHE === undefined) {
  const uid = process.geteuid ? process.geteuid() : userInfo().username;
  try {
    mkdirSync(join(tmpdir(), `tsx-${uid}`), { recursive: true });
  } catch {
    env.TSX_DISABLE_CACHE = '1';
  }
}

// The relays are in place before node starts, so a signal that comes while it starts is not met
// by the default action (this process ended, node left running). A relay only ever runs from the
// event loop, after the synchronous spawn below has set `child`.
let child;
const relays = RELAYED.map((signal) => [signal, () => child.kill(signal)]);
for (const [signal, relay] of relays) process.on(signal, relay);
child = spawn(process.execPath, [...V8_FLAGS, ...process.argv.slice(2)], { stdio: 'inherit', env });
child.on('error', (err) => {
  process.stderr.write(`error: could not start node: ${err.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  for (const [name, relay] of relays) process.off(name, relay);
  if (!signal) process.exit(code ?? 1);
  process.kill(process.pid, signal);
  // A signal that does not end a node process (SIGPIPE, SIGUSR1): the shell's code for it.
  process.exit(128 + (constants.signals[signal] ?? 0));
});
