import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  DynamoConsumerLedger,
  EffectVanishedError,
  LedgerValueError,
} from '../../../services/consumer/src/adapters/ledger';
import type {
  Effect,
  EffectGuard,
  Failure,
  Receipt,
} from '../../../services/consumer/src/domain/ports';
import { RefusedItemError } from '../../../shared/src/refused-item';

// The adapter owns the table's keys: the domain hands it receipts, effects and failures in its
// own words, and these tests pin down the items and requests DynamoDB gets for them.

const ddb = mockClient(DynamoDBDocumentClient);
const ledger = () =>
  new DynamoConsumerLedger(
    DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
    'ledger',
    () => 'fresh-1',
  );

const receipt = (orderId: string, receiptId: string): Receipt => ({
  receiptId,
  runId: 'run-unit',
  queue: 'fifo',
  orderId,
  customerId: 'cust-1',
  sequence: 1,
  messageId: `m-${orderId}`,
  receiveCount: 1,
  sequenceNumber: '18849496460467696128',
  sentAt: 100,
  firstReceivedAt: 200,
  receivedAt: 300,
  invocationId: 'req-1',
});

const effect = (guard: EffectGuard): Effect => ({
  guard,
  runId: 'run-unit',
  queue: 'standard',
  orderId: 'order-1',
  customerId: 'cust-1',
  sequence: 1,
  messageId: 'm-1',
  applyIndex: 2,
  acceptedAt: 1000,
  committedAt: 2000,
});

/**
 * The attributes of the fixture's effect item beside its keys, in the order they are written:
 * the domain's effect without its guard (the guard lives in the sort key). The bytes below pin
 * the same item literally.
 */
const { guard: _guard, ...effectFields } = effect('order');
const effectItemFields = { type: 'effect', ...effectFields };
const EFFECT_ITEM_TAIL =
  '"type":"effect","runId":"run-unit","queue":"standard","orderId":"order-1","customerId":"cust-1","sequence":1,"messageId":"m-1","applyIndex":2,"acceptedAt":1000,"committedAt":2000';

const refused = (Item?: Record<string, unknown>) =>
  new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
    ...(Item ? { Item: Item as never } : {}),
  });

beforeEach(() => {
  ddb.reset();
  ddb.on(PutCommand).resolves({});
  ddb.on(BatchWriteCommand).resolves({});
  ddb.on(UpdateCommand).resolves({ Attributes: { value: 7 } });
});

const batchRequests = () =>
  ddb.commandCalls(BatchWriteCommand).map((c) => c.args[0].input.RequestItems?.ledger);

describe('DynamoConsumerLedger items and keys', () => {
  it('writes each receipt as a pending delivery item in its run, keyed on the receipt id', async () => {
    // Act
    await ledger().recordReceipts([receipt('order-1', 'r1'), receipt('order-2', 'r2')]);

    // Assess
    const [requests] = batchRequests();
    expect(requests).toHaveLength(2);
    // The stored delivery is the receipt, keyed: every field but the domain's id, plus pending.
    const { receiptId: _, ...receiptFields } = receipt('order-1', 'r1');
    expect(requests?.[0]).toEqual({
      PutRequest: {
        Item: {
          pk: 'RUN#run-unit',
          sk: 'DELIVERY#fifo#order-1#r1',
          type: 'delivery',
          ...receiptFields,
          outcome: 'pending',
        },
      },
    });
  });

  it('writes the end of an invocation failures first, in a request of their own, then outcomes over the same items, unrun deleted', async () => {
    // Prepare
    const failure: Failure = {
      failureId: 'f1',
      runId: 'run-unit',
      queue: 'fifo',
      orderId: 'order-1',
      customerId: 'cust-1',
      sequence: 1,
      messageId: 'm-order-1',
      receiveCount: 3,
      final: true,
      error: 'Error: boom',
      failedAt: 400,
    };

    // Act
    await ledger().recordInvocationEnd({
      ended: [
        {
          receipt: receipt('order-1', 'r1'),
          outcome: { outcome: 'suppressed', suppressedBy: 'effect', at: 350 },
        },
      ],
      failures: [failure],
      unrun: [receipt('order-2', 'r2')],
    });

    // Assess
    const [failures, requests] = batchRequests();
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(2);
    // The failures in a request before the outcomes': DynamoDB may take part of one request and
    // hand the rest back unprocessed, so in one request it could take the outcomes and leave the
    // failures they rely on (the not-attempted failure of a copy of a message handed back beside
    // it); a write that stops part way has not marked a delivery ended without them.
    expect(failures).toHaveLength(1);
    expect(requests?.[0]?.PutRequest?.Item).toMatchObject({
      sk: 'DELIVERY#fifo#order-1#r1',
      outcome: 'suppressed',
      suppressedBy: 'effect',
      outcomeAt: 350,
      invocationEnd: true,
    });
    // The stored failure is the domain's, keyed: every field but the domain's id, none added.
    const { failureId: _, ...failureFields } = failure;
    expect(failures?.[0]?.PutRequest?.Item).toEqual({
      pk: 'RUN#run-unit',
      sk: 'FAILURE#fifo#order-1#f1',
      type: 'failure',
      ...failureFields,
    });
    expect(requests?.[1]).toEqual({
      DeleteRequest: { Key: { pk: 'RUN#run-unit', sk: 'DELIVERY#fifo#order-2#r2' } },
    });
  });

  it('sends nothing for a batch with nothing to record', async () => {
    // Act
    await ledger().recordReceipts([]);
    await ledger().recordInvocationEnd({ ended: [], failures: [], unrun: [] });

    // Assess
    expect(ddb.calls()).toHaveLength(0);
  });

  it('takes the turn on the customer counter with the highest sequence in the same request', async () => {
    // Act
    const turn = await ledger().takeApplyTurn('run-unit', 'standard', 'cust-1', 4);

    // Assess
    expect(turn).toEqual({ applyIndex: 7, late: false });
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toMatchObject({
      Key: { pk: 'RUN#run-unit', sk: 'COUNTER#apply#standard#cust-1' },
      ConditionExpression:
        '(attribute_not_exists(#by) OR #by <> :me) AND (attribute_not_exists(#high) OR #high <= :sequence)',
      ExpressionAttributeValues: { ':one': 1, ':sequence': 4, ':me': 'fresh-1', ':late': false },
    });
  });

  /** The counter as this turn's own committed try left it: turn 4, taken by fresh-1, not late. */
  const ownCounter = {
    value: { N: '4' },
    turnBy: { S: 'fresh-1' },
    turnIndex: { N: '4' },
    turnLate: { BOOL: false },
  };

  it('answers the turn a refused update finds as its own (a try that committed), with no update more', async () => {
    // Prepare: the refusal carries the counter, whose last turn is this one's id.
    ddb.on(UpdateCommand).rejectsOnce(refused(ownCounter));

    // Act
    const turn = await ledger().takeApplyTurn('run-unit', 'standard', 'cust-1', 2);

    // Assess
    expect(turn).toEqual({ applyIndex: 4, late: false });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
  });

  it('takes a late turn with a second request when a higher sequence went first', async () => {
    // Prepare
    ddb
      .on(UpdateCommand)
      .rejectsOnce(refused({ value: { N: '8' }, turnBy: { S: 'other' }, turnIndex: { N: '8' } }))
      .resolves({ Attributes: { value: 9 } });

    // Act
    const turn = await ledger().takeApplyTurn('run-unit', 'standard', 'cust-1', 2);

    // Assess
    expect(turn).toEqual({ applyIndex: 9, late: true });
    expect(ddb.commandCalls(UpdateCommand)[1]?.args[0].input).toMatchObject({
      UpdateExpression:
        'SET #value = if_not_exists(#value, :zero) + :one, #index = if_not_exists(#value, :zero) + :one, #by = :me, #late = :late',
      ConditionExpression: '(attribute_not_exists(#by) OR #by <> :me)',
      ExpressionAttributeValues: { ':me': 'fresh-1', ':late': true },
    });
  });

  it.each([
    [
      'a turnLate that is no boolean ("false" would read as true)',
      { turnLate: { BOOL: 'false' } },
      'turnLate',
    ],
    ['a turnIndex that is no DynamoDB number', { turnIndex: { N: 'x' } }, 'turnIndex'],
    ['two types in one attribute', { turnBy: { S: 'fresh-1', N: '1' } }, 'turnBy'],
  ])(
    'fails the turn when the refusal carries a counter with %s, taking no turn late',
    async (_name, bad, field) => {
      // Prepare: the refusal carries this turn's own counter, one attribute malformed.
      ddb.on(UpdateCommand).rejectsOnce(refused({ ...ownCounter, ...bad }));

      // Act / Assess: the reader's error naming the attribute, and no second request.
      const turn = ledger().takeApplyTurn('run-unit', 'standard', 'cust-1', 2);
      await expect(turn).rejects.toThrow(RefusedItemError);
      await expect(turn).rejects.toThrow(
        `the item refusing the apply turn COUNTER#apply#standard#cust-1 holds ${field} `,
      );
      expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
    },
  );

  it('fails the turn on an error other than the refused condition, without taking it late', async () => {
    // Prepare: the first request fails (throttled through the SDK's tries, say).
    ddb
      .on(UpdateCommand)
      .rejectsOnce(new Error('throttled (injected)'))
      .resolves({ Attributes: { value: 9 } });

    // Act / Assess: the error, and no second request that would count the apply as late.
    await expect(ledger().takeApplyTurn('run-unit', 'standard', 'cust-1', 2)).rejects.toThrow(
      'throttled (injected)',
    );
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
  });

  it('refuses a counter that answers no number instead of taking NaN as the apply index', async () => {
    // Prepare
    ddb.on(UpdateCommand).resolves({ Attributes: { value: 'seven' } });

    // Act / Assess
    await expect(ledger().takeApplyTurn('run-unit', 'standard', 'cust-1', 1)).rejects.toThrow(
      'apply counter answered "seven", not a count',
    );
  });

  it('writes an effect only if absent, keyed on its guard key, asking for the existing item', async () => {
    // Act
    const write = await ledger().putEffectIfAbsent(effect('order'));

    // Assess
    expect(write).toEqual({ written: true });
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input).toEqual({
      TableName: 'ledger',
      Item: {
        pk: 'RUN#run-unit',
        sk: 'EFFECT#standard#order-1#order',
        ...effectItemFields,
      },
      ConditionExpression: 'attribute_not_exists(sk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  it('writes the receive that applied an effect (its invocation and receive count) on the effect item, in its one request', async () => {
    // Act
    const stamped: Effect = { ...effect('order'), invocationId: 'req-9', receiveCount: 3 };
    const write = await ledger().putEffectIfAbsent(stamped);

    // Assess: one request, the conditional PutItem, carrying the stamp beside the fields it had.
    expect(write).toEqual({ written: true });
    expect(ddb.calls()).toHaveLength(1);
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input.Item).toEqual({
      pk: 'RUN#run-unit',
      sk: 'EFFECT#standard#order-1#order',
      ...effectItemFields,
      invocationId: 'req-9',
      receiveCount: 3,
    });
  });

  it('writes an unguarded effect without a condition', async () => {
    // Act
    await ledger().putEffect(effect('none'));

    // Assess
    const input = ddb.commandCalls(PutCommand)[0]?.args[0].input;
    expect(input?.Item).toMatchObject({ sk: 'EFFECT#standard#order-1#unguarded-fresh-1' });
    expect(input?.ConditionExpression).toBeUndefined();
  });

  // The effect's sort key is what the report and the guard already stored read: the items an
  // effect writes must stay byte for byte what they were, whatever says what it is unique on.
  it.each([
    ['order', 'EFFECT#standard#order-1#order'],
    ['message', 'EFFECT#standard#order-1#message-m-1'],
    ['none', 'EFFECT#standard#order-1#unguarded-fresh-1'],
  ] as const)('keys an effect unique on %s as %s, by either write', async (guard, sk) => {
    // Act
    await ledger().putEffectIfAbsent(effect(guard));
    await ledger().putEffect(effect(guard));

    // Assess
    const items = ddb.commandCalls(PutCommand).map((c) => c.args[0].input.Item);
    expect(items).toEqual([
      { ...effectItemFields, pk: 'RUN#run-unit', sk },
      { ...effectItemFields, pk: 'RUN#run-unit', sk },
    ]);
    expect(items.map((item) => JSON.stringify(item))).toEqual([
      `{"pk":"RUN#run-unit","sk":"${sk}",${EFFECT_ITEM_TAIL}}`,
      `{"pk":"RUN#run-unit","sk":"${sk}",${EFFECT_ITEM_TAIL}}`,
    ]);
  });

  it('keys each unguarded effect on a fresh id of its own', async () => {
    // Prepare
    let n = 0;
    const adapter = new DynamoConsumerLedger(
      DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
      'ledger',
      () => `id-${++n}`,
    );

    // Act
    await adapter.putEffect(effect('none'));
    await adapter.putEffect(effect('none'));

    // Assess
    expect(ddb.commandCalls(PutCommand).map((c) => c.args[0].input.Item?.sk)).toEqual([
      'EFFECT#standard#order-1#unguarded-id-1',
      'EFFECT#standard#order-1#unguarded-id-2',
    ]);
  });

  it('answers a refused write with the existing effect DynamoDB handed back', async () => {
    // Prepare: lib-dynamodb leaves the refusal's item as AttributeValues.
    ddb.on(PutCommand).rejects(refused({ applyIndex: { N: '3' }, committedAt: { N: '1500' } }));

    // Act
    const write = await ledger().putEffectIfAbsent(effect('order'));

    // Assess
    expect(write).toEqual({ written: false, existing: { applyIndex: 3, committedAt: 1500 } });
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
  });

  it('reads the existing effect back when the refusal carries no item (dynalite)', async () => {
    // Prepare
    ddb.on(PutCommand).rejects(refused());
    ddb.on(GetCommand).resolves({ Item: { applyIndex: 4, committedAt: 1600 } });

    // Act
    const write = await ledger().putEffectIfAbsent(effect('order'));

    // Assess
    expect(write).toEqual({ written: false, existing: { applyIndex: 4, committedAt: 1600 } });
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toMatchObject({
      Key: { pk: 'RUN#run-unit', sk: 'EFFECT#standard#order-1#order' },
      ConsistentRead: true,
    });
  });

  // The SDK retries a put whose answer was lost (a reset connection, a 500 after the write): when
  // the first try committed, the retry is refused by this attempt's own effect, which holds the
  // apply index this attempt took (the fixture's 2) and its commit time (2000).
  it("answers written when the effect DynamoDB hands back is this attempt's own (a retry after a lost answer)", async () => {
    // Prepare
    ddb.on(PutCommand).rejects(refused({ applyIndex: { N: '2' }, committedAt: { N: '2000' } }));

    // Act
    const write = await ledger().putEffectIfAbsent(effect('order'));

    // Assess
    expect(write).toEqual({ written: true });
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
  });

  it("answers written when the effect read back is this attempt's own (dynalite)", async () => {
    // Prepare
    ddb.on(PutCommand).rejects(refused());
    ddb.on(GetCommand).resolves({ Item: { applyIndex: 2, committedAt: 2000 } });

    // Act
    const write = await ledger().putEffectIfAbsent(effect('order'));

    // Assess
    expect(write).toEqual({ written: true });
  });

  it.each([
    ['another apply index, the same commit time', { applyIndex: 3, committedAt: 2000 }],
    ['the same apply index, another commit time', { applyIndex: 2, committedAt: 1999 }],
  ])('still refuses over an existing effect with %s', async (_name, existing) => {
    // Prepare
    ddb.on(PutCommand).rejects(refused());
    ddb.on(GetCommand).resolves({ Item: existing });

    // Act
    const write = await ledger().putEffectIfAbsent(effect('order'));

    // Assess
    expect(write).toEqual({ written: false, existing });
  });

  it.each([
    ['a missing committedAt', { applyIndex: { N: '3' } }, 'committedAt'],
    [
      'a string where a number is',
      { applyIndex: { S: '3' }, committedAt: { N: '1' } },
      'applyIndex',
    ],
    ['a fractional N', { applyIndex: { N: '1.5' }, committedAt: { N: '1' } }, 'applyIndex'],
    ['a zero apply index', { applyIndex: { N: '0' }, committedAt: { N: '1' } }, 'applyIndex'],
    ['a negative N', { applyIndex: { N: '-2' }, committedAt: { N: '1' } }, 'applyIndex'],
    [
      'an N beyond 2^53 (read as a BigInt)',
      { applyIndex: { N: '99999999999999999999' }, committedAt: { N: '1' } },
      'applyIndex',
    ],
  ])(
    'refuses an existing effect with %s instead of answering a number it does not hold',
    async (_name, item, field) => {
      // Prepare
      ddb.on(PutCommand).rejects(refused(item));

      // Act / Assess
      const write = ledger().putEffectIfAbsent(effect('order'));
      await expect(write).rejects.toThrow(LedgerValueError);
      await expect(write).rejects.toThrow(`${field} of EFFECT#standard#order-1#order`);
    },
  );

  it.each([
    ['a non-numeric N', { applyIndex: { N: 'x' }, committedAt: { N: '1500' } }, 'applyIndex'],
    [
      'an empty N (Number("") is 0)',
      { applyIndex: { N: '' }, committedAt: { N: '1' } },
      'applyIndex',
    ],
    ['a blank N', { applyIndex: { N: ' ' }, committedAt: { N: '1' } }, 'applyIndex'],
    ['a hexadecimal N', { applyIndex: { N: '0x10' }, committedAt: { N: '1' } }, 'applyIndex'],
    ['a document number', { applyIndex: 2, committedAt: { N: '1' } }, 'applyIndex'],
    ['a null', { applyIndex: { N: '2' }, committedAt: null }, 'committedAt'],
  ])(
    'refuses an existing effect whose item holds %s, which is no DynamoDB attribute, naming it',
    async (_name, item, field) => {
      // Prepare
      ddb.on(PutCommand).rejects(refused(item));

      // Act / Assess: the shared reader's error, naming the write and the attribute.
      const write = ledger().putEffectIfAbsent(effect('order'));
      await expect(write).rejects.toThrow(RefusedItemError);
      await expect(write).rejects.toThrow(
        `the item refusing the effect write EFFECT#standard#order-1#order holds ${field} `,
      );
      expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
    },
  );

  it.each([
    ['a negative number', { applyIndex: -2, committedAt: 1 }, 'applyIndex'],
    ['a fractional number', { applyIndex: 2, committedAt: 1.5 }, 'committedAt'],
    ['a null', { applyIndex: null, committedAt: 1 }, 'applyIndex'],
    ['a string', { applyIndex: '2', committedAt: 1 }, 'applyIndex'],
  ])(
    'refuses an existing effect read back (dynalite) holding %s instead of answering a number it does not hold',
    async (_name, item, field) => {
      // Prepare
      ddb.on(PutCommand).rejects(refused());
      ddb.on(GetCommand).resolves({ Item: item });

      // Act / Assess
      const write = ledger().putEffectIfAbsent(effect('order'));
      await expect(write).rejects.toThrow(LedgerValueError);
      await expect(write).rejects.toThrow(`${field} of EFFECT#standard#order-1#order`);
    },
  );

  it("answers a customer's first effect (apply index 1) when a write is refused over it", async () => {
    // Prepare: the existing effect holds the lowest index the counter hands out.
    ddb.on(PutCommand).rejects(refused({ applyIndex: { N: '1' }, committedAt: { N: '1500' } }));

    // Act
    const write = await ledger().putEffectIfAbsent(effect('order'));

    // Assess
    expect(write).toEqual({ written: false, existing: { applyIndex: 1, committedAt: 1500 } });
  });

  it('fails an effect write on an error other than the refused condition, reading nothing back', async () => {
    // Prepare
    ddb.on(PutCommand).rejects(new Error('throttled (injected)'));
    ddb.on(GetCommand).resolves({ Item: { applyIndex: 2, committedAt: 2000 } });

    // Act / Assess: the write's own error, not an answer made up from a read.
    await expect(ledger().putEffectIfAbsent(effect('order'))).rejects.toThrow(
      'throttled (injected)',
    );
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
  });

  it('refuses an effect read back without a number, and names one that vanished', async () => {
    // Prepare
    ddb.on(PutCommand).rejects(refused());
    ddb
      .on(GetCommand)
      .resolvesOnce({ Item: { applyIndex: 4 } })
      .resolves({});

    // Act / Assess
    await expect(ledger().putEffectIfAbsent(effect('order'))).rejects.toThrow(
      'committedAt of EFFECT#standard#order-1#order is missing, not a positive integer',
    );
    await expect(ledger().putEffectIfAbsent(effect('order'))).rejects.toThrow(EffectVanishedError);
  });
});

describe('DynamoConsumerLedger batch writes', () => {
  it('sends again only the items DynamoDB handed back unprocessed', async () => {
    // Prepare
    const unprocessed = [{ PutRequest: { Item: { pk: 'RUN#r', sk: 'DELIVERY#fifo#o2#d' } } }];
    ddb
      .on(BatchWriteCommand)
      .resolvesOnce({ UnprocessedItems: { ledger: unprocessed } })
      .resolves({});

    // Act
    await ledger().recordReceipts([receipt('o1', 'd'), receipt('o2', 'd')]);

    // Assess
    const sent = ddb.commandCalls(BatchWriteCommand).map((c) => c.args[0].input.RequestItems);
    expect(sent).toHaveLength(2);
    expect(sent[0]?.ledger).toHaveLength(2);
    expect(sent[1]).toEqual({ ledger: unprocessed });
  });

  it('puts the held items of another table in the end write, first, 25 items a request whatever their table, and sends again those handed back unprocessed', async () => {
    // Prepare: 20 COMPLETED idempotency records held, and 10 outcomes; the first request's
    // last idempotency item and first outcome come back unprocessed.
    const records = Array.from({ length: 20 }, (_, i) => ({ id: `k${i}`, status: 'COMPLETED' }));
    const ended = Array.from({ length: 10 }, (_, i) => ({
      receipt: receipt(`o${i}`, `d${i}`),
      outcome: { outcome: 'applied' as const, at: 5 },
    }));
    ddb
      .on(BatchWriteCommand)
      .callsFakeOnce((input: { RequestItems: Record<string, unknown[]> }) => ({
        UnprocessedItems: {
          idempotency: input.RequestItems.idempotency?.slice(-1),
          ledger: input.RequestItems.ledger?.slice(0, 1),
        },
      }))
      .resolves({});

    // Act
    await ledger().recordInvocationEnd({
      ended,
      unrun: [],
      failures: [],
      held: [{ tableName: 'idempotency', items: records }],
    });

    // Assess: 20 records and 5 outcomes, then the 2 handed back, then the other 5 outcomes.
    const sent = ddb.commandCalls(BatchWriteCommand).map((c) => c.args[0].input.RequestItems);
    expect(sent.map((r) => [r?.idempotency?.length ?? 0, r?.ledger?.length ?? 0])).toEqual([
      [20, 5],
      [1, 1],
      [0, 5],
    ]);
    expect(sent[0]?.idempotency?.[0]).toEqual({ PutRequest: { Item: records[0] } });
    expect(sent[1]?.idempotency).toEqual([{ PutRequest: { Item: records[19] } }]);
  });

  it("names each table's items left unprocessed when the end write carries the held idempotency records", async () => {
    // Prepare: every item comes back unprocessed.
    ddb.on(BatchWriteCommand).callsFake((input: { RequestItems: Record<string, unknown[]> }) => ({
      UnprocessedItems: input.RequestItems,
    }));

    // Act / Assess
    await expect(
      ledger().recordInvocationEnd({
        ended: [{ receipt: receipt('o1', 'd1'), outcome: { outcome: 'applied', at: 5 } }],
        unrun: [],
        failures: [],
        held: [{ tableName: 'idempotency', items: [{ id: 'k1' }, { id: 'k2' }] }],
      }),
    ).rejects.toThrow(
      '3 batch writes still unprocessed after 5 attempts: 2 of idempotency, 1 of ledger',
    );
  });

  it('writes more than 25 items in requests of at most 25', async () => {
    // Act
    await ledger().recordReceipts(Array.from({ length: 26 }, (_, i) => receipt(`o${i}`, `d${i}`)));

    // Assess
    expect(batchRequests().map((r) => r?.length)).toEqual([25, 1]);
  });

  it('fails when items stay unprocessed, so the invocation fails and SQS hands the batch back', async () => {
    // Prepare
    ddb.on(BatchWriteCommand).callsFake((input: { RequestItems: Record<string, unknown[]> }) => ({
      UnprocessedItems: input.RequestItems,
    }));

    const started = Date.now();

    // Act / Assess
    await expect(ledger().recordReceipts([receipt('o1', 'd')])).rejects.toThrow(
      '1 batch writes still unprocessed after 5 attempts: 1 of ledger',
    );
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(5);
    // Backing off between tries (50, 100, 200, 400 ms) as throttling asks, not at once.
    expect(Date.now() - started).toBeGreaterThanOrEqual(750);
  });
});
