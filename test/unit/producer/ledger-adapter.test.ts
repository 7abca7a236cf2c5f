import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
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
