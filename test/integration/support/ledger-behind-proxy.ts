import { createServer, type IncomingHttpHeaders, type IncomingMessage, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startDynamoDb } from '../../../local/dynamodb';
import { createActiveTable, keyedTable } from '../../../local/tables';
import { createDocumentClients, LOCAL_CREDENTIALS } from '../../../shared/src/aws-clients';
import { pipelineConfig } from '../../../shared/src/config/pipeline';

/**
 * The ledger table on a local DynamoDB behind a real HTTP proxy, for what the functions' client
 * does when an answer is late or lost: the proxy can forward a request, keep it to forward later,
 * or reset the client's connection (ECONNRESET) so that the SDK sends it again.
 */

/** A request as the proxy received it, to forward now or later. */
export interface ProxiedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** DynamoDB's answer to a forwarded request. */
export interface UpstreamAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * What the proxy does with one request: `'reset'` resets the client's connection without an
 * answer; an answer is sent to the client as it is; undefined forwards the request and sends
 * DynamoDB's answer. `forward` sends a request to DynamoDB as it came.
 */
export type ProxyRule = (
  received: ProxiedRequest,
  forward: (kept: ProxiedRequest) => Promise<UpstreamAnswer>,
) => Promise<UpstreamAnswer | 'reset' | undefined> | UpstreamAnswer | 'reset' | undefined;

export interface LedgerBehindProxy {
  /** The functions' own document client (SDK default retries), through the proxy. */
  documents: DynamoDBDocumentClient;
  /** Beside it, over the same connections, the producer's one-try client (its bid's withdrawal). */
  oneTry: DynamoDBDocumentClient;
  /** The proxy's URL. */
  endpoint: string;
  /** Sends a request (one the rule kept) to DynamoDB as it came, past the rule. */
  forward: (kept: ProxiedRequest) => Promise<UpstreamAnswer>;
  stop: () => Promise<void>;
}

const bodyOf = async (stream: IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

/** Starts a local DynamoDB and the proxy in front of it, and creates the ledger table. */
export async function startLedgerBehindProxy(rule: ProxyRule): Promise<LedgerBehindProxy> {
  const db = await startDynamoDb();
  const upstream = new URL(db.url);
  const forward = (kept: ProxiedRequest): Promise<UpstreamAnswer> =>
    new Promise((resolve, reject) => {
      const out = request({
        host: upstream.hostname,
        port: upstream.port,
        method: kept.method,
        path: kept.path,
        // The local DynamoDB answers only requests addressed to itself.
        headers: { ...kept.headers, host: upstream.host },
      });
      out.once('error', reject).once('response', async (answer) => {
        resolve({
          status: answer.statusCode ?? 500,
          headers: answer.headers,
          body: await bodyOf(answer),
        });
      });
      out.end(kept.body);
    });
  const proxy = createServer(async (req, res) => {
    const received: ProxiedRequest = {
      method: req.method ?? 'POST',
      path: req.url ?? '/',
      headers: req.headers,
      body: await bodyOf(req),
    };
    const verdict = await rule(received, forward);
    if (verdict === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    const answer = verdict ?? (await forward(received));
    res.writeHead(answer.status, answer.headers).end(answer.body);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const { documents, oneTry } = createDocumentClients({
    endpoint,
    region: 'eu-west-1',
    credentials: LOCAL_CREDENTIALS,
  });
  const stop = async () => {
    documents.destroy();
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
    await db.close();
  };
  const { ledger } = pipelineConfig.tables;
  try {
    await createActiveTable(
      documents,
      keyedTable(ledger.name, ledger.partitionKey, ledger.sortKey ?? 'sk'),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { documents, oneTry, endpoint, forward, stop };
}
