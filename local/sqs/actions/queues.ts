import { errors } from '../errors';
import { LIMITS, Queue } from '../queue';
import { checkRedriveTarget, validateQueueAttributes } from './attributes';
import { type Action, queueFromUrl, queueUrl } from './context';
import { int, str, stringMap } from './params';

/** Queue lifecycle: create, find, list, delete, purge. */

const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;

export const CreateQueue: Action = (ctx, input) => {
  const name = str(input, 'QueueName')!;
  const attrs = stringMap(input.Attributes, 'Attributes');
  const fifo = name.endsWith('.fifo');
  if (!QUEUE_NAME.test(fifo ? name.slice(0, -5) : name) || name.length > 80) {
    throw errors.invalidParameter(
      'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length',
    );
  }
  if (attrs.FifoQueue === 'true' && !fifo)
    throw errors.invalidParameter(
      'The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.',
    );
  if (fifo && attrs.FifoQueue !== 'true')
    throw errors.invalidParameter(
      'The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length. Set the FifoQueue attribute to true.',
    );
  validateQueueAttributes(attrs, fifo, true);
  const existing = ctx.queues.get(name);
  if (existing) {
    for (const [k, v] of Object.entries(attrs)) {
      if (existing.attributes[k] !== v) throw errors.queueNameExists(name);
    }
    return { QueueUrl: queueUrl(ctx, existing) };
  }
  const q = new Queue(name, attrs, ctx.accountId, ctx.region, ctx.clock);
  checkRedriveTarget(ctx, q, attrs);
  for (const [k, v] of Object.entries(stringMap(input.tags, 'tags'))) q.tags[k] = v;
  ctx.queues.set(name, q);
  return { QueueUrl: queueUrl(ctx, q) };
};

export const GetQueueUrl: Action = (ctx, input) => {
  const name = str(input, 'QueueName')!;
  const q = ctx.queues.get(name);
  if (!q) throw errors.queueDoesNotExist();
  return { QueueUrl: queueUrl(ctx, q) };
};

export const ListQueues: Action = (ctx, input) => {
  const prefix = str(input, 'QueueNamePrefix', false) ?? '';
  const max = int(input, 'MaxResults', 1, 1000);
  const names = [...ctx.queues.keys()].filter((n) => n.startsWith(prefix)).sort();
  const start = input.NextToken
    ? Number(Buffer.from(String(input.NextToken), 'base64').toString()) || 0
    : 0;
  const page = names.slice(start, max ? start + max : 1000);
  const more = max !== undefined && start + max < names.length;
  return {
    ...(page.length ? { QueueUrls: page.map((n) => queueUrl(ctx, ctx.queues.get(n)!)) } : {}),
    ...(more ? { NextToken: Buffer.from(String(start + max)).toString('base64') } : {}),
  };
};

export const DeleteQueue: Action = (ctx, input) => {
  const q = queueFromUrl(ctx, input);
  ctx.queues.delete(q.name);
  q.wake();
  return {};
};

export const PurgeQueue: Action = (ctx, input) => {
  const q = queueFromUrl(ctx, input);
  const now = ctx.clock.now();
  if (now - q.lastPurgeAt < LIMITS.purgeIntervalMs) throw errors.purgeInProgress(q.name);
  q.lastPurgeAt = now;
  q.purge();
  return {};
};
