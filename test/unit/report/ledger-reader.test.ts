import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  countRunItems,
  LedgerReadError,
  MAX_QUERY_PAGES,
  ordersWithSeveralMessages,
  readProducerSends,
  readRunLedger,
} from '../../../services/report/src/adapters/ledger-reader';
import { LedgerDataError } from '../../../services/report/src/domain/metrics';
import type { DeliveryRecord } from '../../../shared/src/ledger';

const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const dynamo = mockClient(documents);

afterEach(() => dynamo.reset());

describe('the ledger reader', () => {
  it('reads every page of a record type, passing each page its start key', async () => {
    const key = (sk: string) => ({ pk: 'RUN#r1', sk });
    const pages = [
      { Items: [key('ACCEPTED#a')], LastEvaluatedKey: key('ACCEPTED#a') },
      { Items: [key('ACCEPTED#b')], LastEvaluatedKey: key('ACCEPTED#b') },
      { Items: [key('ACCEPTED#c')] },
    ];
    // The start key as each call was made (the paginator reuses one input object).
    const starts: unknown[] = [];
    dynamo.on(QueryCommand).callsFake((input) => {
      if (input.ExpressionAttributeValues?.[':prefix'] !== 'ACCEPTED#') return { Items: [] };
      starts.push(input.ExclusiveStartKey?.sk);
      return pages[starts.length - 1];
    });

    const ledger = await readRunLedger(documents, 'ledger', 'r1');

    expect(ledger.accepted.map((r) => r.sk)).toEqual(['ACCEPTED#a', 'ACCEPTED#b', 'ACCEPTED#c']);
    expect(starts).toEqual([undefined, 'ACCEPTED#a', 'ACCEPTED#b']);
  });

  it("reads accepted orders from the byRun index and the consumers' records from the run's partition, never a Scan", async () => {
    dynamo.on(QueryCommand).resolves({ Items: [] });

    await readRunLedger(documents, 'ledger', 'r1');

    const queries = dynamo.commandCalls(QueryCommand).map((c) => c.args[0].input);
    const accepted = queries.filter(
      (q) => q.ExpressionAttributeValues?.[':prefix'] === 'ACCEPTED#',
    );
    expect(accepted).toEqual([
      expect.objectContaining({
        IndexName: 'byRun',
        ExpressionAttributeNames: { '#pk': 'byRunPk', '#sk': 'byRunSk' },
        ExpressionAttributeValues: { ':pk': 'RUN#r1', ':prefix': 'ACCEPTED#' },
      }),
    ]);
    const others = queries.filter((q) => q.ExpressionAttributeValues?.[':prefix'] !== 'ACCEPTED#');
    expect(others.length).toBeGreaterThan(0);
    for (const q of others) {
      expect(q.IndexName).toBeUndefined();
      expect(q.ExpressionAttributeNames).toEqual({ '#pk': 'pk', '#sk': 'sk' });
    }
    expect(dynamo.calls().every((c) => c.args[0] instanceof QueryCommand)).toBe(true);
  });

  it("reads the producer's ids by key only for orders delivered under more than one message id on a queue", async () => {
    const delivery = (queue: 'fifo' | 'standard', orderId: string, messageId: string) =>
      ({
        pk: 'RUN#r1',
        sk: `DELIVERY#${queue}#${orderId}#${messageId}`,
        queue,
        orderId,
        messageId,
      }) as Partial<DeliveryRecord>;
    dynamo.on(QueryCommand).callsFake((input) => {
      const prefix = input.ExpressionAttributeValues?.[':prefix'];
      if (prefix === 'DELIVERY#standard#') {
        return {
          Items: [
            delivery('standard', 'o1', 'm1'),
            delivery('standard', 'o1', 'm1'),
            delivery('standard', 'o2', 'm2'),
            delivery('standard', 'o2', 'm2-redriven'),
          ],
        };
      }
      // o1's FIFO message is another id than its standard one: no second message on either.
      if (prefix === 'DELIVERY#fifo#') return { Items: [delivery('fifo', 'o1', 'f1')] };
      return { Items: [] };
    });
    dynamo.on(BatchGetCommand).resolves({
      Responses: {
        ledger: [
          {
            orderId: 'o2',
            messageIds: { fifo: 'f2', standard: 'm2' },
            sentMessageIds: ['m2', 'f2', 'm2'],
          },
        ],
      },
    });

    const ledger = await readRunLedger(documents, 'ledger', 'r1');

    const gets = dynamo.commandCalls(BatchGetCommand).map((c) => c.args[0].input.RequestItems);
    expect(gets).toEqual([
      {
        // Strongly consistent: the latest append of the producer, not a copy that may lag it.
        ledger: expect.objectContaining({
          Keys: [{ pk: 'ORDER#o2', sk: 'ORDER' }],
          ConsistentRead: true,
        }),
      },
    ]);
    expect(ledger.producerSends).toEqual([
      { orderId: 'o2', sentMessageIds: ['f2', 'm2'], messageIds: { fifo: 'f2', standard: 'm2' } },
    ]);
  });

  it('reads no producer ids, and sends no BatchGetItem, when every order came under one message id', async () => {
    dynamo.on(QueryCommand).resolves({ Items: [] });
    const ledger = await readRunLedger(documents, 'ledger', 'r1');
    expect(ledger.producerSends).toEqual([]);
    expect(dynamo.commandCalls(BatchGetCommand)).toHaveLength(0);
    expect(
      ordersWithSeveralMessages([
        { queue: 'fifo', orderId: 'o1', messageId: 'a' },
        { queue: 'standard', orderId: 'o1', messageId: 'b' },
      ] as DeliveryRecord[]),
    ).toEqual([]);
  });

  it("reads producer ids 100 keys a request, asks again for the keys DynamoDB left unprocessed, and keeps an old record's latest ids", async () => {
    const ids = Array.from({ length: 150 }, (_, i) => `o${String(i).padStart(3, '0')}`);
    let calls = 0;
    dynamo.on(BatchGetCommand).callsFake((input) => {
      calls++;
      const keys = input.RequestItems.ledger.Keys as { pk: string }[];
      // The first request leaves its last key unprocessed.
      const served = calls === 1 ? keys.slice(0, -1) : keys;
      return {
        Responses: {
          ledger: served.map((k) => ({
            orderId: k.pk.slice('ORDER#'.length),
            messageIds: { fifo: 'f', standard: 's' },
          })),
        },
        ...(calls === 1 ? { UnprocessedKeys: { ledger: { Keys: keys.slice(-1) } } } : {}),
      };
    });

    const sends = await readProducerSends(documents, 'ledger', ids);

    const sizes = dynamo
      .commandCalls(BatchGetCommand)
      .map((c) => (c.args[0].input.RequestItems?.ledger?.Keys ?? []).length);
    expect(sizes).toEqual([100, 1, 50]);
    expect(sends.map((s) => s.orderId)).toEqual(ids);
    // A record from before the set: no sentMessageIds, its latest ids kept.
    expect(sends[0]).toEqual({ orderId: 'o000', messageIds: { fifo: 'f', standard: 's' } });
  });

  it('keeps asking while each request reads some keys (a partial answer is progress), and gives up after 8 requests in a row that read none', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `o${String(i).padStart(2, '0')}`);
    // One item a request, the rest left unprocessed (answers over 1 MB a partition, say).
    dynamo.on(BatchGetCommand).callsFake((input) => {
      const keys = input.RequestItems.ledger.Keys as { pk: string }[];
      const [first, ...rest] = keys;
      return {
        Responses: { ledger: [{ orderId: first?.pk.slice('ORDER#'.length) }] },
        ...(rest.length > 0 ? { UnprocessedKeys: { ledger: { Keys: rest } } } : {}),
      };
    });
    // The pauses between requests run on fake timers.
    jest.useFakeTimers();
    try {
      const reading = readProducerSends(documents, 'ledger', ids);
      await jest.runAllTimersAsync();
      expect((await reading).map((s) => s.orderId)).toEqual(ids);
      expect(dynamo.commandCalls(BatchGetCommand)).toHaveLength(12);

      // Nothing read, every key left unprocessed each time: the report says so, it does not loop.
      dynamo.reset();
      dynamo.on(BatchGetCommand).callsFake((input) => ({
        Responses: { ledger: [] },
        UnprocessedKeys: { ledger: { Keys: input.RequestItems.ledger.Keys } },
      }));
      const stuck = readProducerSends(documents, 'ledger', ['o1', 'o2']);
      const refused = expect(stuck).rejects.toThrow(
        '2 accepted orders of table ledger still unread after 8 BatchGetItem requests in a row that each left every key it asked for unprocessed: run the report again later',
      );
      await jest.runAllTimersAsync();
      await refused;
      expect(dynamo.commandCalls(BatchGetCommand)).toHaveLength(8);
    } finally {
      jest.useRealTimers();
    }
  });

  it('gives up on answers that serve one key at a time once their retries have taken a minute, where 10 batches took 1,000 requests and minutes', async () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `o${String(i).padStart(4, '0')}`);
    dynamo.on(BatchGetCommand).callsFake((input) => {
      const [first, ...rest] = input.RequestItems.ledger.Keys as { pk: string }[];
      return {
        Responses: { ledger: [{ orderId: first?.pk.slice('ORDER#'.length) }] },
        ...(rest.length > 0 ? { UnprocessedKeys: { ledger: { Keys: rest } } } : {}),
      };
    });
    // The jitter drawn at the middle every time: the run is the same on every machine.
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
    jest.useFakeTimers();
    try {
      const started = Date.now();
      const reading = readProducerSends(documents, 'ledger', ids).then(
        () => 'read',
        (err: unknown) => err as Error,
      );
      await jest.runAllTimersAsync();
      const outcome = await reading;

      expect(outcome).toBeInstanceOf(LedgerReadError);
      // Pauses of 25, 50, ... 1,600 ms, then 2.5 s each (half the 5 s cap): 30 retries reach the
      // minute (60.675 s): 31 requests, one key read by each, 69 of the first batch left.
      expect((outcome as Error).message).toBe(
        "69 accepted orders of table ledger still unread after 31 BatchGetItem requests: their keys came back unprocessed for 61 s of retries, the report's 60 s for them (AWS advises stopping at about one minute); run the report again later",
      );
      expect(Date.now() - started).toBe(60_675);
      expect(dynamo.commandCalls(BatchGetCommand)).toHaveLength(31);
    } finally {
      jest.useRealTimers();
      jest.restoreAllMocks();
    }
  });

  it('backs off exponentially while keys come back unprocessed, and reads them all when the throttling ends within the minute', async () => {
    const ids = Array.from({ length: 100 }, (_, i) => `o${String(i).padStart(3, '0')}`);
    // Full jitter: each pause is the draw times its ceiling; drawn at 0.75 every time here.
    jest.spyOn(Math, 'random').mockReturnValue(0.75);
    jest.useFakeTimers();
    try {
      const started = Date.now();
      const asked: number[] = [];
      // Throttled for 40 s: each answer reads one key and leaves the rest; then every key.
      dynamo.on(BatchGetCommand).callsFake((input) => {
        asked.push(Date.now() - started);
        const keys = input.RequestItems.ledger.Keys as { pk: string }[];
        const served = Date.now() - started < 40_000 ? keys.slice(0, 1) : keys;
        const left = keys.slice(served.length);
        return {
          Responses: { ledger: served.map((k) => ({ orderId: k.pk.slice('ORDER#'.length) })) },
          ...(left.length > 0 ? { UnprocessedKeys: { ledger: { Keys: left } } } : {}),
        };
      });
      const reading = readProducerSends(documents, 'ledger', ids);
      await jest.runAllTimersAsync();

      expect((await reading).map((s) => s.orderId)).toEqual(ids);
      // Before the nth retry 0.75 of 50 ms x 2^(n-1), capped at 5 s (fake timers run a
      // fractional delay at its whole ms), until the throttling ends at 40 s: 17 retries.
      const pauses = asked.slice(1).map((at, n) => at - asked[n]!);
      expect(pauses).toEqual(
        Array.from({ length: 17 }, (_, n) => Math.floor(0.75 * Math.min(5000, 50 * 2 ** n))),
      );
    } finally {
      jest.useRealTimers();
      jest.restoreAllMocks();
    }
  });

  it("reads the run's clock skips from their own sort-key range, and none as no field", async () => {
    const skip = { pk: 'RUN#r1', sk: 'CLOCKSKIP#000000001', type: 'clockSkip', runId: 'r1' };
    dynamo
      .on(QueryCommand)
      .callsFake((input) =>
        input.ExpressionAttributeValues?.[':prefix'] === 'CLOCKSKIP#'
          ? { Items: [{ ...skip, at: 5000, ms: 61_000 }] }
          : { Items: [] },
      );
    expect((await readRunLedger(documents, 'ledger', 'r1')).clockSkips).toEqual([
      { ...skip, at: 5000, ms: 61_000 },
    ]);
    dynamo.reset();
    dynamo.on(QueryCommand).resolves({ Items: [] });
    expect(await readRunLedger(documents, 'ledger', 'r1')).not.toHaveProperty('clockSkips');
  });

  it('counts a run over every page', async () => {
    dynamo
      .on(QueryCommand)
      .resolvesOnce({ Count: 1000, LastEvaluatedKey: { pk: 'RUN#r1', sk: 'x' } })
      .resolvesOnce({ Count: 234 });
    expect(await countRunItems(documents, 'ledger', 'r1')).toBe(1234);
    expect(dynamo.commandCalls(QueryCommand)[0]?.args[0].input.Select).toBe('COUNT');
  });
});

describe('the ledger reader against answers that do not progress', () => {
  const key = (sk: string) => ({ pk: 'RUN#r1', sk });
  /** What a promise threw, or undefined when it resolved. */
  const thrown = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (err: unknown) => err,
    );

  it('counts the largest run the load sends, 16,000 pages (10,000,000 orders of some 1,650 bytes of records each), where more than 5,000 pages were refused', async () => {
    let pages = 0;
    dynamo.on(QueryCommand).callsFake(() => {
      pages++;
      return pages < 16_000 ? { Count: 1250, LastEvaluatedKey: key(`k${pages}`) } : { Count: 1250 };
    });

    expect(await countRunItems(documents, 'ledger', 'r1')).toBe(20_000_000);
    expect(pages).toBe(16_000);
  }, 60_000);

  it('keeps a digest of each key a Query answered, not the key: 900 new keys of 64 KB held 56 MB', async () => {
    // The heap measured after a full collection, at page 100 and at page 1,000 of one count.
    // A client of its own whose send keeps nothing (a stub's call history would keep each key).
    setFlagsFromString('--expose_gc');
    const gc = runInNewContext('gc') as () => void;
    const big = 'x'.repeat(64 * 1024);
    const heap: number[] = [];
    let pages = 0;
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
    client.send = (async () => {
      pages++;
      if (pages === 100 || pages === 1000) {
        gc();
        heap.push(process.memoryUsage().heapUsed);
      }
      return pages < 1000 ? { Count: 1, LastEvaluatedKey: key(`${pages}${big}`) } : { Count: 1 };
    }) as never;

    expect(await countRunItems(client, 'ledger', 'r1')).toBe(1000);
    // The keys whole: 900 x 64 KB, some 56 MB; their digests some 100 KB.
    expect(heap[1]! - heap[0]!).toBeLessThan(16 * 2 ** 20);
  }, 60_000);

  it(`refuses more than ${MAX_QUERY_PAGES} pages, each with an item and a new key`, async () => {
    let pages = 0;
    dynamo.on(QueryCommand).callsFake(() => {
      pages++;
      return pages > MAX_QUERY_PAGES + 1000
        ? { Count: 1 }
        : { Count: 1, LastEvaluatedKey: key(`k${pages}`) };
    });

    const error = await thrown(countRunItems(documents, 'ledger', 'r1'));

    expect(error).toBeInstanceOf(LedgerReadError);
    expect((error as Error).message).toBe(
      `the Query of table ledger counting run r1's ledger items answered ${MAX_QUERY_PAGES} pages and still a LastEvaluatedKey (${MAX_QUERY_PAGES} pages, ${MAX_QUERY_PAGES} items; last LastEvaluatedKey [["pk","RUN#r1"],["sk","k${MAX_QUERY_PAGES}"]]): at 1 MB a page that is 50 GB of one run's records, more than any run writes, and reading on may never end`,
    );
    expect(pages).toBe(MAX_QUERY_PAGES);
  }, 120_000);

  it('refuses a Query page that answers a LastEvaluatedKey it answered before, where it read the same pages forever', async () => {
    // The accepted orders' pages go A, B, A, ...: without a check the paginator asks from A
    // again and again. A stub that stops after 50 pages keeps the old code from hanging.
    let accepted = 0;
    dynamo.on(QueryCommand).callsFake((input) => {
      if (input.ExpressionAttributeValues?.[':prefix'] !== 'ACCEPTED#') return { Items: [] };
      accepted++;
      if (accepted > 50) return { Items: [] };
      const at = accepted % 2 === 1 ? 'ACCEPTED#a' : 'ACCEPTED#b';
      return { Items: [key(at)], LastEvaluatedKey: { ...key(at), byRunPk: 'RUN#r1', byRunSk: at } };
    });

    const error = await thrown(readRunLedger(documents, 'ledger', 'r1'));

    expect(error).toBeInstanceOf(LedgerReadError);
    expect((error as Error).message).toMatch(
      /^the Query of table ledger reading run r1's ledger items beginning ACCEPTED# answered page 3 with a LastEvaluatedKey it had answered before \(.*ACCEPTED#a.*\): its pages do not progress, and reading on would never end$/,
    );
    expect((error as { expose?: boolean }).expose).toBe(true);
    // Page 3 was read; no page was asked from A a second time.
    expect(accepted).toBe(3);
  });

  it('refuses a count whose pages do not progress', async () => {
    let calls = 0;
    dynamo.on(QueryCommand).callsFake(() => {
      calls++;
      return calls > 50 ? { Count: 0 } : { Count: 1, LastEvaluatedKey: key('x') };
    });

    const error = await thrown(countRunItems(documents, 'ledger', 'r1'));

    expect(error).toBeInstanceOf(LedgerReadError);
    expect((error as Error).message).toContain(
      "the Query of table ledger counting run r1's ledger items answered page 2 with a LastEvaluatedKey it had answered before",
    );
    expect(calls).toBe(2);
  });

  it.each([
    ['no Count', {}],
    ['Count -1', { Count: -1 }],
    ['Count 1.5', { Count: 1.5 }],
    ['Count "7"', { Count: '7' }],
  ])(
    'refuses a count page with %s, where it read as 0 (or another number) and the drain took the ledger for still',
    async (_label, page) => {
      dynamo.on(QueryCommand).resolves(page as never);

      const error = await thrown(countRunItems(documents, 'ledger', 'r1'));

      expect(error).toBeInstanceOf(LedgerReadError);
      expect((error as Error).message).toContain("counting run r1's ledger items");
      expect((error as Error).message).toContain('not a count of items');
    },
  );

  it('gives up on BatchGetItem answers that read items but leave every key unprocessed, where any item read counted as progress', async () => {
    // Each answer brings o1's item again and leaves both keys unprocessed: nothing shrinks. A
    // stub that stops after 50 requests keeps the old code from looping forever.
    let calls = 0;
    dynamo.on(BatchGetCommand).callsFake((input) => {
      calls++;
      return calls > 50
        ? { Responses: { ledger: [] } }
        : {
            Responses: { ledger: [{ orderId: 'o1' }] },
            UnprocessedKeys: { ledger: { Keys: input.RequestItems.ledger.Keys } },
          };
    });
    jest.useFakeTimers();
    try {
      const reading = thrown(readProducerSends(documents, 'ledger', ['o1', 'o2']));
      await jest.runAllTimersAsync();
      const error = await reading;

      expect((error as Error).message).toBe(
        '2 accepted orders of table ledger still unread after 8 BatchGetItem requests in a row that each left every key it asked for unprocessed: run the report again later',
      );
      expect(calls).toBe(8);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('the ledger reader against items it cannot read', () => {
  const thrown = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (err: unknown) => err,
    );

  it.each(['standard', 'bogus', undefined])(
    'refuses a record whose queue (%p) is not the one its key names, where it was counted on that queue or crashed the report',
    async (queue) => {
      const item = {
        pk: 'RUN#r1',
        sk: 'DELIVERY#fifo#o1#d1',
        type: 'delivery',
        orderId: 'o1',
        messageId: 'm1',
        outcome: 'suppressed',
        ...(queue === undefined ? {} : { queue }),
      };
      dynamo
        .on(QueryCommand)
        .callsFake((input) =>
          input.ExpressionAttributeValues?.[':prefix'] === 'DELIVERY#fifo#'
            ? { Items: [item] }
            : { Items: [] },
        );

      const error = await thrown(readRunLedger(documents, 'ledger', 'r1'));

      expect(error).toBeInstanceOf(LedgerDataError);
      expect((error as Error).message).toBe(
        `ledger item DELIVERY#fifo#o1#d1 has queue ${queue === undefined ? 'missing' : JSON.stringify(queue)}, not fifo, the queue its key names: the report cannot read the run`,
      );
    },
  );

  it.each([
    ['sentMessageIds', 'm2', 'has sentMessageIds "m2", not a list of message ids'],
    ['sentMessageIds', ['m2', 7], 'has sentMessageIds ["m2",7], not a list of message ids'],
    ['messageIds', { fifo: 5 }, 'has messageIds {"fifo":5}, not message ids by queue'],
    ['messageIds', 'f2', 'has messageIds "f2", not message ids by queue'],
    ['orderId', undefined, 'has orderId missing, not an order id'],
    // A number past 2^53 in a list or map (the document client's BigInt): the message named the
    // item, where JSON.stringify threw a TypeError.
    [
      'sentMessageIds',
      ['m2', 2n ** 60n],
      'has sentMessageIds ["m2",1152921504606846976], not a list of message ids',
    ],
    [
      'messageIds',
      { fifo: 2n ** 60n },
      'has messageIds {"fifo":1152921504606846976}, not message ids by queue',
    ],
  ])(
    "refuses a producer's record whose %s is %p, where a string read as a list of its characters",
    async (field, value, problem) => {
      const item: Record<string, unknown> = {
        pk: 'ORDER#o2',
        orderId: 'o2',
        messageIds: { fifo: 'f2', standard: 'm2' },
        sentMessageIds: ['m2', 'f2'],
      };
      if (value === undefined) delete item[field];
      else item[field] = value;
      dynamo.on(BatchGetCommand).resolves({ Responses: { ledger: [item] } });

      const error = await thrown(readProducerSends(documents, 'ledger', ['o2']));

      expect(error).toBeInstanceOf(LedgerDataError);
      expect((error as Error).message).toBe(
        `ledger item ORDER#o2 ${problem}: the report cannot read the run`,
      );
    },
  );

  it("reads a producer's ids stored as a string set (another writer's) as the list", async () => {
    dynamo.on(BatchGetCommand).resolves({
      Responses: {
        ledger: [{ pk: 'ORDER#o2', orderId: 'o2', sentMessageIds: new Set(['m2', 'f2']) }],
      },
    });

    expect(await readProducerSends(documents, 'ledger', ['o2'])).toEqual([
      { orderId: 'o2', sentMessageIds: ['f2', 'm2'] },
    ]);
  });
});
