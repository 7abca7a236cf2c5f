import { Latch } from './latch';

/**
 * Writes to stdout or stderr that fail. Two kinds, told apart by the error:
 * - EPIPE: the reader went away (`npm start | head -1`, a pipe whose other end exited). The
 *   output was declined, not lost: later writes are dropped, the run goes on (a demo still writes
 *   its report files) and its exit code is its own. A long-running CLI stops, as when its terminal
 *   closes (shared/src/cli/signals.ts).
 * - Anything else (ENOSPC on a full disk, EIO): output was lost. It is said once on the other
 *   stream, and the process exits 1 however its run ended.
 * Without a listener each failure is an uncaught exception: a stack trace and exit 1 for a
 * finished demo whose reader only wanted its first line, and, in the local cloud, a last-resort
 * handler that logs it to a stderr that is closed too makes another one, over and over, so an
 * idle process spins.
 */

const closed = new Latch();
const failedStreams = new Set<'stdout' | 'stderr'>();
let lost: string | undefined;
let watching = false;

function failed(stream: 'stdout' | 'stderr') {
  return (err: NodeJS.ErrnoException) => {
    failedStreams.add(stream);
    if (err.code !== 'EPIPE' && lost === undefined) {
      lost = `could not write to ${stream}: ${err.message}`;
      process.exitCode = 1;
      if (stream === 'stdout') process.stderr.write(`error: ${lost}\n`);
    }
    closed.fire();
  };
}

/**
 * Listens for write failures on stdout and stderr, once per process (runMain does it before a
 * CLI's main runs).
 */
export function watchOutput(): void {
  if (watching) return;
  watching = true;
  process.stdout.on('error', failed('stdout'));
  process.stderr.on('error', failed('stderr'));
}

/** Output lost for a reason other than its reader going away, if any: the run must not exit 0. */
export function outputLost(): string | undefined {
  return lost;
}

/**
 * Whether a write to `stream` has failed (its reader gone, or its output lost): what is written
 * to it now reaches no one, so a line that must be seen goes to the other stream.
 */
export function writeFailed(stream: 'stdout' | 'stderr'): boolean {
  return failedStreams.has(stream);
}

/**
 * Calls `listener` once when a write to stdout or stderr fails, on the next tick if one already
 * has. Returns a function that removes it.
 */
export function onOutputClosed(listener: () => void): () => void {
  watchOutput();
  return closed.on(listener);
}
