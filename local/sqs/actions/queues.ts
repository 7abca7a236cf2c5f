import { errors } from '../errors';
import { LIMITS, Queue } from '../queue';
import { dict } from '../wire';
import {
  applyKmsChoiceOnCreate,
  attributesToCreate,
  canonicalAttributes,
  checkRedriveTarget,
  validateQueueAttributes,
} from './attributes';
import { action, type Context, queueFromUrl, queueUrl } from './context';
import { validateTags } from './tags';

/** Queue lifecycle: create, find, list, delete, purge. */

const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const NAME_RULE =
  'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length';

export const CreateQueue = action({
  validate(ctx, p) {
    const name = p.requiredString('QueueName');
    const attrs = canonicalAttributes(p.stringMap('Attributes') ?? dict<string>());
    const tags = p.stringMap('tags') ?? dict<string>();
    const fifo = name.endsWith('.fifo');
    if (!QUEUE_NAME.test(fifo ? name.slice(0, -5) : name) || name.length > 80) {
      throw errors.invalidParameter(NAME_RULE);
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
    validateTags(tags, 0, name);
    const kept = attributesToCreate(attrs);
    const existing = ctx.queues.get(name);
    if (existing) {
      // A repeated CreateQueue answers the queue's URL, unless it asks for other attributes or
      // other tags: those the create would have kept, so the same request twice is the same,
      // and an empty Policy, RedrivePolicy, RedriveAllowPolicy or KmsMasterKeyId (none) where
      // the queue has one (found in review: comparing only what is kept took `KmsMasterKeyId: ""`
      // as the URL of a queue with a key, where before it was refused).
      for (const [k, v] of Object.entries(kept)) {
        if (existing.attributes[k] !== v) throw errors.queueNameExists(k);
      }
      for (const [k, v] of Object.entries(attrs)) {
        if (v === '' && !Object.hasOwn(kept, k) && existing.attributes[k] !== undefined) {
          throw errors.queueNameExists(k);
        }
      }
      // Tags too, when the request has any (users report it even for a queue without tags);
      // TagQueue is the way to change them.
      const asked = Object.entries(tags);
      if (
        asked.length > 0 &&
        (asked.length !== Object.keys(existing.tags).length ||
          asked.some(([k, v]) => !Object.hasOwn(existing.tags, k) || existing.tags[k] !== v))
      ) {
        throw errors.queueNameExistsWithTags();
      }
      return { name, attrs: kept, tags, existing };
    }
    if (deletedRecently(ctx, name)) throw errors.queueDeletedRecently();
    checkRedriveTarget(
      ctx,
      { fifo, arn: `arn:aws:sqs:${ctx.region}:${ctx.accountId}:${name}` },
      attrs,
    );
    return { name, attrs: kept, tags, existing: undefined };
  },
  run(ctx, { name, attrs, tags, existing }) {
    if (existing) return { QueueUrl: queueUrl(ctx, existing) };
    const q = new Queue(name, attrs, ctx.accountId, ctx.region, ctx.clock);
    if (ctx.log) q.log = ctx.log;
    applyKmsChoiceOnCreate(q.attributes, attrs);
    Object.assign(q.tags, tags);
    ctx.queues.set(name, q);
    return { QueueUrl: queueUrl(ctx, q) };
  },
});

export const GetQueueUrl = action({
  validate(ctx, p) {
    const name = p.requiredString('QueueName');
    // The queue of another account (AWS: "the account ID of the account that created the
    // queue"): the emulator holds one account's queues, so that account has none here.
    const owner = p.string('QueueOwnerAWSAccountId') ?? ctx.accountId;
    const q = owner === ctx.accountId ? ctx.queues.get(name) : undefined;
    if (!q) throw errors.queueDoesNotExist();
    return q;
  },
  run: (ctx, q) => ({ QueueUrl: queueUrl(ctx, q) }),
});

/** The queues a ListQueues answer holds when the request gives no MaxResults. */
const LIST_QUEUES_DEFAULT_MAX = 1000;

export const ListQueues = action({
  validate(_ctx, p) {
    const prefix = p.string('QueueNamePrefix') ?? '';
    const max = p.int('MaxResults', 1, 1000, 'MaxResults must be an integer between 1 and 1000.');
    const token = p.string('NextToken');
    let start = 0;
    if (token !== undefined) {
      start = Number(Buffer.from(token, 'base64').toString());
      if (!Number.isSafeInteger(start) || start < 0) {
        throw errors.invalidValue('NextToken', token, 'Invalid NextToken value.');
      }
    }
    return { prefix, max, start };
  },
  run(ctx, { prefix, max, start }) {
    const names = [...ctx.queues.keys()].filter((n) => n.startsWith(prefix)).sort();
    // AWS ("Amazon SQS list queue pagination", SQS Developer Guide): without MaxResults an answer
    // holds up to 1,000 queues and no NextToken; with it, at most MaxResults and a NextToken while
    // more remain. A NextToken without MaxResults goes on from where it points, up to 1,000 again
    // (the page had ended at the 1,000th queue, so a token past it answered nothing).
    const page = names.slice(start, start + (max ?? LIST_QUEUES_DEFAULT_MAX));
    const more = max !== undefined && start + max < names.length;
    return {
      ...(page.length ? { QueueUrls: page.map((n) => queueUrl(ctx, ctx.queues.get(n)!)) } : {}),
      ...(more ? { NextToken: Buffer.from(String(start + max)).toString('base64') } : {}),
    };
  },
});

/**
 * Whether the name was given up by a DeleteQueue less than 60 s ago on the emulator's clock.
 * AWS: "When you delete a queue, you must wait at least 60 seconds before creating a queue with
 * the same name" (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteQueue.html),
 * and CreateQueue lists QueueDeletedRecently for it
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html).
 */
export function deletedRecently(ctx: Pick<Context, 'clock' | 'deletedAt'>, name: string): boolean {
  const at = ctx.deletedAt.get(name);
  return at !== undefined && ctx.clock.now() - at < LIMITS.recreateAfterDeleteMs;
}

/**
 * Notes `name` as deleted now, and forgets the names deleted longer than 60 s ago: a client that
 * creates and deletes names in a loop holds at most the names of its last 60 s (emulator clock).
 */
export function noteDeleted(ctx: Pick<Context, 'clock' | 'deletedAt'>, name: string): void {
  const now = ctx.clock.now();
  // Oldest first (a name deleted again moves to the end), so the sweep stops at the first one
  // still held back: after it, the map holds only the names deleted within the last 60 s.
  for (const [old, at] of ctx.deletedAt) {
    if (now - at < LIMITS.recreateAfterDeleteMs) break;
    ctx.deletedAt.delete(old);
  }
  ctx.deletedAt.delete(name);
  ctx.deletedAt.set(name, now);
}

export const DeleteQueue = action({
  validate: (ctx, p) => queueFromUrl(ctx, p),
  run(ctx, q) {
    ctx.queues.delete(q.name);
    noteDeleted(ctx, q.name);
    q.wake();
    return {};
  },
});

export const PurgeQueue = action({
  validate(ctx, p) {
    const q = queueFromUrl(ctx, p);
    if (ctx.clock.now() - q.lastPurgeAt < LIMITS.purgeIntervalMs) {
      throw errors.purgeInProgress(q.name);
    }
    return q;
  },
  run(ctx, q) {
    q.lastPurgeAt = ctx.clock.now();
    q.purge();
    return {};
  },
});
