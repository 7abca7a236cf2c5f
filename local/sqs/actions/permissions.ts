import { errors } from '../errors';
import type { Queue } from '../queue';
import { action, queueFromUrl } from './context';
import type { Params } from './params';

/**
 * Queue permissions (AddPermission, RemovePermission): checked as AWS checks them, kept by label
 * per queue, never enforced (no IAM locally) and not written into the queue's Policy attribute.
 */

/** The labels added to each queue; a queue made again under the same name starts with none. */
const labelsOf = new WeakMap<Queue, Set<string>>();

/**
 * The action names AddPermission takes: `*` and the actions the API reference names for it
 * (ChangeMessageVisibility, DeleteMessage, GetQueueAttributes, GetQueueUrl, ReceiveMessage,
 * SendMessage; the batch versions come with their single ones), with ListDeadLetterSourceQueues
 * and PurgeQueue, which AWS takes too.
 */
const PERMISSION_ACTIONS: ReadonlySet<string> = new Set([
  '*',
  'ChangeMessageVisibility',
  'DeleteMessage',
  'GetQueueAttributes',
  'GetQueueUrl',
  'ListDeadLetterSourceQueues',
  'PurgeQueue',
  'ReceiveMessage',
  'SendMessage',
]);

/** A label as the API reference describes it: up to 80 alphanumerics, hyphens, underscores. */
const LABEL = /^[A-Za-z0-9_-]{1,80}$/;

/** Labels a queue holds at most: about what fits AWS's 8 KB policy, one statement each. */
const MAX_LABELS = 32;

/** A required list: absent or empty is MissingParameter, as for any required member. */
function requiredList(p: Params, name: string): string[] {
  const list = p.stringList(name);
  if (list === undefined || list.length === 0) throw errors.missingParameter(name);
  return list;
}

export const AddPermission = action({
  validate(ctx, p) {
    const queue = queueFromUrl(ctx, p);
    const label = p.requiredString('Label');
    if (!LABEL.test(label)) {
      throw errors.invalidValue(
        'Label',
        label,
        'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length',
      );
    }
    requiredList(p, 'AWSAccountIds');
    for (const name of requiredList(p, 'Actions')) {
      if (!PERMISSION_ACTIONS.has(name)) {
        throw errors.invalidValue(
          'ActionName',
          `SQS:${name}`,
          'Only the queue owner is allowed to invoke this action.',
        );
      }
    }
    const labels = labelsOf.get(queue);
    if (labels?.has(label)) throw errors.invalidValue('Label', label, 'Already exists.');
    // Each label is a statement of the queue's policy, which AWS caps at 8 KB.
    if ((labels?.size ?? 0) >= MAX_LABELS) throw errors.policyOverLimit();
    return { queue, label };
  },
  run(_ctx, { queue, label }) {
    let labels = labelsOf.get(queue);
    if (!labels) {
      labels = new Set();
      labelsOf.set(queue, labels);
    }
    labels.add(label);
    return {};
  },
});

export const RemovePermission = action({
  validate(ctx, p) {
    const queue = queueFromUrl(ctx, p);
    const label = p.requiredString('Label');
    // The API reference lists no error for a label never added; AWS answers this one.
    if (!labelsOf.get(queue)?.has(label)) {
      throw errors.invalidValue('Label', label, "can't find label");
    }
    return { queue, label };
  },
  run(_ctx, { queue, label }) {
    labelsOf.get(queue)?.delete(label);
    return {};
  },
});
