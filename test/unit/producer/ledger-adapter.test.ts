import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoLedger } from '../../../services/producer/src/adapters/ledger';

/** The producer's DynamoDB adapter on its own, against a mocked document client. */
const ddb = mockClient(DynamoDBDocumentClient);
const ledger = () =>
  new DynamoLedger(
    DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
    'ledger',
  );

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
