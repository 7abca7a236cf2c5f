import { errors } from '../errors';
import { LIMITS, type Queue } from '../queue';
import { type Action, type Context, queueByArn, queueFromUrl } from './context';
import { stringMap } from './params';

/** Queue attributes: read, set, and the rules (AWS's ranges) a CreateQueue shares. */

const SETTABLE = new Set([
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'Policy',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
  'RedrivePolicy',
  'RedriveAllowPolicy',
  'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds',
  'SqsManagedSseEnabled',
  'FifoQueue',
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'FifoThroughputLimit',
]);

function intAttr(name: string, value: string, min: number, max: number): void {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw errors.invalidAttributeValue(`Invalid value for the parameter ${name}.`);
  }
}

/** Validates attributes a CreateQueue or SetQueueAttributes sets (AWS's ranges). */
export function validateQueueAttributes(
  attrs: Record<string, string>,
  fifo: boolean,
  creating: boolean,
): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (!SETTABLE.has(name)) throw errors.invalidAttributeName(name);
    switch (name) {
      case 'DelaySeconds':
        intAttr(name, value, 0, LIMITS.maxDelaySeconds);
        break;
      case 'MaximumMessageSize':
        intAttr(name, value, 1024, LIMITS.maxMessageBytes);
        break;
      case 'MessageRetentionPeriod':
        intAttr(name, value, 60, 1_209_600);
        break;
      case 'ReceiveMessageWaitTimeSeconds':
        intAttr(name, value, 0, LIMITS.maxWaitSeconds);
        break;
      case 'VisibilityTimeout':
        intAttr(name, value, 0, LIMITS.maxVisibilitySeconds);
        break;
      case 'KmsDataKeyReusePeriodSeconds':
        intAttr(name, value, 60, 86_400);
        break;
      case 'FifoQueue':
        if (!creating) throw errors.invalidAttributeName(name);
        if (value !== 'true' && value !== 'false')
          throw errors.invalidAttributeValue('Invalid value for the parameter FifoQueue.');
        break;
      case 'ContentBasedDeduplication':
      case 'SqsManagedSseEnabled':
        if (value !== 'true' && value !== 'false')
          throw errors.invalidAttributeValue(`Invalid value for the parameter ${name}.`);
        if (name === 'ContentBasedDeduplication' && !fifo) throw errors.invalidAttributeName(name);
        break;
      case 'DeduplicationScope':
        if (!fifo) throw errors.invalidAttributeName(name);
        if (value !== 'queue' && value !== 'messageGroup')
          throw errors.invalidAttributeValue('Invalid value for the parameter DeduplicationScope.');
        break;
      case 'FifoThroughputLimit':
        if (!fifo) throw errors.invalidAttributeName(name);
        if (value !== 'perQueue' && value !== 'perMessageGroupId')
          throw errors.invalidAttributeValue(
            'Invalid value for the parameter FifoThroughputLimit.',
          );
        break;
      case 'RedrivePolicy': {
        if (value === '') break;
        let p: { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
        try {
          p = JSON.parse(value);
        } catch {
          throw errors.invalidAttributeValue(
            'Invalid value for the parameter RedrivePolicy. Reason: Redrive policy is not a valid JSON map.',
          );
        }
        const max = Number(p.maxReceiveCount);
        if (
          typeof p.deadLetterTargetArn !== 'string' ||
          !Number.isInteger(max) ||
          max < 1 ||
          max > 1000
        ) {
          throw errors.invalidAttributeValue(
            'Value for parameter RedrivePolicy is invalid. Reason: Redrive policy must have deadLetterTargetArn and maxReceiveCount between 1 and 1000.',
          );
        }
        break;
      }
      case 'RedriveAllowPolicy': {
        let p: { redrivePermission?: unknown; sourceQueueArns?: unknown };
        try {
          p = JSON.parse(value);
        } catch {
          throw errors.invalidAttributeValue(
            'Invalid value for the parameter RedriveAllowPolicy. Reason: not a valid JSON map.',
          );
        }
        if (!['allowAll', 'denyAll', 'byQueue'].includes(String(p.redrivePermission))) {
          throw errors.invalidAttributeValue(
            'Value for parameter RedriveAllowPolicy is invalid. Reason: redrivePermission must be allowAll, denyAll or byQueue.',
          );
        }
        if (
          p.redrivePermission === 'byQueue' &&
          (!Array.isArray(p.sourceQueueArns) ||
            p.sourceQueueArns.length === 0 ||
            p.sourceQueueArns.length > 10)
        ) {
          throw errors.invalidAttributeValue(
            'Value for parameter RedriveAllowPolicy is invalid. Reason: byQueue needs 1 to 10 sourceQueueArns.',
          );
        }
        break;
      }
      default:
        break;
    }
  }
}

/** The DLQ a RedrivePolicy names must exist, be of the same type, and allow this source. */
export function checkRedriveTarget(ctx: Context, q: Queue, attrs: Record<string, string>): void {
  if (!attrs.RedrivePolicy) return;
  const p = JSON.parse(attrs.RedrivePolicy) as { deadLetterTargetArn: string };
  const dlq = queueByArn(ctx, p.deadLetterTargetArn);
  if (!dlq)
    throw errors.invalidParameter(
      'Value for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.',
    );
  if (dlq.fifo !== q.fifo) {
    throw errors.invalidParameter(
      'Value for parameter RedrivePolicy is invalid. Reason: Dead-letter queue must be same type of queue as the source.',
    );
  }
  const allow = dlq.attributes.RedriveAllowPolicy
    ? (JSON.parse(dlq.attributes.RedriveAllowPolicy) as {
        redrivePermission: string;
        sourceQueueArns?: string[];
      })
    : undefined;
  if (
    allow?.redrivePermission === 'denyAll' ||
    (allow?.redrivePermission === 'byQueue' && !allow.sourceQueueArns?.includes(q.arn))
  ) {
    throw errors.invalidParameter(
      'Value for parameter RedriveAllowPolicy is invalid. Reason: Queue is not allowed by the dead-letter queue RedriveAllowPolicy.',
    );
  }
}

function queueAttributes(q: Queue, names: string[]): Record<string, string> {
  const counts = q.counts();
  const all: Record<string, string> = {
    ...q.attributes,
    ApproximateNumberOfMessages: String(counts.visible),
    ApproximateNumberOfMessagesNotVisible: String(counts.notVisible),
    ApproximateNumberOfMessagesDelayed: String(counts.delayed),
    CreatedTimestamp: String(Math.floor(q.createdAt / 1000)),
    LastModifiedTimestamp: String(Math.floor(q.lastModifiedAt / 1000)),
    QueueArn: q.arn,
  };
  if (names.length === 0) return {};
  if (names.includes('All')) return all;
  const out: Record<string, string> = {};
  for (const n of names) {
    if (typeof n !== 'string') throw errors.invalidAttributeName(String(n));
    if (Object.hasOwn(all, n)) out[n] = all[n]!;
    else if (
      ![
        'Policy',
        'RedrivePolicy',
        'RedriveAllowPolicy',
        'KmsMasterKeyId',
        'KmsDataKeyReusePeriodSeconds',
        'ContentBasedDeduplication',
        'DeduplicationScope',
        'FifoThroughputLimit',
        'FifoQueue',
        'SqsManagedSseEnabled',
      ].includes(n)
    ) {
      throw errors.invalidAttributeName(n);
    }
  }
  return out;
}

export const GetQueueAttributes: Action = (ctx, input) => {
  const q = queueFromUrl(ctx, input);
  const names = input.AttributeNames ?? [];
  if (!Array.isArray(names)) throw errors.invalidParameter('AttributeNames must be a list.');
  const attrs = queueAttributes(q, names);
  return Object.keys(attrs).length ? { Attributes: attrs } : {};
};

export const SetQueueAttributes: Action = (ctx, input) => {
  const q = queueFromUrl(ctx, input);
  const attrs = stringMap(input.Attributes, 'Attributes');
  validateQueueAttributes(attrs, q.fifo, false);
  checkRedriveTarget(ctx, q, attrs);
  Object.assign(q.attributes, attrs);
  if (attrs.RedrivePolicy === '') delete q.attributes.RedrivePolicy;
  q.lastModifiedAt = ctx.clock.now();
  return {};
};
