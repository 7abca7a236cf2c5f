import { createRequire } from 'node:module';
import { parseJson } from '../../shared/src/json-keys';

/**
 * A PROTOTYPE, not the local cloud's DynamoDB: an in-memory store for exactly the subset of
 * DynamoDB the pipeline, Powertools idempotency and the report use, built to measure what
 * dynalite's storage (leveldb in memory, its async plumbing and JSON encoding) costs per request
 * (docs/benchmarks.md, issue 13). dynalite stays the default; this one runs only when asked for.
 *
 * Borrowed from dynalite (a dev dependency, loaded at run time, not copied): request validation
 * and expression parsing (`validations`: the same ValidationException messages), the key and
 * item checks, operator semantics (`db.compare`), item sizes, and the unit arithmetic
 * (`db.addConsumedCapacity`, called where dynalite calls it, so the local cloud's usage counters
 * count the same). Its own: storage (plain Maps, sorted range keys per partition and per index
 * partition), condition evaluation over the parsed expression, updates, queries and the
 * answers. Synchronous: a request is answered in the turn that parsed it, so there is nothing to
 * lock.
 *
 * Outside the subset, a request gets a ValidationException naming what is not supported:
 * operations other than the ones below, legacy parameters (Expected, AttributeUpdates,
 * KeyConditions, QueryFilter, AttributesToGet, ConditionalOperator), nested document paths,
 * size(), contains(), attribute_type(), list_append, DELETE in an update, ADD of a set,
 * ScanIndexForward false, key attributes other than strings, local secondary indexes,
 * projections other than KEYS_ONLY, INCLUDE and ALL.
 */

type AttributeValue = Record<string, unknown>;
type Item = Record<string, AttributeValue>;
type Path = Array<string | number>;
/** A parsed expression node (dynalite's parsers' shape), or an attribute value, or a path. */
type Operand = Path | ExpressionNode | AttributeValue;
interface ExpressionNode {
  type: string;
  name?: string;
  args: Operand[];
}
interface UpdateSection {
  type: 'set' | 'add' | 'remove' | 'delete';
  path: Path;
  val?: Operand;
  attrType?: string;
}
interface KeyCondition {
  ComparisonOperator: string;
  AttributeValueList: AttributeValue[];
}

/** The request after dynalite's validation: its fields plus the parsed expressions. */
interface Request {
  TableName?: string;
  Item?: Item;
  Key?: Item;
  ReturnValues?: string;
  ReturnValuesOnConditionCheckFailure?: string;
  ReturnConsumedCapacity?: string;
  ConsistentRead?: boolean;
  IndexName?: string;
  Select?: string;
  Limit?: number;
  ExclusiveStartKey?: Item;
  ScanIndexForward?: boolean;
  KeyConditions?: Record<string, KeyCondition>;
  RequestItems?: Record<
    string,
    Array<{ PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }>
  >;
  _condition?: { expression: ExpressionNode };
  _updates?: { sections: UpdateSection[]; paths: Path[] };
  _filter?: { expression: ExpressionNode };
  _projection?: { paths: Path[] };
  [field: string]: unknown;
}

interface KeySchemaElement {
  AttributeName: string;
  KeyType: 'HASH' | 'RANGE';
}
interface IndexDescription {
  IndexName: string;
  KeySchema: KeySchemaElement[];
  Projection: { ProjectionType?: string; NonKeyAttributes?: string[] };
  [field: string]: unknown;
}
/** The table description dynalite's key checks take (and DescribeTable answers). */
interface TableDescription {
  TableName: string;
  KeySchema: KeySchemaElement[];
  AttributeDefinitions: Array<{ AttributeName: string; AttributeType: string }>;
  GlobalSecondaryIndexes?: IndexDescription[];
  [field: string]: unknown;
}

interface HttpError extends Error {
  statusCode: number;
  body: { __type: string; message?: string };
}

interface DynaliteValidations {
  checkTypes(data: unknown, types: unknown): Request;
  checkValidations(data: Request, types: unknown, custom: unknown, store: unknown): void;
}
interface DynaliteDb {
  validateKey(
    key: Item,
    table: TableDescription,
    keySchema?: KeySchemaElement[],
  ): HttpError | undefined;
  validateItem(item: Item, table: TableDescription): HttpError | undefined;
  validateUpdates(a: unknown, updates: unknown, table: TableDescription): HttpError | undefined;
  validateKeyPaths(nested: unknown, table: TableDescription): HttpError | undefined;
  validateKeyPiece(key: Item, attr: string, type: string, isHash: boolean): HttpError | undefined;
  compare(op: string, value: AttributeValue | undefined, against: AttributeValue[]): boolean;
  itemSize(item: Item, compress?: boolean, addMetaSize?: boolean, rangeKey?: string): number;
  addConsumedCapacity(data: Request, isRead: boolean, a?: Item, b?: Item): unknown;
  validationError(message: string): HttpError;
}

const ERROR_PREFIX = 'com.amazonaws.dynamodb.v20120810#';
const MAX_ITEM_SIZE = 400 * 1024;
const PAGE_BYTES = 1024 * 1024;

/** The operations the prototype serves; any other is refused by name. */
export const PROTOTYPE_OPERATIONS = [
  'BatchWriteItem',
  'CreateTable',
  'DeleteItem',
  'DescribeTable',
  'GetItem',
  'ListTables',
  'PutItem',
  'Query',
  'UpdateItem',
] as const;
type Operation = (typeof PROTOTYPE_OPERATIONS)[number];

const LEGACY = [
  'Expected',
  'AttributeUpdates',
  'KeyConditions',
  'QueryFilter',
  'AttributesToGet',
  'ConditionalOperator',
];

function apiError(type: string, message: string): HttpError {
  const err = new Error(message) as HttpError;
  err.statusCode = 400;
  err.body = { __type: `${ERROR_PREFIX}${type}`, message };
  return err;
}

/** Thrown for what the prototype does not implement: always a ValidationException. */
class Unsupported extends Error {}

function unsupported(what: string): never {
  throw new Unsupported(`The DynamoDB prototype does not support ${what}`);
}

/**
 * UTF-8 byte order, which DynamoDB sorts string keys by. UTF-16 code units sort the same except a
 * surrogate (a code point above U+FFFF, four UTF-8 bytes) against U+E000..U+FFFF (three bytes).
 */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      const sx = x <= 0xdfff;
      const sy = y <= 0xdfff;
      if (sx !== sy) return sx ? 1 : -1;
    }
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/** A sorted list: index of the first element not below `probe`. */
function lowerBound<T>(list: T[], probe: T, cmp: (a: T, b: T) => number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(list[mid]!, probe) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index entries sort by the index's range key, then by the table's key (as DynamoDB's do). */
interface Entry {
  order: string[];
  item: Item;
}
const compareEntries = (a: Entry, b: Entry): number => {
  for (let i = 0; i < a.order.length; i++) {
    const c = compareUtf8(a.order[i]!, b.order[i]!);
    if (c !== 0) return c;
  }
  return 0;
};

/** One partition key's items, in range-key order. */
class Partition {
  readonly byId = new Map<string, Entry>();
  readonly sorted: Entry[] = [];

  put(id: string, entry: Entry): void {
    const old = this.byId.get(id);
    if (old) {
      old.item = entry.item;
      return;
    }
    this.byId.set(id, entry);
    this.sorted.splice(lowerBound(this.sorted, entry, compareEntries), 0, entry);
  }

  delete(id: string): void {
    const old = this.byId.get(id);
    if (!old) return;
    this.byId.delete(id);
    this.sorted.splice(lowerBound(this.sorted, old, compareEntries), 1);
  }
}

/** A table or a global index: items (or their projections) by partition, in range order. */
class Space {
  readonly partitions = new Map<string, Partition>();

  constructor(
    readonly hashKey: string,
    readonly rangeKey: string | undefined,
    /** The table's own key names, when this is an index (its tie-break and its start keys). */
    readonly tableKeys: string[],
    readonly projection: string[] | 'ALL',
  ) {}

  /** This space's key of `item`, or undefined when the item lacks one (not in the index). */
  entryOf(item: Item): { hash: string; id: string; entry: Entry } | undefined {
    const hash = item[this.hashKey]?.S;
    if (typeof hash !== 'string') return undefined;
    const order: string[] = [];
    if (this.rangeKey !== undefined) {
      const range = item[this.rangeKey]?.S;
      if (typeof range !== 'string') return undefined;
      order.push(range);
    }
    for (const k of this.tableKeys) order.push(item[k]!.S as string);
    let stored = item;
    if (this.projection !== 'ALL') {
      stored = {};
      for (const a of this.projection) if (item[a] !== undefined) stored[a] = item[a]!;
    }
    return { hash, id: JSON.stringify(order), entry: { order, item: stored } };
  }

  put(item: Item): void {
    const e = this.entryOf(item);
    if (!e) return;
    let p = this.partitions.get(e.hash);
    if (!p) {
      p = new Partition();
      this.partitions.set(e.hash, p);
    }
    p.put(e.id, e.entry);
  }

  delete(item: Item): void {
    const e = this.entryOf(item);
    if (!e) return;
    const p = this.partitions.get(e.hash);
    if (!p) return;
    p.delete(e.id);
    if (p.byId.size === 0) this.partitions.delete(e.hash);
  }
}

class Table {
  readonly items: Space;
  readonly indexes = new Map<string, Space>();
  readonly hashKey: string;
  readonly rangeKey: string | undefined;

  constructor(readonly description: TableDescription) {
    const hash = description.KeySchema.find((k) => k.KeyType === 'HASH')!.AttributeName;
    const range = description.KeySchema.find((k) => k.KeyType === 'RANGE')?.AttributeName;
    this.hashKey = hash;
    this.rangeKey = range;
    this.items = new Space(hash, range, [], 'ALL');
    const tableKeys = range === undefined ? [hash] : [hash, range];
    for (const index of description.GlobalSecondaryIndexes ?? []) {
      const ih = index.KeySchema.find((k) => k.KeyType === 'HASH')!.AttributeName;
      const ir = index.KeySchema.find((k) => k.KeyType === 'RANGE')?.AttributeName;
      const type = index.Projection.ProjectionType ?? 'KEYS_ONLY';
      const keys = [...new Set([ih, ...(ir ? [ir] : []), ...tableKeys])];
      const projection =
        type === 'ALL'
          ? 'ALL'
          : [...keys, ...(type === 'INCLUDE' ? (index.Projection.NonKeyAttributes ?? []) : [])];
      this.indexes.set(index.IndexName, new Space(ih, ir, tableKeys, projection));
    }
  }

  get(key: Item): Item | undefined {
    const e = this.items.entryOf(key)!;
    return this.items.partitions.get(e.hash)?.byId.get(e.id)?.item;
  }

  /** Replaces (or with `item` undefined, deletes) the item at `old`'s key, index entries too. */
  write(old: Item | undefined, item: Item | undefined): void {
    if (old) {
      for (const index of this.indexes.values()) index.delete(old);
      if (!item) this.items.delete(old);
    }
    if (item) {
      this.items.put(item);
      for (const index of this.indexes.values()) index.put(item);
    }
  }
}

function isPath(operand: Operand): operand is Path {
  return Array.isArray(operand);
}

function isNode(operand: Operand): operand is ExpressionNode {
  return !Array.isArray(operand) && typeof (operand as ExpressionNode).type === 'string';
}

function topLevel(path: Path): string {
  if (path.length !== 1 || typeof path[0] !== 'string') {
    unsupported(`nested document paths (${path.join('.')})`);
  }
  return path[0];
}

export interface PrototypeStoreOptions {
  /** dynalite's package directory (its validations and db modules are borrowed). */
  dynaliteDir: string;
}

export interface Answer {
  status: number;
  body: string;
}

export class PrototypeStore {
  private readonly tables = new Map<string, Table>();
  private readonly validations: DynaliteValidations;
  private readonly db: DynaliteDb;
  private readonly rules = new Map<string, { types: unknown; custom: unknown }>();
  private readonly big: (n: string) => {
    plus(x: string): { toFixed(): string };
    minus(x: string): { toFixed(): string };
  };
  /** What dynalite's validations ask of its store: the item size limit. */
  private readonly limits = { options: { maxItemSize: MAX_ITEM_SIZE } };

  constructor({ dynaliteDir }: PrototypeStoreOptions) {
    const load = createRequire(`${dynaliteDir}/index.js`);
    this.validations = load('./validations') as DynaliteValidations;
    // The same module object the local cloud's thread wraps to count units.
    this.db = load('./db') as DynaliteDb;
    this.big = load('big.js');
    for (const op of PROTOTYPE_OPERATIONS) {
      const name = op[0]!.toLowerCase() + op.slice(1);
      this.rules.set(op, load(`./validations/${name}`) as { types: unknown; custom: unknown });
    }
  }

  /** Answers one request: the operation named by X-Amz-Target, the body as sent. */
  handle(operation: string, body: string): Answer {
    try {
      if (!(PROTOTYPE_OPERATIONS as readonly string[]).includes(operation)) {
        unsupported(`the operation ${operation || '(none)'}`);
      }
      const op = operation as Operation;
      let raw: unknown;
      try {
        raw = parseJson(body);
      } catch {
        return this.reply(400, { __type: 'com.amazon.coral.service#SerializationException' });
      }
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        return this.reply(400, { __type: 'com.amazon.coral.service#SerializationException' });
      }
      for (const field of LEGACY) {
        if ((raw as Record<string, unknown>)[field] !== undefined) {
          unsupported(`the legacy parameter ${field}; use expressions`);
        }
      }
      // dynalite 4 knows nothing of this parameter (its type check drops it, and it never returns
      // the item); DynamoDB returns the item in the ConditionalCheckFailedException.
      const onFailure = (raw as Record<string, unknown>).ReturnValuesOnConditionCheckFailure;
      const rules = this.rules.get(op)!;
      const data = this.validations.checkTypes(raw, rules.types);
      this.validations.checkValidations(data, rules.types, rules.custom, this.limits);
      if (
        onFailure !== undefined &&
        (op === 'PutItem' || op === 'UpdateItem' || op === 'DeleteItem')
      ) {
        if (onFailure !== 'ALL_OLD' && onFailure !== 'NONE') {
          throw this.db.validationError(
            `1 validation error detected: Value '${String(onFailure)}' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]`,
          );
        }
        data.ReturnValuesOnConditionCheckFailure = onFailure;
      }
      return this.reply(200, this.run(op, data));
    } catch (err) {
      if (err instanceof Unsupported) {
        return this.reply(400, {
          __type: 'com.amazon.coral.validate#ValidationException',
          message: err.message,
        });
      }
      const e = err as Partial<HttpError>;
      if (typeof e.statusCode === 'number' && e.body) return this.reply(e.statusCode, e.body);
      throw err;
    }
  }

  private reply(status: number, body: unknown): Answer {
    return { status, body: JSON.stringify(body) };
  }

  private run(op: Operation, data: Request): unknown {
    switch (op) {
      case 'CreateTable':
        return this.createTable(data);
      case 'DescribeTable':
        return { Table: this.table(data.TableName!).description };
      case 'ListTables':
        return { TableNames: [...this.tables.keys()].sort() };
      case 'PutItem':
        return this.putItem(data);
      case 'GetItem':
        return this.getItem(data);
      case 'UpdateItem':
        return this.updateItem(data);
      case 'DeleteItem':
        return this.deleteItem(data);
      case 'Query':
        return this.query(data);
      case 'BatchWriteItem':
        return this.batchWriteItem(data);
    }
  }

  private table(name: string): Table {
    const t = this.tables.get(name);
    if (!t) throw apiError('ResourceNotFoundException', 'Requested resource not found');
    return t;
  }

  private check(err: HttpError | undefined): void {
    if (err) throw err;
  }

  private createTable(data: Request): unknown {
    const name = data.TableName!;
    if (this.tables.has(name)) {
      throw apiError('ResourceInUseException', `Table already exists: ${name}`);
    }
    if (data.LocalSecondaryIndexes !== undefined) unsupported('local secondary indexes');
    const definitions = data.AttributeDefinitions as TableDescription['AttributeDefinitions'];
    for (const d of definitions) {
      if (d.AttributeType !== 'S') unsupported(`key attributes of type ${d.AttributeType}`);
    }
    const indexes = data.GlobalSecondaryIndexes as IndexDescription[] | undefined;
    const now = Date.now() / 1000;
    const description: TableDescription = {
      AttributeDefinitions: definitions,
      TableName: name,
      KeySchema: data.KeySchema as KeySchemaElement[],
      TableStatus: 'ACTIVE',
      CreationDateTime: now,
      ProvisionedThroughput: {
        NumberOfDecreasesToday: 0,
        ReadCapacityUnits: 0,
        WriteCapacityUnits: 0,
      },
      TableSizeBytes: 0,
      ItemCount: 0,
      TableArn: `arn:aws:dynamodb:us-east-1:000000000000:table/${name}`,
      ...(data.BillingMode === 'PAY_PER_REQUEST'
        ? {
            BillingModeSummary: {
              BillingMode: 'PAY_PER_REQUEST',
              LastUpdateToPayPerRequestDateTime: now,
            },
          }
        : {}),
      ...(indexes
        ? {
            GlobalSecondaryIndexes: indexes.map((i) => {
              const type = i.Projection.ProjectionType ?? 'KEYS_ONLY';
              if (!['KEYS_ONLY', 'INCLUDE', 'ALL'].includes(type))
                unsupported(`projection ${type}`);
              return {
                ...i,
                IndexStatus: 'ACTIVE',
                IndexSizeBytes: 0,
                ItemCount: 0,
                IndexArn: `arn:aws:dynamodb:us-east-1:000000000000:table/${name}/index/${i.IndexName}`,
              };
            }),
          }
        : {}),
    };
    this.tables.set(name, new Table(description));
    return { TableDescription: description };
  }

  /** Evaluates a parsed condition against `item` (absent: an empty item). */
  private matches(node: ExpressionNode, item: Item): boolean {
    switch (node.type) {
      case 'and':
        return (
          this.matches(node.args[0] as ExpressionNode, item) &&
          this.matches(node.args[1] as ExpressionNode, item)
        );
      case 'or':
        return (
          this.matches(node.args[0] as ExpressionNode, item) ||
          this.matches(node.args[1] as ExpressionNode, item)
        );
      case 'not':
        return !this.matches(node.args[0] as ExpressionNode, item);
    }
    let op: string;
    if (node.type === 'function') {
      const name = node.name!;
      if (
        name !== 'attribute_exists' &&
        name !== 'attribute_not_exists' &&
        name !== 'begins_with'
      ) {
        unsupported(`the function ${name}()`);
      }
      op = name;
    } else if (['=', '<>', '<', '<=', '>', '>=', 'between', 'in'].includes(node.type)) {
      op = node.type;
    } else {
      unsupported(`the operator ${node.type}`);
    }
    const args = node.args.map((a) => this.resolve(a, item));
    return this.db.compare(op, args[0], args.slice(1) as AttributeValue[]);
  }

  private resolve(operand: Operand, item: Item): AttributeValue | undefined {
    if (isPath(operand)) return item[topLevel(operand)];
    if (isNode(operand))
      unsupported(`the function ${operand.name ?? operand.type}() as an operand`);
    return operand as AttributeValue;
  }

  private failCondition(data: Request, existing: Item | undefined): never {
    const err = apiError('ConditionalCheckFailedException', 'The conditional request failed');
    if (existing && data.ReturnValuesOnConditionCheckFailure === 'ALL_OLD') {
      (err.body as Record<string, unknown>).Item = existing;
    }
    throw err;
  }

  private condition(data: Request, existing: Item | undefined): void {
    if (data._condition && !this.matches(data._condition.expression, existing ?? {})) {
      this.failCondition(data, existing);
    }
  }

  private putItem(data: Request): unknown {
    const t = this.table(data.TableName!);
    this.check(this.db.validateItem(data.Item!, t.description));
    if (
      data.ReturnValues !== undefined &&
      data.ReturnValues !== 'NONE' &&
      data.ReturnValues !== 'ALL_OLD'
    ) {
      throw this.db.validationError('ReturnValues can only be ALL_OLD or NONE');
    }
    const existing = t.get(data.Item!);
    this.condition(data, existing);
    const out: Record<string, unknown> = {};
    if (existing && data.ReturnValues === 'ALL_OLD') out.Attributes = existing;
    out.ConsumedCapacity = this.db.addConsumedCapacity(data, false, existing, data.Item);
    t.write(existing, data.Item);
    return out;
  }

  private getItem(data: Request): unknown {
    const t = this.table(data.TableName!);
    this.check(this.db.validateKey(data.Key!, t.description));
    const item = t.get(data.Key!);
    const out: Record<string, unknown> = {};
    if (item) out.Item = data._projection ? this.project(data._projection.paths, item) : item;
    out.ConsumedCapacity = this.db.addConsumedCapacity(data, true, item);
    return out;
  }

  private project(paths: Path[], item: Item): Item {
    const out: Item = {};
    for (const p of paths) {
      const name = topLevel(p);
      if (item[name] !== undefined) out[name] = item[name]!;
    }
    return out;
  }

  private deleteItem(data: Request): unknown {
    const t = this.table(data.TableName!);
    this.check(this.db.validateKey(data.Key!, t.description));
    const existing = t.get(data.Key!);
    this.condition(data, existing);
    const out: Record<string, unknown> = {};
    if (existing && data.ReturnValues === 'ALL_OLD') out.Attributes = existing;
    out.ConsumedCapacity = this.db.addConsumedCapacity(data, false, existing);
    if (existing) t.write(existing, undefined);
    return out;
  }

  private updateItem(data: Request): unknown {
    const t = this.table(data.TableName!);
    this.check(this.db.validateKey(data.Key!, t.description));
    this.check(this.db.validateUpdates(undefined, data._updates, t.description));
    const sections = data._updates?.sections ?? [];
    for (const s of sections) {
      topLevel(s.path);
      if (s.type === 'delete') unsupported('DELETE in an update expression');
      if (s.type === 'add' && s.attrType !== 'N') unsupported(`ADD of a ${s.attrType} value`);
    }
    const old = t.get(data.Key!);
    this.condition(data, old);
    const item: Item = { ...(old ?? data.Key!) };
    // Every SET value is resolved against the item as it was, before any section applies.
    const values = sections.map((s) => (s.type === 'set' ? this.value(s.val!, item) : undefined));
    sections.forEach((s, i) => {
      const name = s.path[0] as string;
      if (s.type === 'remove') {
        delete item[name];
      } else if (s.type === 'add') {
        const existing = item[name];
        if (existing !== undefined && existing.N === undefined) {
          throw this.db.validationError(
            'An operand in the update expression has an incorrect data type',
          );
        }
        item[name] = {
          N: this.big((existing?.N as string | undefined) ?? '0')
            .plus((s.val as AttributeValue).N as string)
            .toFixed(),
        };
      } else {
        const v = values[i]!;
        for (const index of t.description.GlobalSecondaryIndexes ?? []) {
          for (const k of index.KeySchema) {
            if (k.AttributeName === name && v.S === undefined) {
              throw this.db.validationError(
                'The update expression attempted to update the secondary index key to unsupported type',
              );
            }
          }
        }
        item[name] = v;
      }
    });
    if (this.db.itemSize(item) > MAX_ITEM_SIZE) {
      throw this.db.validationError('Item size to update has exceeded the maximum allowed size');
    }
    const out: Record<string, unknown> = {};
    const paths = data._updates?.paths ?? [];
    if (old && data.ReturnValues === 'ALL_OLD') out.Attributes = old;
    else if (old && data.ReturnValues === 'UPDATED_OLD') out.Attributes = this.project(paths, old);
    else if (data.ReturnValues === 'ALL_NEW') out.Attributes = item;
    else if (data.ReturnValues === 'UPDATED_NEW') out.Attributes = this.project(paths, item);
    out.ConsumedCapacity = this.db.addConsumedCapacity(data, false, old, item);
    t.write(old, item);
    return out;
  }

  /** A SET operand's value: a literal, a path, if_not_exists(), or a sum or difference. */
  private value(operand: Operand, item: Item): AttributeValue {
    if (isPath(operand)) {
      const v = item[topLevel(operand)];
      if (v === undefined) {
        throw this.db.validationError(
          'The provided expression refers to an attribute that does not exist in the item',
        );
      }
      return v;
    }
    if (!isNode(operand)) return operand as AttributeValue;
    if (operand.type === 'function' && operand.name === 'if_not_exists') {
      return item[topLevel(operand.args[0] as Path)] ?? this.value(operand.args[1]!, item);
    }
    if (operand.type === 'add' || operand.type === 'subtract') {
      const a = this.value(operand.args[0]!, item);
      const b = this.value(operand.args[1]!, item);
      if (a.N === undefined || b.N === undefined) {
        throw this.db.validationError(
          'An operand in the update expression has an incorrect data type',
        );
      }
      const x = this.big(a.N as string);
      return {
        N: (operand.type === 'add' ? x.plus(b.N as string) : x.minus(b.N as string)).toFixed(),
      };
    }
    unsupported(`${operand.name ?? operand.type} in an update expression`);
  }

  private query(data: Request): unknown {
    const t = this.table(data.TableName!);
    if (data.ScanIndexForward === false) unsupported('ScanIndexForward false');
    if (data.ReturnConsumedCapacity === 'TOTAL' || data.ReturnConsumedCapacity === 'INDEXES') {
      unsupported('ReturnConsumedCapacity on Query');
    }
    let space = t.items;
    let keySchema = t.description.KeySchema;
    if (data.IndexName !== undefined) {
      const index = t.indexes.get(data.IndexName);
      const description = t.description.GlobalSecondaryIndexes?.find(
        (i) => i.IndexName === data.IndexName,
      );
      if (!index || !description) {
        throw this.db.validationError(
          `The table does not have the specified index: ${data.IndexName}`,
        );
      }
      if (data.ConsistentRead) {
        throw this.db.validationError(
          'Consistent reads are not supported on global secondary indexes',
        );
      }
      if (data.Select === 'ALL_ATTRIBUTES' && index.projection !== 'ALL') {
        throw this.db.validationError(
          `One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index ${data.IndexName} because its projection type is not ALL`,
        );
      }
      space = index;
      keySchema = description.KeySchema;
    }
    const conditions = data.KeyConditions!;
    const hashKey = space.hashKey;
    const rangeKey = space.rangeKey;
    const startKeyNames = [
      ...new Set([
        ...keySchema.map((k) => k.AttributeName),
        ...t.description.KeySchema.map((k) => k.AttributeName),
      ]),
    ];
    const hash = conditions[hashKey];
    if (!hash)
      throw this.db.validationError(`Query condition missed key schema element: ${hashKey}`);
    if (hash.ComparisonOperator !== 'EQ')
      throw this.db.validationError('Query key condition not supported');
    for (const name of Object.keys(conditions)) {
      if (name !== hashKey && name !== rangeKey) {
        throw this.db.validationError(
          `Query condition missed key schema element: ${rangeKey ?? hashKey}`,
        );
      }
    }
    const range = rangeKey === undefined ? undefined : conditions[rangeKey];
    for (const c of Object.values(conditions)) {
      if (
        ['NULL', 'NOT_NULL', 'NE', 'CONTAINS', 'NOT_CONTAINS', 'IN'].includes(c.ComparisonOperator)
      ) {
        throw this.db.validationError(
          'Attempted conditional constraint is not an indexable operation',
        );
      }
      if (c.AttributeValueList.some((v) => v.S === undefined)) {
        throw this.db.validationError(
          'One or more parameter values were invalid: Condition parameter type does not match schema type',
        );
      }
    }
    const hashValue = hash.AttributeValueList[0]!.S as string;
    const start = data.ExclusiveStartKey;
    if (start) {
      if (Object.keys(start).length !== startKeyNames.length) {
        throw this.db.validationError('The provided starting key is invalid');
      }
      for (const name of startKeyNames) {
        const isHash = name === hashKey || name === t.hashKey;
        const err =
          start[name] === undefined
            ? this.db.validationError('The provided starting key is invalid')
            : this.db.validateKeyPiece(start, name, 'S', isHash);
        this.check(err);
      }
      if (range) {
        if (
          !this.db.compare(range.ComparisonOperator, start[rangeKey!], range.AttributeValueList)
        ) {
          throw this.db.validationError(
            'The provided starting key does not match the range key predicate',
          );
        }
        if (start[hashKey]!.S !== hashValue) {
          throw this.db.validationError(
            'The query can return at most one row and cannot be restarted',
          );
        }
      } else if (start[hashKey]!.S !== hashValue) {
        throw this.db.validationError(
          'The provided starting key is outside query boundaries based on provided conditions',
        );
      }
    }
    if (data._filter) {
      for (const name of startKeyNames.filter((n) =>
        keySchema.some((k) => k.AttributeName === n),
      )) {
        if ((data._filter as unknown as { pathHeads: Record<string, boolean> }).pathHeads[name]) {
          throw this.db.validationError(
            `Filter Expression can only contain non-primary key attributes: Primary key attribute: ${name}`,
          );
        }
      }
    }
    this.check(
      this.db.validateKeyPaths(
        (data._projection as { nestedPaths?: unknown } | undefined)?.nestedPaths,
        t.description,
      ),
    );

    const partition = space.partitions.get(hashValue);
    const sorted = partition?.sorted ?? [];
    let i = 0;
    // Where the range condition starts: the first entry that can match (begins_with, =, >=,
    // BETWEEN: its lower bound), found by binary search.
    const low =
      range && ['EQ', 'GE', 'GT', 'BETWEEN', 'BEGINS_WITH'].includes(range.ComparisonOperator)
        ? (range.AttributeValueList[0]!.S as string)
        : undefined;
    if (low !== undefined)
      i = lowerBound(sorted, { order: [low], item: {} }, (a, b) =>
        compareUtf8(a.order[0]!, b.order[0]!),
      );
    if (start) {
      const probe = space.entryOf(start);
      if (probe) {
        const after = lowerBound(sorted, probe.entry, compareEntries);
        const at = sorted[after];
        i = Math.max(i, at && compareEntries(at, probe.entry) === 0 ? after + 1 : after);
      }
    }
    const limit = data.Limit;
    let scanned = 0;
    let size = 0;
    let last: Item | undefined;
    let items: Item[] = [];
    let stopped = false;
    for (; i < sorted.length; i++) {
      const entry = sorted[i]!;
      if (
        range &&
        !this.db.compare(range.ComparisonOperator, { S: entry.order[0]! }, range.AttributeValueList)
      ) {
        // The matches of a range condition are one run of the sorted keys, starting at the
        // lower bound found above (GT: just past the keys equal to it): the first miss after
        // that ends it.
        if (range.ComparisonOperator === 'GT' && entry.order[0] === low) continue;
        break;
      }
      if ((limit !== undefined && scanned >= limit) || size >= PAGE_BYTES) {
        stopped = true;
        break;
      }
      scanned++;
      size += this.db.itemSize(entry.item, true, true, t.rangeKey);
      items.push(entry.item);
      last = entry.item;
    }
    if (!stopped && ((limit !== undefined && scanned >= limit) || size >= PAGE_BYTES))
      stopped = true;
    if (data._filter) {
      const filter = data._filter.expression;
      items = items.filter((item) => this.matches(filter, item));
    }
    const out: Record<string, unknown> = { ScannedCount: scanned };
    if (stopped && last) {
      const key: Item = {};
      for (const name of startKeyNames) key[name] = last[name]!;
      out.LastEvaluatedKey = key;
    }
    if (data._projection) items = items.map((item) => this.project(data._projection!.paths, item));
    out.Count = items.length;
    if (data.Select !== 'COUNT') out.Items = items;
    return out;
  }

  private batchWriteItem(data: Request): unknown {
    const writes: Array<{ table: Table; put?: Item; key: Item; data: Request }> = [];
    for (const [name, requests] of Object.entries(data.RequestItems!)) {
      const t = this.table(name);
      const seen = new Set<string>();
      for (const r of requests) {
        const options: Request = { TableName: name };
        if (data.ReturnConsumedCapacity)
          options.ReturnConsumedCapacity = data.ReturnConsumedCapacity;
        let key: Item;
        if (r.PutRequest) {
          const err = this.db.validateItem(r.PutRequest.Item, t.description);
          if (err) {
            if (/Missing the key|Type mismatch for key/.test(err.body.message ?? '')) {
              err.body.message = 'The provided key element does not match the schema';
            }
            throw err;
          }
          options.Item = r.PutRequest.Item;
          key = r.PutRequest.Item;
          writes.push({ table: t, put: r.PutRequest.Item, key, data: options });
        } else {
          this.check(this.db.validateKey(r.DeleteRequest!.Key, t.description));
          options.Key = r.DeleteRequest!.Key;
          key = r.DeleteRequest!.Key;
          writes.push({ table: t, key, data: options });
        }
        const id = JSON.stringify(t.items.entryOf(key)!.entry.order);
        if (seen.has(id))
          throw this.db.validationError('Provided list of item keys contains duplicates');
        seen.add(id);
      }
    }
    const units = new Map<string, number>();
    for (const w of writes) {
      const existing = w.table.get(w.key);
      const capacity = w.put
        ? this.db.addConsumedCapacity(w.data, false, existing, w.put)
        : this.db.addConsumedCapacity(w.data, false, existing);
      if (capacity) {
        const name = w.data.TableName!;
        units.set(
          name,
          (units.get(name) ?? 0) + (capacity as { CapacityUnits: number }).CapacityUnits,
        );
      }
      if (w.put) w.table.write(existing, w.put);
      else if (existing) w.table.write(existing, undefined);
    }
    const out: Record<string, unknown> = { UnprocessedItems: {} };
    if (data.ReturnConsumedCapacity === 'TOTAL' || data.ReturnConsumedCapacity === 'INDEXES') {
      out.ConsumedCapacity = [...units].map(([TableName, CapacityUnits]) => ({
        CapacityUnits,
        TableName,
        ...(data.ReturnConsumedCapacity === 'INDEXES' ? { Table: { CapacityUnits } } : {}),
      }));
    }
    return out;
  }
}
