import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoLedger } from '../../../services/producer/src/adapters/ledger';
import type { AcceptedOrder } from '../../../services/producer/src/domain/ports';

/** The producer's DynamoDB adapter on its own, against a mocked document client. */
const ddb = mockClient(DynamoDBDocumentClient);
/** A logger for the cases that do not look at what is logged. */
const quiet = { warn: () => {} };
const client = () => DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
const ledger = () => {
  const documents = client();
  return new DynamoLedger(documents, 'ledger', documents, quiet);
};

beforeEach(() => ddb.reset());

describe('DynamoLedger.nextSequence', () => {
  it("answers the customer's counter after one atomic ADD in the run's partition", async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { value: 7 } });

    await expect(ledger().nextSequence('run-1', 'cust-1')).resolves.toBe(7);
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toMatchObject({
      TableName: 'ledger',
      Key: { pk: 'RUN#run-1', sk: 'COUNTER#sequence#cust-1' },
      UpdateExpression: 'ADD #value :one',
      ReturnValues: 'UPDATED_NEW',
    });
  });

  it.each([
    ['no attributes', {}],
    ['no value', { Attributes: {} }],
    ['a non-number', { Attributes: { value: 'seven' } }],
  ])('refuses %s instead of answering NaN', async (_name, answer) => {
    ddb.on(UpdateCommand).resolves(answer);

    await expect(ledger().nextSequence('run-1', 'cust-1')).rejects.toThrow(
      /^sequence counter answered .* not a count$/,
    );
  });
});

describe('DynamoLedger.queueFacts', () => {
  it('counts every page of each record type, passing each page its start key', async () => {
    const key = (sk: string) => ({ pk: 'RUN#run-1', sk });
    const counts: Record<string, { Count: number; LastEvaluatedKey?: Record<string, string> }[]> = {
      'DELIVERY#fifo#o-1#': [
        { Count: 1000, LastEvaluatedKey: key('DELIVERY#fifo#o-1#d1') },
        { Count: 1000, LastEvaluatedKey: key('DELIVERY#fifo#o-1#d2') },
        { Count: 3 },
      ],
      'EFFECT#fifo#o-1#': [{ Count: 1 }],
      'FAILURE#fifo#o-1#': [
        { Count: 0, LastEvaluatedKey: key('FAILURE#fifo#o-1#f1') },
        { Count: 2 },
      ],
    };
    // The start key and filter as each call was made (the paginator reuses one input object).
    const calls: { prefix: string; start: unknown; filter: unknown }[] = [];
    ddb.on(QueryCommand).callsFake((input) => {
      const prefix = input.ExpressionAttributeValues[':prefix'] as string;
      const page = calls.filter((c) => c.prefix === prefix).length;
      calls.push({ prefix, start: input.ExclusiveStartKey?.sk, filter: input.FilterExpression });
      return counts[prefix]?.[page];
    });

    const facts = await ledger().queueFacts('run-1', 'fifo', 'o-1');

    expect(facts).toEqual({ deliveries: 2003, effects: 1, finalFailures: 2 });
    expect(calls.filter((c) => c.prefix.startsWith('DELIVERY#')).map((c) => c.start)).toEqual([
      undefined,
      'DELIVERY#fifo#o-1#d1',
      'DELIVERY#fifo#o-1#d2',
    ]);
    // Only failures that sent the message to the DLQ count, on every page.
    expect(calls.filter((c) => c.prefix.startsWith('FAILURE#'))).toEqual([
      { prefix: 'FAILURE#fifo#o-1#', start: undefined, filter: '#final = :true' },
      { prefix: 'FAILURE#fifo#o-1#', start: 'FAILURE#fifo#o-1#f1', filter: '#final = :true' },
    ]);
    expect(ddb.commandCalls(QueryCommand).every((c) => c.args[0].input.ConsistentRead)).toBe(true);
  });
});

const order: AcceptedOrder & { claimId: string } = {
  claimId: 'claim-1',
  runId: 'run-1',
  orderId: 'o-1',
  customerId: 'cust-1',
  sequence: 3,
  acceptedAt: 10,
  payloadHash: 'h',
  messageIds: { fifo: '', standard: '' },
  sentAt: {},
  requests: 1,
};
/** The item the table holds for `order`: its keys, its index keys and its type, then the order. */
const item = {
  pk: 'ORDER#o-1',
  sk: 'ORDER',
  byRunPk: 'RUN#run-1',
  byRunSk: 'ACCEPTED#o-1',
  type: 'accepted',
  ...order,
};

describe('DynamoLedger: the accepted order', () => {
  it('claims an order id with one conditional put of the keyed item, reading nothing', async () => {
    ddb.on(PutCommand).resolves({});

    await expect(ledger().claim(order)).resolves.toEqual({ claimed: true });
    expect(ddb.calls()).toHaveLength(1);
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input).toEqual({
      TableName: 'ledger',
      // The request's claim id: a refusal by this very write (an SDK retry) is told from another's.
      Item: { ...item, claimId: 'claim-1' },
      ConditionExpression: 'attribute_not_exists(pk)',
      // Refused, the order's item comes back with the refusal (no read for a retry on AWS).
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  it('answers the order that holds a taken id, without the keys it is stored under', async () => {
    ddb
      .on(PutCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'exists', $metadata: {} }));
    ddb
      .on(GetCommand)
      .resolves({ Item: { ...item, claimId: 'claim-0', sequence: 2, requests: 3 } });

    await expect(ledger().claim(order)).resolves.toEqual({
      claimed: false,
      existing: { ...order, claimId: 'claim-0', sequence: 2, requests: 3 },
    });
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
      TableName: 'ledger',
      Key: { pk: 'ORDER#o-1', sk: 'ORDER' },
      ConsistentRead: true,
    });
  });

  it('fails a claim refused for any other reason, and one whose holder vanished', async () => {
    ddb.on(PutCommand).rejectsOnce(new Error('throttled'));
    await expect(ledger().claim(order)).rejects.toThrow('throttled');

    ddb
      .on(PutCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'exists', $metadata: {} }));
    ddb.on(GetCommand).resolves({});
    await expect(ledger().claim(order)).rejects.toThrow(/vanished/);
  });

  it('reads an order by its id alone, consistently; none when absent', async () => {
    ddb.on(GetCommand).resolvesOnce({ Item: item }).resolves({});

    await expect(ledger().getAccepted('o-1')).resolves.toEqual(order);
    await expect(ledger().getAccepted('o-2')).resolves.toBeUndefined();
    expect(ddb.commandCalls(GetCommand).map((c) => c.args[0].input.Key)).toEqual([
      { pk: 'ORDER#o-1', sk: 'ORDER' },
      { pk: 'ORDER#o-2', sk: 'ORDER' },
    ]);
  });

  it('counts a request and records sends with one update each of the order item', async () => {
    ddb.on(UpdateCommand).resolves({});

    await ledger().countRequest('o-1');
    await ledger().recordSends(
      'o-1',
      { sent: { fifo: { messageId: 'f', sentAt: 5 } }, recordedBefore: ['f-0'] },
      { at: 6, by: 'req-2' },
    );

    expect(ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input)).toEqual([
      {
        TableName: 'ledger',
        Key: { pk: 'ORDER#o-1', sk: 'ORDER' },
        UpdateExpression: 'ADD requests :one SET countedBy = :me',
        ConditionExpression: 'attribute_not_exists(countedBy) OR countedBy <> :me',
        ExpressionAttributeValues: { ':one': 1, ':me': expect.any(String) },
      },
      {
        TableName: 'ledger',
        Key: { pk: 'ORDER#o-1', sk: 'ORDER' },
        // Only the queue this request sent to: the standard entry is not written at all. Its id
        // is appended to the list of every id sent, in the same write; a record from before the
        // list starts it with the ids it held.
        UpdateExpression:
          'SET sendsEndedAt = :ended, sendsEndedBy = :endedBy, messageIds.#q0 = :id0, sentAt.#q0 = :at0, sentMessageIds = list_append(if_not_exists(sentMessageIds, :before), :sentIds)',
        // Only while this request holds the lease.
        ConditionExpression: 'sendingBy = :endedBy',
        ExpressionAttributeNames: { '#q0': 'fifo' },
        ExpressionAttributeValues: {
          ':ended': 6,
          ':endedBy': 'req-2',
          ':id0': 'f',
          ':at0': 5,
          ':before': ['f-0'],
          ':sentIds': ['f'],
        },
        // Refused, the record that refused it tells a late retry of this write from a lost lease.
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    ]);
  });

  it('records that the sends ended, and no id, when every send failed', async () => {
    ddb.on(UpdateCommand).resolves({});

    await ledger().recordSends('o-1', { sent: {} }, { at: 6, by: 'req-2' });

    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toEqual({
      TableName: 'ledger',
      Key: { pk: 'ORDER#o-1', sk: 'ORDER' },
      UpdateExpression: 'SET sendsEndedAt = :ended, sendsEndedBy = :endedBy',
      ConditionExpression: 'sendingBy = :endedBy',
      ExpressionAttributeValues: { ':ended': 6, ':endedBy': 'req-2' },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  it("answers whether the sends were recorded: not when the lease is no longer the writer's; fails on any other error", async () => {
    ddb
      .on(UpdateCommand)
      .resolvesOnce({})
      .rejectsOnce(new ConditionalCheckFailedException({ message: 'not held', $metadata: {} }))
      .rejects(new Error('throttled'));
    ddb.on(GetCommand).resolves({ Item: { ...item, sendingBy: 'req-3' } });
    const end = { at: 6, by: 'req-2' };

    await expect(ledger().recordSends('o-1', { sent: {} }, end)).resolves.toBe('recorded');
    await expect(ledger().recordSends('o-1', { sent: {} }, end)).resolves.toBe('lease-passed');
    await expect(ledger().recordSends('o-1', { sent: {} }, end)).rejects.toThrow('throttled');
  });

  it.each([
    // The later holder has not written its end yet: the record names this request's end.
    ['its own end', { sendsEndedBy: { S: 'req-2' } }, 'recorded-by-earlier-try'],
    // The later holder ended too: its end is over this one's, but this request's ids are listed.
    [
      'its own ids, under a later end',
      { sendsEndedBy: { S: 'req-3' }, sentMessageIds: { L: [{ S: 'f-2' }, { S: 's-2' }] } },
      'recorded-by-earlier-try',
    ],
    [
      'another end and only some of its ids (another request sent the same?)',
      { sendsEndedBy: { S: 'req-3' }, sentMessageIds: { L: [{ S: 'f-2' }] } },
      'lease-passed',
    ],
    ['another end and none of its ids', { sendsEndedBy: { S: 'req-3' } }, 'lease-passed'],
  ])(
    'tells a refusal by its own earlier try from a lost lease by the item refusing it: %s',
    async (_case, fields, answer) => {
      ddb.on(UpdateCommand).rejects(
        new ConditionalCheckFailedException({
          message: 'not held',
          $metadata: {},
          Item: { pk: { S: 'ORDER#o-1' }, sendingBy: { S: 'req-3' }, ...fields } as never,
        }),
      );
      const sent = {
        fifo: { messageId: 'f-2', sentAt: 5 },
        standard: { messageId: 's-2', sentAt: 5 },
      };

      await expect(ledger().recordSends('o-1', { sent }, { at: 6, by: 'req-2' })).resolves.toBe(
        answer,
      );
      expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
    },
  );

  it('reads the record consistently to tell them apart when the refusal carries no item (dynalite)', async () => {
    ddb
      .on(UpdateCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'not held', $metadata: {} }));
    ddb
      .on(GetCommand)
      .resolvesOnce({ Item: { ...item, sendingBy: 'req-3', sendsEndedBy: 'req-2' } })
      .resolvesOnce({ Item: { ...item, sendingBy: 'req-3' } })
      .resolves({});
    const end = { at: 6, by: 'req-2' };

    await expect(ledger().recordSends('o-1', { sent: {} }, end)).resolves.toBe(
      'recorded-by-earlier-try',
    );
    await expect(ledger().recordSends('o-1', { sent: {} }, end)).resolves.toBe('lease-passed');
    await expect(ledger().recordSends('o-1', { sent: {} }, end)).resolves.toBe('lease-passed');
    expect(ddb.commandCalls(GetCommand).map((c) => c.args[0].input.ConsistentRead)).toEqual([
      true,
      true,
      true,
    ]);
  });

  it('writes both maps whole on a record from before they existed', async () => {
    ddb.on(UpdateCommand).resolves({});

    await ledger().recordSends(
      'o-1',
      {
        sent: { standard: { messageId: 's', sentAt: 5 } },
        legacy: { all: { fifo: '', standard: 's' }, sentAt: { standard: 5 } },
      },
      { at: 6, by: 'req-2' },
    );

    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toMatchObject({
      UpdateExpression:
        'SET sendsEndedAt = :ended, sendsEndedBy = :endedBy, messageIds = :ids, sentAt = :sentAt, sentMessageIds = list_append(if_not_exists(sentMessageIds, :before), :sentIds)',
      ExpressionAttributeValues: {
        ':ended': 6,
        ':endedBy': 'req-2',
        ':ids': { fifo: '', standard: 's' },
        ':sentAt': { standard: 5 },
        ':before': [],
        ':sentIds': ['s'],
      },
    });
  });

  it('keeps a sequence only where the record holds none, else answers the one it holds', async () => {
    ddb
      .on(UpdateCommand)
      .resolvesOnce({})
      .rejects(new ConditionalCheckFailedException({ message: 'held', $metadata: {} }));
    ddb.on(GetCommand).resolves({ Item: { ...item, sequence: 3 } });

    await expect(ledger().recordSequence('o-1', 7)).resolves.toBe(7);
    await expect(ledger().recordSequence('o-1', 8)).resolves.toBe(3);
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toEqual({
      TableName: 'ledger',
      Key: { pk: 'ORDER#o-1', sk: 'ORDER' },
      UpdateExpression: 'SET #sequence = :sequence',
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#sequence)',
      ExpressionAttributeNames: { '#sequence': 'sequence' },
      ExpressionAttributeValues: { ':sequence': 7 },
    });
  });
});

describe('DynamoLedger.hasEffect', () => {
  it("asks for one effect of the order on that queue, whatever its guard key, in the run's partition", async () => {
    ddb.on(QueryCommand).resolvesOnce({ Count: 1 }).resolves({ Count: 0 });

    await expect(ledger().hasEffect('run-1', 'standard', 'o-1')).resolves.toBe(true);
    await expect(ledger().hasEffect('run-1', 'fifo', 'o-1')).resolves.toBe(false);
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      ExpressionAttributeValues: { ':pk': 'RUN#run-1', ':prefix': 'EFFECT#standard#o-1#' },
      Select: 'COUNT',
      Limit: 1,
      ConsistentRead: true,
    });
  });
});

describe('DynamoLedger.leaseSends', () => {
  const lease = { by: 'req-2', from: 'req-1', until: 9000, now: 100, legacyWindowMs: 11_000 };
  const held = { ...item, sendingBy: 'req-1', sendingUntil: 5000 };
  const refused = (Item?: Record<string, unknown>) =>
    new ConditionalCheckFailedException({
      message: 'The conditional request failed',
      $metadata: {},
      ...(Item ? { Item: Item as never } : {}),
    });

  it('asks for the record as the lease leaves it, and for the item that refuses it', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { ...held, sendingBy: 'req-2' } });

    await expect(ledger().leaseSends('o-1', lease)).resolves.toEqual({
      taken: true,
      record: { ...order, sendingBy: 'req-2', sendingUntil: 5000 },
    });
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toMatchObject({
      UpdateExpression: 'SET sendingBy = :me, sendingUntil = :until',
      ReturnValues: 'ALL_NEW',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  it('answers a refusal from the item it carries, DynamoDB-typed as it comes, reading nothing', async () => {
    // As DynamoDB hands it back: AttributeValues (lib-dynamodb does not unmarshall an error's item).
    ddb.on(UpdateCommand).rejects(
      refused({
        pk: { S: 'ORDER#o-1' },
        sk: { S: 'ORDER' },
        byRunPk: { S: 'RUN#run-1' },
        byRunSk: { S: 'ACCEPTED#o-1' },
        type: { S: 'accepted' },
        claimId: { S: 'claim-1' },
        runId: { S: 'run-1' },
        orderId: { S: 'o-1' },
        customerId: { S: 'cust-1' },
        sequence: { N: '3' },
        acceptedAt: { N: '10' },
        payloadHash: { S: 'h' },
        messageIds: { M: { fifo: { S: 'f-1' }, standard: { S: '' } } },
        sentAt: { M: { fifo: { N: '12.5' } } },
        requests: { N: '1' },
        sendingBy: { S: 'req-1' },
        sendingUntil: { N: '5000' },
        flags: { L: [{ BOOL: true }, { NULL: true }] },
      }),
    );

    await expect(ledger().leaseSends('o-1', lease)).resolves.toEqual({
      taken: false,
      record: {
        ...order,
        messageIds: { fifo: 'f-1', standard: '' },
        sentAt: { fifo: 12.5 },
        sendingBy: 'req-1',
        sendingUntil: 5000,
        flags: [true, null],
      },
    });
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
  });

  it.each([
    ['no item (dynalite ignores the parameter)', undefined],
    [
      'an item holding an attribute type this SDK does not know',
      { pk: { S: 'x' }, odd: { $unknown: ['X', 'y'] } },
    ],
    [
      'an item holding a number neither a JavaScript number nor a BigInt holds',
      { pk: { S: 'x' }, n: { N: '1.5e300' } },
    ],
  ])('reads the record consistently after a refusal with %s', async (_case, Item) => {
    ddb.on(UpdateCommand).rejects(refused(Item));
    ddb.on(GetCommand).resolves({ Item: held });

    await expect(ledger().leaseSends('o-1', lease)).resolves.toEqual({
      taken: false,
      record: { ...order, sendingBy: 'req-1', sendingUntil: 5000 },
    });
    expect(ddb.commandCalls(GetCommand).map((c) => c.args[0].input)).toEqual([
      { TableName: 'ledger', Key: { pk: 'ORDER#o-1', sk: 'ORDER' }, ConsistentRead: true },
    ]);
  });
});

describe("DynamoLedger: the lease's condition", () => {
  /** How deep `expression` nests grouping parentheses (a function's own parentheses not counted). */
  function groupingDepth(expression: string): number {
    let depth = 0;
    let deepest = 0;
    const open: boolean[] = [];
    for (const [i, c] of [...expression].entries()) {
      if (c === '(') {
        const grouping = !/[A-Za-z0-9_]/.test(expression[i - 1] ?? '');
        open.push(grouping);
        if (grouping) deepest = Math.max(deepest, ++depth);
      } else if (c === ')' && open.pop()) {
        depth--;
      }
    }
    return deepest;
  }

  // dynalite (the local cloud's DynamoDB) parses a condition by backtracking on each level of
  // parentheses: the lease's condition nested five deep took it 0.5 to 1 s of CPU on every bid
  // and withdrawal, so the dynalite tests of the lease ran out of jest's 5 s on a loaded machine.
  it.each([
    ['on a holder it read', 'req-1'],
    ['on a record from before leases', undefined],
  ])(
    'nests one level of parentheses at most, bid and withdrawal alike: %s',
    async (_case, from) => {
      ddb.on(UpdateCommand).resolves({ Attributes: { ...item, sendingBy: 'req-2' } });
      const lease = { by: 'req-2', from, until: 9000, now: 100, legacyWindowMs: 11_000 };

      await ledger().leaseSends('o-1', lease);
      await ledger().withdrawBid('o-1', lease, 200);

      const conditions = ddb
        .commandCalls(UpdateCommand)
        .map((c) => c.args[0].input.ConditionExpression);
      expect(conditions).toHaveLength(2);
      for (const condition of conditions) expect(groupingDepth(condition ?? '')).toBe(1);
    },
  );
});

describe('DynamoLedger: its clients', () => {
  it("takes the withdrawal's one-try client as required: none given is refused, not replaced by the ledger's client and its tries", () => {
    // @ts-expect-error: the one-try client is required
    expect(() => new DynamoLedger(client(), 'ledger')).toThrow(
      /^DynamoLedger: no one-try client for the withdrawal of a bid$/,
    );
  });

  it("takes the logger as required: none given is refused, not replaced by one without the request's keys", () => {
    const documents = client();
    // @ts-expect-error: the logger is required
    expect(() => new DynamoLedger(documents, 'ledger', documents)).toThrow(
      /^DynamoLedger: no logger$/,
    );
  });

  it('sends the withdrawal with the one-try client, everything else with the ledger client', async () => {
    const documents = client();
    const oneTry = client();
    const sentBy: unknown[] = [];
    ddb.on(UpdateCommand).callsFake((_input, getClient) => {
      sentBy.push(getClient());
      return { Attributes: { ...item, sendingBy: 'req-2' } };
    });
    const lease = { by: 'req-2', from: 'req-1', until: 9000, now: 100, legacyWindowMs: 11_000 };
    const ledger = new DynamoLedger(documents, 'ledger', oneTry, quiet);

    await ledger.leaseSends('o-1', lease);
    await ledger.withdrawBid('o-1', lease, 200);

    expect(sentBy).toHaveLength(2);
    expect(sentBy[0]).toBe(documents);
    expect(sentBy[1]).toBe(oneTry);
  });
});
