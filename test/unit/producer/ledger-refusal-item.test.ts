import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoLedger } from '../../../services/producer/src/adapters/ledger';
import type { AcceptedOrder } from '../../../services/producer/src/domain/ports';
import { createLogger } from '../../../shared/src/logger';

/**
 * The claim's and the send lease's refusals read from the item they carry
 * (ReturnValuesOnConditionCheckFailure), through the real SDK: a DynamoDB client whose HTTP
 * handler answers as DynamoDB does on the wire (a refused PutItem or UpdateItem: 400
 * ConditionalCheckFailedException with `Item`; a GetItem: the item), so both arrive through the
 * SDK's own deserializer, and the document client's own conversion reads the GetItem. The
 * refusal's item must read as that same record: one record, whichever way DynamoDB handed it over.
 */

/** A logger for the cases that do not look at what is logged. */
const quiet = { warn: () => {} };

/** An accepted order as DynamoDB stores it, with attribute shapes a hand-written reader misses. */
const ITEM = {
  pk: { S: 'ORDER#o-1' },
  sk: { S: 'ORDER' },
  byRunPk: { S: 'RUN#run-1' },
  byRunSk: { S: 'ACCEPTED#o-1' },
  type: { S: 'accepted' },
  claimId: { S: 'req-1' },
  runId: { S: 'run-1' },
  orderId: { S: 'o-1' },
  customerId: { S: 'cust-1' },
  sequence: { N: '3' },
  acceptedAt: { N: '1764050000000' },
  payloadHash: { S: 'h' },
  messageIds: { M: { fifo: { S: 'f-1' }, standard: { S: '' } } },
  sentAt: { M: { fifo: { N: '1764050000012.5' } } },
  sentMessageIds: { L: [] },
  requests: { N: '2' },
  sendingBy: { S: 'req-1' },
  sendingUntil: { N: '1764050011000' },
  // What no accepted record holds, but an item may: a set of each kind, binary, a number beyond
  // 2^53, NULL, maps in lists in maps.
  tags: { SS: ['a', 'b'] },
  counts: { NS: ['1', '2.5'] },
  blobs: { BS: ['AAE='] },
  blob: { B: '/wA=' },
  big: { N: '9007199254740993' },
  nothing: { NULL: true },
  nested: { M: { list: { L: [{ M: { deep: { BOOL: false } } }, { NULL: true }] } } },
};

/**
 * A document client whose DynamoDB answers every request from `answer`; `targets` logs them, and
 * `bodies` what each asked, as sent.
 */
function scripted(answer: (target: string) => { statusCode: number; body: unknown }) {
  const targets: string[] = [];
  const bodies: Record<string, unknown>[] = [];
  const client = new DynamoDBClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'k', secretAccessKey: 's' },
    maxAttempts: 1,
    requestHandler: {
      handle: async (request: { headers: Record<string, string>; body: string | Uint8Array }) => {
        const target = String(request.headers['x-amz-target']).split('.').at(-1) ?? '';
        targets.push(target);
        const sent = request.body;
        bodies.push(JSON.parse(typeof sent === 'string' ? sent : new TextDecoder().decode(sent)));
        const { statusCode, body } = answer(target);
        return {
          response: {
            statusCode,
            headers: { 'content-type': 'application/x-amz-json-1.0' },
            body: new TextEncoder().encode(JSON.stringify(body)),
          },
        };
      },
    },
  });
  return { documents: DynamoDBDocumentClient.from(client), targets, bodies };
}

const refusal = (item?: unknown) => ({
  statusCode: 400,
  body: {
    __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException',
    message: 'The conditional request failed',
    ...(item ? { Item: item } : {}),
  },
});

const bid = {
  by: 'req-2',
  from: 'req-1',
  until: 1764050020000,
  now: 1764050005000,
  legacyWindowMs: 11_000,
};

/** A second claim of o-1 (ITEM's order) by request req-2. */
const claimOfO1: AcceptedOrder & { claimId: string } = {
  runId: 'run-1',
  orderId: 'o-1',
  customerId: 'cust-1',
  sequence: 3,
  acceptedAt: 1764050005000,
  payloadHash: 'h',
  messageIds: { fifo: '', standard: '' },
  sentAt: {},
  requests: 1,
  claimId: 'req-2',
};

describe("DynamoLedger.leaseSends: the refusal's item, through the SDK", () => {
  it('reads it as the document client reads the same item from GetItem, asking nothing more', async () => {
    const { documents, targets } = scripted((target) =>
      target === 'UpdateItem' ? refusal(ITEM) : { statusCode: 200, body: { Item: ITEM } },
    );
    const ledger = new DynamoLedger(documents, 'ledger', documents, quiet);

    const refused = await ledger.leaseSends('o-1', bid);
    expect(targets).toEqual(['UpdateItem']);
    const read = await ledger.getAccepted('o-1');

    expect(refused.taken).toBe(false);
    expect(refused.record).toStrictEqual(read);
    // What the document client makes of them, so the comparison above compares something.
    expect(read).toMatchObject({
      sequence: 3,
      messageIds: { fifo: 'f-1', standard: '' },
      sentAt: { fifo: 1764050000012.5 },
      sentMessageIds: [],
      tags: new Set(['a', 'b']),
      counts: new Set([1, 2.5]),
      big: 9007199254740993n,
      nothing: null,
      nested: { list: [{ deep: false }, null] },
    });
  });

  it('reads the item with one consistent GetItem when the refusal carries none (dynalite)', async () => {
    const { documents, targets } = scripted((target) =>
      target === 'UpdateItem' ? refusal() : { statusCode: 200, body: { Item: ITEM } },
    );
    const ledger = new DynamoLedger(documents, 'ledger', documents, quiet);

    const refused = await ledger.leaseSends('o-1', bid);

    expect(targets).toEqual(['UpdateItem', 'GetItem']);
    expect(refused).toMatchObject({ taken: false, record: { orderId: 'o-1', sendingBy: 'req-1' } });
  });
});

describe("DynamoLedger: a refusal's item that is no DynamoDB item", () => {
  it.each([
    ['a sequence that is no number (NaN to unmarshall)', { sequence: { N: 'x' } }],
    [
      'a holder of two types (the first taken by unmarshall)',
      { sendingBy: { S: 'req-9', N: '1' } },
    ],
    ['an attribute that is no attribute value', { requests: 2 }],
    [
      "a customer's id of two types (its value in the reader's message)",
      { customerId: { S: 'cust-1', N: '1' } },
    ],
  ])(
    'reads the record with one consistent GetItem instead of answering %s, and warns once',
    async (_name, bad) => {
      // Prepare: the refusal's item malformed, the record GetItem reads whole.
      const { documents, targets } = scripted((target) =>
        target === 'UpdateItem'
          ? refusal({ ...ITEM, ...bad })
          : { statusCode: 200, body: { Item: ITEM } },
      );
      const log = { warn: jest.fn() };
      const ledger = new DynamoLedger(documents, 'ledger', documents, log);

      // Act
      const refused = await ledger.leaseSends('o-1', bid);

      // Assess: the record as read, nothing made up from the malformed item.
      expect(targets).toEqual(['UpdateItem', 'GetItem']);
      expect(refused).toStrictEqual({ taken: false, record: await ledger.getAccepted('o-1') });
      expect(refused.record).toMatchObject({ sequence: 3, sendingBy: 'req-1', requests: 2 });
      // One warning naming the order and the error, nothing of the item.
      expect(log.warn).toHaveBeenCalledTimes(1);
      expect(log.warn).toHaveBeenCalledWith(
        'refused write handed back a malformed item; reading the record instead',
        { orderId: 'o-1', error: 'RefusedItemError' },
      );
      expect(JSON.stringify(log.warn.mock.calls)).not.toContain('cust-1');
    },
  );

  it("writes the warning as the producer's Powertools logger's WARN line, and falls back on the claim too", async () => {
    // Prepare: a claim refused with a malformed item; the logger's output captured.
    const { documents, targets } = scripted((target) =>
      target === 'PutItem'
        ? refusal({ ...ITEM, sequence: { N: 'x' } })
        : { statusCode: 200, body: { Item: ITEM } },
    );
    // Powertools writes a warning with console.warn: stderr.
    const lines: string[] = [];
    const write = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    const ledger = new DynamoLedger(documents, 'ledger', documents, createLogger('producer'));

    // Act
    let refused: Awaited<ReturnType<DynamoLedger['claim']>>;
    try {
      refused = await ledger.claim(claimOfO1);
    } finally {
      write.mockRestore();
    }

    // Assess: the fallback read, and one Powertools line of level WARN saying why.
    expect(targets).toEqual(['PutItem', 'GetItem']);
    expect(refused).toMatchObject({ claimed: false, existing: { claimId: 'req-1', sequence: 3 } });
    const warnings = lines
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(warnings).toEqual([
      expect.objectContaining({
        level: 'WARN',
        service: 'producer',
        message: 'refused write handed back a malformed item; reading the record instead',
        orderId: 'o-1',
        error: 'RefusedItemError',
      }),
    ]);
  });
});

describe("DynamoLedger.claim: a refused claim's item, through the SDK", () => {
  /** A client retry's claim of o-1 (ITEM's order), as order-handling makes it. */
  const retry: AcceptedOrder & { claimId: string } = {
    ...claimOfO1,
    sendingBy: 'req-2',
    sendingUntil: 1764050020000,
  };

  it('answers the order that holds the id from the refusal, as GetItem reads it, asking nothing more', async () => {
    const { documents, targets, bodies } = scripted((target) =>
      target === 'PutItem' ? refusal(ITEM) : { statusCode: 200, body: { Item: ITEM } },
    );
    const ledger = new DynamoLedger(documents, 'ledger', documents, quiet);

    const refused = await ledger.claim(retry);
    expect(targets).toEqual(['PutItem']);
    expect(bodies[0]).toMatchObject({ ReturnValuesOnConditionCheckFailure: 'ALL_OLD' });
    const read = await ledger.getAccepted('o-1');

    expect(refused).toStrictEqual({ claimed: false, existing: read });
    expect(read).toMatchObject({ orderId: 'o-1', claimId: 'req-1', big: 9007199254740993n });
  });

  it("takes a refusal by its own claim (the SDK's retry of a claim whose answer was lost) from the item, asking nothing more", async () => {
    const own = { ...ITEM, claimId: { S: 'req-2' } };
    const { documents, targets } = scripted((target) =>
      target === 'PutItem' ? refusal(own) : { statusCode: 200, body: { Item: own } },
    );

    await expect(
      new DynamoLedger(documents, 'ledger', documents, quiet).claim(retry),
    ).resolves.toEqual({
      claimed: true,
    });
    expect(targets).toEqual(['PutItem']);
  });

  it('reads the order with one consistent GetItem when the refusal carries none (dynalite)', async () => {
    const { documents, targets, bodies } = scripted((target) =>
      target === 'PutItem' ? refusal() : { statusCode: 200, body: { Item: ITEM } },
    );

    const refused = await new DynamoLedger(documents, 'ledger', documents, quiet).claim(retry);

    // Asked for the item (DynamoDB would have answered it), not given it, so read once.
    expect(targets).toEqual(['PutItem', 'GetItem']);
    expect(bodies[0]).toMatchObject({ ReturnValuesOnConditionCheckFailure: 'ALL_OLD' });
    expect(bodies[1]).toMatchObject({ Key: { pk: { S: 'ORDER#o-1' } }, ConsistentRead: true });
    expect(refused).toMatchObject({
      claimed: false,
      existing: { orderId: 'o-1', claimId: 'req-1', sendingBy: 'req-1' },
    });
  });
});
