import { errors } from '../errors';
import { action, queueFromUrl } from './context';

/**
 * Cost allocation tags on a queue, with the restrictions of AWS's "Quotas related to queues"
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-queues.html,
 * "Queue tag"): "The tag Key and tag Value can include Unicode alphanumeric characters in UTF-8
 * and whitespaces. The following special characters are allowed: _ . : / = + - @"; "The tag Key
 * or Value must not include the reserved prefix aws:"; "The maximum tag Key length is 128 Unicode
 * characters in UTF-8. The tag Key must not be empty or null."; "The maximum tag Value length is
 * 256 Unicode characters in UTF-8. The tag Value may be empty or null."; and "We don't recommend
 * adding more than 50 tags to a queue", which SQS enforces. TagQueue's API reference lists no
 * error for a bad tag; AWS answers InvalidParameterValue (400): "Tag keys must be between 1 and
 * 128 characters in length." for a key's length, as AWS answered an empty key
 * (https://github.com/getmoto/moto/issues/1686), and the 51st tag's "Too many tags added for
 * queue <name>." as emulators that follow AWS word it (moto, YDB's SQS; not verified). The
 * wording of the other refusals (a value's length, characters, the prefix) is ours. UntagQueue's
 * keys are held to the same key rules. A refused TagQueue, UntagQueue or CreateQueue changes
 * nothing.
 */

const MAX_TAGS = 50;
const MAX_KEY_CHARS = 128;
const MAX_VALUE_CHARS = 256;
/** Unicode letters, digits and spaces, and _ . : / = + - @ (AWS's tag character set). */
const TAG_CHARS = /^[\p{L}\p{N}\p{Z}_.:/=+\-@]*$/u;
/** "aws:" reserved for AWS's own tags; case does not make a key the user's. */
const RESERVED = /^aws:/i;

/** Length in Unicode characters (code points), as AWS counts it, not UTF-16 code units. */
const chars = (s: string): number => [...s].length;

function checkTagText(name: 'TagKey' | 'TagValue', text: string, min: number, max: number): void {
  const n = chars(text);
  if (n < min || n > max) {
    // AWS's sentence for a key (see UntagQueue); a value's is ours, in the same form.
    throw errors.invalidParameter(
      `Tag ${name === 'TagKey' ? 'keys' : 'values'} must be between ${min} and ${max} characters in length.`,
    );
  }
  if (!TAG_CHARS.test(text)) {
    throw errors.invalidValue(
      name,
      text,
      'Tags can only include Unicode letters, digits, white space and the characters _ . : / = + - @.',
    );
  }
  if (RESERVED.test(text)) {
    throw errors.invalidValue(name, text, 'The prefix aws: is reserved for AWS use.');
  }
}

/** Checks one tag key by AWS's rules: of a tag to add, or a key to remove (UntagQueue). */
const checkTagKey = (key: string): void => checkTagText('TagKey', key, 1, MAX_KEY_CHARS);

/** Checks tags to add to the queue `queue`, which already has `existing` others. */
export function validateTags(tags: Record<string, string>, existing: number, queue: string): void {
  for (const [key, value] of Object.entries(tags)) {
    checkTagKey(key);
    checkTagText('TagValue', value, 0, MAX_VALUE_CHARS);
  }
  if (existing + Object.keys(tags).length > MAX_TAGS) {
    throw errors.invalidParameter(`Too many tags added for queue ${queue}.`);
  }
}

export const TagQueue = action({
  validate(ctx, p) {
    const q = queueFromUrl(ctx, p);
    const tags = p.stringMap('Tags');
    if (tags === undefined || Object.keys(tags).length === 0) throw errors.missingParameter('Tags');
    // A key the queue already has is overwritten, so it does not count again.
    const kept = Object.keys(q.tags).filter((k) => !Object.hasOwn(tags, k)).length;
    validateTags(tags, kept, q.name);
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
    if (keys === undefined) throw errors.missingParameter('TagKeys');
    // UntagQueue's reference states no rule for TagKeys, so a key to remove is held to the rules
    // of a key to add: one that breaks them names no tag a queue can have. An empty list is
    // answered as an empty key: AWS did so for botocore's empty list (sent over the Query
    // protocol as a bare `TagKey=`), "Tag keys must be between 1 and 128 characters in length."
    // (https://github.com/getmoto/moto/issues/1686). The reference sets no upper bound on the
    // number of keys; the request's size bounds it.
    if (keys.length === 0) checkTagKey('');
    for (const key of keys) checkTagKey(key);
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
