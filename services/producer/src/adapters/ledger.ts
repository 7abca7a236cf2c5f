import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  type AcceptedRecord,
  acceptedKeys,
  counterValue,
  ORDER_SK,
  orderPk,
  runPk,
  SK_PREFIX,
  sequenceCounterSk,
} from '../../../../shared/src/ledger';
import type { QueueKind } from '../../../../shared/src/queue-kind';
import { RefusedItemError, refusedItem } from '../../../../shared/src/refused-item';
import type {
  AcceptedOrder,
  LedgerPort,
  ProducerLogPort,
  RecordedSends,
  SendLease,
  SendsEnd,
  SendsRecord,
} from '../domain/ports';
import { showsRecordOf } from '../domain/resend';
import type { QueueFacts } from '../domain/status';

/** The order an accepted item holds, without how the table stores it. */
function acceptedOrder(record: AcceptedRecord): AcceptedOrder {
  const { pk: _pk, sk: _sk, byRunPk: _byRunPk, byRunSk: _byRunSk, type: _type, ...order } = record;
  return order;
}

/**
 * Appends `:sentIds` to the order's list of ids sent; a record from before the list starts it
 * with `:before`, the ids it held already (see RecordedSends.recordedBefore).
 */
const APPEND_SENT_IDS =
  'sentMessageIds = list_append(if_not_exists(sentMessageIds, :before), :sentIds)';

/**
 * The condition on which a bid takes the send lease (DynamoLedger.leaseSends says why each part),
 * with its values; `:me` is the bidder.
 *
 * Written as alternatives (AND binds before OR), one level of parentheses deep: the same
 * condition nested five levels deep cost dynalite, the local cloud's DynamoDB, 0.5 to 1 s of CPU
 * to parse on every bid and withdrawal (its parser backtracks on each level of parentheses), where
 * this form costs it a few milliseconds. DynamoDB reads both alike.
 */
function leaseCondition(lease: SendLease): {
  expression: string;
  values: Record<string, unknown>;
} {
  // Still the holder the bidder read (none: a record from before leases).
  const holder = lease.from === undefined ? 'attribute_not_exists(sendingBy)' : 'sendingBy = :from';
  return {
    expression: [
      'attribute_exists(pk) AND (',
      // The SDK's retry of this very write, after its answer was lost.
      'sendingBy = :me',
      // The holder read, and its lease free: its deadline passed (the holder died),
      `OR ${holder} AND attribute_exists(sendingUntil) AND sendingUntil <= :now`,
      // or its holder wrote its end;
      `OR ${holder} AND attribute_exists(sendingUntil) AND attribute_exists(sendsEndedBy) AND sendsEndedBy = sendingBy`,
      // a record from before leases: its claiming request ended, or can no longer run.
      `OR ${holder} AND attribute_not_exists(sendingUntil) AND attribute_exists(sendsEndedAt)`,
      `OR ${holder} AND attribute_not_exists(sendingUntil) AND acceptedAt <= :legacyClaimedBefore`,
      ')',
    ].join(' '),
    values: {
      ':me': lease.by,
      ...(lease.from === undefined ? {} : { ':from': lease.from }),
      ':now': lease.now,
      ':legacyClaimedBefore': lease.now - lease.legacyWindowMs,
    },
  };
}

export class DynamoLedger implements LedgerPort {
  /**
   * `oneTry` is the client of the bid's withdrawal alone (withdrawBid): a document client of the
   * same table set to one try (`maxAttempts: 1`), made once with `documents` where the producer
   * makes its clients (shared/src/aws-clients createDocumentClients, over the same connections),
   * never per request. A client of its own has a retry quota of its own, so a failing withdrawal
   * costs `documents` none of its retries. Required, with no default: a default of `documents`
   * would send the withdrawal with every try of `documents` and take from its retry quota, and
   * nothing would show it. A test that wants one client for both passes `documents` twice.
   *
   * `log` is the producer's Powertools logger, the handler's, so a line carries the request's
   * keys. Required too: a default logger would drop those keys, and nothing would show it.
   */
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly oneTry: DynamoDBDocumentClient,
    private readonly log: Pick<ProducerLogPort, 'warn'>,
  ) {
    if (!oneTry) throw new TypeError('DynamoLedger: no one-try client for the withdrawal of a bid');
    if (!log) throw new TypeError('DynamoLedger: no logger');
  }

  async getAccepted(orderId: string): Promise<AcceptedOrder | undefined> {
    const out = await this.documents.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: orderPk(orderId), sk: ORDER_SK },
        ConsistentRead: true,
      }),
    );
    return out.Item ? acceptedOrder(out.Item as AcceptedRecord) : undefined;
  }

  async nextSequence(runId: string, customerId: string): Promise<number> {
    const out = await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: runPk(runId), sk: sequenceCounterSk(customerId) },
        UpdateExpression: 'ADD #value :one',
        ExpressionAttributeNames: { '#value': 'value' },
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return counterValue(out.Attributes, 'sequence');
  }

  async claim(
    order: AcceptedOrder & { claimId: string },
  ): Promise<{ claimed: true } | { claimed: false; existing: AcceptedOrder }> {
    const { claimId } = order;
    const record: AcceptedRecord = {
      ...acceptedKeys(order.runId, order.orderId),
      type: 'accepted',
      ...order,
    };
    let existing: AcceptedOrder | undefined;
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: record,
          ConditionExpression: 'attribute_not_exists(pk)',
          // Refused (the order exists), DynamoDB hands the order's item back with the refusal, at
          // no read capacity (API Reference, PutItem, ReturnValuesOnConditionCheckFailure; as
          // leaseSends asks): a client retry reads nothing more. A first request is this write alone.
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { claimed: true };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      existing = this.recordOfRefusal(err, order.orderId);
    }
    // Refused without an item it reads (dynalite 4 ignores the parameter): one consistent read.
    existing ??= await this.getAccepted(order.orderId);
    if (!existing) {
      throw new Error(`accepted record for ${order.orderId} vanished after its claim was refused`);
    }
    // Refused by this very claim: its first try committed and its answer was lost (a connection
    // reset, a 500 after the write), so the SDK sent it again. The order is this request's; taken
    // for another request's, its first POST would be answered 409 and never sent.
    if (existing.claimId === claimId) return { claimed: true };
    return { claimed: false, existing };
  }

  /**
   * One conditional update: the lease is taken when it is free as resend.ts leaseHeldFor says
   * and still held by `lease.from`, the holder the bidder read, or when it is already this
   * request's own. The holder's check stops a late copy of the bid: the SDK sends the update
   * again when it got no answer, and the try it gave up on may still reach DynamoDB after the
   * retry (a slow request); by then this request may have sent, written its end, and another
   * request taken the lease and ended it too. Without the check that copy finds a free lease and
   * takes it, and nobody ends it: a retry that must send again is answered 409 until this bid's
   * deadline (up to the producer's timeout plus 1 s). With it, the copy finds a holder other
   * than the one it read and changes nothing.
   *
   * A condition may compare two attributes of the item
   * (`operand comparator operand`, an operand being an attribute name: Developer Guide,
   * "Condition and filter expressions, operators, and functions"); `sendsEndedBy = sendingBy`
   * is guarded by `attribute_exists(sendsEndedBy)`, because what `=` makes of two missing
   * attributes is not documented (dynalite, the local cloud's DynamoDB, calls them equal).
   *
   * Refused, it answers the record that refused it. DynamoDB hands that item back with the
   * refusal when asked (`ReturnValuesOnConditionCheckFailure: ALL_OLD`: the
   * ConditionalCheckFailedException carries `Item`, at no read capacity; API Reference,
   * UpdateItem), so no second request is needed. dynalite 4 ignores the parameter
   * (docs/fidelity.md): without an item, one consistent read.
   */
  async leaseSends(
    orderId: string,
    lease: SendLease,
  ): Promise<{ taken: boolean; record: AcceptedOrder }> {
    const condition = leaseCondition(lease);
    try {
      const out = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: orderPk(orderId), sk: ORDER_SK },
          UpdateExpression: 'SET sendingBy = :me, sendingUntil = :until',
          ConditionExpression: condition.expression,
          ExpressionAttributeValues: { ...condition.values, ':until': lease.until },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { taken: true, record: acceptedOrder(out.Attributes as AcceptedRecord) };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const refusedBy = this.recordOfRefusal(err, orderId);
      if (refusedBy) return { taken: false, record: refusedBy };
    }
    // Refused without an item it reads (dynalite, or an order that is not there): read it.
    const existing = await this.getAccepted(orderId);
    if (!existing) throw new Error(`accepted record for ${orderId} vanished before its lease`);
    return { taken: false, record: existing };
  }

  /**
   * One conditional update on the bid's own condition (leaseSends): it takes the lease for
   * `lease.by` and, in the same write, says its sends ended (`sendsEndedBy = sendingBy`), so the
   * lease is free. Taken already by the bid (a try that committed), it is ended; not taken yet,
   * it is taken ended, and a copy of the bid that lands later finds its own id holding it
   * (`sendingBy = :me`) and sets only `sendingBy` and `sendingUntil`, which leaves it ended.
   * Refused, another request holds the lease (it took it from the holder the bid read), and no
   * copy of the bid can take it from that one. A refusal changes nothing, so it is no error.
   *
   * One try only, sent with the ledger's one-try client (`maxAttempts: 1`, see the
   * constructor): the bid before it has just spent every try the SDK makes, so DynamoDB is
   * likely failing, and a second round of tries would double the time of a request that answers
   * 5xx anyway. Its failure, the try's own error, is thrown; the caller says what a late bid may
   * hold (OrderHandling).
   */
  async withdrawBid(orderId: string, lease: SendLease, endedAt: number): Promise<void> {
    const condition = leaseCondition(lease);
    try {
      await this.oneTry.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: orderPk(orderId), sk: ORDER_SK },
          UpdateExpression:
            'SET sendsEndedBy = :me, sendsEndedAt = :ended, sendingBy = :me, sendingUntil = :until',
          ConditionExpression: condition.expression,
          ExpressionAttributeValues: {
            ...condition.values,
            ':until': lease.until,
            ':ended': endedAt,
          },
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  /**
   * The order in the item a refused write of `orderId` (the claim, the lease, the record of
   * sends) hands back, read by the shared reader (shared/src/refused-item.ts) as getAccepted
   * reads the item from a GetItem through the same document client: one reading of the record
   * whichever way it arrived. Undefined when the refusal carries no item, or one the reader
   * refuses (no DynamoDB item, or an attribute type newer than this SDK): the caller then reads
   * the record with one consistent GetItem. A refused item is logged as a warning, once, with the
   * order and the error's name only: the reader's message shows up to 80 characters of the
   * attribute's value, and the item holds customer data.
   */
  private recordOfRefusal(
    refusal: ConditionalCheckFailedException,
    orderId: string,
  ): AcceptedOrder | undefined {
    try {
      const item = refusedItem(refusal, this.documents, `a write of order ${orderId}`);
      return item ? acceptedOrder(item as unknown as AcceptedRecord) : undefined;
    } catch (err) {
      if (!(err instanceof RefusedItemError)) throw err;
      this.log.warn('refused write handed back a malformed item; reading the record instead', {
        orderId,
        error: err.name,
      });
      return undefined;
    }
  }

  /**
   * One update that adds this request to the order's count, writing a fresh id of this count
   * (`countedBy`) with it, on condition that the last count is not this one. The SDK sends the
   * update again when a try got no answer in time (the function's 1 s request timeout, a reset
   * connection), and the try it gave up on may have committed: counted twice, the report would
   * show a client retry that never was. Its own earlier try refuses the copy, which changes
   * nothing. Left open: another request of the same order counted between the two tries.
   */
  async countRequest(orderId: string): Promise<void> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: orderPk(orderId), sk: ORDER_SK },
          UpdateExpression: 'ADD requests :one SET countedBy = :me',
          ConditionExpression: 'attribute_not_exists(countedBy) OR countedBy <> :me',
          ExpressionAttributeValues: { ':one': 1, ':me': randomUUID() },
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  async recordSequence(orderId: string, sequence: number): Promise<number> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: orderPk(orderId), sk: ORDER_SK },
          UpdateExpression: 'SET #sequence = :sequence',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#sequence)',
          ExpressionAttributeNames: { '#sequence': 'sequence' },
          ExpressionAttributeValues: { ':sequence': sequence },
        }),
      );
      return sequence;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
    // Another request kept its sequence first (two retries of an order whose first request died
    // before keeping one): the order has that one, and the value this request took is unused.
    const kept = (await this.getAccepted(orderId))?.sequence;
    if (kept === undefined) {
      throw new Error(`accepted record for ${orderId} holds no sequence after refusing one`);
    }
    return kept;
  }

  /**
   * One update, conditional on `end.by` still holding the lease (`sendingBy`). A late write of a
   * request that no longer holds it is refused and changes nothing: the SDK's retry of a write
   * that committed (its answer lost), arriving after a later holder took the lease and ended,
   * would otherwise name this request as the one that ended (`sendsEndedBy`), so the later
   * holder's lease would look held to its deadline, and put this request's ids over the later
   * holder's; and a holder that ran past its deadline would write over the request that took
   * the lease over.
   *
   * Refused, the record that refused it tells the two apart (resend.ts showsRecordOf): it shows
   * this request's end or ids when the refusal is the SDK's retry of this very write, whose first
   * try committed. The refusal carries that record (`ReturnValuesOnConditionCheckFailure:
   * ALL_OLD`, as leaseSends asks); without it (dynalite), one consistent read.
   */
  async recordSends(orderId: string, sends: RecordedSends, end: SendsEnd): Promise<SendsRecord> {
    const names: Record<string, string> = {};
    // Who ended, too: when it is the lease's holder, the lease is free before its deadline.
    const values: Record<string, unknown> = { ':ended': end.at, ':endedBy': end.by };
    const sets = ['sendsEndedAt = :ended', 'sendsEndedBy = :endedBy'];
    if (sends.legacy) {
      // A record from before per-queue maps: nothing to set an entry in (DynamoDB refuses a SET of
      // `map.key` whose map does not exist, "The document path provided in the update expression
      // is invalid for update"; Developer Guide, Using update expressions, SET), so both whole.
      sets.push('messageIds = :ids', 'sentAt = :sentAt');
      values[':ids'] = sends.legacy.all;
      values[':sentAt'] = sends.legacy.sentAt;
    } else {
      // One map entry per queue this request sent to (`SET messageIds.#q = :id` sets that key of
      // the existing map alone): a request that did not reach a queue writes nothing for it, so
      // it never erases the id another request recorded there.
      Object.entries(sends.sent).forEach(([queue, send], i) => {
        if (!send) return;
        names[`#q${i}`] = queue;
        values[`:id${i}`] = send.messageId;
        values[`:at${i}`] = send.sentAt;
        sets.push(`messageIds.#q${i} = :id${i}`, `sentAt.#q${i} = :at${i}`);
      });
    }
    // Every id answered is also appended to one list, in this same write (no request more per
    // order): "if_not_exists (path, operand) - if the item does not contain an attribute at the
    // specified path, then if_not_exists evaluates to operand", and "list_append (operand,
    // operand) - evaluates to a list with a new element added to it" (UpdateItem API,
    // UpdateExpression), so a record from before the list gets one (starting with the ids it
    // held, which this write may replace), and ids other requests appended are kept. A list, in
    // the order the ids were recorded; the SDK's retry of this write may append an id twice.
    const sentIds = Object.values(sends.sent).flatMap((s) => (s?.messageId ? [s.messageId] : []));
    if (sentIds.length > 0) {
      sets.push(APPEND_SENT_IDS);
      values[':before'] = sends.recordedBefore ?? [];
      values[':sentIds'] = sentIds;
    }
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: orderPk(orderId), sk: ORDER_SK },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: 'sendingBy = :endedBy',
          ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: values,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'recorded';
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const refusedBy = this.recordOfRefusal(err, orderId) ?? (await this.getAccepted(orderId));
      return refusedBy && showsRecordOf(refusedBy, sentIds, end.by)
        ? 'recorded-by-earlier-try'
        : 'lease-passed';
    }
  }

  /**
   * One update that appends to `sentMessageIds` alone (as recordSends appends), on no condition
   * but the order's being there: ids are only ever added to the list, so a late or repeated
   * append changes no lease and no latest id (the SDK's retry may append them twice).
   */
  async recordSentIds(
    orderId: string,
    messageIds: string[],
    recordedBefore: string[] = [],
  ): Promise<void> {
    if (messageIds.length === 0) return;
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: orderPk(orderId), sk: ORDER_SK },
        UpdateExpression: `SET ${APPEND_SENT_IDS}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':before': recordedBefore, ':sentIds': messageIds },
      }),
    );
  }

  async hasEffect(runId: string, queue: QueueKind, orderId: string): Promise<boolean> {
    // By prefix: the effect's last key part depends on what the consumer keys idempotency on.
    const out = await this.documents.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: {
          ':pk': runPk(runId),
          ':prefix': `${SK_PREFIX.effect(queue)}${orderId}#`,
        },
        Select: 'COUNT',
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    return (out.Count ?? 0) > 0;
  }

  async queueFacts(runId: string, queue: QueueKind, orderId: string): Promise<QueueFacts> {
    const [deliveries, effects, finalFailures] = await Promise.all([
      this.count(runId, `${SK_PREFIX.delivery(queue)}${orderId}#`),
      this.count(runId, `${SK_PREFIX.effect(queue)}${orderId}#`),
      this.count(runId, `${SK_PREFIX.failure(queue)}${orderId}#`, true),
    ]);
    return { deliveries, effects, finalFailures };
  }

  private async count(runId: string, prefix: string, finalOnly = false): Promise<number> {
    let total = 0;
    const pages = paginateQuery(
      { client: this.documents },
      {
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ...(finalOnly ? { FilterExpression: '#final = :true' } : {}),
        ...(finalOnly ? { ExpressionAttributeNames: { '#final': 'final' } } : {}),
        ExpressionAttributeValues: {
          ':pk': runPk(runId),
          ':prefix': prefix,
          ...(finalOnly ? { ':true': true } : {}),
        },
        Select: 'COUNT',
        ConsistentRead: true,
      },
    );
    for await (const page of pages) total += page.Count ?? 0;
    return total;
  }
}
