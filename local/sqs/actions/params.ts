import { errors } from '../errors';
import { dict } from '../protocol';
import { LIMITS } from '../queue';
import type { Input, Output } from './context';

/** Parameter readers shared by the actions: each throws AWS's error for a bad value. */

const BATCH_ID = /^[A-Za-z0-9_-]{1,80}$/;

export const str = (input: Input, name: string, required = true): string | undefined => {
  const v = input[name];
  if (v === undefined || v === null) {
    if (required) throw errors.missingParameter(name);
    return undefined;
  }
  if (typeof v !== 'string')
    throw errors.invalidParameter(
      `Value for parameter ${name} is invalid. Reason: must be a string.`,
    );
  return v;
};

export const int = (input: Input, name: string, min: number, max: number): number | undefined => {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw errors.invalidParameter(
      `Value ${JSON.stringify(v)} for parameter ${name} is invalid. Reason: must be between ${min} and ${max}.`,
    );
  }
  return n;
};

export function stringMap(raw: unknown, field: string): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw errors.invalidParameter(`${field} must be a map.`);
  const out = dict<string>();
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'string')
      throw errors.invalidAttributeValue(`Invalid value for the parameter ${k}.`);
    out[k] = v;
  }
  return out;
}

export function batchEntries(input: Input, field: string): Input[] {
  const entries = input[field];
  if (entries === undefined || (Array.isArray(entries) && entries.length === 0))
    throw errors.emptyBatch();
  if (!Array.isArray(entries)) throw errors.invalidParameter(`${field} must be a list.`);
  if (entries.length > LIMITS.maxBatchEntries) throw errors.tooManyEntries(entries.length);
  const seen = new Set<string>();
  for (const e of entries) {
    if (!e || typeof e !== 'object' || typeof e.Id !== 'string' || !BATCH_ID.test(e.Id))
      throw errors.invalidBatchEntryId();
    if (seen.has(e.Id)) throw errors.batchIdsNotDistinct(e.Id);
    seen.add(e.Id);
  }
  return entries;
}

export function batchFailure(id: string, err: unknown): Output {
  const e = err as { code?: string; message?: string; fault?: string };
  return {
    Id: id,
    SenderFault: e.fault !== 'Receiver',
    Code: e.code ?? 'InternalError',
    Message: e.message ?? 'internal error',
  };
}
