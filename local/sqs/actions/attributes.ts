import { parseJson } from '../../../shared/src/json-keys';
import { errors } from '../errors';
import { LIMITS, type Queue } from '../queue';
import { dict, NOT_XML_CHAR } from '../wire';
import { action, type Context, queueByArn, queueFromUrl } from './context';

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

/**
 * A whole number in plain decimal, as AWS writes it back. canonicalAttributes has already read a
 * sign and leading zeros away ("+0060" is "60"), so what is left here is refused: an exponent,
 * hex, a space, a decimal point, another script's digits, or a value out of range.
 */
function intAttr(name: string, value: string, min: number, max: number): void {
  if (!/^(0|[1-9]\d{0,9})$/.test(value) || Number(value) < min || Number(value) > max) {
    throw errors.invalidAttributeValue(`Invalid value for the parameter ${name}.`);
  }
}

function boolAttr(name: string, value: string): void {
  if (value !== 'true' && value !== 'false') {
    throw errors.invalidAttributeValue(`Invalid value for the parameter ${name}.`);
  }
}

/** The queue attributes whose values are booleans. */
const BOOLEANS = ['FifoQueue', 'ContentBasedDeduplication', 'SqsManagedSseEnabled'];

/** The queue attributes whose values are integers. */
const INTEGERS = [
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
  'KmsDataKeyReusePeriodSeconds',
];

/**
 * An integer attribute's value as AWS writes it back, when it is an optional sign and ASCII
 * digits: "0060" and "+60" are "60", "-0" is "0" (a negative number keeps its sign, for the range
 * check to refuse). AWS documents each as "an integer from ... to ..." and does not say how it
 * reads the text; SQS is a Java service, and Java's integer parsing takes a sign and leading
 * zeros, as SQS trims a Number message attribute's leading zeros. Refusing them (as the emulator
 * did for a leading zero, found in review) would refuse a request AWS most likely takes; storing
 * them as sent answered "0060" back. Not verified against AWS (docs/fidelity.md).
 */
function canonicalInt(value: string): string {
  // Two linear passes: one pattern with `0*` before `[0-9]+` backtracks quadratically on a long
  // run of zeros that ends in another character.
  if (!/^[+-]?[0-9]+$/.test(value)) return value;
  const digits = value.replace(/^[+-]/, '').replace(/^0+/, '') || '0';
  return value.startsWith('-') && digits !== '0' ? `-${digits}` : digits;
}

/**
 * A CreateQueue's or SetQueueAttributes' attributes with each boolean and integer in AWS's
 * spelling: AWS takes "True" for FifoQueue and ContentBasedDeduplication (LocalStack's
 * test_sqs_fifo_message_group_scope_no_throughput_setting creates its FIFO queue so, recorded
 * against AWS over both protocols, `@markers.aws.validated`); the emulator had refused it. AWS
 * answers them lower case: a queue created with FifoQueue "True" and ContentBasedDeduplication
 * "False" was answered "true" and "false" (test_fifo_change_to_high_throughput_after_creation,
 * `@markers.aws.validated` 2025-08-19). Integers lose a sign and leading zeros (canonicalInt).
 * Any other value is left as sent, for the checks to refuse.
 */
export function canonicalAttributes(attrs: Record<string, string>): Record<string, string> {
  const out = dict<string>();
  for (const [name, value] of Object.entries(attrs)) {
    if (INTEGERS.includes(name)) {
      out[name] = canonicalInt(value);
      continue;
    }
    const lower = BOOLEANS.includes(name) ? value.toLowerCase() : '';
    out[name] = lower === 'true' || lower === 'false' ? lower : value;
  }
  return out;
}

/**
 * A KMS key's ID, ARN, alias name or alias ARN, which AWS takes at set time without looking it
 * up ("testKeyId", recorded below): at most 2,048 characters (KMS's own bound for a KeyId,
 * https://docs.aws.amazon.com/kms/latest/APIReference/API_DescribeKey.html), not blank, and
 * with no control character or character XML cannot carry (GetQueueAttributes over the Query
 * protocol answers it as text). A key of 300,000 characters, " " or "\u0000" had been stored.
 */
function kmsKeyAttr(value: string): void {
  if (
    value.length > 2048 ||
    value.trim() === '' ||
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are refused.
    /[\x00-\x1f\x7f]/.test(value) ||
    NOT_XML_CHAR.test(value)
  ) {
    throw errors.invalidAttributeValue('Invalid value for the parameter KmsMasterKeyId.');
  }
}

/** A policy attribute's JSON: an object, or AWS's InvalidParameterValue for the attribute. */
function jsonMap(name: string, value: string, reason: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseJson(value);
  } catch {
    throw errors.invalidValue(name, value, reason);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw errors.invalidValue(name, value, reason);
  }
  return parsed as Record<string, unknown>;
}

export interface RedrivePolicy {
  deadLetterTargetArn: string;
  maxReceiveCount: number;
}

function parseRedrivePolicy(value: string): RedrivePolicy {
  const p = jsonMap('RedrivePolicy', value, 'Redrive policy is not a valid JSON map.');
  if (typeof p.deadLetterTargetArn !== 'string' || p.deadLetterTargetArn === '') {
    throw errors.invalidValue(
      'RedrivePolicy',
      value,
      'Redrive policy does not contain mandatory attribute: deadLetterTargetArn.',
    );
  }
  // AWS documents maxReceiveCount as a number and accepts it as a string too.
  const raw = p.maxReceiveCount;
  const max = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 1000) {
    throw errors.invalidValue(
      'RedrivePolicy',
      value,
      `Invalid value for maxReceiveCount: ${String(raw)}, valid values are from 1 to 1000 both inclusive.`,
    );
  }
  return { deadLetterTargetArn: p.deadLetterTargetArn, maxReceiveCount: max };
}

interface RedriveAllowPolicy {
  redrivePermission: 'allowAll' | 'denyAll' | 'byQueue';
  sourceQueueArns?: string[];
}

function parseRedriveAllowPolicy(value: string): RedriveAllowPolicy {
  const p = jsonMap('RedriveAllowPolicy', value, 'Redrive allow policy is not a valid JSON map.');
  const permission = p.redrivePermission;
  if (permission !== 'allowAll' && permission !== 'denyAll' && permission !== 'byQueue') {
    throw errors.invalidValue(
      'RedriveAllowPolicy',
      value,
      'redrivePermission must be one of allowAll, denyAll, byQueue.',
    );
  }
  const arns = p.sourceQueueArns;
  if (permission === 'byQueue') {
    if (
      !Array.isArray(arns) ||
      arns.length === 0 ||
      arns.length > 10 ||
      !arns.every((a) => typeof a === 'string')
    ) {
      throw errors.invalidValue(
        'RedriveAllowPolicy',
        value,
        'byQueue needs sourceQueueArns: 1 to 10 queue ARNs.',
      );
    }
    return { redrivePermission: permission, sourceQueueArns: arns as string[] };
  }
  if (arns !== undefined) {
    throw errors.invalidValue(
      'RedriveAllowPolicy',
      value,
      'sourceQueueArns is only allowed with redrivePermission byQueue.',
    );
  }
  return { redrivePermission: permission };
}

/**
 * Server-side encryption is SSE-SQS (SqsManagedSseEnabled) or SSE-KMS (KmsMasterKeyId), not both:
 * AWS refuses a request that asks for both with InvalidAttributeName, "You can use one type of
 * server-side encryption (SSE) at one time. You can either enable KMS SSE or SQS SSE.", and a
 * SetQueueAttributes that sets a KMS key alone turns SqsManagedSseEnabled to "false"; an empty
 * KmsMasterKeyId turns SSE-KMS off, and GetQueueAttributes then shows neither it nor
 * KmsDataKeyReusePeriodSeconds. AWS takes any KmsMasterKeyId text here ("testKeyId"): the key is
 * only used, and could only fail, when a message is sent. All recorded against AWS over both
 * protocols in LocalStack's suite (test_sqs.py, test_sse_kms_and_sqs_are_mutually_exclusive,
 * test_sse_queue_attributes, test_set_queue_attributes_default_values, `@markers.aws.validated`);
 * the two kinds are described in "Encryption at rest in Amazon SQS"
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-server-side-encryption.html).
 *
 * KmsDataKeyReusePeriodSeconds belongs to SSE-KMS: on a queue without a KMS key AWS takes it and
 * keeps nothing, and GetQueueAttributes does not return it. Terraform's provider records both
 * ("when KmsDataKeyReusePeriodSeconds is set, but KmsMasterKeyId is not set, the API does not
 * encrypt the queue and ignores KmsDataKeyReusePeriodSeconds", hashicorp/terraform-provider-aws
 * #962; "AWS doesn't send back any value for the KmsDataKeyReusePeriodSeconds queue attribute if
 * kms_master_key_id isn't set", #19786), and its create waits forever for the value to show
 * (#40728, #41234, #41590). The emulator had stored it and answered it back.
 */
const ONE_SSE =
  'You can use one type of server-side encryption (SSE) at one time. You can either enable KMS SSE or SQS SSE.';

/** A queue's KMS settings after a change: no data key reuse period without a KMS key. */
function dropReuseWithoutKey(attributes: Record<string, string>): void {
  if (attributes.KmsMasterKeyId === undefined) delete attributes.KmsDataKeyReusePeriodSeconds;
}

/**
 * After `attrs` were set on a queue's `current` attributes: SSE-KMS on or off, as AWS does.
 * SqsManagedSseEnabled "true" set alone on an SSE-KMS queue turns SSE-KMS off as an empty key
 * does: no recording covers it, but the API reference allows "only one server-side encryption
 * option ... per queue" (SqsManagedSseEnabled, API_SetQueueAttributes.html), and the mirror case,
 * a key set alone on an SSE-SQS queue, switches rather than refuses (recorded above). Kept, the
 * key sat beside SSE-SQS and the queue's own attributes written back were refused as both.
 */
function applyKmsChoice(current: Record<string, string>, attrs: Record<string, string>): void {
  const key = attrs.KmsMasterKeyId;
  const sqsOn = attrs.SqsManagedSseEnabled === 'true';
  if (key === '' || (key === undefined && sqsOn && current.KmsMasterKeyId !== undefined)) {
    delete current.KmsMasterKeyId;
  } else if (key !== undefined && attrs.SqsManagedSseEnabled === undefined) {
    current.SqsManagedSseEnabled = 'false';
  }
  dropReuseWithoutKey(current);
}

/** The largest queue Policy AWS takes, in bytes (UTF-8). */
const MAX_POLICY_BYTES = 8192;
/** AWS's policy quota: at most 7 actions per statement. */
const MAX_POLICY_ACTIONS = 7;

/** A Policy must be a JSON object; anything else is InvalidAttributeValue. */
function parsePolicy(value: string): Record<string, unknown> {
  try {
    const policy = parseJson(value);
    if (typeof policy !== 'object' || policy === null || Array.isArray(policy)) throw policy;
    return policy as Record<string, unknown>;
  } catch {
    throw errors.invalidAttributeValue('Invalid value for the parameter Policy.');
  }
}

/**
 * Actions per statement, counted as given: `Action` as an array counts its length (repeats
 * included); one string is one action, never over the limit, so only arrays are counted. A `Statement` may be one object or an array of them. `NotAction` is not
 * counted: whether AWS counts it is not known, and an emulator that refuses what AWS takes is
 * worse than one that takes what AWS refuses.
 */
function checkPolicyActions(policy: Record<string, unknown>): void {
  const statements = Array.isArray(policy.Statement) ? policy.Statement : [policy.Statement];
  for (const statement of statements) {
    if (typeof statement !== 'object' || statement === null) continue;
    const action = (statement as Record<string, unknown>).Action;
    const found = Array.isArray(action) ? action.length : 0;
    if (found > MAX_POLICY_ACTIONS) throw errors.policyActionsOverLimit(found, MAX_POLICY_ACTIONS);
  }
}

/** Attributes that an empty value removes. */
const REMOVABLE = new Set(['RedrivePolicy', 'RedriveAllowPolicy', 'Policy']);

/**
 * What a CreateQueue keeps of the attributes it was sent (checked, and with AWS's spelling): an
 * empty Policy, RedrivePolicy, RedriveAllowPolicy or KmsMasterKeyId is none, as the same value
 * removes it in SetQueueAttributes, and KmsDataKeyReusePeriodSeconds without a KMS key is not
 * kept (above). An empty key on create is not recorded against AWS: read as on set, where it is
 * (the emulator had stored "" and answered `KmsMasterKeyId: ""`, a key no AWS answer shows). A
 * repeated CreateQueue is compared with the queue on these.
 */
export function attributesToCreate(attrs: Record<string, string>): Record<string, string> {
  const out = dict<string>();
  for (const [name, value] of Object.entries(attrs)) {
    if (value === '' && (REMOVABLE.has(name) || name === 'KmsMasterKeyId')) continue;
    out[name] = value;
  }
  dropReuseWithoutKey(out);
  return out;
}

/**
 * CreateQueue with a KMS key and no SqsManagedSseEnabled: the queue is SSE-KMS only, so
 * SqsManagedSseEnabled is "false", not the "true" every other new queue gets. AWS documents one
 * kind of SSE per queue (the refusal above), and answered "false" for a queue created with a
 * key: localstack/localstack#13539 quotes an AWS-validated snapshot,
 * test_get_queue_attributes_round_trips_attributes_set_on_create ("get-all-attributes-with-
 * redrive-allow-and-kms", a queue created with a RedriveAllowPolicy and a KMS key), expecting
 * "false" where LocalStack answered "true", as this emulator did; terraform-provider-aws's
 * TestAccSQSQueue_encryption failed on it there. Kept "true", the queue's own attributes,
 * written back by SetQueueAttributes, were refused as asking for both.
 * `attrs` are those attributesToCreate kept.
 */
export function applyKmsChoiceOnCreate(
  created: Record<string, string>,
  attrs: Record<string, string>,
): void {
  if (attrs.KmsMasterKeyId && attrs.SqsManagedSseEnabled === undefined) {
    created.SqsManagedSseEnabled = 'false';
  }
}

/**
 * Validates attributes a CreateQueue or SetQueueAttributes sets, with AWS's ranges and errors:
 * a FIFO-only attribute on a standard queue is an unknown attribute, a value out of range is
 * InvalidAttributeValue, a policy that is not a JSON map is InvalidParameterValue.
 */
export function validateQueueAttributes(
  attrs: Record<string, string>,
  fifo: boolean,
  creating: boolean,
): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (!SETTABLE.has(name)) throw errors.unknownAttribute(name);
    if (REMOVABLE.has(name) && value === '') continue;
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
        if (!fifo) throw errors.unknownAttribute(name);
        if (value !== 'true') {
          throw errors.invalidAttributeValue(
            creating
              ? 'Invalid value for the parameter FifoQueue.'
              : 'Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.',
          );
        }
        break;
      case 'ContentBasedDeduplication':
        if (!fifo) throw errors.unknownAttribute(name);
        boolAttr(name, value);
        break;
      case 'SqsManagedSseEnabled':
        boolAttr(name, value);
        break;
      case 'KmsMasterKeyId':
        if (value !== '') kmsKeyAttr(value);
        break;
      case 'DeduplicationScope':
        if (!fifo) {
          throw errors.invalidAttributeName(
            'You can specify the DeduplicationScope only when FifoQueue is set to true.',
          );
        }
        if (value !== 'queue' && value !== 'messageGroup')
          throw errors.invalidAttributeValue('Invalid value for the parameter DeduplicationScope.');
        break;
      case 'FifoThroughputLimit':
        if (!fifo) {
          throw errors.invalidAttributeName(
            'You can specify the FifoThroughputLimit only when FifoQueue is set to true.',
          );
        }
        if (value !== 'perQueue' && value !== 'perMessageGroupId')
          throw errors.invalidAttributeValue(
            'Invalid value for the parameter FifoThroughputLimit.',
          );
        break;
      case 'RedrivePolicy':
        parseRedrivePolicy(value);
        break;
      case 'RedriveAllowPolicy':
        parseRedriveAllowPolicy(value);
        break;
      case 'Policy':
        // AWS's policy quotas: a policy of at most 8,192 bytes
        // (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-policies.html).
        // AWS answers a larger one OverLimit / 403, "Submitted policy is over max allowed size."
        // (users' reports). Of the quota's counts only actions per statement (7) is checked, the
        // one whose answer users report; statements, principals and conditions are not.
        if (Buffer.byteLength(value, 'utf8') > MAX_POLICY_BYTES) throw errors.policyOverLimit();
        checkPolicyActions(parsePolicy(value));
        break;
      default:
        break;
    }
  }
  if (attrs.KmsMasterKeyId && attrs.SqsManagedSseEnabled === 'true') {
    throw errors.invalidAttributeName(ONE_SSE);
  }
}

/**
 * The DLQ a RedrivePolicy names must exist, be of the source's type, and allow the source by its
 * RedriveAllowPolicy. `source` may be a queue still being created.
 */
export function checkRedriveTarget(
  ctx: Context,
  source: { fifo: boolean; arn: string },
  attrs: Record<string, string>,
): void {
  const value = attrs.RedrivePolicy;
  if (!value) return;
  const dlq = queueByArn(ctx, parseRedrivePolicy(value).deadLetterTargetArn);
  if (!dlq) {
    throw errors.invalidValue('RedrivePolicy', value, 'Dead letter target does not exist.');
  }
  if (dlq.fifo !== source.fifo) {
    throw errors.invalidValue(
      'RedrivePolicy',
      value,
      'Dead-letter queue must be same type of queue as the source.',
    );
  }
  const allow = dlq.attributes.RedriveAllowPolicy
    ? parseRedriveAllowPolicy(dlq.attributes.RedriveAllowPolicy)
    : undefined;
  if (
    allow?.redrivePermission === 'denyAll' ||
    (allow?.redrivePermission === 'byQueue' && !allow.sourceQueueArns?.includes(source.arn))
  ) {
    throw errors.invalidValue(
      'RedrivePolicy',
      value,
      'Queue is not allowed by the dead-letter queue RedriveAllowPolicy.',
    );
  }
}

/** Attribute names GetQueueAttributes knows; those a queue has no value for are left out. */
const READABLE = new Set([
  ...SETTABLE,
  'All',
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
  'QueueArn',
]);

function queueAttributes(q: Queue, names: string[]): Record<string, string> {
  if (names.length === 0) return {};
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
  if (names.includes('All')) return all;
  const out: Record<string, string> = {};
  for (const n of names) if (Object.hasOwn(all, n)) out[n] = all[n]!;
  return out;
}

export const GetQueueAttributes = action({
  validate(ctx, p) {
    const q = queueFromUrl(ctx, p);
    const names = p.stringList('AttributeNames') ?? [];
    for (const n of names) if (!READABLE.has(n)) throw errors.unknownAttribute(n);
    return { q, names };
  },
  run(_ctx, { q, names }) {
    const attrs = queueAttributes(q, names);
    return Object.keys(attrs).length ? { Attributes: attrs } : {};
  },
});

export const SetQueueAttributes = action({
  validate(ctx, p) {
    const q = queueFromUrl(ctx, p);
    const sent = p.stringMap('Attributes');
    if (sent === undefined || Object.keys(sent).length === 0) {
      throw errors.missingParameter('Attributes');
    }
    const attrs = canonicalAttributes(sent);
    validateQueueAttributes(attrs, q.fifo, false);
    checkRedriveTarget(ctx, q, attrs);
    return { q, attrs };
  },
  run(ctx, { q, attrs }) {
    for (const [name, value] of Object.entries(attrs)) {
      if (REMOVABLE.has(name) && value === '') delete q.attributes[name];
      else q.attributes[name] = value;
    }
    applyKmsChoice(q.attributes, attrs);
    q.lastModifiedAt = ctx.clock.now();
    return {};
  },
});
