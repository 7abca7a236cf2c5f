import { randomUUID } from 'node:crypto';
import {
  IdempotencyItemAlreadyExistsError,
  IdempotencyRecordStatus,
  PERSISTENCE_ATTRIBUTE_KEY_MAPPINGS,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { IdempotencyRecord } from '@aws-lambda-powertools/idempotency/persistence';
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { refusedItem } from '../../../../shared/src/refused-item';
import type { HeldItems, HeldWritesPort } from '../domain/ports';
import type { CallDeadline } from './call-deadline';

/**
 * Powertools' DynamoDB persistence layer, whose IN_PROGRESS write recognises itself.
 *
 * The functions' DynamoDB clients end a try at their request timeout and the SDK sends the same
 * request again, though the try it gave up on may have committed (docs/architecture.md, "A try
 * that ran out may have committed"). Powertools' own IN_PROGRESS put is then refused by the record
 * its first try wrote: that record's in-progress expiry (this invocation's deadline) is ahead, so
 * Powertools answers IdempotencyAlreadyInProgressError and the record fails, to come back a
 * minute later. Nothing in Powertools' record says who wrote it: two copies of one message in one
 * batch write the same key, status, expiry, in-progress expiry and payload hash.
 *
 * This layer is Powertools' documented extension point ("bring your own persistent store":
 * subclass the persistence layer and implement `_putRecord`, `_getRecord`, `_updateRecord`,
 * `_deleteRecord`); it replaces the put only. Each put writes a fresh id of its own
 * (`inProgressBy`), made once per put, so only the SDK's second copy of that same request carries
 * it, and adds one case to Powertools' condition: the record is IN_PROGRESS and was written by
 * this very put. Everything else is Powertools' rule, unchanged: the put succeeds when the key is
 * absent, when the record has expired, or when it is IN_PROGRESS past its in-progress expiry, and
 * a refusal throws IdempotencyItemAlreadyExistsError carrying the record found (read in the same
 * request), which Powertools validates against the payload hash and answers from (COMPLETED: the
 * stored result; IN_PROGRESS: already in progress). The other three operations are Powertools'
 * own, but for the COMPLETED write, which is held for the invocation's end (below): it sets
 * expiry, status, data and validation and keeps `inProgressBy` as the put wrote it, so a
 * completed record refuses every later put (each has a fresh id) as before; a record whose own
 * put found it COMPLETED (its first try committed long ago, the effect ran, and only then the
 * second copy arrived) is refused too, since the added case asks for IN_PROGRESS.
 *
 * The COMPLETED write, held. Powertools' `saveSuccess` writes the record COMPLETED with one
 * UpdateItem per record (`_updateRecord`: SET expiry, status, data, validation) and then only
 * caches it (its local cache, off here) and returns the result: nothing after it reads the
 * record back. This layer's `_updateRecord` sends nothing: it holds the COMPLETED record, as the
 * whole item DynamoDB would hold after Powertools' update (the IN_PROGRESS item this layer's put
 * wrote in this invocation, with `inProgressBy` and the in-progress expiry kept, and the four
 * attributes Powertools sets), and `takeHeld()` hands the held items to the invocation's end
 * write, which puts them in the same BatchWriteItem(s) as the deliveries' outcomes
 * (adapters/ledger.ts recordInvocationEnd): one request less per record. Until then:
 * - a put of a key this invocation holds COMPLETED (a copy of the order later in the same
 *   batch) is refused at once, without a request, with the held record, so Powertools answers
 *   with its stored result as it would have from DynamoDB (payload validation included);
 *   `_getRecord` answers it too. Once the held record has expired (`expiresAfterSeconds`
 *   shorter than the batch) the put goes to DynamoDB, whose expired record lets it through, as
 *   the COMPLETED one would have. A copy running beside its order (a standard batch run in
 *   parallel), whose put the order's IN_PROGRESS record refused, waits for the order's put to
 *   end and is answered from the held record the same way (#copyAnswer);
 * - in DynamoDB the record is still IN_PROGRESS, until the invocation's deadline (its
 *   in-progress expiry): a copy in another environment meanwhile is told "already in
 *   progress", and if the invocation dies before its end write (a crash, a timeout, a failed
 *   end write) the record stays IN_PROGRESS until that deadline and the redelivery reruns the
 *   function, whose effect write is refused (docs/architecture.md, the fault windows).
 * `beginInvocation()` drops whatever an earlier invocation of this environment held and did not
 * write (it threw before its end write): the records stay IN_PROGRESS in DynamoDB, as after a
 * crash, and nothing of them answers or is written in a later invocation. Until the first
 * `beginInvocation()` (a layer no end write takes from), and for a key this layer's put did not
 * write in this invocation, the COMPLETED update is sent at once, Powertools' own.
 */

/** The attribute names, Powertools' defaults, given to the parent so both sides agree. */
const ATTR = {
  key: 'id',
  status: PERSISTENCE_ATTRIBUTE_KEY_MAPPINGS.statusAttr,
  expiry: PERSISTENCE_ATTRIBUTE_KEY_MAPPINGS.expiryAttr,
  inProgressExpiry: PERSISTENCE_ATTRIBUTE_KEY_MAPPINGS.inProgressExpiryAttr,
  data: PERSISTENCE_ATTRIBUTE_KEY_MAPPINGS.dataAttr,
  validation: PERSISTENCE_ATTRIBUTE_KEY_MAPPINGS.validationKeyAttr,
  /** The id of the put that wrote the record (a fresh one per put). */
  writer: 'inProgressBy',
} as const;

export interface OwnWriteOptions {
  tableName: string;
  /** The DynamoDB client Powertools' own operations use too (ours: its timeouts are set). */
  client: DynamoDBClient;
  newId?: () => string;
  /**
   * The cut on the invocation's DynamoDB calls (adapters/call-deadline.ts, attached to `client`):
   * Powertools' COMPLETED update runs under its completing cut (the end write's, not the
   * records'), and a copy's wait for its order's put ends at the records' cut. Absent, neither
   * is cut.
   */
  deadline?: Pick<CallDeadline, 'completing' | 'within'>;
}

type RecordOptions = ConstructorParameters<typeof IdempotencyRecord>[0];

/** A put of this invocation, from its request until it ends (OwnWriteDynamoDBPersistenceLayer). */
interface PutUnderWay {
  /** Its writer id (`inProgressBy`). */
  writer: string;
  ended: Promise<void>;
  end: () => void;
}

/** An item of the table as Powertools' own reads take it (its _getRecord). */
function recordOf(item: Record<string, unknown>): IdempotencyRecord {
  // An unknown status is refused by the record's getStatus(), a payload hash that differs by
  // Powertools' validation.
  return new IdempotencyRecord({
    idempotencyKey: item[ATTR.key] as RecordOptions['idempotencyKey'],
    status: item[ATTR.status] as RecordOptions['status'],
    expiryTimestamp: item[ATTR.expiry] as RecordOptions['expiryTimestamp'],
    inProgressExpiryTimestamp: item[
      ATTR.inProgressExpiry
    ] as RecordOptions['inProgressExpiryTimestamp'],
    responseData: item[ATTR.data] as RecordOptions['responseData'],
    payloadHash: item[ATTR.validation] as RecordOptions['payloadHash'],
  });
}

export class OwnWriteDynamoDBPersistenceLayer
  extends DynamoDBPersistenceLayer
  implements HeldWritesPort
{
  readonly #documents: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #newId: () => string;
  readonly #deadline: OwnWriteOptions['deadline'];
  /** The IN_PROGRESS items this layer's puts wrote in the current invocation, by key. */
  #written = new Map<string, Record<string, unknown>>();
  /** The COMPLETED items held for the current invocation's end write, by key. */
  #held = new Map<string, Record<string, unknown>>();
  /**
   * Not holding (beginInvocation({ hold: false }): the effect guard off), the COMPLETED items
   * this invocation's updates wrote to the table, by key: what a copy beside its order is
   * answered from, as the held ones are.
   */
  #completed = new Map<string, Record<string, unknown>>();
  /** Set by beginInvocation(): an invocation notes its puts (and its end takes them). */
  #begun = false;
  /** Set by beginInvocation() unless told not to hold: an end write will take what is held. */
  #holding = false;
  /**
   * This invocation's puts of each key, from the moment each is sent until it ends: refused or
   * failed, or, once written, its record held COMPLETED or deleted (Powertools' delete after the
   * function failed). A copy of the order running beside it (a standard batch run in parallel)
   * whose put this one's record refused waits for it (#copyAnswer).
   */
  #puts = new Map<string, PutUnderWay[]>();

  constructor(options: OwnWriteOptions) {
    super({
      tableName: options.tableName,
      awsSdkV3Client: options.client,
      keyAttr: ATTR.key,
      statusAttr: ATTR.status,
      expiryAttr: ATTR.expiry,
      inProgressExpiryAttr: ATTR.inProgressExpiry,
      dataAttr: ATTR.data,
      validationKeyAttr: ATTR.validation,
    });
    this.#documents = DynamoDBDocumentClient.from(options.client, {
      marshallOptions: { removeUndefinedValues: true },
    });
    this.#tableName = options.tableName;
    this.#newId = options.newId ?? randomUUID;
    this.#deadline = options.deadline;
  }

  /**
   * Starts an invocation: drops what an earlier one wrote IN_PROGRESS and held COMPLETED without
   * handing it to an end write (it threw first). Those records stay IN_PROGRESS in DynamoDB
   * until their in-progress expiry, as after a crash.
   */
  beginInvocation({ hold = true }: { hold?: boolean } = {}): void {
    this.#begun = true;
    this.#holding = hold;
    this.#written = new Map();
    this.#held = new Map();
    this.#completed = new Map();
    this.#endPuts();
  }

  /** The COMPLETED items held so far, handed over once: the end write takes them. */
  takeHeld(): HeldItems[] {
    const items = [...this.#held.values()];
    this.#held = new Map();
    this.#written = new Map();
    this.#completed = new Map();
    this.#endPuts();
    return items.length > 0 ? [{ tableName: this.#tableName, items }] : [];
  }

  /**
   * Whether a put for `payload` (the idempotent function's first argument, as Powertools hashes
   * it) would be answered from a record this invocation holds COMPLETED, not expired, as
   * `_putRecord` answers it: without a request. Not holding (the effect guard off), no put is
   * answered here: it goes to the table. The key is Powertools' own (`getHashedIdempotencyKey`,
   * from the configuration its first call gave this layer); a payload it cannot key answers
   * false, and Powertools refuses it when it runs.
   */
  answersHeld(payload: object): boolean {
    if (!this.#holding || this.#held.size === 0) return false;
    let key: string;
    try {
      key = this.getHashedIdempotencyKey(
        payload as Parameters<DynamoDBPersistenceLayer['getRecord']>[0],
      );
    } catch {
      return false;
    }
    const item = this.#held.get(key);
    return item !== undefined && !recordOf(item).isExpired();
  }

  protected override async _putRecord(record: IdempotencyRecord): Promise<void> {
    const heldItem = this.#held.get(record.idempotencyKey);
    const held = heldItem && recordOf(heldItem);
    // A copy of an order this invocation completed: answered from the held record, as the
    // refusal of a put by the COMPLETED record in DynamoDB would have been. Not once that record
    // has expired (Powertools' expiry, seconds): in DynamoDB its expiry lets the put through, so
    // the put goes there (the IN_PROGRESS item of this invocation, which expired no later).
    if (held && !held.isExpired()) {
      throw new IdempotencyItemAlreadyExistsError(
        `the idempotency record ${record.idempotencyKey} is COMPLETED in this invocation`,
        held,
      );
    }
    const me = this.#newId();
    const put = this.#begun ? this.#startPut(record.idempotencyKey, me) : undefined;
    const now = Date.now();
    const item: Record<string, unknown> = {
      [ATTR.key]: record.idempotencyKey,
      [ATTR.expiry]: record.expiryTimestamp,
      [ATTR.status]: record.getStatus(),
      [ATTR.writer]: me,
    };
    if (record.inProgressExpiryTimestamp !== undefined) {
      item[ATTR.inProgressExpiry] = record.inProgressExpiryTimestamp;
    }
    if (this.isPayloadValidationEnabled() && record.payloadHash !== undefined) {
      item[ATTR.validation] = record.payloadHash;
    }
    try {
      await this.#documents.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: item,
          ConditionExpression: [
            // Powertools' three cases: no record; the record expired (seconds); IN_PROGRESS past
            // its in-progress expiry (ms: an invocation that died holding it).
            'attribute_not_exists(#key)',
            '#expiry < :nowSeconds',
            '(#status = :inProgress AND attribute_exists(#inProgressExpiry) AND #inProgressExpiry < :nowMs)',
            // The SDK's second copy of this put, whose first try committed.
            '(#status = :inProgress AND #writer = :me)',
          ].join(' OR '),
          ExpressionAttributeNames: {
            '#key': ATTR.key,
            '#expiry': ATTR.expiry,
            '#status': ATTR.status,
            '#inProgressExpiry': ATTR.inProgressExpiry,
            '#writer': ATTR.writer,
          },
          ExpressionAttributeValues: {
            ':nowSeconds': now / 1000,
            ':nowMs': now,
            ':inProgress': IdempotencyRecordStatus.INPROGRESS,
            ':me': me,
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      // Kept for an invocation: held COMPLETED for its end write, or, not holding, what its
      // update completes (a layer never begun sends its updates at once and notes nothing).
      if (this.#begun) this.#written.set(record.idempotencyKey, item);
    } catch (error) {
      if (put) this.#endPuts(record.idempotencyKey, put);
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // The record as it was, read by the project's one reader of a refused write's item.
      const found = refusedItem(
        error,
        this.#documents,
        `the idempotency record ${record.idempotencyKey}`,
      );
      const completed = await this.#copyAnswer(record.idempotencyKey, found);
      if (completed) {
        throw new IdempotencyItemAlreadyExistsError(
          `the idempotency record ${record.idempotencyKey} was COMPLETED in this invocation by a copy running beside this one`,
          completed,
        );
      }
      throw new IdempotencyItemAlreadyExistsError(
        `the idempotency record ${record.idempotencyKey} is already there and is not this put's to take`,
        found && recordOf(found),
      );
    }
  }

  /**
   * Powertools' COMPLETED write (saveSuccess), held for the end write when this invocation's put
   * wrote the record: the item as Powertools' update would leave it (its SET of expiry, status,
   * data when there is a result, validation when payload validation is on, over the item put).
   * Any other update, and every update before the first beginInvocation() (the layer used
   * without an end write to take what it holds), is Powertools' own, sent at once; a COMPLETED
   * one (the effect guard off: nothing is held) under the completing cut, the end write's: the
   * effect has committed, and a record this update leaves IN_PROGRESS is applied again by its
   * redelivery (adapters/call-deadline.ts).
   */
  protected override async _updateRecord(record: IdempotencyRecord): Promise<void> {
    const key = record.idempotencyKey;
    const written = this.#written.get(key);
    const completes = record.getStatus() === IdempotencyRecordStatus.COMPLETED;
    // The item as Powertools' update leaves it: its SET over the item this invocation's put wrote.
    const completed = written && completes ? this.#completedItem(written, record) : undefined;
    if (!this.#holding || !completed) {
      try {
        const update = () => super._updateRecord(record);
        await (completes && this.#deadline ? this.#deadline.completing(update) : update());
        // Written: a copy waiting beside its order is answered from it (#copyAnswer).
        if (completed && this.#begun) this.#completed.set(key, completed);
        return;
      } finally {
        this.#written.delete(key);
        this.#endPuts(key, written?.[ATTR.writer]);
      }
    }
    this.#written.delete(key);
    this.#held.set(key, completed);
    this.#endPuts(key, completed[ATTR.writer]);
  }

  /**
   * The item Powertools' COMPLETED update leaves over `written`: its SET of expiry, status, data
   * when there is a result, validation when payload validation is on.
   */
  #completedItem(
    written: Record<string, unknown>,
    record: IdempotencyRecord,
  ): Record<string, unknown> {
    const item: Record<string, unknown> = {
      ...written,
      [ATTR.expiry]: record.expiryTimestamp,
      [ATTR.status]: record.getStatus(),
    };
    if (record.responseData !== undefined) item[ATTR.data] = record.responseData;
    if (this.isPayloadValidationEnabled()) item[ATTR.validation] = record.payloadHash;
    return item;
  }

  /** Powertools' read, answered from the held record when this invocation holds the key. */
  protected override async _getRecord(idempotencyKey: string): Promise<IdempotencyRecord> {
    const held = this.#held.get(idempotencyKey);
    return held ? recordOf(held) : super._getRecord(idempotencyKey);
  }

  /** Powertools' delete (the function failed), and this invocation's note of the record. */
  protected override async _deleteRecord(record: IdempotencyRecord): Promise<void> {
    const key = record.idempotencyKey;
    const writer = (this.#written.get(key) ?? this.#held.get(key))?.[ATTR.writer];
    try {
      await super._deleteRecord(record);
    } finally {
      this.#written.delete(key);
      this.#held.delete(key);
      this.#completed.delete(key);
      this.#endPuts(key, writer);
    }
  }

  /** Notes a put of `key` under way in this invocation, by its writer id. */
  #startPut(key: string, writer: string): PutUnderWay {
    let end: () => void = () => undefined;
    const ended = new Promise<void>((resolve) => {
      end = resolve;
    });
    const put = { writer, ended, end };
    this.#puts.set(key, [...(this.#puts.get(key) ?? []), put]);
    return put;
  }

  /**
   * Ends the puts of `key` that are `which` (a put, or a writer id: the put whose record was
   * held or deleted), or (no key) every put of the invocation. A writer id that is no string
   * ends nothing.
   */
  #endPuts(key?: string, which?: PutUnderWay | unknown): void {
    const keys = key === undefined ? [...this.#puts.keys()] : [key];
    for (const k of keys) {
      const puts = this.#puts.get(k) ?? [];
      const ends = (p: PutUnderWay) => key === undefined || p === which || p.writer === which;
      for (const p of puts) if (ends(p)) p.end();
      const left = puts.filter((p) => !ends(p));
      if (left.length > 0) this.#puts.set(k, left);
      else this.#puts.delete(k);
    }
  }

  /**
   * The answer to a put refused by a record this invocation's own put of the key wrote (a copy
   * of the order running beside the one that wrote it: a standard batch run in parallel starts
   * both puts together): once that put has ended, its record held COMPLETED, if it is and has
   * not expired. Powertools then answers the copy from it, as it answers a later copy in the
   * same batch (payload validation included), where the IN_PROGRESS record in the table would
   * fail the copy "already in progress" and send it back for the visibility timeout. The put is
   * told by the writer id on the refusing record (DynamoDB hands it back with the refusal);
   * dynalite hands back none, and then the key's put under way in this invocation is the one,
   * or, none under way, the record this invocation holds for the key.
   * Waiting is bounded: that put ends when its record is held or deleted, or its put fails,
   * each inside this invocation, and it never waits for this one. Its DynamoDB calls end by the
   * cut (every one by its client's timeouts too), but not what runs between them (the effect's
   * own work: an injected stall), so the wait has its own bound, the records' cut
   * (`deadline.within`): at it the copy fails with an InvocationDeadlineError, which counts as
   * running out of time (the records after it are not started), before Lambda's timeout.
   * Nothing to wait for, or its record failed: undefined, and the copy is refused by the record
   * as found, as before.
   */
  async #copyAnswer(
    key: string,
    found: Record<string, unknown> | undefined,
  ): Promise<IdempotencyRecord | undefined> {
    const puts = this.#puts.get(key) ?? [];
    const owner = found ? puts.find((p) => p.writer === found[ATTR.writer]) : puts[0];
    if (owner) {
      await (this.#deadline
        ? this.#deadline.within(owner.ended, `the wait for the put of ${key} beside this copy`)
        : owner.ended);
    }
    // Without a put under way, the one that wrote the refusing record may have ended already:
    // its record is held (or, not holding, written COMPLETED), and it is that record (a held
    // key's record in the table is this invocation's IN_PROGRESS item until the end write, or
    // DynamoDB names its writer).
    else if (found && this.#ended(key)?.[ATTR.writer] !== found[ATTR.writer]) return undefined;
    const ended = this.#ended(key);
    const record = ended && recordOf(ended);
    return record && !record.isExpired() ? record : undefined;
  }

  /** The COMPLETED item this invocation's put of `key` ended with: held, or written. */
  #ended(key: string): Record<string, unknown> | undefined {
    return this.#held.get(key) ?? this.#completed.get(key);
  }
}
