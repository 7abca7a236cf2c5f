import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDocumentClient, LOCAL_CREDENTIALS } from '../../../../shared/src/aws-clients';

/**
 * A DynamoDB endpoint on 127.0.0.1 for the report's reader: it answers each request (JSON 1.0,
 * `X-Amz-Target: DynamoDB_20120810.<Operation>`) with what `answer` returns for the operation and
 * the request's body, as DynamoDB's own JSON (attribute values typed: `{ S: 'x' }`). A document
 * client made for it signs with local credentials and tries each request once.
 */
export interface FakeDynamoDb {
  endpoint: string;
  /** The requests received so far, by operation. */
  calls(operation: string): Array<Record<string, unknown>>;
  client(): ReturnType<typeof createDocumentClient>;
  close(): Promise<void>;
}

export async function startFakeDynamoDb(
  answer: (operation: string, body: Record<string, unknown>) => unknown,
): Promise<FakeDynamoDb> {
  const received: Array<{ operation: string; body: Record<string, unknown> }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const operation = String(req.headers['x-amz-target'] ?? '').replace(/^DynamoDB_\d+\./, '');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      received.push({ operation, body });
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify(answer(operation, body)));
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients: Array<ReturnType<typeof createDocumentClient>> = [];
  return {
    endpoint,
    calls: (operation) => received.filter((r) => r.operation === operation).map((r) => r.body),
    client: () => {
      const c = createDocumentClient({
        endpoint,
        region: 'us-east-1',
        credentials: LOCAL_CREDENTIALS,
        maxAttempts: 1,
      });
      clients.push(c);
      return c;
    },
    close: async () => {
      for (const c of clients) c.destroy();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
