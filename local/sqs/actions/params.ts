import { errors, SqsError } from '../errors';
import { LIMITS } from '../queue';
import { dict, type Input, type Output, repeatedScalars } from '../wire';

/**
 * Reads a request's parameters and throws AWS's error for a bad one. The two protocols differ in
 * what a wrong type is: AWS JSON 1.0 is typed, so a string where an integer belongs is the JSON
 * deserializer's SerializationException (as AWS answers, "STRING_VALUE can not be converted to an
 * Integer"); the Query protocol sends every value as text, so a number that does not parse is
 * the parameter's InvalidParameterValue.
 */

export type Protocol = 'json' | 'query';

/** What the JSON deserializer calls the value it found, in AWS's words. */
function found(v: unknown): string {
  if (typeof v === 'string') return 'STRING_VALUE';
  if (typeof v === 'number') return 'NUMBER_VALUE';
  if (typeof v === 'boolean') return v ? 'VALUE_TRUE' : 'VALUE_FALSE';
  return 'VALUE';
}

function wrongType(v: unknown, expected: string): Error {
  if (Array.isArray(v)) return errors.serialization('Start of list found where not expected');
  if (typeof v === 'object' && v !== null) {
    return errors.serialization('Start of structure or map found where not expected.');
  }
  return errors.serialization(`${found(v)} can not be converted to ${expected}`);
}

const isObject = (v: unknown): v is Input =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export class Params {
  /** Members a Query request gave twice (see repeatedScalars in protocol.ts), if any. */
  private readonly repeated: ReadonlyMap<string, string> | undefined;

  constructor(
    private readonly input: Input,
    readonly protocol: Protocol,
    /** True once the client's connection has closed (a long poll then takes nothing). */
    readonly clientGone: () => boolean = () => false,
    /**
     * Calls `listener` once when the client's connection closes (a waiting long poll then stops
     * waiting at once); answers a function that stops listening. Never, without a connection.
     */
    readonly onClientGone: (listener: () => void) => () => void = () => () => {},
  ) {
    this.repeated = repeatedScalars(input);
  }

  /**
   * A member's value; JSON null counts as absent, as AWS's deserializer treats it. A member a
   * Query request gave twice is refused when read, InvalidParameterValue, unless `repeated` is
   * 'last' (the last one given: what a failed batch entry's size counts).
   */
  raw(name: string, repeated: 'refuse' | 'last' = 'refuse'): unknown {
    const parameter = repeated === 'refuse' ? this.repeated?.get(name) : undefined;
    if (parameter !== undefined) {
      throw errors.invalidParameter(`Parameter ${parameter} is specified more than once.`);
    }
    const v = Object.hasOwn(this.input, name) ? this.input[name] : undefined;
    return v === null ? undefined : v;
  }

  string(name: string): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw wrongType(v, 'a String');
    return v;
  }

  requiredString(name: string): string {
    const v = this.string(name);
    if (v === undefined) throw errors.missingParameter(name);
    return v;
  }

  /** An integer within [min, max]; `reason` is AWS's sentence for a value out of range. */
  int(name: string, min: number, max: number, reason: string): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    let n: number;
    if (this.protocol === 'json') {
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw wrongType(v, 'an Integer');
      n = v;
    } else {
      if (typeof v !== 'string' || !/^-?\d{1,15}$/.test(v))
        throw errors.invalidValue(name, v, reason);
      n = Number(v);
    }
    if (n < min || n > max) throw errors.invalidValue(name, n, reason);
    return n;
  }

  stringList(name: string): string[] | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw wrongType(v, 'a List');
    for (const x of v) if (typeof x !== 'string') throw wrongType(x, 'a String');
    return v as string[];
  }

  /** A map of strings, copied into a prototype-less object. */
  stringMap(name: string): Record<string, string> | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!isObject(v)) throw wrongType(v, 'a Map');
    const out = dict<string>();
    for (const [k, x] of Object.entries(v)) {
      if (x === null) continue;
      if (typeof x !== 'string') throw wrongType(x, 'a String');
      out[k] = x;
    }
    return out;
  }

  /** A map of structures (message attributes), each read with its own Params. */
  structMap(name: string): Record<string, Params> | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!isObject(v)) throw wrongType(v, 'a Map');
    const out = dict<Params>();
    for (const [k, x] of Object.entries(v)) {
      if (x === null) continue;
      if (!isObject(x)) throw wrongType(x, 'a Structure');
      out[k] = new Params(x, this.protocol);
    }
    return out;
  }

  /**
   * How many members a map has (JSON null ones are absent), without reading them: a request
   * refused for too many is refused before a reader is built for each (see structMap).
   */
  mapSize(name: string): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!isObject(v)) throw wrongType(v, 'a Map');
    let n = 0;
    for (const k in v) if (Object.hasOwn(v, k) && v[k] !== null) n++;
    return n;
  }

  /** A list of structures (batch entries). */
  structList(name: string): Params[] | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw wrongType(v, 'a List');
    return v.map((x) => {
      if (!isObject(x)) throw wrongType(x, 'a Structure');
      return new Params(x, this.protocol);
    });
  }

  /** A structure member. */
  struct(name: string): Params | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!isObject(v)) throw wrongType(v, 'a Structure');
    return new Params(v, this.protocol);
  }
}

const BATCH_ID = /^[A-Za-z0-9_-]{1,80}$/;

export interface BatchEntry {
  id: string;
  params: Params;
}

/** A batch's entries after the request-level checks AWS makes before looking at any entry. */
export function batchEntries(p: Params, field: string, entryName: string): BatchEntry[] {
  const entries = p.structList(field);
  if (entries === undefined || entries.length === 0) throw errors.emptyBatch(entryName);
  if (entries.length > LIMITS.maxBatchEntries) throw errors.tooManyEntries(entries.length);
  const seen = new Set<string>();
  return entries.map((params) => {
    const id = params.raw('Id');
    if (typeof id !== 'string' || !BATCH_ID.test(id)) throw errors.invalidBatchEntryId();
    if (seen.has(id)) throw errors.batchIdsNotDistinct(id);
    seen.add(id);
    return { id, params };
  });
}

/** A BatchResultErrorEntry: AWS puts the Query code in `Code`. */
function batchFailure(id: string, err: unknown): Output {
  const e = err as { queryCode?: string; message?: string; fault?: string };
  return {
    Id: id,
    SenderFault: e.fault !== 'Receiver',
    Code: e.queryCode ?? 'InternalError',
    Message: e.message ?? 'We encountered an internal error. Please try again.',
  };
}

/** Runs one entry's work, turning an SqsError into that entry's failure. */
export function perEntry<T>(id: string, work: () => T): { ok: T } | { failed: Output } {
  try {
    return { ok: work() };
  } catch (err) {
    // A bug, or a body the JSON deserializer refused, fails the whole request, not one entry.
    if (!(err instanceof SqsError) || !err.queryCompatible) throw err;
    return { failed: batchFailure(id, err) };
  }
}
