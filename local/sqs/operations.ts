import { randomUUID } from 'node:crypto';
import type { Clock } from './clock';
import { errors } from './errors';
import type { FaultConfig, FaultDice } from './faults';
import type { MessageAttributeValue } from './md5';
import { LIMITS, Queue, type StoredMessage, validateQueueAttributes } from './queue';

// biome-ignore lint/suspicious/noExplicitAny: requests are untyped JSON, validated field by field.
export type Input = Record<string, any>;
export type Output = Record<string, unknown>;

const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const BATCH_ID = /^[A-Za-z0-9_-]{1,80}$/;
/** AWS: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF */
// biome-ignore lint/suspicious/noControlCharactersInRegex: this is the set AWS rejects.
const INVALID_BODY_CHARS = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const SYSTEM_ATTRIBUTES = [
  'SenderId',
  'SentTimestamp',
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
  'SequenceNumber',
  'MessageDeduplicationId',
  'MessageGroupId',
  'AWSTraceHeader',
  'DeadLetterQueueSourceArn',
];

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

interface MoveTask {
  TaskHandle: string;
  Status: 'RUNNING' | 'COMPLETED' | 'CANCELLED' | 'FAILED';
  SourceArn: string;
  DestinationArn?: string;
  MaxNumberOfMessagesPerSecond?: number;
  ApproximateNumberOfMessagesMoved: number;
  ApproximateNumberOfMessagesToMove: number;
  StartedTimestamp: number;
}

const str = (input: Input, name: string, required = true): string | undefined => {
  const v = input[name];
  if (v === undefined || v === null) {
    if (required) throw errors.missingParameter(name);
    return undefined;
  }
  if (typeof v !== 'string')
    throw errors.invalidParameter(
      `Value for parameter ${name} is invalid. Reason: must be a string.`,
    );
  return v;
};

const int = (input: Input, name: string, min: number, max: number): number | undefined => {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw errors.invalidParameter(
      `Value ${JSON.stringify(v)} for parameter ${name} is invalid. Reason: must be between ${min} and ${max}.`,
    );
  }
  return n;
};

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

function queueFromUrl(ctx: Context, input: Input): Queue {
  const name = queueName(str(input, 'QueueUrl')!);
  const q = ctx.queues.get(name);
  if (!q) throw errors.queueDoesNotExist();
  return q;
}

function queueByArn(ctx: Context, arn: string): Queue | undefined {
  const name = arn.split(':').pop() ?? '';
  const q = ctx.queues.get(name);
  return q && q.arn === arn ? q : undefined;
}

const queueUrl = (ctx: Context, q: Queue): string => `${ctx.origin}/${ctx.accountId}/${q.name}`;

function messageAttributes(
  raw: unknown,
  field = 'MessageAttributes',
): Record<string, MessageAttributeValue> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw errors.invalidParameter(`${field} must be a map.`);
  const entries = Object.entries(raw as Record<string, Input>);
  if (entries.length > LIMITS.maxMessageAttributes) {
    throw errors.invalidParameter(
      `Number of message attributes [${entries.length}] exceeds the allowed maximum [10].`,
    );
  }
  const out: Record<string, MessageAttributeValue> = {};
  for (const [name, v] of entries) {
    if (
      !/^[A-Za-z0-9_.-]{1,256}$/.test(name) ||
      name.startsWith('.') ||
      name.endsWith('.') ||
      name.includes('..') ||
      /^(aws|amazon)\./i.test(name)
    ) {
      throw errors.invalidParameter(`Message (user) attribute name '${name}' is invalid.`);
    }
    if (!v || typeof v !== 'object')
      throw errors.invalidParameter(
        `The message attribute '${name}' must contain a non-empty value of type 'String'.`,
      );
    const dataType = v.DataType;
    if (
      typeof dataType !== 'string' ||
      !/^(String|Number|Binary)(\.[A-Za-z0-9_.-]+)?$/.test(dataType)
    ) {
      throw errors.invalidParameter(
        `The type of message (user) attribute '${name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String.`,
      );
    }
    if (dataType.startsWith('Binary')) {
      if (typeof v.BinaryValue !== 'string' && !Buffer.isBuffer(v.BinaryValue)) {
        throw errors.invalidParameter(
          `The message attribute '${name}' with type 'Binary' must use field 'Binary'.`,
        );
      }
      out[name] = {
        DataType: dataType,
        BinaryValue: Buffer.isBuffer(v.BinaryValue)
          ? v.BinaryValue
          : Buffer.from(v.BinaryValue, 'base64'),
      };
    } else {
      if (typeof v.StringValue !== 'string' || v.StringValue === '') {
        throw errors.invalidParameter(
          `The message attribute '${name}' must contain a non-empty message attribute value for message attribute type '${dataType.split('.')[0]}'.`,
        );
      }
      if (dataType.startsWith('Number') && !Number.isFinite(Number(v.StringValue))) {
        throw errors.invalidParameter(
          `Can't cast the value of message (user) attribute '${name}' to a number.`,
        );
      }
      out[name] = { DataType: dataType, StringValue: v.StringValue };
    }
  }
  return out;
}

function attributeBytes(attrs: Record<string, MessageAttributeValue>): number {
  let n = 0;
  for (const [name, a] of Object.entries(attrs)) {
    n +=
      Buffer.byteLength(name) +
      Buffer.byteLength(a.DataType) +
      (a.BinaryValue ? a.BinaryValue.length : Buffer.byteLength(a.StringValue ?? ''));
  }
  return n;
}

interface PreparedSend {
  body: string;
  attrs: Record<string, MessageAttributeValue>;
  /** Body plus attribute bytes: what counts against the message and batch limits. */
  size: number;
  delay: number | undefined;
  groupId: string | undefined;
  dedupId: string | undefined;
  trace: unknown;
}

/** Validates one SendMessage (or batch entry) against the queue's rules; enqueues nothing. */
function prepareSend(q: Queue, entry: Input): PreparedSend {
  const body = str(entry, 'MessageBody')!;
  if (body.length === 0)
    throw errors.invalidParameter('The request must contain the parameter MessageBody.');
  if (INVALID_BODY_CHARS.test(body)) {
    throw errors.invalidParameter('Invalid binary character in the message body.');
  }
  const attrs = messageAttributes(entry.MessageAttributes);
  const size = Buffer.byteLength(body) + attributeBytes(attrs);
  if (size > q.num('MaximumMessageSize')) {
    throw errors.invalidParameter(
      `One or more parameters are invalid. Reason: Message must be shorter than ${q.num('MaximumMessageSize')} bytes.`,
    );
  }
  const delay = int(entry, 'DelaySeconds', 0, LIMITS.maxDelaySeconds);
  const groupId = str(entry, 'MessageGroupId', false);
  const dedupId = str(entry, 'MessageDeduplicationId', false);
  for (const [name, v] of [
    ['MessageGroupId', groupId],
    ['MessageDeduplicationId', dedupId],
  ] as const) {
    if (v !== undefined && !/^[!-~]{1,128}$/.test(v)) {
      throw errors.invalidParameter(
        `Value ${v} for parameter ${name} is invalid. Reason: must be 1-128 characters from alphanumeric and punctuation.`,
      );
    }
  }
  if (q.fifo) {
    if (groupId === undefined) throw errors.missingParameter('MessageGroupId');
    if (delay !== undefined) {
      throw errors.invalidParameter(
        `Value ${delay} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.`,
      );
    }
  } else if (dedupId !== undefined) {
    throw errors.invalidParameter(
      `Value ${dedupId} for parameter MessageDeduplicationId is invalid. Reason: The request include parameter that is not valid for this queue type.`,
    );
  }
  const trace = entry.MessageSystemAttributes?.AWSTraceHeader?.StringValue;
  return { body, attrs, size, delay, groupId, dedupId, trace };
}

function enqueue(q: Queue, { body, attrs, delay, groupId, dedupId, trace }: PreparedSend): Output {
  const r = q.send({
    body,
    attributes: attrs,
    ...(delay !== undefined ? { delaySeconds: delay } : {}),
    ...(q.fifo && groupId !== undefined ? { groupId } : {}),
    ...(dedupId !== undefined ? { dedupId } : {}),
    senderId: 'AIDAEMULATOR000000000',
    ...(typeof trace === 'string' ? { traceHeader: trace } : {}),
  });
  return {
    MessageId: r.messageId,
    MD5OfMessageBody: r.md5OfBody,
    ...(r.md5OfAttributes ? { MD5OfMessageAttributes: r.md5OfAttributes } : {}),
    ...(r.sequenceNumber ? { SequenceNumber: r.sequenceNumber } : {}),
  };
}

function batchEntries(input: Input, field: string): Input[] {
  const entries = input[field];
  if (entries === undefined || (Array.isArray(entries) && entries.length === 0))
    throw errors.emptyBatch();
  if (!Array.isArray(entries)) throw errors.invalidParameter(`${field} must be a list.`);
  if (entries.length > LIMITS.maxBatchEntries) throw errors.tooManyEntries(entries.length);
  const seen = new Set<string>();
  for (const e of entries) {
    if (!e || typeof e !== 'object' || typeof e.Id !== 'string' || !BATCH_ID.test(e.Id))
      throw errors.invalidBatchEntryId();
    if (seen.has(e.Id)) throw errors.batchIdsNotDistinct(e.Id);
    seen.add(e.Id);
  }
  return entries;
}

function batchFailure(id: string, err: unknown): Output {
  const e = err as { code?: string; message?: string; fault?: string };
  return {
    Id: id,
    SenderFault: e.fault !== 'Receiver',
    Code: e.code ?? 'InternalError',
    Message: e.message ?? 'internal error',
  };
}

function wantedSystemAttributes(input: Input): Set<string> {
  const names = [...(input.AttributeNames ?? []), ...(input.MessageSystemAttributeNames ?? [])];
  if (!Array.isArray(names)) throw errors.invalidParameter('AttributeNames must be a list.');
  const out = new Set<string>();
  for (const n of names) {
    if (n === 'All') for (const a of SYSTEM_ATTRIBUTES) out.add(a);
    else if (SYSTEM_ATTRIBUTES.includes(n)) out.add(n);
    else if (!['ApproximateNumberOfMessages', 'QueueArn', 'VisibilityTimeout'].includes(n))
      throw errors.invalidAttributeName(String(n));
  }
  return out;
}

function renderMessage(
  q: Queue,
  m: StoredMessage,
  receipt: string,
  system: Set<string>,
  wantedAttrs: string[],
): Output {
  const attributes: Record<string, string> = {};
  const put = (k: string, v: string | number | undefined) => {
    if (v !== undefined && system.has(k)) attributes[k] = String(v);
  };
  put('SenderId', m.senderId);
  put('SentTimestamp', m.sentAt);
  put('ApproximateReceiveCount', m.receiveCount);
  put('ApproximateFirstReceiveTimestamp', m.firstReceivedAt);
  if (q.fifo) {
    put('SequenceNumber', m.sequenceNumber);
    put('MessageDeduplicationId', m.dedupId);
    put('MessageGroupId', m.groupId);
  }
  put('AWSTraceHeader', m.traceHeader);
  const selected: Record<string, Output> = {};
  const all = wantedAttrs.includes('All') || wantedAttrs.includes('.*');
  for (const [name, a] of Object.entries(m.attributes)) {
    if (
      all ||
      wantedAttrs.includes(name) ||
      wantedAttrs.some((w) => w.endsWith('.*') && name.startsWith(w.slice(0, -1)))
    ) {
      selected[name] = a.BinaryValue
        ? { DataType: a.DataType, BinaryValue: a.BinaryValue.toString('base64') }
        : { DataType: a.DataType, StringValue: a.StringValue };
    }
  }
  const hasSelected = Object.keys(selected).length > 0;
  return {
    MessageId: m.messageId,
    ReceiptHandle: receipt,
    MD5OfBody: m.md5OfBody,
    Body: m.body,
    ...(Object.keys(attributes).length ? { Attributes: attributes } : {}),
    // AWS returns the digest of all the message's attributes, computed at send time, even when
    // only some were asked for.
    ...(hasSelected
      ? { MessageAttributes: selected, MD5OfMessageAttributes: m.md5OfAttributes }
      : {}),
  };
}

function queueAttributes(_ctx: Context, q: Queue, names: string[]): Record<string, string> {
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
    if (n in all) out[n] = all[n]!;
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

function checkRedriveTarget(ctx: Context, q: Queue, attrs: Record<string, string>): void {
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
      'Value for parameter RedrivePolicy is invalid. Reason: Queue is not allowed by the dead-letter queue RedriveAllowPolicy.',
    );
  }
}

function stringMap(raw: unknown, field: string): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw errors.invalidParameter(`${field} must be a map.`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'string')
      throw errors.invalidAttributeValue(`Invalid value for the parameter ${k}.`);
    out[k] = v;
  }
  return out;
}

function moveToDlq(ctx: Context, q: Queue): (m: StoredMessage) => boolean {
  return (m) => {
    const policy = q.redrivePolicy();
    const dlq = policy && queueByArn(ctx, policy.deadLetterTargetArn);
    if (!dlq) return false;
    dlq.adopt({ ...m, attributes: m.attributes }, false);
    return true;
  };
}

/** Long polling: answers as soon as a message is available or WaitTimeSeconds has passed. */
/**
 * Tells a long poll that its client has gone (the connection closed): it then stops waiting
 * and takes nothing, instead of marking messages in flight for a receiver that will never see
 * them, which would hide them for a whole visibility timeout. Set by the HTTP layer per request.
 */
export const clientGone = new WeakMap<Input, () => boolean>();

async function receiveMessage(ctx: Context, input: Input): Promise<Output> {
  const q = queueFromUrl(ctx, input);
  const gone = clientGone.get(input);
  const max = int(input, 'MaxNumberOfMessages', 1, LIMITS.maxReceive) ?? 1;
  const visibility =
    int(input, 'VisibilityTimeout', 0, LIMITS.maxVisibilitySeconds) ?? q.num('VisibilityTimeout');
  const wait =
    int(input, 'WaitTimeSeconds', 0, LIMITS.maxWaitSeconds) ??
    q.num('ReceiveMessageWaitTimeSeconds');
  const attemptId = str(input, 'ReceiveRequestAttemptId', false);
  const system = wantedSystemAttributes(input);
  const wantedAttrs = input.MessageAttributeNames ?? [];
  if (!Array.isArray(wantedAttrs))
    throw errors.invalidParameter('MessageAttributeNames must be a list.');
  const deadline = ctx.clock.now() + wait * 1000;
  for (;;) {
    if (gone?.()) return { Messages: [] };
    const copies = q.receive({
      max,
      visibilityTimeout: visibility,
      shortPoll: wait === 0,
      ...(attemptId ? { attemptId } : {}),
      faults: ctx.faults(),
      dice: ctx.dice,
      ...(q.attributes.RedrivePolicy ? { moveToDlq: moveToDlq(ctx, q) } : {}),
    });
    const now = ctx.clock.now();
    if (copies.length > 0 || now >= deadline || ctx.closed() || !ctx.queues.has(q.name)) {
      return {
        Messages: copies.map((c) => renderMessage(q, c.message, c.receipt, system, wantedAttrs)),
      };
    }
    const next = q.nextAvailableAt();
    const sleep = Math.max(
      1,
      Math.min(deadline - now, next !== undefined ? next - now : Infinity, 1000),
    );
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        q.waiters.delete(done);
        offClock();
        resolve();
      };
      const timer = setTimeout(done, sleep);
      q.waiters.add(done);
      const offClock = ctx.clock.onAdvance(done);
    });
  }
}

export const OPERATIONS: Record<string, (ctx: Context, input: Input) => Output | Promise<Output>> =
  {
    CreateQueue(ctx, input) {
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
    },
    GetQueueUrl(ctx, input) {
      const name = str(input, 'QueueName')!;
      const q = ctx.queues.get(name);
      if (!q) throw errors.queueDoesNotExist();
      return { QueueUrl: queueUrl(ctx, q) };
    },
    ListQueues(ctx, input) {
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
    },
    DeleteQueue(ctx, input) {
      const q = queueFromUrl(ctx, input);
      ctx.queues.delete(q.name);
      q.wake();
      return {};
    },
    GetQueueAttributes(ctx, input) {
      const q = queueFromUrl(ctx, input);
      const names = input.AttributeNames ?? [];
      if (!Array.isArray(names)) throw errors.invalidParameter('AttributeNames must be a list.');
      const attrs = queueAttributes(ctx, q, names);
      return Object.keys(attrs).length ? { Attributes: attrs } : {};
    },
    SetQueueAttributes(ctx, input) {
      const q = queueFromUrl(ctx, input);
      const attrs = stringMap(input.Attributes, 'Attributes');
      validateQueueAttributes(attrs, q.fifo, false);
      checkRedriveTarget(ctx, q, attrs);
      Object.assign(q.attributes, attrs);
      if (attrs.RedrivePolicy === '') delete q.attributes.RedrivePolicy;
      q.lastModifiedAt = ctx.clock.now();
      return {};
    },
    SendMessage(ctx, input) {
      const q = queueFromUrl(ctx, input);
      return enqueue(q, prepareSend(q, input));
    },
    SendMessageBatch(ctx, input) {
      const q = queueFromUrl(ctx, input);
      const entries = batchEntries(input, 'Entries');
      const prepared = entries.map((e): PreparedSend | { error: unknown } => {
        try {
          return prepareSend(q, e);
        } catch (error) {
          return { error };
        }
      });
      let total = 0;
      prepared.forEach((p, i) => {
        total += 'error' in p ? Buffer.byteLength(String(entries[i]!.MessageBody ?? '')) : p.size;
      });
      if (total > LIMITS.maxMessageBytes) throw errors.batchTooLong(total);
      const Successful: Output[] = [];
      const Failed: Output[] = [];
      prepared.forEach((p, i) => {
        const id = entries[i]!.Id;
        if ('error' in p) Failed.push(batchFailure(id, p.error));
        else Successful.push({ Id: id, ...enqueue(q, p) });
      });
      return { Successful, Failed };
    },
    ReceiveMessage: receiveMessage,
    DeleteMessage(ctx, input) {
      const q = queueFromUrl(ctx, input);
      q.delete(str(input, 'ReceiptHandle')!, ctx.faults(), ctx.dice);
      return {};
    },
    DeleteMessageBatch(ctx, input) {
      const q = queueFromUrl(ctx, input);
      const Successful: Output[] = [];
      const Failed: Output[] = [];
      for (const e of batchEntries(input, 'Entries')) {
        try {
          q.delete(str(e, 'ReceiptHandle')!, ctx.faults(), ctx.dice);
          Successful.push({ Id: e.Id });
        } catch (err) {
          Failed.push(batchFailure(e.Id, err));
        }
      }
      return { Successful, Failed };
    },
    ChangeMessageVisibility(ctx, input) {
      const q = queueFromUrl(ctx, input);
      const t = int(input, 'VisibilityTimeout', 0, LIMITS.maxVisibilitySeconds);
      if (t === undefined) throw errors.missingParameter('VisibilityTimeout');
      q.changeVisibility(str(input, 'ReceiptHandle')!, t);
      return {};
    },
    ChangeMessageVisibilityBatch(ctx, input) {
      const q = queueFromUrl(ctx, input);
      const Successful: Output[] = [];
      const Failed: Output[] = [];
      for (const e of batchEntries(input, 'Entries')) {
        try {
          const t = int(e, 'VisibilityTimeout', 0, LIMITS.maxVisibilitySeconds) ?? 0;
          q.changeVisibility(str(e, 'ReceiptHandle')!, t);
          Successful.push({ Id: e.Id });
        } catch (err) {
          Failed.push(batchFailure(e.Id, err));
        }
      }
      return { Successful, Failed };
    },
    PurgeQueue(ctx, input) {
      const q = queueFromUrl(ctx, input);
      const now = ctx.clock.now();
      if (now - q.lastPurgeAt < LIMITS.purgeIntervalMs) throw errors.purgeInProgress(q.name);
      q.lastPurgeAt = now;
      q.purge();
      return {};
    },
    TagQueue(ctx, input) {
      const q = queueFromUrl(ctx, input);
      const tags = stringMap(input.Tags, 'Tags');
      if (Object.keys(tags).length === 0) throw errors.missingParameter('Tags');
      Object.assign(q.tags, tags);
      if (Object.keys(q.tags).length > 50)
        throw errors.invalidParameter('Too many tags: a queue can have at most 50.');
      return {};
    },
    UntagQueue(ctx, input) {
      const q = queueFromUrl(ctx, input);
      const keys = input.TagKeys;
      if (!Array.isArray(keys) || keys.length === 0) throw errors.missingParameter('TagKeys');
      for (const k of keys) delete q.tags[String(k)];
      return {};
    },
    ListQueueTags(ctx, input) {
      const q = queueFromUrl(ctx, input);
      return Object.keys(q.tags).length ? { Tags: { ...q.tags } } : {};
    },
    ListDeadLetterSourceQueues(ctx, input) {
      const dlq = queueFromUrl(ctx, input);
      const urls = [...ctx.queues.values()]
        .filter((q) => q.redrivePolicy()?.deadLetterTargetArn === dlq.arn)
        .map((q) => queueUrl(ctx, q));
      return { queueUrls: urls };
    },
    StartMessageMoveTask(ctx, input) {
      const sourceArn = str(input, 'SourceArn')!;
      const source = queueByArn(ctx, sourceArn);
      if (!source)
        throw errors.resourceNotFound(
          'The resource that you specified for the SourceArn parameter does not exist.',
        );
      const isDlq = [...ctx.queues.values()].some(
        (q) => q.redrivePolicy()?.deadLetterTargetArn === source.arn,
      );
      if (!isDlq)
        throw errors.invalidParameter('Source queue must be configured as a Dead Letter Queue.');
      const destArn = str(input, 'DestinationArn', false);
      const rate = int(input, 'MaxNumberOfMessagesPerSecond', 1, 500);
      if (
        [...ctx.moveTasks.values()].some((t) => t.SourceArn === sourceArn && t.Status === 'RUNNING')
      ) {
        throw errors.unsupported(
          'There is already a task running. Only one active task is allowed for a source queue arn at a given time.',
        );
      }
      let dest: Queue | undefined;
      if (destArn) {
        dest = queueByArn(ctx, destArn);
        if (!dest)
          throw errors.resourceNotFound(
            'The resource that you specified for the DestinationArn parameter does not exist.',
          );
      }
      const handle = Buffer.from(JSON.stringify({ taskId: randomUUID(), sourceArn })).toString(
        'base64',
      );
      const moved = source.drainAvailable();
      let count = 0;
      for (const m of moved) {
        // Without a destination, each message returns to the queue it was dead-lettered from.
        const target =
          dest ??
          [...ctx.queues.values()].find(
            (q) => q.redrivePolicy()?.deadLetterTargetArn === source.arn,
          );
        if (!target) continue;
        target.adopt(m, true);
        count++;
      }
      const task: MoveTask = {
        TaskHandle: handle,
        Status: 'COMPLETED',
        SourceArn: sourceArn,
        ...(destArn ? { DestinationArn: destArn } : {}),
        ...(rate ? { MaxNumberOfMessagesPerSecond: rate } : {}),
        ApproximateNumberOfMessagesMoved: count,
        ApproximateNumberOfMessagesToMove: count,
        StartedTimestamp: ctx.clock.now(),
      };
      ctx.moveTasks.set(handle, task);
      return { TaskHandle: handle };
    },
    ListMessageMoveTasks(ctx, input) {
      const sourceArn = str(input, 'SourceArn')!;
      if (!queueByArn(ctx, sourceArn))
        throw errors.resourceNotFound(
          'The resource that you specified for the SourceArn parameter does not exist.',
        );
      const max = int(input, 'MaxResults', 1, 10) ?? 1;
      const tasks = [...ctx.moveTasks.values()]
        .filter((t) => t.SourceArn === sourceArn)
        .reverse()
        .slice(0, max);
      return { Results: tasks.map((t) => ({ ...t })) };
    },
    CancelMessageMoveTask(ctx, input) {
      const handle = str(input, 'TaskHandle')!;
      const task = ctx.moveTasks.get(handle);
      if (!task) throw errors.resourceNotFound('Task does not exist.');
      if (task.Status !== 'RUNNING')
        throw errors.unsupported('Only active tasks can be cancelled.');
      task.Status = 'CANCELLED';
      return { ApproximateNumberOfMessagesMoved: task.ApproximateNumberOfMessagesMoved };
    },
    AddPermission(ctx, input) {
      queueFromUrl(ctx, input);
      return {};
    },
    RemovePermission(ctx, input) {
      queueFromUrl(ctx, input);
      return {};
    },
  };
