import {
  countRunItems,
  EMPTY_PAGES_IN_A_ROW,
  LedgerReadError,
  readRunLedger,
} from '../../../services/report/src/adapters/ledger-reader';
import { type FakeDynamoDb, startFakeDynamoDb } from './support/fake-dynamodb';

/**
 * The ledger reader against a DynamoDB endpoint on 127.0.0.1 whose Query answers a new
 * LastEvaluatedKey every time: real SDK clients over HTTP. The old reader caught only a key
 * answered twice, and read such an endpoint forever; each fake stops answering keys after a
 * number of pages well past the bound, so the old code ends (and the test says how far it read).
 * The bound on pages in all (MAX_QUERY_PAGES, 50,000) is tested with a stubbed client in
 * ledger-reader.test.ts: over HTTP its pages take a minute.
 */

/** What a promise threw, or undefined when it resolved. */
const thrown = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: unknown) => err,
  );

let fake: FakeDynamoDb | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

/** A key of the run's partition, as DynamoDB's JSON has it. */
const key = (sk: string) => ({ pk: { S: 'RUN#r1' }, sk: { S: sk } });

describe('the ledger reader against a Query that answers a new key every time', () => {
  it(`refuses ${EMPTY_PAGES_IN_A_ROW} pages in a row with no item, naming the table and what it saw`, async () => {
    let pages = 0;
    fake = await startFakeDynamoDb((operation, body) => {
      if (operation !== 'Query') return {};
      const prefix = (body.ExpressionAttributeValues as Record<string, { S: string }>)[':prefix'];
      if (prefix?.S !== 'EFFECT#fifo#') return { Items: [], Count: 0 };
      pages++;
      // One page of items, then nothing but new keys; the old code read all 5,000 pages.
      if (pages > 5000) return { Items: [], Count: 0 };
      return {
        Items: pages === 1 ? [{ ...key('EFFECT#fifo#o1'), queue: { S: 'fifo' } }] : [],
        Count: pages === 1 ? 1 : 0,
        LastEvaluatedKey: key(`EFFECT#fifo#k${pages}`),
      };
    });

    const error = await thrown(readRunLedger(fake.client(), 'ledger-table', 'r1'));

    expect(error).toBeInstanceOf(LedgerReadError);
    expect((error as Error).message).toMatch(
      /^the Query of table ledger-table reading run r1's ledger items beginning EFFECT#fifo# answered 16 pages in a row with no item and a new LastEvaluatedKey \(17 pages, 1 items; last LastEvaluatedKey .*EFFECT#fifo#k17.*\): DynamoDB answers a key with no item only after a filter, which the report sets none of, and reading on may never end$/,
    );
    // Page 17 was the last asked for.
    expect(pages).toBe(EMPTY_PAGES_IN_A_ROW + 1);
  }, 30_000);

  it('refuses a count whose pages of 0 answer new keys', async () => {
    let pages = 0;
    fake = await startFakeDynamoDb(() => {
      pages++;
      return pages > 5000 ? { Count: 0 } : { Count: 0, LastEvaluatedKey: key(`k${pages}`) };
    });

    const error = await thrown(countRunItems(fake.client(), 'ledger-table', 'r1'));

    expect(error).toBeInstanceOf(LedgerReadError);
    expect((error as Error).message).toContain(
      "the Query of table ledger-table counting run r1's ledger items answered 16 pages in a row with no item",
    );
    expect(pages).toBe(EMPTY_PAGES_IN_A_ROW);
  }, 30_000);

  it('reads a ledger of many pages, each with items, to its end', async () => {
    // 300 pages of 10 items each with a new key, then a last page.
    let pages = 0;
    fake = await startFakeDynamoDb((_operation, body) => {
      if (body.Select !== 'COUNT') return { Items: [], Count: 0 };
      pages++;
      return pages < 300 ? { Count: 10, LastEvaluatedKey: key(`k${pages}`) } : { Count: 10 };
    });
    expect(await countRunItems(fake.client(), 'ledger-table', 'r1')).toBe(3000);
  }, 60_000);
});
