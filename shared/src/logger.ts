import { Logger } from '@aws-lambda-powertools/logger';

/**
 * One Powertools logger per function, created at module scope. Messages are short, fixed and
 * lowercase; data goes in the second argument; correlation keys via `appendKeys` only where a
 * function handles one order at a time (the producer): the consumer's records run in parallel,
 * so its lines name their order in their data.
 */
export function createLogger(
  serviceName: string,
  env: Record<string, string | undefined> = process.env,
): Logger {
  return new Logger({
    serviceName: env.POWERTOOLS_SERVICE_NAME ?? serviceName,
    logLevel: (env.POWERTOOLS_LOG_LEVEL as 'INFO' | undefined) ?? 'INFO',
  });
}
