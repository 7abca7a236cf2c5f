import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { Latch } from './latch';
import { onOutputClosed } from './output';

/**
 * A repeat of a stop signal within this long of the first is the same request delivered again:
 * Ctrl-C and a process manager signal every process of the group, and the npm scripts' launcher
 * (local/launch.cjs) passes its copy on to node as well, so one Ctrl-C reaches the CLI twice
 * within milliseconds.
 */
export const REPEAT_SIGNAL_MS = 2000;

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * The npm scripts' launcher (local/launch.cjs) puts its own pid in this variable for the node it
 * starts. SIGKILL cannot be passed on, so a launcher killed alone would leave that node running
 * (the local cloud holding its ports); the node watches instead, from the moment this module is
 * loaded, and counts the launcher gone once its parent is another process.
 */
export const LAUNCHER_PID_ENV = 'LAB_LAUNCHER_PID';
/** How often a launched process checks that its launcher is still its parent. */
export const LAUNCHER_CHECK_MS = 500;
/**
 * A stop that no one can hurry any more (the launcher or the output's reader is gone, so no
 * second signal will come) ends the process after this long, whatever is still running.
 */
export const UNATTENDED_STOP_MS = 30_000;

const launcherGone = new Latch();

/**
 * Starts the watch, once, when the first module that asks is loaded. The variable is read and
 * removed at once, so a node this process starts never takes the launcher for its own parent;
 * a launcher already gone by then (killed while node started) is seen at the first check.
 */
function watchLauncher(): void {
  const launcher = process.env[LAUNCHER_PID_ENV];
  if (launcher === undefined) return;
  delete process.env[LAUNCHER_PID_ENV];
  // Not the launcher's child, yet the launcher runs: a node started by a node it started
  // (`node --watch`'s parent does not load this module). That one is not watched.
  if (String(process.ppid) !== launcher && running(Number(launcher))) return;
  const check = () => {
    if (String(process.ppid) === launcher) return;
    clearInterval(timer);
    launcherGone.fire();
  };
  const timer = setInterval(check, LAUNCHER_CHECK_MS).unref();
  check();
}
watchLauncher();

/** Whether a process with this pid runs (a zombie, dead and not yet reaped, does not: Linux). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: a process with that pid exists, not ours to signal.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch (err) {
    // Gone since the signal; or no /proc (macOS), where the signal's answer stands.
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/**
 * Why the process is asked to stop: a signal, its launcher ended without passing one on, or the
 * reader of its stdout or stderr went away (shared/src/cli/output.ts).
 */
export type StopReason = NodeJS.Signals | 'launcher gone' | 'output closed';

/**
 * Calls `onStop` on the first SIGINT, SIGTERM or SIGHUP (the terminal closed), when the launcher
 * that started this process is gone (LAUNCHER_PID_ENV; Linux and macOS, where an orphan's parent
 * changes; at once if it went before this call), or when stdout or stderr can no longer be
 * written (its reader exited). Repeats within REPEAT_SIGNAL_MS are ignored; a later signal means
 * "stop now": `onForce` runs (the caller says so on stderr) and the process exits as a shell
 * reports that signal (128 + its number: 130 for SIGINT, 143 for SIGTERM). A stop for a reason
 * other than a signal ends the process with exit code 1 if it is still running after
 * UNATTENDED_STOP_MS. Returns a function that removes the handlers.
 */
export function onStopSignal(
  onStop: (reason: StopReason) => void,
  onForce: (signal: NodeJS.Signals) => void = () => {},
): () => void {
  let stoppingSince = 0;
  let deadline: NodeJS.Timeout | undefined;
  const handler = (reason: StopReason) => {
    // Whoever could send a second signal is gone, whether the stop began with this reason or
    // with a signal before it (SIGTERM to the launcher, then SIGKILL): bound the stop.
    if (!isSignal(reason) && deadline === undefined) {
      deadline = setTimeout(() => {
        process.stderr.write(`${reason}: not stopped after ${UNATTENDED_STOP_MS} ms, exiting\n`);
        process.exit(1);
      }, UNATTENDED_STOP_MS).unref();
    }
    if (stoppingSince === 0) {
      stoppingSince = Date.now();
      onStop(reason);
    } else if (isSignal(reason) && Date.now() - stoppingSince >= REPEAT_SIGNAL_MS) {
      onForce(reason);
      process.exit(128 + (constants.signals[reason] ?? 2));
    }
  };
  for (const signal of STOP_SIGNALS) process.on(signal, handler);
  const releaseOutput = onOutputClosed(() => handler('output closed'));
  const releaseLauncher = launcherGone.on(() => handler('launcher gone'));
  return () => {
    for (const signal of STOP_SIGNALS) process.off(signal, handler);
    releaseOutput();
    releaseLauncher();
    clearTimeout(deadline);
  };
}

function isSignal(reason: StopReason): reason is NodeJS.Signals {
  return (STOP_SIGNALS as readonly string[]).includes(reason);
}
