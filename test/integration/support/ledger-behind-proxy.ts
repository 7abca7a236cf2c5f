import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startDynamoDb } from '../../../local/dynamodb';
import { createActiveTable, keyedTable } from '../../../local/tables';
import { createDocumentClients, LOCAL_CREDENTIALS } from '../../../shared/src/aws-clients';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import {
  type ProxiedRequest,
  type ProxyRule,
  startDynamoDbProxy,
  type UpstreamAnswer,
} from './dynamodb-proxy';

export type { ProxiedRequest, ProxyRule, UpstreamAnswer };

/**
 * The ledger table on a local DynamoDB behind a real HTTP proxy (dynamodb-proxy.ts), for what
 * the functions' client does when an answer is late or lost: the proxy can forward a request,
 * keep it to forward later, or reset the client's connection (ECONNRESET) so that the SDK sends
 * it again.
 */

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

/** Starts a local DynamoDB and the proxy in front of it, and creates the ledger table. */
export async function startLedgerBehindProxy(rule: ProxyRule): Promise<LedgerBehindProxy> {
  const db = await startDynamoDb();
  const proxy = await startDynamoDbProxy(rule, db.url);
  const { endpoint, forward } = proxy;
  const { documents, oneTry } = createDocumentClients({
    endpoint,
    region: 'eu-west-1',
    credentials: LOCAL_CREDENTIALS,
  });
  const stop = async () => {
    documents.destroy();
    await proxy.close();
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
