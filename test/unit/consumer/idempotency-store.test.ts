import { createHash } from 'node:crypto';
import {
  IdempotencyConfig,
  IdempotencyItemAlreadyExistsError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  CallDeadline,
  InvocationDeadlineError,
} from '../../../services/consumer/src/adapters/call-deadline';
import { OwnWriteDynamoDBPersistenceLayer } from '../../../services/consumer/src/adapters/idempotency-store';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { type InProcessDynamo, startDynalite } from '../support/dynalite';
import { logRequests } from '../support/dynamodb-requests';

// The consumer's persistence layer against dynalite: Powertools' put rule kept, and one case
// added (the SDK's second copy of the same put). The whole consumer on it, Powertools' handler
// included (duplicates, expiry, in-progress expiry, payload validation):
// idempotency-dynalite.test.ts; the second copy through a real proxy:
// test/integration/idempotency-answer-late.test.ts.
const { idempotency } = pipelineConfig.tables;

let dynamo: InProcessDynamo;
beforeAll(async () => {
  dynamo = await startDynalite([idempotency]);
});
afterAll(() => dynamo.stop());

/**
 * A layer configured as the consumer's, whose puts take the given writer ids in turn; its
 * records expire after `expiresAfterSeconds` (Powertools' default, an hour, when not given).
 */
function layer(ids: string[], expiresAfterSeconds?: number): OwnWriteDynamoDBPersistenceLayer {
  const store = new OwnWriteDynamoDBPersistenceLayer({
    tableName: idempotency.name,
    client: dynamo.client,
    newId: () => ids.shift() ?? 'no-more-ids',
  });
  store.configure({
    config: new IdempotencyConfig({
      eventKeyJmesPath: 'orderId',
      payloadValidationJmesPath: 'amount',
      ...(expiresAfterSeconds !== undefined ? { expiresAfterSeconds } : {}),
    }),
    keyPrefix: 'unit',
  });
  return store;
}

/**
 * DynamoDB's refusal of a put, carrying (ReturnValuesOnConditionCheckFailure) a COMPLETED record
 * under key unit#k, unexpired, whose stored result is applyIndex 4, committedAt 5; `more` adds
 * or replaces attributes.
 */
const refusedWithCompleted = (more: Record<string, AttributeValue>) =>
  new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
    Item: {
      id: { S: 'unit#k' },
      status: { S: 'COMPLETED' },
      expiration: { N: String(Math.floor(Date.now() / 1000) + 60) },
      data: { M: { applyIndex: { N: '4' }, committedAt: { N: '5' } } },
      ...more,
    },
  });

const item = async (orderId: string) => {
  const key = `unit#${createHash('md5').update(JSON.stringify(orderId)).digest('base64')}`;
  const out = await dynamo.client.send(
    new GetItemCommand({
      TableName: idempotency.name,
      Key: { id: { S: key } },
      ConsistentRead: true,
    }),
  );
  return { key, item: out.Item };
};

describe('the consumer’s idempotency persistence layer', () => {
  it('lets the second copy of its own IN_PROGRESS put through, the record as the first wrote it', async () => {
    // Two puts with the same writer id: what the SDK sends again after a try that committed.
    const store = layer(['put-1', 'put-1']);
    await store.saveInProgress({ orderId: 'o-own', amount: 1 }, 5_000);
    await expect(store.saveInProgress({ orderId: 'o-own', amount: 1 }, 5_000)).resolves.toBe(
      undefined,
    );
    const { item: written } = await item('o-own');
    expect(written?.status?.S).toBe('INPROGRESS');
    expect(written?.inProgressBy?.S).toBe('put-1');
  });

  it('refuses another put of the same key while IN_PROGRESS (a copy of the message)', async () => {
    const store = layer(['put-a', 'put-b']);
    await store.saveInProgress({ orderId: 'o-copy', amount: 1 }, 5_000);
    const refused = await store
      .saveInProgress({ orderId: 'o-copy', amount: 1 }, 5_000)
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(IdempotencyItemAlreadyExistsError);
    // dynalite hands back no item with a refusal (DynamoDB does, and the error carries it: the
    // last test), so Powertools reads the record, as here: the first put's, in progress.
    expect((await store.getRecord({ orderId: 'o-copy', amount: 1 })).getStatus()).toBe(
      'INPROGRESS',
    );
    expect((await item('o-copy')).item?.inProgressBy?.S).toBe('put-a');
  });

  it('refuses its own second copy once the record is COMPLETED', async () => {
    const store = layer(['put-c', 'put-c']);
    await store.saveInProgress({ orderId: 'o-done', amount: 1 }, 5_000);
    await store.saveSuccess({ orderId: 'o-done', amount: 1 }, { applyIndex: 1, committedAt: 1 });
    const refused = await store
      .saveInProgress({ orderId: 'o-done', amount: 1 }, 5_000)
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(IdempotencyItemAlreadyExistsError);
    expect((await store.getRecord({ orderId: 'o-done', amount: 1 })).getStatus()).toBe('COMPLETED');
  });

  it('takes over a record whose in-progress expiry has passed, or that has expired (Powertools’ rule)', async () => {
    const store = layer(['put-d', 'put-e', 'put-f']);
    await store.saveInProgress({ orderId: 'o-stale', amount: 1 }, 5_000);
    const { key } = await item('o-stale');
    // The invocation holding it died: its deadline is behind.
    await dynamo.client.send(
      new UpdateItemCommand({
        TableName: idempotency.name,
        Key: { id: { S: key } },
        UpdateExpression: 'SET in_progress_expiration = :past',
        ExpressionAttributeValues: { ':past': { N: String(Date.now() - 1) } },
      }),
    );
    await store.saveInProgress({ orderId: 'o-stale', amount: 1 }, 5_000);
    expect((await item('o-stale')).item?.inProgressBy?.S).toBe('put-e');
    // Completed, then expired.
    await store.saveSuccess({ orderId: 'o-stale', amount: 1 }, { applyIndex: 1, committedAt: 1 });
    await dynamo.client.send(
      new UpdateItemCommand({
        TableName: idempotency.name,
        Key: { id: { S: key } },
        UpdateExpression: 'SET expiration = :past',
        ExpressionAttributeValues: { ':past': { N: String(Math.floor(Date.now() / 1000) - 1) } },
      }),
    );
    await store.saveInProgress({ orderId: 'o-stale', amount: 1 }, 5_000);
    expect((await item('o-stale')).item).toMatchObject({
      status: { S: 'INPROGRESS' },
      inProgressBy: { S: 'put-f' },
    });
  });

  it('hands Powertools the record DynamoDB returns with a refusal (ReturnValuesOnConditionCheckFailure)', async () => {
    // DynamoDB's answer, mocked: dynalite returns no item with a refusal.
    const client = new DynamoDBClient({ region: 'eu-west-1' });
    const mocked = mockClient(DynamoDBDocumentClient);
    mocked.on(PutCommand).rejects(
      refusedWithCompleted({
        in_progress_expiration: { N: '123' },
        validation: { S: 'hash' },
        inProgressBy: { S: 'someone-else' },
      }),
    );
    const store = new OwnWriteDynamoDBPersistenceLayer({ tableName: idempotency.name, client });
    store.configure({ config: new IdempotencyConfig({ eventKeyJmesPath: 'orderId' }) });

    const refused = await store.saveInProgress({ orderId: 'o-mocked' }, 5_000).catch((e) => e);

    expect(refused).toBeInstanceOf(IdempotencyItemAlreadyExistsError);
    const found = (refused as IdempotencyItemAlreadyExistsError).existingRecord;
    expect(found).toMatchObject({
      idempotencyKey: 'unit#k',
      inProgressExpiryTimestamp: 123,
      responseData: { applyIndex: 4, committedAt: 5 },
      payloadHash: 'hash',
    });
    expect(found?.getStatus()).toBe('COMPLETED');
    mocked.restore();
  });

  it("writes Powertools' own item under Powertools' own condition, plus only its writer id and its one case (fails when Powertools changes its put)", async () => {
    // The layer re-states Powertools' put (@aws-lambda-powertools/idempotency, pinned in
    // package.json). Both puts of one record, captured: the stock layer's and this one's. Their
    // conditions, with names and values put in, must be the same rule with this layer's one case
    // added, and their items the same item with the writer id added; a Powertools release that
    // changes its put (another case, another attribute) fails here, before the two drift apart.
    const stock = mockClient(DynamoDBClient);
    const ours = mockClient(DynamoDBDocumentClient);
    stock.on(PutItemCommand).resolves({});
    ours.on(PutCommand).resolves({});
    const now = jest.spyOn(Date, 'now').mockReturnValue(1_764_050_001_234);
    try {
      const config = new IdempotencyConfig({
        eventKeyJmesPath: 'orderId',
        payloadValidationJmesPath: 'amount',
      });
      const client = new DynamoDBClient({ region: 'eu-west-1' });
      const theirs = new DynamoDBPersistenceLayer({
        tableName: idempotency.name,
        awsSdkV3Client: client,
      });
      const mine = new OwnWriteDynamoDBPersistenceLayer({
        tableName: idempotency.name,
        client,
        newId: () => 'put-x',
      });
      for (const layer of [theirs, mine]) {
        layer.configure({ config, keyPrefix: 'unit' });
        await layer.saveInProgress({ orderId: 'o-contract', amount: 3 }, 5_000);
      }
      const theirInput = stock.commandCalls(PutItemCommand)[0]!.args[0].input;
      const ourInput = ours.commandCalls(PutCommand)[0]!.args[0].input;

      /** A condition with its placeholders replaced by the names and values they stand for. */
      const spelled = (
        expression: string | undefined,
        names: Record<string, string> | undefined,
        values: Record<string, unknown>,
      ) =>
        (expression ?? '')
          .replace(/#\w+/g, (n) => names?.[n] ?? `<unknown ${n}>`)
          .replace(/:\w+/g, (v) => (v in values ? JSON.stringify(values[v]) : `<unknown ${v}>`));
      const theirValues = Object.fromEntries(
        Object.entries(theirInput.ExpressionAttributeValues ?? {}).map(([k, v]) => [k, v.N ?? v.S]),
      );
      const ourValues = Object.fromEntries(
        Object.entries(ourInput.ExpressionAttributeValues ?? {}).map(([k, v]) => [k, String(v)]),
      );
      const theirRule = spelled(
        theirInput.ConditionExpression,
        theirInput.ExpressionAttributeNames,
        theirValues,
      );
      expect(theirRule).toBe(
        'attribute_not_exists(id) OR expiration < "1764050001.234" OR (status = "INPROGRESS" AND attribute_exists(in_progress_expiration) AND in_progress_expiration < "1764050001234")',
      );
      expect(
        spelled(ourInput.ConditionExpression, ourInput.ExpressionAttributeNames, ourValues),
      ).toBe(`${theirRule} OR (status = "INPROGRESS" AND inProgressBy = "put-x")`);
      expect(marshall(ourInput.Item ?? {})).toEqual({
        ...theirInput.Item,
        inProgressBy: { S: 'put-x' },
      });
      expect(ourInput.TableName).toBe(theirInput.TableName);
      expect(ourInput.ReturnValuesOnConditionCheckFailure).toBe(
        theirInput.ReturnValuesOnConditionCheckFailure,
      );
    } finally {
      now.mockRestore();
      stock.restore();
      ours.restore();
    }
  });

  it("answers through Powertools' handler with a COMPLETED record's stored result from the refusal alone: the function does not run, nothing is read", async () => {
    // Powertools' handler takes the record the refusal carries (existingRecord) and answers from
    // it; without it, it reads the record (GetItem). Both clients mocked: the put refused with a
    // COMPLETED item, any GetItem a failure the test would see.
    const documents = mockClient(DynamoDBDocumentClient);
    const raw = mockClient(DynamoDBClient);
    raw
      .on(GetItemCommand)
      .rejects(new Error('read the record instead of taking it from the refusal'));
    const client = new DynamoDBClient({ region: 'eu-west-1' });
    const store = new OwnWriteDynamoDBPersistenceLayer({ tableName: idempotency.name, client });
    try {
      const config = new IdempotencyConfig({ eventKeyJmesPath: 'orderId' });
      let runs = 0;
      const apply = makeIdempotent(
        async (_order: { orderId: string }) => {
          runs++;
          return { applyIndex: 99, committedAt: 99 };
        },
        { persistenceStore: store, config, keyPrefix: 'unit' },
      );
      // Powertools takes the record as found; its key is not compared.
      documents
        .on(PutCommand)
        .rejects(refusedWithCompleted({ inProgressBy: { S: 'an-earlier-put' } }));

      await expect(apply({ orderId: 'o-answered' })).resolves.toEqual({
        applyIndex: 4,
        committedAt: 5,
      });
      expect(runs).toBe(0);
      expect(raw.commandCalls(GetItemCommand)).toHaveLength(0);
    } finally {
      documents.restore();
      raw.restore();
    }
  });
});

describe('Powertools’ answer from an IN_PROGRESS record whose in-progress expiry has passed', () => {
  it('pins Powertools 2.35: it answers "already in progress" and does not try the put again (IdempotencyHandler compares the expiry with getUTCMilliseconds(), 0-999)', async () => {
    // Powertools means such a record to raise IdempotencyInconsistentStateError, which its
    // handler answers by trying the put again (which the layer's condition lets through, the
    // record being past its in-progress expiry). Its check compares the expiry (epoch ms) with
    // new Date().getUTCMilliseconds(), so it never holds. The layer's put can hand it such a
    // record only when the expiry passed between the put's `now` and Powertools' look at the
    // record (the put's round trip, or its SDK tries): an invocation elsewhere that died holding
    // the record, whose deadline falls in that window. The copy then fails "already in progress"
    // and comes back after the visibility timeout, where a try more would have run it. When
    // Powertools fixes the check, this fails: then the put is sent again.
    const documents = mockClient(DynamoDBDocumentClient);
    const client = new DynamoDBClient({ region: 'eu-west-1' });
    const store = new OwnWriteDynamoDBPersistenceLayer({ tableName: idempotency.name, client });
    try {
      const config = new IdempotencyConfig({ eventKeyJmesPath: 'orderId' });
      config.registerLambdaContext({ getRemainingTimeInMillis: () => 5_000 } as never);
      let runs = 0;
      const apply = makeIdempotent(
        async (_order: { orderId: string }) => {
          runs++;
          return { applyIndex: 1, committedAt: 1 };
        },
        { persistenceStore: store, config, keyPrefix: 'unit' },
      );
      documents.on(PutCommand).rejects(
        refusedWithCompleted({
          status: { S: 'INPROGRESS' },
          in_progress_expiration: { N: String(Date.now() - 1_000) },
          inProgressBy: { S: 'an-environment-that-died' },
        }),
      );

      const outcome = await apply({ orderId: 'o-past-in-progress-expiry' }).catch((e) => e);

      expect(outcome).toMatchObject({ name: 'IdempotencyAlreadyInProgressError' });
      expect(documents.commandCalls(PutCommand)).toHaveLength(1);
      expect(runs).toBe(0);
    } finally {
      documents.restore();
    }
  });
});

describe('the layer’s COMPLETED write, held for the invocation’s end write', () => {
  const table = idempotency.name;
  const order = (orderId: string) => ({ orderId, amount: 1 });

  it('sends no UpdateItem: the record stays IN_PROGRESS in the table, and the held item is the whole item Powertools’ own update leaves', async () => {
    // Prepare: the same put and COMPLETED, of two keys at one instant, by a layer that sends
    // Powertools' own update (no invocation begun) and by one that holds it.
    const now = jest.spyOn(Date, 'now').mockReturnValue(Date.now());
    const log = logRequests(dynamo.client);
    try {
      const sending = layer(['put-s']);
      await sending.saveInProgress(order('o-sent'), 5_000);
      await sending.saveSuccess(order('o-sent'), { applyIndex: 3, committedAt: 7 });
      const holding = layer(['put-s']);
      holding.beginInvocation();
      const before = log.sent.length;

      // Act
      await holding.saveInProgress(order('o-held'), 5_000);
      await holding.saveSuccess(order('o-held'), { applyIndex: 3, committedAt: 7 });

      // Assess: one PutItem, no UpdateItem; the table still holds the put's IN_PROGRESS item.
      expect(log.sent.slice(before)).toEqual([{ operation: 'PutItem', tables: [table] }]);
      const { key, item: inTable } = await item('o-held');
      expect(inTable?.status?.S).toBe('INPROGRESS');
      // The held item, against the one Powertools' update left in the table: the same
      // attributes and values, key aside.
      const held = holding.takeHeld();
      expect(held).toHaveLength(1);
      expect(held[0]?.tableName).toBe(table);
      const sent = (await item('o-sent')).item ?? {};
      expect(marshall(held[0]?.items[0] ?? {})).toEqual({ ...sent, id: { S: key } });
      expect(held[0]?.items[0]).toMatchObject({
        id: key,
        status: 'COMPLETED',
        data: { applyIndex: 3, committedAt: 7 },
        inProgressBy: 'put-s',
        in_progress_expiration: expect.any(Number),
        expiration: expect.any(Number),
        validation: expect.any(String),
      });
      // Handed over once.
      expect(holding.takeHeld()).toEqual([]);
    } finally {
      log.stop();
      now.mockRestore();
    }
  });

  it('answers a second copy of a held key from the held record, without a request', async () => {
    // Prepare
    const store = layer(['put-h1', 'put-h2']);
    store.beginInvocation();
    await store.saveInProgress(order('o-twice'), 5_000);
    await store.saveSuccess(order('o-twice'), { applyIndex: 2, committedAt: 9 });
    const log = logRequests(dynamo.client);
    try {
      // Act
      const refused = await store.saveInProgress(order('o-twice'), 5_000).catch((e) => e);
      const read = await store.getRecord(order('o-twice'));

      // Assess
      expect(refused).toBeInstanceOf(IdempotencyItemAlreadyExistsError);
      const found = (refused as IdempotencyItemAlreadyExistsError).existingRecord;
      expect(found?.getStatus()).toBe('COMPLETED');
      expect(found?.getResponse()).toEqual({ applyIndex: 2, committedAt: 9 });
      expect(read.getStatus()).toBe('COMPLETED');
      expect(log.sent).toEqual([]);
    } finally {
      log.stop();
    }
  });

  it('says a put would be answered from what it holds exactly when it holds the key COMPLETED, unexpired (what lets a copy run past the cut)', async () => {
    // Prepare: records expire after 1 s; one order completed and held, another only put.
    const t0 = Date.now();
    const now = jest.spyOn(Date, 'now').mockReturnValue(t0);
    try {
      const store = layer(['put-a1', 'put-a2', 'put-a3'], 1);
      store.beginInvocation();
      await store.saveInProgress(order('o-answers'), 60_000);
      await store.saveSuccess(order('o-answers'), { applyIndex: 1, committedAt: 1 });
      await store.saveInProgress(order('o-running'), 60_000);
      const log = logRequests(dynamo.client);

      // Act and assess: held COMPLETED answers, whatever else the payload holds (Powertools keys
      // on the order id); a record only put, another order, or no order id does not.
      expect(store.answersHeld({ orderId: 'o-answers', amount: 1 })).toBe(true);
      expect(store.answersHeld({ orderId: 'o-answers', amount: 2 })).toBe(true);
      expect(store.answersHeld({ orderId: 'o-running', amount: 1 })).toBe(false);
      expect(store.answersHeld({ orderId: 'o-other', amount: 1 })).toBe(false);
      expect(store.answersHeld({ amount: 1 })).toBe(false);
      // Past the held record's expiry the put goes to the table: no answer held.
      now.mockReturnValue(t0 + 3_000);
      expect(store.answersHeld({ orderId: 'o-answers', amount: 1 })).toBe(false);
      log.stop();
      expect(log.sent).toEqual([]);

      // Not holding (the effect guard off), nothing is answered without a put: the COMPLETED
      // update went to the table.
      now.mockReturnValue(t0);
      const unheld = layer(['put-a4']);
      unheld.beginInvocation({ hold: false });
      await unheld.saveInProgress(order('o-unheld'), 60_000);
      await unheld.saveSuccess(order('o-unheld'), { applyIndex: 1, committedAt: 1 });
      expect(unheld.answersHeld({ orderId: 'o-unheld', amount: 1 })).toBe(false);
    } finally {
      now.mockRestore();
    }
  });

  it('drops at the next invocation what an invocation held and did not hand to an end write', async () => {
    // Prepare: an invocation completes a record and throws before its end write.
    const store = layer(['put-l1', 'put-l2']);
    store.beginInvocation();
    await store.saveInProgress(order('o-left'), 5_000);
    await store.saveSuccess(order('o-left'), { applyIndex: 1, committedAt: 1 });

    // Act: the next invocation of the environment.
    store.beginInvocation();
    const copy = await store.saveInProgress(order('o-left'), 5_000).catch((e) => e);

    // Assess: nothing held is written or answers: the copy meets the IN_PROGRESS record in the
    // table (the first invocation's deadline ahead), as after a crash.
    expect(store.takeHeld()).toEqual([]);
    expect(copy).toBeInstanceOf(IdempotencyItemAlreadyExistsError);
    expect((await store.getRecord(order('o-left'))).getStatus()).toBe('INPROGRESS');
    expect((await item('o-left')).item?.status?.S).toBe('INPROGRESS');
  });

  it('answers nothing from a held record that has expired: the copy’s put goes to the table, whose expired record it takes, as Powertools’ rule lets it', async () => {
    // Prepare: records expire after 1 s; an invocation completes a record (held), and a copy
    // of the order comes later in the same invocation, 3 s on: past the record's expiry, not
    // past its in-progress expiry (the invocation's deadline, 60 s).
    const t0 = Date.now();
    const now = jest.spyOn(Date, 'now').mockReturnValue(t0);
    try {
      const store = layer(['put-e1', 'put-e2'], 1);
      store.beginInvocation();
      await store.saveInProgress(order('o-expired'), 60_000);
      await store.saveSuccess(order('o-expired'), { applyIndex: 1, committedAt: 1 });
      now.mockReturnValue(t0 + 3_000);

      // Act
      const copy = await store.saveInProgress(order('o-expired'), 57_000).catch((e) => e);

      // Assess: as with the COMPLETED record in the table (Powertools' own update), whose
      // expiry lets a put through, the copy's put takes the record and its function runs; an
      // expired held answer instead is EXPIRED to Powertools (IdempotencyInconsistentStateError,
      // three tries, the delivery failed).
      expect(copy).toBeUndefined();
      expect((await item('o-expired')).item?.inProgressBy?.S).toBe('put-e2');
      await store.saveSuccess(order('o-expired'), { applyIndex: 1, committedAt: 1 });
      expect(store.takeHeld()[0]?.items.map((i) => i.inProgressBy)).toEqual(['put-e2']);
    } finally {
      now.mockRestore();
    }
  });

  it('holds nothing for a record whose function failed: Powertools’ delete drops the held COMPLETED item it replaced', async () => {
    // Prepare: as above, a held record past its expiry and a copy whose put took the record in
    // the table; the copy's function fails, and Powertools deletes the record.
    const t0 = Date.now();
    const now = jest.spyOn(Date, 'now').mockReturnValue(t0);
    try {
      const store = layer(['put-d1', 'put-d2'], 1);
      store.beginInvocation();
      await store.saveInProgress(order('o-deleted'), 60_000);
      await store.saveSuccess(order('o-deleted'), { applyIndex: 1, committedAt: 1 });
      now.mockReturnValue(t0 + 3_000);
      await store.saveInProgress(order('o-deleted'), 57_000);

      // Act
      await store.deleteRecord(order('o-deleted'));

      // Assess: the end write puts back no record the table no longer holds.
      expect((await item('o-deleted')).item).toBeUndefined();
      expect(store.takeHeld()).toEqual([]);
    } finally {
      now.mockRestore();
    }
  });
});

describe('a copy running beside its order in the same invocation (a standard batch in parallel)', () => {
  const order = (orderId: string) => ({ orderId, amount: 1 });
  /** Whether `promise` has settled within a few turns of the event loop. */
  const settledSoon = async (promise: Promise<unknown>) => {
    let settled = false;
    void promise.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    return settled;
  };

  it('waits for the put that refused it, then answers from the record it holds COMPLETED', async () => {
    // Prepare: the order's put wrote its record; the copy's put is refused by it (dynalite
    // hands back no item: the key's put under way in this invocation is the one).
    const store = layer(['put-p1', 'put-p2']);
    store.beginInvocation();
    await store.saveInProgress(order('o-beside'), 5_000);

    // Act
    const copy = store.saveInProgress(order('o-beside'), 5_000).catch((e: unknown) => e);
    const answeredEarly = await settledSoon(copy);
    await store.saveSuccess(order('o-beside'), { applyIndex: 6, committedAt: 8 });

    // Assess: no answer while the order ran; then the held COMPLETED record.
    expect(answeredEarly).toBe(false);
    const refused = await copy;
    expect(refused).toBeInstanceOf(IdempotencyItemAlreadyExistsError);
    const found = (refused as IdempotencyItemAlreadyExistsError).existingRecord;
    expect(found?.getStatus()).toBe('COMPLETED');
    expect(found?.getResponse()).toEqual({ applyIndex: 6, committedAt: 8 });
  });

  it('gives up waiting at the records’ cut when the order’s put has not ended by then: the copy fails as out of time, before Lambda’s timeout', async () => {
    // Prepare: the layer with the cut on the invocation's calls, the records' cut 300 ms away
    // (room for dynalite to refuse the copy's put on a loaded machine before the cut);
    // the order's put wrote its record and its function runs on (an injected stall: no call of
    // its own that the cut would end).
    const deadline = new CallDeadline();
    const ids = ['put-c1', 'put-c2'];
    const store = new OwnWriteDynamoDBPersistenceLayer({
      tableName: idempotency.name,
      client: dynamo.client,
      newId: () => ids.shift() ?? 'no-more-ids',
      deadline,
    });
    store.configure({
      config: new IdempotencyConfig({ eventKeyJmesPath: 'orderId' }),
      keyPrefix: 'unit',
    });
    store.beginInvocation();
    await store.saveInProgress(order('o-beside-cut'), 5_000);
    const start = performance.now();
    deadline.cutIn(300);

    // Act: the copy's put, refused by the order's record, waits; given 2 s at most here.
    const copy = store.saveInProgress(order('o-beside-cut'), 5_000).catch((e: unknown) => e);
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      copy,
      new Promise((resolve) => {
        timer = setTimeout(() => resolve('still waiting'), 2_000);
      }),
    ]);
    clearTimeout(timer);
    const waitedMs = performance.now() - start;
    await store.saveSuccess(order('o-beside-cut'), { applyIndex: 1, committedAt: 2 });

    // Assess: the wait given up at the cut with the cut's error, which says it was the wait (not
    // the copy's put, cut had dynalite been slower than the cut), after as long as the order ran.
    expect(outcome).toBeInstanceOf(InvocationDeadlineError);
    expect((outcome as Error).message).toMatch(/^the wait for the put of .+ given up/);
    expect(waitedMs).toBeGreaterThanOrEqual(290);
    expect(waitedMs).toBeLessThan(1_000);
  });

  it('not holding (the effect guard off), waits for the order’s COMPLETED update, sent at once, then answers from the record it wrote', async () => {
    // Prepare: an invocation begun without holding: Powertools' COMPLETED update goes to the
    // table as the record completes.
    const store = layer(['put-u1', 'put-u2']);
    store.beginInvocation({ hold: false });
    await store.saveInProgress(order('o-beside-unheld'), 5_000);

    // Act
    const copy = store.saveInProgress(order('o-beside-unheld'), 5_000).catch((e: unknown) => e);
    const answeredEarly = await settledSoon(copy);
    await store.saveSuccess(order('o-beside-unheld'), { applyIndex: 3, committedAt: 4 });

    // Assess: no answer while the order ran; then the COMPLETED record its update wrote, which
    // the table holds; nothing held for an end write.
    expect(answeredEarly).toBe(false);
    const refused = await copy;
    expect(refused).toBeInstanceOf(IdempotencyItemAlreadyExistsError);
    const found = (refused as IdempotencyItemAlreadyExistsError).existingRecord;
    expect(found?.getStatus()).toBe('COMPLETED');
    expect(found?.getResponse()).toEqual({ applyIndex: 3, committedAt: 4 });
    expect((await item('o-beside-unheld')).item?.status?.S).toBe('COMPLETED');
    expect(store.takeHeld()).toEqual([]);
  });

  it('not holding, refuses it as before when the order’s COMPLETED update failed: the table still holds it IN_PROGRESS', async () => {
    // Prepare: the order's put wrote its record; its COMPLETED update will fail (the table's
    // client refuses UpdateItem once).
    const store = layer(['put-x1', 'put-x2']);
    store.beginInvocation({ hold: false });
    await store.saveInProgress(order('o-beside-update-failed'), 5_000);
    const refuseUpdate = jest.spyOn(dynamo.client, 'send').mockImplementationOnce(async () => {
      throw new Error('update failed');
    });

    // Act
    const copy = store
      .saveInProgress(order('o-beside-update-failed'), 5_000)
      .catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const update = await store
      .saveSuccess(order('o-beside-update-failed'), { applyIndex: 1, committedAt: 2 })
      .catch((e: unknown) => e);
    refuseUpdate.mockRestore();

    // Assess: the update failed; the copy is refused with no record to answer from (dynalite
    // hands back none: Powertools reads the IN_PROGRESS one and says "already in progress").
    expect(update).toMatchObject({ message: 'update failed' });
    const refused = await copy;
    expect(refused).toBeInstanceOf(IdempotencyItemAlreadyExistsError);
    expect((refused as IdempotencyItemAlreadyExistsError).existingRecord).toBeUndefined();
    expect((await item('o-beside-update-failed')).item?.status?.S).toBe('INPROGRESS');
  });

  it('refuses it as before once the order failed (its record deleted): no answer to give', async () => {
    // Prepare
    const store = layer(['put-f1', 'put-f2']);
    store.beginInvocation();
    await store.saveInProgress(order('o-beside-failed'), 5_000);

    // Act
    const copy = store.saveInProgress(order('o-beside-failed'), 5_000).catch((e: unknown) => e);
    await store.deleteRecord(order('o-beside-failed'));

    // Assess: the refusal as dynalite gives it (no record: Powertools reads it), nothing held.
    const refused = await copy;
    expect(refused).toBeInstanceOf(IdempotencyItemAlreadyExistsError);
    expect((refused as IdempotencyItemAlreadyExistsError).existingRecord).toBeUndefined();
    expect(store.takeHeld()).toEqual([]);
  });

  it('tells the put by the writer id DynamoDB hands back with the refusal: its own put waited for, another environment’s not', async () => {
    // Prepare: DynamoDB's answers, mocked (dynalite returns no item with a refusal): the
    // order's put succeeds, each later put is refused by an IN_PROGRESS record naming `writer`.
    const client = new DynamoDBClient({ region: 'eu-west-1' });
    const mocked = mockClient(DynamoDBDocumentClient);
    const inProgressBy = (writer: string) =>
      new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: {},
        Item: {
          id: { S: 'unit#k' },
          status: { S: 'INPROGRESS' },
          expiration: { N: String(Math.floor(Date.now() / 1000) + 60) },
          in_progress_expiration: { N: String(Date.now() + 5_000) },
          inProgressBy: { S: writer },
        },
      });
    try {
      const ids = ['put-m1', 'put-m2', 'put-m3'];
      const store = new OwnWriteDynamoDBPersistenceLayer({
        tableName: idempotency.name,
        client,
        newId: () => ids.shift() ?? 'no-more-ids',
      });
      store.configure({ config: new IdempotencyConfig({ eventKeyJmesPath: 'orderId' }) });
      store.beginInvocation();
      mocked
        .on(PutCommand)
        .resolvesOnce({})
        .rejectsOnce(inProgressBy('someone-else'))
        .rejectsOnce(inProgressBy('put-m1'));
      await store.saveInProgress(order('o-mocked-beside'), 5_000);

      // Act: a copy refused by another environment's record, then one refused by the order's.
      const foreign = await store
        .saveInProgress(order('o-mocked-beside'), 5_000)
        .catch((e: unknown) => e);
      const copy = store.saveInProgress(order('o-mocked-beside'), 5_000).catch((e: unknown) => e);
      const answeredEarly = await settledSoon(copy);
      await store.saveSuccess(order('o-mocked-beside'), { applyIndex: 2, committedAt: 3 });

      // Assess: the foreign record answered at once, as found (in progress); the copy of the
      // order's own put once it completed, from the held record.
      expect((foreign as IdempotencyItemAlreadyExistsError).existingRecord?.getStatus()).toBe(
        'INPROGRESS',
      );
      expect(answeredEarly).toBe(false);
      const found = ((await copy) as IdempotencyItemAlreadyExistsError).existingRecord;
      expect(found?.getStatus()).toBe('COMPLETED');
      expect(found?.getResponse()).toEqual({ applyIndex: 2, committedAt: 3 });
    } finally {
      mocked.restore();
    }
  });
});
