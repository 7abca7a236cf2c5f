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

export interface LocalDynamoDb {
  handle: RequestListener;
  close(): Promise<void>;
}

export async function startDynamoDb({
  dataDir,
}: {
  dataDir?: string;
} = {}): Promise<LocalDynamoDb> {
  const dynalite = require('dynalite') as DynaliteFactory;
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
  // listens on a private free port nobody is told about, and requests arrive through the edge.
  await listen(server, 0, '127.0.0.1', 'dynamodb');
  return {
    handle: (req, res) => {
      listener(req, res);
      // dynalite rethrows a request stream error (a client that disconnects mid-body) from its
      // 'error' listener, which would end the whole process: the connection is gone, so only
      // the response is left to drop.
      for (const l of req.listeners('error')) req.off('error', l as (err: Error) => void);
      req.on('error', () => res.destroy());
    },
    close: () => closeServer(server, 0),
  };
}
