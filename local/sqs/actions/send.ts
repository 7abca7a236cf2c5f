import { errors } from '../errors';
import type { MessageAttributeValue } from '../md5';
import { dict } from '../protocol';
import { LIMITS, type Queue } from '../queue';
import { type Action, type Input, type Output, queueFromUrl } from './context';
import { batchEntries, batchFailure, int, str } from './params';

/** SendMessage and SendMessageBatch: each message validated in full before any is enqueued. */

/** AWS: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF */
// biome-ignore lint/suspicious/noControlCharactersInRegex: this is the set AWS rejects.
const INVALID_BODY_CHARS = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

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
  const out = dict<MessageAttributeValue>();
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

export const SendMessage: Action = (ctx, input) => {
  const q = queueFromUrl(ctx, input);
  return enqueue(q, prepareSend(q, input));
};

export const SendMessageBatch: Action = (ctx, input) => {
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
};
