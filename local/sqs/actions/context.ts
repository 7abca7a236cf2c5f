import type { Clock } from '../clock';
import { errors } from '../errors';
import type { FaultConfig, FaultDice } from '../faults';
import type { MoveTasks } from '../move-tasks';
import type { Queue } from '../queue';
import type { Output } from '../wire';
import type { Params } from './params';

/** What every action sees: the emulator's state and the request's origin. */
export interface Context {
  clock: Clock;
  accountId: string;
  region: string;
  faults: () => FaultConfig;
  dice: FaultDice;
  queues: Map<string, Queue>;
  /**
   * When (on `clock`) each queue name was last deleted, oldest first, for
   * `LIMITS.recreateAfterDeleteMs`: each DeleteQueue forgets the names deleted longer ago.
   */
  deletedAt: Map<string, number>;
  /** Origin of the request (`http://host:port`), for queue URLs. */
  origin: string;
  moveTasks: MoveTasks;
  closed: () => boolean;
  /** In-flight quotas of a standard and a FIFO queue (LIMITS' AWS numbers unless lowered). */
  maxInFlight: { standard: number; fifo: number };
  /** The emulator's log (its `log` option), for what a queue reports (see Queue.log). */
  log?: (msg: string, data?: object) => void;
}

/**
 * One SQS action in two steps, so that a request that fails changes nothing: `validate` reads
 * every parameter and checks it against the queue as it is (throwing AWS's error) and changes
 * nothing; `run` applies the validated request. The dispatcher calls them in that order.
 */
export interface ActionSpec<R> {
  validate(ctx: Context, p: Params): R;
  run(ctx: Context, request: R): Output | Promise<Output>;
}

export type Action = ActionSpec<unknown>;

export const action = <R>(spec: ActionSpec<R>): Action => spec as Action;

/**
 * A queue URL is `<scheme>://<host>/<account-id>/<queue-name>` and nothing else: no further path
 * segment, no trailing slash, no query or fragment. The host is not compared: one emulator is
 * reached under several names (localhost, 127.0.0.1, the edge's address), and a request that got
 * here was sent here. Which host that is, is the client's choice: the AWS SDK for JavaScript v3
 * sends to the QueueUrl's own host unless an endpoint is set in code (`useQueueUrlAsEndpoint`), as
 * the SDKs for Java v1, Ruby and PHP do; others send to the configured endpoint. The account and
 * the name are what name a queue.
 */
const QUEUE_URL = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]+\/([^/?#]+)\/([^/?#]+)$/i;

interface QueuePath {
  account: string;
  name: string;
}

/**
 * Parsed QueueUrls: a client sends the same few URLs on every request. Bounded in entries and in
 * the length of a key, so that hostile URLs cannot grow it (a longer URL is parsed every time).
 */
const pathByUrl = new Map<string, QueuePath | null>();
const MAX_CACHED_URLS = 1024;
const MAX_CACHED_URL_LENGTH = 512;

function queuePath(url: string): QueuePath | null {
  let path = pathByUrl.get(url);
  if (path === undefined) {
    const m = QUEUE_URL.exec(url);
    path = m ? { account: m[1]!, name: m[2]! } : null;
    if (url.length <= MAX_CACHED_URL_LENGTH) {
      if (pathByUrl.size >= MAX_CACHED_URLS) pathByUrl.clear();
      pathByUrl.set(url, path);
    }
  }
  return path;
}

/**
 * The queue a request's QueueUrl names. A URL of another account, or not of a queue URL's form,
 * names a queue that does not exist here: the emulator holds one account's queues, and AWS
 * answers QueueDoesNotExist for a queue URL that names no queue.
 */
export function queueFromUrl(ctx: Context, p: Params): Queue {
  const q = queueAt(ctx, p.requiredString('QueueUrl'));
  if (!q) throw errors.queueDoesNotExist();
  return q;
}

/** The queue a queue URL names among these queues of this account, by queueFromUrl's rule. */
export function queueAt(
  { queues, accountId }: Pick<Context, 'queues' | 'accountId'>,
  url: string,
): Queue | undefined {
  const path = queuePath(url);
  return path && path.account === accountId ? queues.get(path.name) : undefined;
}

export function queueByArn(ctx: Context, arn: string): Queue | undefined {
  const name = arn.split(':').pop() ?? '';
  const q = ctx.queues.get(name);
  return q && q.arn === arn ? q : undefined;
}

export const queueUrl = (ctx: Context, q: Queue): string =>
  `${ctx.origin}/${ctx.accountId}/${q.name}`;
