import type { Clock } from '../clock';
import { errors } from '../errors';
import type { FaultConfig, FaultDice } from '../faults';
import type { Queue } from '../queue';
import type { MoveTask } from './move-tasks';
import { str } from './params';

// biome-ignore lint/suspicious/noExplicitAny: requests are untyped JSON, validated field by field.
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
  moveTasks: Map<string, MoveTask>;
  closed: () => boolean;
}

export type Action = (ctx: Context, input: Input) => Output | Promise<Output>;

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

export function queueFromUrl(ctx: Context, input: Input): Queue {
  const name = queueName(str(input, 'QueueUrl')!);
  const q = ctx.queues.get(name);
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
