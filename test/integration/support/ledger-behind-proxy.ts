import { type DynamoDBDocumentClient, paginateQuery } from '@aws-sdk/lib-dynamodb';
import type { NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import { startDynamoDb } from '../../../local/dynamodb';
import { createActiveTable, keyedTable } from '../../../local/tables';
import {
  createDocumentClient,
  createDocumentClients,
  LOCAL_CREDENTIALS,
} from '../../../shared/src/aws-clients';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { runPk } from '../../../shared/src/ledger';
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
  /**
   * A run's ledger items (every page, read consistently through the proxy), or only those whose
   * sort key begins with `prefix`.
   */
  runItems: (runId: string, prefix?: string) => Promise<Record<string, NativeAttributeValue>[]>;
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
  const runItems = async (runId: string, prefix?: string) => {
    const items: Record<string, NativeAttributeValue>[] = [];
    const pages = paginateQuery(
      { client: documents },
      {
        TableName: ledger.name,
        KeyConditionExpression:
          prefix === undefined ? 'pk = :pk' : 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: {
          ':pk': runPk(runId),
          ...(prefix === undefined ? {} : { ':prefix': prefix }),
        },
        ConsistentRead: true,
      },
    );
    for await (const page of pages) items.push(...(page.Items ?? []));
    return items;
  };
  return { documents, oneTry, endpoint, runItems, forward, stop };
}

/**
 * Forwards a request and keeps its answer `holdMs` before handing it back: the write committed
 * upstream, its answer late (past the client's request timeout, the SDK sends it again).
 */
export async function answerLate(
  received: ProxiedRequest,
  forward: (kept: ProxiedRequest) => Promise<UpstreamAnswer>,
  holdMs: number,
): Promise<UpstreamAnswer> {
  const answer = await forward(received);
  await new Promise((resolve) => setTimeout(resolve, holdMs));
  return answer;
}

/**
 * The functions' document client, as the handlers make it, through the proxy at `endpoint` with
 * a short connection and request timeout (`timeoutMs`), so that an answer held past it makes the
 * SDK send the request again.
 */
export function shortTimeoutDocuments(endpoint: string, timeoutMs: number): DynamoDBDocumentClient {
  return createDocumentClient({
    endpoint,
    region: 'eu-west-1',
    credentials: LOCAL_CREDENTIALS,
    connectionTimeoutMs: timeoutMs,
    requestTimeoutMs: timeoutMs,
  });
}
