import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { countRunItems, readRunLedger } from '../../../services/report/src/adapters/ledger-reader';

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

  it('counts a run over every page', async () => {
    dynamo
      .on(QueryCommand)
      .resolvesOnce({ Count: 1000, LastEvaluatedKey: { pk: 'RUN#r1', sk: 'x' } })
      .resolvesOnce({ Count: 234 });
    expect(await countRunItems(documents, 'ledger', 'r1')).toBe(1234);
    expect(dynamo.commandCalls(QueryCommand)[0]?.args[0].input.Select).toBe('COUNT');
  });
});
