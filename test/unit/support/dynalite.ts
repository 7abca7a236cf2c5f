import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTable } from '../../../local/tables';
import type { TableConfig } from '../../../shared/src/config/pipeline';

/** dynalite, the local cloud's DynamoDB, in-process on a port of its own, and a client for it. */
export interface InProcessDynamo {
  client: DynamoDBClient;
  stop(): Promise<void>;
}

/**
 * Starts dynalite on 127.0.0.1 (a port the system picks) with `tables` created as the local cloud
 * creates them (local/tables.ts: the same keys and indexes; dynalite has no TTL).
 */
export async function startDynalite(tables: readonly TableConfig[]): Promise<InProcessDynamo> {
  const dynalite = require('dynalite') as (options: { createTableMs: number }) => Server;
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  for (const table of tables) await createTable(client, table, () => {});
  return {
    client,
    async stop() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
