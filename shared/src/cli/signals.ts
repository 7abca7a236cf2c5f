import { constants } from 'node:os';

/**
 * A repeat of a stop signal within this long of the first is the same request delivered again:
 * Ctrl-C and a process manager signal every process of the group, and the npm scripts' launcher
 * (local/launch.cjs) passes its copy on to node as well, so one Ctrl-C reaches the CLI twice
 * within milliseconds.
 */
export const REPEAT_SIGNAL_MS = 2000;

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Calls `onStop` on the first SIGINT, SIGTERM or SIGHUP (the terminal closed). Repeats within
 * REPEAT_SIGNAL_MS are ignored; a later one means "stop now": `onForce` runs (the caller says so
 * on stderr) and the process exits as a shell reports that signal (128 + its number: 130 for
 * SIGINT, 143 for SIGTERM). Returns a function that removes the handlers.
 */
export function onStopSignal(
  onStop: (signal: NodeJS.Signals) => void,
  onForce: (signal: NodeJS.Signals) => void = () => {},
): () => void {
  let stoppingSince = 0;
  const handler = (signal: NodeJS.Signals) => {
    if (stoppingSince === 0) {
      stoppingSince = Date.now();
      onStop(signal);
    } else if (Date.now() - stoppingSince >= REPEAT_SIGNAL_MS) {
      onForce(signal);
      process.exit(128 + (constants.signals[signal] ?? 2));
    }
  };
  for (const signal of STOP_SIGNALS) process.on(signal, handler);
  return () => {
    for (const signal of STOP_SIGNALS) process.off(signal, handler);
  };
}
