import { errors } from '../errors';
import { action, queueFromUrl } from './context';

/** Cost allocation tags on a queue: at most 50, keys of 1-128 and values of 0-256 characters. */

const MAX_TAGS = 50;

/** Checks tags to add to a queue that already has `existing` others. */
export function validateTags(tags: Record<string, string>, existing: number): void {
  for (const [key, value] of Object.entries(tags)) {
    if (key.length < 1 || key.length > 128) {
      throw errors.invalidValue('TagKey', key, 'Tag keys must be 1 to 128 characters long.');
    }
    if (value.length > 256) {
      throw errors.invalidValue(
        'TagValue',
        value,
        'Tag values must be at most 256 characters long.',
      );
    }
  }
  if (existing + Object.keys(tags).length > MAX_TAGS) {
    throw errors.invalidParameter(`Too many tags: a queue can have at most ${MAX_TAGS}.`);
  }
}

export const TagQueue = action({
  validate(ctx, p) {
    const q = queueFromUrl(ctx, p);
    const tags = p.stringMap('Tags');
    if (tags === undefined || Object.keys(tags).length === 0) throw errors.missingParameter('Tags');
    // A key the queue already has is overwritten, so it does not count again.
    const kept = Object.keys(q.tags).filter((k) => !Object.hasOwn(tags, k)).length;
    validateTags(tags, kept);
    return { q, tags };
  },
  run(_ctx, { q, tags }) {
    Object.assign(q.tags, tags);
    return {};
  },
});

export const UntagQueue = action({
  validate(ctx, p) {
    const q = queueFromUrl(ctx, p);
    const keys = p.stringList('TagKeys');
    if (keys === undefined || keys.length === 0) throw errors.missingParameter('TagKeys');
    return { q, keys };
  },
  run(_ctx, { q, keys }) {
    for (const k of keys) delete q.tags[k];
    return {};
  },
});

export const ListQueueTags = action({
  validate: (ctx, p) => queueFromUrl(ctx, p),
  run: (_ctx, q) => (Object.keys(q.tags).length ? { Tags: { ...q.tags } } : {}),
});
