import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbStartError, type LocalDynamoDb, startDynamoDb } from '../../local/dynamodb';

/**
 * DynamoDB on disk (`dataDir`): its thread says it is ready only once its store has opened, and a
 * store that cannot open is a start-up error. It said ready as soon as it listened, and every
 * request then failed ("Database is closed") or hung.
 */
describe('DynamoDB tables on disk', () => {
  let root: string;
  const started: LocalDynamoDb[] = [];
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'dynamodb-data-dir-'));
  });
  afterAll(async () => {
    for (const d of started) await d.close();
    rmSync(root, { recursive: true, force: true });
  });

  const refusal = async (dataDir: string): Promise<unknown> => {
    try {
      started.push(await startDynamoDb({ dataDir }));
    } catch (err) {
      return err;
    }
    return undefined;
  };

  it('refuses to start on a directory under a regular file, where it said ready', async () => {
    writeFileSync(join(root, 'afile'), '');
    const dataDir = join(root, 'afile', 'db');
    const err = await refusal(dataDir);
    expect(err).toBeInstanceOf(DynamoDbStartError);
    expect((err as Error).message).toBe(
      `dynalite: cannot open its tables at ${dataDir}: ENOTDIR: not a directory, mkdir '${dataDir}'`,
    );
  }, 30_000);

  it('refuses to start on tables another thread has open, and the first keeps serving them', async () => {
    const dataDir = join(root, 'shared');
    const first = await startDynamoDb({ dataDir });
    started.push(first);
    const err = await refusal(dataDir);
    expect(err).toBeInstanceOf(DynamoDbStartError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^dynalite: cannot open its tables at ${dataDir}: .*LOCK.* \\(another process has them open: a local cloud already running\\?\\)$`,
      ),
    );
    const client = new DynamoDBClient({
      endpoint: first.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    try {
      await client.send(
        new CreateTableCommand({
          TableName: 'kept',
          AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      expect((await client.send(new ListTablesCommand({}))).TableNames).toEqual(['kept']);
    } finally {
      client.destroy();
    }
  }, 30_000);
});
