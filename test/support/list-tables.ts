import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoDbClient, LOCAL_CREDENTIALS } from '../../shared/src/aws-clients';

/**
 * Asks a started local DynamoDB for its tables over HTTP, with the real SDK, then closes it
 * (whether or not it answered): the table names it answered.
 */
export async function listTablesThenClose(db: {
  url: string;
  close(): Promise<unknown>;
}): Promise<string[] | undefined> {
  const client = createDynamoDbClient({
    endpoint: db.url,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    return (await client.send(new ListTablesCommand({}))).TableNames;
  } finally {
    client.destroy();
    await db.close();
  }
}
