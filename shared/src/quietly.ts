/** What a step run quietly needs of a logger. */
export interface WarnLog {
  warn(message: string, data: Record<string, unknown>): void;
}

/**
 * Writes a warning where a logger that throws must not change what happens next (a batch's
 * answer, a mark still to write): what the logger throws is let be, as nothing is left to tell
 * it with.
 */
export function warnQuietly(log: WarnLog, message: string, data: Record<string, unknown>): void {
  try {
    log.warn(message, data);
  } catch {
    // Nothing is left to tell it with.
  }
}

/**
 * Runs a step that must not change what happens next (a metric, a log line, tracing
 * bookkeeping): what it throws is logged as a warning under `what`, with `data` and the error's
 * message, and a logger that throws there too is let be.
 */
export function quietly(
  log: WarnLog,
  what: string,
  data: Record<string, unknown>,
  step: () => void,
): void {
  try {
    step();
  } catch (err) {
    warnQuietly(log, what, { ...data, error: err instanceof Error ? err.message : String(err) });
  }
}
