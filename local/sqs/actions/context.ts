import type { Clock } from '../clock';
import { errors } from '../errors';
import type { FaultConfig, FaultDice } from '../faults';
import type { Queue } from '../queue';
import type { MoveTasks } from './move-tasks';
import type { Params } from './params';

// biome-ignore lint/suspicious/noExplicitAny: requests are untyped JSON, read by Params.
export type Input = Record<string, any>;
export type Output = Record<string, unknown>;

/** What every action sees: the emulator's state and the request's origin. */
export interface Context {
  clock: Clock;
  accountId: string;
  region: string;
  faults: () => FaultConfig;
  dice: FaultDice;
  queues: Map<string, Queue>;
  /** Origin of the request (`http://host:port`), for queue URLs. */
  origin: string;
  moveTasks: MoveTasks;
  closed: () => boolean;
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

/** Queue name by URL: a client sends the same few URLs on every request. */
const nameByUrl = new Map<string, string>();

function queueName(url: string): string {
  let name = nameByUrl.get(url);
  if (name === undefined) {
    name = url.split('?')[0]!.replace(/\/+$/, '').split('/').pop() ?? '';
    if (nameByUrl.size >= 1024) nameByUrl.clear();
    nameByUrl.set(url, name);
  }
  return name;
}

/** The queue a request's QueueUrl names (any URL ending in the queue's name). */
export function queueFromUrl(ctx: Context, p: Params): Queue {
  const q = ctx.queues.get(queueName(p.requiredString('QueueUrl')));
  if (!q) throw errors.queueDoesNotExist();
  return q;
}

export function queueByArn(ctx: Context, arn: string): Queue | undefined {
  const name = arn.split(':').pop() ?? '';
  const q = ctx.queues.get(name);
  return q && q.arn === arn ? q : undefined;
}

export const queueUrl = (ctx: Context, q: Queue): string =>
  `${ctx.origin}/${ctx.accountId}/${q.name}`;
