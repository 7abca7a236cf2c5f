/**
 * Environment helpers that fail at cold start: a missing or malformed variable throws before the
 * first event is handled, so a misconfigured function never half-processes a batch.
 */

export class ConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

export function getStringFromEnv(name: string, env: Env = process.env): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new ConfigError(`environment variable ${name} is required`);
  }
  return value;
}

export function getOptionalStringFromEnv(
  name: string,
  fallback: string,
  env: Env = process.env,
): string {
  const value = env[name];
  return value === undefined || value.trim() === '' ? fallback : value;
}

export function getNumberFromEnv(name: string, fallback: number, env: Env = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) {
    throw new ConfigError(`environment variable ${name} must be a number, got "${raw}"`);
  }
  return value;
}

export function getBooleanFromEnv(
  name: string,
  fallback: boolean,
  env: Env = process.env,
): boolean {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(`environment variable ${name} must be true or false, got "${raw}"`);
}

export function getEnumFromEnv<T extends string>(
  name: string,
  allowed: readonly T[],
  fallback: T | undefined,
  env: Env = process.env,
): T {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') {
    if (fallback === undefined) throw new ConfigError(`environment variable ${name} is required`);
    return fallback;
  }
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(
      `environment variable ${name} must be one of ${allowed.join(', ')}, got "${raw}"`,
    );
  }
  return raw as T;
}
