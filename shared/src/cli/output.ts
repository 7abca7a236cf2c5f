/**
 * The reader of stdout or stderr went away: `npm start | head -1`, or a pipe whose other end
 * exited. Each later write then fails with EPIPE, asynchronously. With no listener every failure
 * is an uncaught exception; a last-resort handler that logs it to a stderr that is closed too
 * makes another one, over and over, and an idle process spins. With `watchOutput` installed the
 * failures on both streams are dropped, and the first is reported to the `onOutputClosed`
 * listeners: the reader of a long-running CLI is gone as a closed terminal is gone, so the CLIs
 * stop (shared/src/cli/signals.ts).
 */

let closed = false;
const listeners = new Set<() => void>();
let watching = false;

function failed(): void {
  if (closed) return;
  closed = true;
  for (const listener of [...listeners]) listener();
  listeners.clear();
}

/** Listens for write failures on stdout and stderr, once per process: call it before writing. */
export function watchOutput(): void {
  if (watching) return;
  watching = true;
  process.stdout.on('error', failed);
  process.stderr.on('error', failed);
}

/**
 * Calls `listener` once when a write to stdout or stderr fails, on the next tick if one already
 * has. Returns a function that removes it.
 */
export function onOutputClosed(listener: () => void): () => void {
  watchOutput();
  if (closed) {
    const timer = setImmediate(listener);
    return () => clearImmediate(timer);
  }
  listeners.add(listener);
  return () => listeners.delete(listener);
}
