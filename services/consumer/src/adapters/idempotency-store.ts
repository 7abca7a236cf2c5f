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
 * own: the COMPLETED update sets expiry, status, data and validation and leaves `inProgressBy`
 * as it is, so a completed record refuses every later put (each has a fresh id) as before; a
 * record whose own put found it COMPLETED (its first try committed long ago, the effect ran,
 * and only then the second copy arrived) is refused too, since the added case asks for
 * IN_PROGRESS.
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
}

export class OwnWriteDynamoDBPersistenceLayer extends DynamoDBPersistenceLayer {
  readonly #documents: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #newId: () => string;

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
  }

  protected override async _putRecord(record: IdempotencyRecord): Promise<void> {
    const me = this.#newId();
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
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // The record as it was, read by the project's one reader of a refused write's item.
      const found = refusedItem(
        error,
        this.#documents,
        `the idempotency record ${record.idempotencyKey}`,
      );
      // Its fields as Powertools' own reads take them (its _getRecord): an unknown status is
      // refused by the record's getStatus(), a payload hash that differs by its validation.
      type Options = ConstructorParameters<typeof IdempotencyRecord>[0];
      throw new IdempotencyItemAlreadyExistsError(
        `the idempotency record ${record.idempotencyKey} is already there and is not this put's to take`,
        found &&
          new IdempotencyRecord({
            idempotencyKey: found[ATTR.key] as Options['idempotencyKey'],
            status: found[ATTR.status] as Options['status'],
            expiryTimestamp: found[ATTR.expiry] as Options['expiryTimestamp'],
            inProgressExpiryTimestamp: found[
              ATTR.inProgressExpiry
            ] as Options['inProgressExpiryTimestamp'],
            responseData: found[ATTR.data] as Options['responseData'],
            payloadHash: found[ATTR.validation] as Options['payloadHash'],
          }),
      );
    }
  }
}
