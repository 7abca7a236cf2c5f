import { errors } from '../errors';
import { type Action, queueFromUrl } from './context';
import { stringMap } from './params';

/** Cost allocation tags on a queue. */

export const TagQueue: Action = (ctx, input) => {
  const q = queueFromUrl(ctx, input);
  const tags = stringMap(input.Tags, 'Tags');
  if (Object.keys(tags).length === 0) throw errors.missingParameter('Tags');
  Object.assign(q.tags, tags);
  if (Object.keys(q.tags).length > 50)
    throw errors.invalidParameter('Too many tags: a queue can have at most 50.');
  return {};
};

export const UntagQueue: Action = (ctx, input) => {
  const q = queueFromUrl(ctx, input);
  const keys = input.TagKeys;
  if (!Array.isArray(keys) || keys.length === 0) throw errors.missingParameter('TagKeys');
  for (const k of keys) delete q.tags[String(k)];
  return {};
};

export const ListQueueTags: Action = (ctx, input) => {
  const q = queueFromUrl(ctx, input);
  return Object.keys(q.tags).length ? { Tags: { ...q.tags } } : {};
};
