import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { codePointPrefix } from './text';

/**
 * The one reader of the item a refused conditional write hands back. Asked for it
 * (`ReturnValuesOnConditionCheckFailure: ALL_OLD`), DynamoDB answers the refusal with the item
 * as it was, at no read capacity (API Reference, PutItem and UpdateItem); the SDK puts it on the
 * ConditionalCheckFailedException as `Item`. It comes in DynamoDB's own format (lib-dynamodb
 * converts a command's output, not an error's), so it is read here with the document client's
 * own conversion: @aws-sdk/util-dynamodb `unmarshall`, under the client's unmarshall options,
 * so the item reads as a GetItem of it through that client reads (a set as a Set, a number
 * beyond 2^53 as a BigInt, unless the client says otherwise).
 *
 * Neither checks it: the SDK hands an error's `Item` over as the answer's JSON held it (only
 * binaries decoded), and `unmarshall` makes NaN of an N of `x`, 0 of an empty N, 16 of `0x10`,
 * `true` of a BOOL of `"false"`, and takes the first of two types. So the item is checked first
 * to be what DynamoDB sends, and anything else is a RefusedItemError naming the attribute, never
 * a value made up from it.
 */

/** An item a refused write handed back that is no DynamoDB item. */
export class RefusedItemError extends Error {
  constructor(what: string, problem: string, options?: ErrorOptions) {
    super(`the item refusing ${what} ${problem}`, options);
    this.name = 'RefusedItemError';
  }
}

/** What carries the item: a ConditionalCheckFailedException. */
export interface Refusal {
  Item?: Record<string, AttributeValue>;
}

/**
 * A number as DynamoDB writes one: decimal digits, an optional sign, fraction and exponent. Not
 * what `Number` also takes ('', spaces, hex, `Infinity`).
 */
const DYNAMODB_NUMBER = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
/**
 * DynamoDB nests attributes 32 levels deep at most, a top-level attribute being level 1
 * (Developer Guide, quotas: nested attribute depth), so a map or list at level 32 holds nothing:
 * it is a value there (an empty one), and anything in it would be at level 33.
 */
const MAX_DEPTH = 32;

const isNumber = (v: unknown) => typeof v === 'string' && DYNAMODB_NUMBER.test(v);
const isString = (v: unknown) => typeof v === 'string';
const isBinary = (v: unknown) => v instanceof Uint8Array;
const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !isBinary(v);

/** An attribute's value as an error shows it: JSON, at most 80 characters. */
function shown(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${codePointPrefix(text, 77)}...` : text;
}

/** Why `value` is no DynamoDB attribute value at `path`, or undefined when it is one. */
function attributeProblem(value: unknown, path: string, depth: number): string | undefined {
  const no = (why: string) => `holds ${path} ${shown(value)}: ${why}`;
  if (!isMap(value)) return no('not an attribute value');
  const members = Object.entries(value).filter(([, v]) => v !== undefined);
  const [member] = members;
  if (!member || members.length > 1) {
    return no('not an attribute value (one type and its value)');
  }
  const [type, v] = member;
  const setOf = (ok: (e: unknown) => boolean, what: string) =>
    Array.isArray(v) && v.length > 0 && v.every(ok) ? undefined : no(`not a set of ${what}`);
  switch (type) {
    case 'S':
      return isString(v) ? undefined : no('an S that is no string');
    case 'N':
      return isNumber(v) ? undefined : no('not a DynamoDB number');
    case 'B':
      return isBinary(v) ? undefined : no('a B that is no binary');
    case 'BOOL':
      return typeof v === 'boolean' ? undefined : no('a BOOL that is no boolean');
    case 'NULL':
      return v === true ? undefined : no('a NULL that is not true');
    case 'SS':
      return setOf(isString, 'strings');
    case 'NS':
      return setOf(isNumber, 'DynamoDB numbers');
    case 'BS':
      return setOf(isBinary, 'binaries');
    case 'L': {
      if (!Array.isArray(v)) return no('an L that is no list');
      if (depth >= MAX_DEPTH && v.length > 0) {
        return no(`nested deeper than DynamoDB's ${MAX_DEPTH} levels`);
      }
      for (const [i, e] of v.entries()) {
        const problem = attributeProblem(e, `${path}[${i}]`, depth + 1);
        if (problem) return problem;
      }
      return undefined;
    }
    case 'M':
      if (!isMap(v)) return no('an M that is no map');
      if (depth >= MAX_DEPTH && Object.keys(v).length > 0) {
        return no(`nested deeper than DynamoDB's ${MAX_DEPTH} levels`);
      }
      return mapProblem(v, path, depth + 1);
    default:
      return no(`no attribute type of DynamoDB's (${shown(type)})`);
  }
}

function mapProblem(map: Record<string, unknown>, path: string, depth: number): string | undefined {
  for (const [name, value] of Object.entries(map)) {
    const at = path === '' ? name : `${path}.${name}`;
    // Converted, `__proto__` would set the document's prototype, not an attribute.
    if (name === '__proto__') return `holds ${at}: a name a document cannot hold as an attribute`;
    const problem = attributeProblem(value, at, depth);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * The item `refusal` carries, as a document (read as described above); undefined when it
 * carries none (dynalite 4 ignores `ReturnValuesOnConditionCheckFailure`: the caller reads the
 * item instead). `what` names the refused write in an error: `effect write EFFECT#...`.
 * Throws RefusedItemError when the item is no DynamoDB item, or the conversion refuses it.
 */
export function refusedItem(
  refusal: Refusal,
  documents: DynamoDBDocumentClient,
  what: string,
): Record<string, unknown> | undefined {
  const item: unknown = refusal.Item;
  if (item === undefined) return undefined;
  if (!isMap(item)) throw new RefusedItemError(what, `is ${shown(item)}, not an item`);
  const problem = mapProblem(item, '', 1);
  if (problem) throw new RefusedItemError(what, problem);
  try {
    return unmarshall(item as Record<string, AttributeValue>, {
      ...documents.config.translateConfig?.unmarshallOptions,
      // An item is a map of attributes, not one attribute value.
      convertWithoutMapWrapper: false,
    });
  } catch (err) {
    throw new RefusedItemError(what, `is refused by the conversion: ${(err as Error)?.message}`, {
      cause: err,
    });
  }
}
