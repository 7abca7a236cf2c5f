import { errors } from '../errors';
import { type MessageAttributeValue, md5OfMessageAttributes } from '../md5';
import { LIMITS, type Queue } from '../queue';
import { dict, NOT_XML_CHAR, type Output, queryRepeat } from '../wire';
import { action, queueFromUrl } from './context';
import { type BatchEntry, batchEntries, type Params, perEntry } from './params';

/** SendMessage and SendMessageBatch: each message validated in full before any is enqueued. */

/** AWS: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF, XML's own set. */
const INVALID_CHAR = NOT_XML_CHAR;
const ALLOWED_SET = '#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]';
const FIFO_ID = /^[!-~]{1,128}$/;
const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,256}$/;
const DATA_TYPE = /^(String|Number|Binary)(\.[A-Za-z0-9_.-]+)?$/;

const DECIMAL = /^[+-]?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * Whether `text` is a number AWS takes in a Number attribute: decimal notation, "up to 38 digits
 * of precision, and ... between 10^-128 and 10^+126" (SQS developer guide, message attribute
 * data types), zero included. Leading and trailing zeros are not digits of precision (AWS trims
 * them). Hexadecimal, binary, spaces, Infinity: not numbers there, though JavaScript reads them.
 */
function isSqsNumber(text: string): boolean {
  const m = DECIMAL.exec(text);
  if (!m) return false;
  const [, whole = '', fraction = '', exponent = '0'] = m;
  if (whole === '' && fraction === '') return false;
  const digits = `${whole}${fraction}`;
  const first = digits.search(/[1-9]/);
  if (first < 0) return true; // zero
  const significant = digits.slice(first).replace(/0+$/, '');
  if (significant.length > 38) return false;
  // The value is 0.<significant> x 10^magnitude: at least 10^-128, at most 10^126.
  const magnitude = whole.length - first + Number(exponent);
  if (magnitude < -127) return false;
  return magnitude < 127 || (magnitude === 127 && significant === '1');
}

/** The first character outside AWS's set, as AWS names it (`#x1`), or undefined. */
function invalidChar(text: string): string | undefined {
  const m = INVALID_CHAR.exec(text);
  return m ? `#x${m[0].codePointAt(0)!.toString(16).toUpperCase()}` : undefined;
}

/** A Query request's message attribute given twice (see queryRepeat): InvalidParameterValue. */
function refuseRepeat(p: Params, name: string): void {
  const repeated = queryRepeat(p.raw(name));
  if (repeated !== undefined) throw errors.invalidParameter(repeated);
}

function messageAttributes(p: Params): Record<string, MessageAttributeValue> {
  refuseRepeat(p, 'MessageAttributes');
  // Counted before a reader is built for each: 85,801 attributes held the main thread 664-834 ms
  // in structMap before this refusal (found in review).
  const count = p.mapSize('MessageAttributes');
  if (count !== undefined && count > LIMITS.maxMessageAttributes) {
    throw errors.invalidParameter(
      `Number of message attributes [${count}] exceeds the allowed maximum [10].`,
    );
  }
  const raw = p.structMap('MessageAttributes');
  const out = dict<MessageAttributeValue>();
  if (raw === undefined) return out;
  const entries = Object.entries(raw);
  for (const [name, v] of entries) {
    if (
      !ATTRIBUTE_NAME.test(name) ||
      name.startsWith('.') ||
      name.endsWith('.') ||
      name.includes('..') ||
      /^(aws|amazon)\./i.test(name)
    ) {
      throw errors.invalidParameter(`Message (user) attribute name '${name}' is invalid.`);
    }
    const dataType = v.string('DataType');
    if (dataType === undefined) {
      throw errors.invalidParameter(`The message attribute '${name}' must contain a DataType.`);
    }
    if (!DATA_TYPE.test(dataType) || dataType.length > 256) {
      throw errors.invalidParameter(
        `The type of message (user) attribute '${name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String.`,
      );
    }
    if (dataType.startsWith('Binary')) {
      const binary = v.string('BinaryValue');
      if (binary === undefined || binary === '') {
        throw errors.invalidParameter(
          `Message (user) attribute '${name}' must contain a non-empty value of type 'Binary'.`,
        );
      }
      const bytes = Buffer.from(binary, 'base64');
      // Node decodes what it can and drops the rest ("!!" becomes 0 bytes): a value that does not
      // encode back to itself was not base64.
      if (bytes.toString('base64') !== binary) {
        // JSON: the blob fails to deserialize, in the words of AWS's JSON deserializer for
        // DynamoDB's B (dynalite's). Query: our own wording. Neither verified against SQS.
        if (v.protocol === 'json') {
          throw errors.serialization(
            binary.length % 4
              ? `Base64 encoded length is expected a multiple of 4 bytes but found: ${binary.length}`
              : 'Invalid Base64 character or padding',
          );
        }
        throw errors.invalidParameter(
          `The value of message (user) attribute '${name}' of type 'Binary' is not valid base64.`,
        );
      }
      out[name] = { DataType: dataType, BinaryValue: bytes };
      continue;
    }
    const kind = dataType.startsWith('Number') ? 'Number' : 'String';
    const value = v.string('StringValue');
    if (value === undefined || value === '') {
      throw errors.invalidParameter(
        `Message (user) attribute '${name}' must contain a non-empty value of type '${kind}'.`,
      );
    }
    const bad = invalidChar(value);
    if (bad) {
      throw errors.invalidParameter(
        `Message (user) attribute '${name}' has an invalid character '${bad}'; the set of allowed characters is ${ALLOWED_SET}.`,
      );
    }
    if (kind === 'Number' && !isSqsNumber(value)) {
      throw errors.invalidParameter(
        `Can't cast the value of message (user) attribute '${name}' to a number.`,
      );
    }
    out[name] = { DataType: dataType, StringValue: value };
  }
  return out;
}

function traceHeader(p: Params): string | undefined {
  refuseRepeat(p, 'MessageSystemAttributes');
  const system = p.structMap('MessageSystemAttributes');
  if (system === undefined) return undefined;
  let trace: string | undefined;
  for (const [name, v] of Object.entries(system)) {
    if (name !== 'AWSTraceHeader') {
      throw errors.invalidParameter(`Message system attribute name '${name}' is invalid.`);
    }
    if (v.string('DataType') !== 'String' || v.string('StringValue') === undefined) {
      throw errors.invalidParameter(
        "Message system attribute 'AWSTraceHeader' must have DataType String and a StringValue.",
      );
    }
    trace = v.string('StringValue');
  }
  return trace;
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
  trace: string | undefined;
}

function fifoId(p: Params, name: 'MessageGroupId' | 'MessageDeduplicationId'): string | undefined {
  const v = p.string(name);
  if (v !== undefined && !FIFO_ID.test(v)) {
    throw errors.invalidValue(
      name,
      v,
      `${name} can only include alphanumeric and punctuation characters. 1 to 128 in length.`,
    );
  }
  return v;
}

/**
 * Validates one SendMessage (or batch entry) against the queue's rules; enqueues nothing.
 * `inBatch`: AWS words a few failures differently for a batch entry.
 */
function prepareSend(q: Queue, p: Params, inBatch: boolean): PreparedSend {
  const body = p.requiredString('MessageBody');
  if (body.length === 0) throw errors.missingParameter('MessageBody');
  const bad = invalidChar(body);
  if (bad) {
    throw errors.invalidMessageContents(
      `Invalid binary character '${bad}' was found in the message body, the set of allowed characters is ${ALLOWED_SET}.`,
    );
  }
  const attrs = messageAttributes(p);
  const trace = traceHeader(p);
  const size = Buffer.byteLength(body) + attributeBytes(attrs);
  const limit = q.num('MaximumMessageSize');
  if (size > limit) {
    throw errors.invalidParameter(
      `One or more parameters ${inBatch ? 'cannot be validated' : 'are invalid'}. Reason: Message must be shorter than ${limit} bytes.`,
    );
  }
  const delay = p.int(
    'DelaySeconds',
    0,
    LIMITS.maxDelaySeconds,
    `Must be >= 0 and <= ${LIMITS.maxDelaySeconds}, if provided.`,
  );
  const groupId = fifoId(p, 'MessageGroupId');
  const dedupId = fifoId(p, 'MessageDeduplicationId');
  if (q.fifo) {
    if (groupId === undefined) {
      if (inBatch) {
        throw errors.invalidParameter('The request must contain the parameter MessageGroupId.');
      }
      throw errors.missingParameter('MessageGroupId');
    }
    // A FIFO queue takes its delay from the queue; only an explicit non-zero one is refused.
    if (delay) {
      throw errors.invalidValue(
        'DelaySeconds',
        delay,
        'The request include parameter that is not valid for this queue type.',
      );
    }
    if (dedupId === undefined && q.attributes.ContentBasedDeduplication !== 'true') {
      throw errors.invalidParameter(
        'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
      );
    }
  } else if (dedupId !== undefined) {
    throw errors.invalidValue(
      'MessageDeduplicationId',
      dedupId,
      'The request includes a parameter that is not valid for this queue type.',
    );
  }
  return { body, attrs, size, delay, groupId, dedupId, trace };
}

function enqueue(q: Queue, { body, attrs, delay, groupId, dedupId, trace }: PreparedSend): Output {
  const r = q.send({
    body,
    attributes: attrs,
    ...(delay !== undefined && !q.fifo ? { delaySeconds: delay } : {}),
    ...(q.fifo && groupId !== undefined ? { groupId } : {}),
    ...(dedupId !== undefined ? { dedupId } : {}),
    senderId: 'AIDAEMULATOR000000000',
    ...(trace !== undefined ? { traceHeader: trace } : {}),
  });
  return {
    MessageId: r.messageId,
    MD5OfMessageBody: r.md5OfBody,
    ...(r.md5OfAttributes ? { MD5OfMessageAttributes: r.md5OfAttributes } : {}),
    // AWS answers a send that carries system attributes with their digest, computed as the
    // message-attribute digest is (SendMessage, MD5OfMessageSystemAttributes); receive does not.
    ...(trace !== undefined
      ? {
          MD5OfMessageSystemAttributes: md5OfMessageAttributes({
            AWSTraceHeader: { DataType: 'String', StringValue: trace },
          }),
        }
      : {}),
    ...(r.sequenceNumber ? { SequenceNumber: r.sequenceNumber } : {}),
  };
}

export const SendMessage = action({
  validate(ctx, p) {
    const q = queueFromUrl(ctx, p);
    return { q, send: prepareSend(q, p, false) };
  },
  run: (_ctx, { q, send }) => enqueue(q, send),
});

/**
 * What a failed entry still counts against the batch's 1 MiB: its body as sent (the last one,
 * if a Query request gave it twice: the entry fails for that, not the batch).
 */
function sentBytes(entry: BatchEntry): number {
  const body = entry.params.raw('MessageBody', 'last');
  return typeof body === 'string' ? Buffer.byteLength(body) : 0;
}

export const SendMessageBatch = action({
  validate(ctx, p) {
    const q = queueFromUrl(ctx, p);
    const entries = batchEntries(p, 'Entries', 'SendMessageBatchRequestEntry');
    const prepared = entries.map((e) => ({
      id: e.id,
      result: perEntry(e.id, () => prepareSend(q, e.params, true)),
    }));
    let total = 0;
    prepared.forEach((e, i) => {
      total += 'ok' in e.result ? e.result.ok.size : sentBytes(entries[i]!);
    });
    if (total > LIMITS.maxMessageBytes) throw errors.batchTooLong(total);
    return { q, prepared };
  },
  run(_ctx, { q, prepared }) {
    const Successful: Output[] = [];
    const Failed: Output[] = [];
    for (const { id, result } of prepared) {
      if ('failed' in result) {
        Failed.push(result.failed);
        continue;
      }
      // The queue can still refuse at enqueue (a FIFO rule checked against its state then).
      const sent = perEntry(id, () => enqueue(q, result.ok));
      if ('ok' in sent) Successful.push({ Id: id, ...sent.ok });
      else Failed.push(sent.failed);
    }
    return { Successful, Failed };
  },
});
