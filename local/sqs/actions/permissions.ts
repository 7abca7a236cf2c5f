import { errors, SqsError } from '../errors';
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

/**
 * Actions one AddPermission may name. AWS: "An Amazon SQS policy can have a maximum of seven
 * actions per statement" (AddPermission, API reference), and AddPermission writes one statement.
 */
const MAX_ACTIONS = 7;

/** A required list: absent or empty is MissingParameter, as for any required member. */
function requiredList(p: Params, name: string): string[] {
  const list = p.stringList(name);
  if (list === undefined || list.length === 0) throw errors.missingParameter(name);
  return list;
}

/**
 * AWS's answers to AddPermission over its limits, as recorded against AWS in moto's
 * test_add_permission_errors and test_remove_permission_errors: OverLimit is the SQS model's
 * code for it, 403.
 */
const tooManyActions = (found: number) =>
  new SqsError(
    'OverLimit',
    `${found} Actions were found, maximum allowed is ${MAX_ACTIONS}.`,
    'OverLimit',
    403,
  );

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
    // Absent is MissingParameter; an empty list is AWS's own answer (its principals, unverified).
    const accounts = p.stringList('AWSAccountIds');
    if (accounts === undefined) throw errors.missingParameter('AWSAccountIds');
    if (accounts.length === 0) {
      throw errors.invalidValue('PrincipalId', '[]', 'Unable to verify.');
    }
    const actions = requiredList(p, 'Actions');
    // Counted as given: a repeated action counts each time.
    if (actions.length > MAX_ACTIONS) throw tooManyActions(actions.length);
    for (const name of actions) {
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
    // The API reference lists no error for a label never added; AWS answers this one (moto's
    // test_remove_permission_errors, written against AWS).
    if (!labelsOf.get(queue)?.has(label)) {
      throw errors.invalidValue('Label', label, "can't find label on existing policy.");
    }
    return { queue, label };
  },
  run(_ctx, { queue, label }) {
    labelsOf.get(queue)?.delete(label);
    return {};
  },
});
