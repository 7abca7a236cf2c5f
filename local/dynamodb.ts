import type { Server } from 'node:http';
import { closeServer, listen, type RequestListener } from './edge';

/**
 * DynamoDB for the local cloud: dynalite, in memory by default or on disk under `dataDir`.
 * The edge calls its request listener directly, so DynamoDB shares the edge's port. Known gaps
 * (by design, not worked around): no TTL expiry, no TransactWriteItems, no UpdateTimeToLive.
 */

type DynaliteFactory = (options: {
  path?: string;
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}) => Server;

/**
 * What the pipeline asked of DynamoDB, counted where the requests are served: requests by API
 * operation, and the read and write request units AWS would bill for them (on-demand), by item
 * operation. Units come from dynalite's own item-size arithmetic (DynamoDB's: 1 WRU per started
 * KB written, the larger of the item before and after; 1 RRU per started 4 KB of a strongly
 * consistent read, half for an eventually consistent one). A conditional write whose condition
 * fails is billed too (1 WRU for items under 1 KB, which every ledger item is); dynalite computes
 * nothing for it, so those are counted apart.
 */
export interface DynamoDbUsage {
  requests: Record<string, number>;
  readUnits: Record<string, number>;
  writeUnits: Record<string, number>;
  conditionalCheckFailures: Record<string, number>;
}

export interface LocalDynamoDb {
  handle: RequestListener;
  /** The port dynalite must listen on to be closable; it closes every connection. */
  privatePort: number;
  usage(): DynamoDbUsage;
  close(): Promise<void>;
}

export function emptyUsage(): DynamoDbUsage {
  return { requests: {}, readUnits: {}, writeUnits: {}, conditionalCheckFailures: {} };
}

const bump = (m: Record<string, number>, k: string, n = 1) => {
  m[k] = (m[k] ?? 0) + n;
};

interface CapacityData {
  Item?: unknown;
  UpdateExpression?: unknown;
  AttributeUpdates?: unknown;
  ReturnConsumedCapacity?: string;
}
type AddConsumedCapacity = (
  data: CapacityData,
  isRead: boolean,
  newItem: unknown,
  oldItem?: unknown,
) => { CapacityUnits: number } | undefined;

/**
 * dynalite's actions call `db.addConsumedCapacity` through the module object for every item they
 * read or write, and only report the result when the client asked for it; this wraps that call
 * so the units are counted for every request, asked or not, then answers what dynalite would.
 */
function countCapacity(usage: DynamoDbUsage): void {
  const db = require('dynalite/db') as { addConsumedCapacity: AddConsumedCapacity };
  const original = db.addConsumedCapacity;
  db.addConsumedCapacity = (data, isRead, newItem, oldItem) => {
    const asked =
      data.ReturnConsumedCapacity === 'TOTAL' || data.ReturnConsumedCapacity === 'INDEXES';
    const answer = original(
      asked ? data : { ...data, ReturnConsumedCapacity: 'TOTAL' },
      isRead,
      newItem,
      oldItem,
    );
    const units = answer?.CapacityUnits ?? 0;
    if (isRead) bump(usage.readUnits, 'GetItem', units);
    else {
      const op =
        data.Item !== undefined
          ? 'PutItem'
          : data.UpdateExpression !== undefined || data.AttributeUpdates !== undefined
            ? 'UpdateItem'
            : 'DeleteItem';
      bump(usage.writeUnits, op, units);
    }
    return asked ? answer : undefined;
  };
}

export async function startDynamoDb({
  dataDir,
}: {
  dataDir?: string;
} = {}): Promise<LocalDynamoDb> {
  const dynalite = require('dynalite') as DynaliteFactory;
  const usage = emptyUsage();
  countCapacity(usage);
  // Tables become ACTIVE at once: the pipeline creates them at start-up and uses them right away.
  const server = dynalite({
    ...(dataDir ? { path: dataDir } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  const listener = server.listeners('request')[0] as RequestListener | undefined;
  if (!listener) throw new Error('dynalite exposes no request listener');
  // dynalite closes its store only from server.close(), which needs a listening server; it
  // listens on a free port nobody is told about, and requests arrive through the edge. That port
  // answers nothing: served there, a request would skip the edge's browser guard (and dynalite
  // answers any Origin with CORS allowing all), so every connection to it is closed at once.
  server.removeAllListeners('request');
  server.on('connection', (socket) => socket.destroy());
  const privatePort = await listen(server, 0, '127.0.0.1', 'dynamodb');
  return {
    privatePort,
    handle: (req, res) => {
      const op = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? 'unknown';
      bump(usage.requests, op);
      const end = res.end.bind(res) as (chunk?: unknown) => typeof res;
      // Only a 400 can be a failed condition; its body names the exception.
      res.end = ((chunk?: unknown) => {
        if (
          res.statusCode === 400 &&
          typeof chunk === 'string' &&
          chunk.includes('ConditionalCheckFailedException')
        ) {
          bump(usage.conditionalCheckFailures, op);
        }
        return end(chunk);
      }) as typeof res.end;
      listener(req, res);
      // dynalite rethrows a request stream error (a client that disconnects mid-body) from its
      // 'error' listener, which would end the whole process: the connection is gone, so only
      // the response is left to drop.
      for (const l of req.listeners('error')) req.off('error', l as (err: Error) => void);
      req.on('error', () => res.destroy());
    },
    usage: () => structuredClone(usage),
    close: () => closeServer(server, 0),
  };
}
