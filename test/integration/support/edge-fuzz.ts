import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import {
  type AttributeValue,
  DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { type LocalCloud, startLocalCloud } from '../../../local/cloud';
import { ACTIONS } from '../../../local/sqs/actions';
import { createActiveTable, keyedTable } from '../../../local/tables';
import { createRng } from '../../../shared/src/random';
import { createFuzzQueues, createQueue, fillQueues, queueArn } from '../../support/fuzz-queues';
import { toQuery } from '../../support/sqs-query';
import { endpoint, type RawResponse } from './raw-http';

/**
 * A seeded fuzzer of the local cloud's edge (SQS in both protocols, DynamoDB, the HTTP framing
 * in front of them) that checks what a refused request leaves behind, not only that it is
 * refused. Each case is one request (or one connection's worth of them) built around a valid
 * request of some action and then mutated: wrong JSON types, missing and extra members, huge,
 * negative, fractional and exponent numbers, arrays for objects, NUL, control characters and
 * lone surrogates, duplicate keys, wrong X-Amz-Target; Query bodies with repeated parameters,
 * index 0, gaps, 10^6 indexes and broken percent-encoding; batches with repeated ids; message
 * attributes of every type with bad values; receipt handles of other queues and forged ones;
 * DynamoDB requests with malformed and reserved-word expressions, deep nesting, huge numbers,
 * empty sets and bad binary; and connections that send chunked bodies with bad chunk sizes,
 * Content-Lengths that do not match, a partial body and then silence (bounded), several
 * requests pipelined, Expect headers. Some cases go through the real SDK clients instead.
 *
 * After every case:
 * - no answer is 5xx: AWS answers 5xx only for its own failures, never for what a request
 *   holds. SQS's common errors give 500 to InternalFailure ("failed because of an unknown error,
 *   exception or failure") and 503 to ServiceUnavailable, the Query API's 500 to InternalError
 *   ("an internal problem with SQS, which you cannot resolve"); DynamoDB's 500 is
 *   InternalServerError. None of the cases here is one of those, so any 5xx fails the case;
 * - the edge's health check answers 200 with every component serving;
 * - a refused request (4xx, or a connection closed without an answer) changed nothing: the
 *   fuzz queues' attributes, depth and tags, the list of queues, and the fuzz table's items are
 *   as they were before it;
 * - every XML answer (the Query protocol's) holds only characters XML 1.0 allows.
 *
 * A seed repeats the same cases in the same order: each action, member, mutation, framing and
 * pause is drawn from it. What differs between two runs of a seed is what the server made: the
 * ports in queue URLs, the random part of the receipt handles the cases received and reuse, and
 * what server timing decides (which long poll ends empty).
 */

// --- randomness ---------------------------------------------------------------------------------

export class Dice {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = createRng(seed);
  }
  float(): number {
    return this.next();
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
}

// --- hostile values ------------------------------------------------------------------------------

const PROTO = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype'];

/** Numbers a JSON member can hold (as JSON text, so exponents and -0 stay as written). */
const NUMBER_TEXTS = [
  '0',
  '-0',
  '1',
  '-1',
  '10',
  '11',
  '20',
  '21',
  '43200',
  '43201',
  '900',
  '901',
  '1.5',
  '1e1',
  '1E+1',
  '1e-7',
  '1e308',
  '1e309',
  '-1e309',
  '9007199254740993',
  '123456789012345678901234567890',
  '0.0000000000000000000001',
  '2147483648',
  '-2147483649',
];

const STRINGS = [
  '',
  ' ',
  'x',
  '\u0000',
  'a\u0000b',
  '\u0001',
  '\u001f',
  '\ud800',
  'a\udc00b',
  '\ufffe',
  '\uffff',
  '\u{10ffff}',
  '😀',
  '&<>"\'',
  ']]>',
  '%00',
  '%',
  'x'.repeat(257),
  'x'.repeat(4097),
  'NaN',
  'Infinity',
  '-1',
  '1e400',
  '0x10',
  'null',
  'true',
  '[]',
  '{}',
  ...PROTO,
];

/** A JSON value of any type, as JSON text. */
function anyJson(d: Dice, depth = 0): string {
  switch (d.int(0, depth > 2 ? 3 : 6)) {
    case 0:
      return d.pick(NUMBER_TEXTS);
    case 1:
      return JSON.stringify(d.pick(STRINGS));
    case 2:
      return d.pick(['true', 'false', 'null']);
    case 3:
      return d.pick(['[]', '{}', '""']);
    case 4:
      return `[${Array.from({ length: d.int(1, 3) }, () => anyJson(d, depth + 1)).join(',')}]`;
    case 5:
      return `{${Array.from({ length: d.int(1, 3) }, () => `${JSON.stringify(d.pick([...STRINGS, 'Id', 'DataType', 'StringValue']))}:${anyJson(d, depth + 1)}`).join(',')}}`;
    default:
      return `${'['.repeat(d.int(10, 200))}${']'.repeat(d.int(0, 200))}`;
  }
}

// --- the world the cases aim at --------------------------------------------------------------------

export interface World {
  edgeUrl: string;
  queues: { std: string; fifo: string; dlq: string; fifoDlq: string; other: string };
  arns: Record<keyof World['queues'], string>;
  /** Handles from receives (some live, some of deleted or other queues' messages). */
  handles: string[];
  table: string;
}

const FUZZ_TABLE = 'fz-table';

// --- SQS requests ----------------------------------------------------------------------------

type Json = Record<string, unknown>;

const SQS_ACTIONS = Object.keys(ACTIONS);

function forgedHandle(d: Dice, w: World): string {
  const queueName = d.pick(['fz-std', 'fz.fifo', 'fz-other', 'nope', '', 'fz-std\u0000x']);
  const key = d.pick(['1', '0', '-1', '9007199254740993', 'x', '1e3', '']);
  const raw = d.bool(0.8)
    ? `${queueName}\u0000${key}\u0000${d.pick(['uuid', '', '\u0000'])}`
    : d.pick(STRINGS);
  return d.pick([
    Buffer.from(raw).toString('base64url'),
    Buffer.from(raw).toString('base64'),
    raw,
    d.pick(w.handles.length ? w.handles : ['h']),
    `${d.pick(w.handles.length ? w.handles : ['h'])}=`,
  ]);
}

function messageAttributes(d: Dice): Json {
  const out: Json = {};
  for (let i = d.int(0, d.bool(0.1) ? 12 : 3); i > 0; i--) {
    const type = d.pick([
      'String',
      'Number',
      'Binary',
      'String.custom',
      'Number.float',
      'Binary.gif',
      'string',
      'Bogus',
      '',
      'String.',
      'Number..x',
    ]);
    const name = d.pick(['a', 'b.c', 'AWS.x', '.a', 'a.', 'a..b', 'é', 'x'.repeat(257), ...PROTO]);
    const v: Json = { DataType: type };
    const stringValue = d.pick([
      'v',
      '',
      '1',
      '-1.5e10',
      '1e127',
      '1e-129',
      '9'.repeat(39),
      '0x10',
      ' 5 ',
      'NaN',
      '\u0000',
      '\ud800',
      '😀',
    ]);
    const binaryValue = d.pick(['AAEC', '', '!!', 'AA=', 'AAE', '====', 'QUJD\n', '😀']);
    if (d.bool(0.8)) v.StringValue = stringValue;
    if (d.bool(0.4)) v.BinaryValue = binaryValue;
    if (d.bool(0.05)) v.StringListValues = ['a'];
    out[name] = d.bool(0.05) ? d.pick([null, 'x', 5, []]) : v;
  }
  return out;
}

function validTimeout(d: Dice): number {
  // Only 0 or long: a hold that ends, or a delay that passes, while a case runs would change a
  // queue's depth between its before and after snapshots.
  return d.pick([0, 600, 43_200]);
}

/** A request of `action` that is valid, or nearly, for one of the fuzz queues. */
function sqsBase(d: Dice, w: World, action: string): Json {
  const qKey = d.pick(['std', 'fifo', 'dlq', 'fifoDlq', 'other'] as const);
  const QueueUrl = w.queues[qKey];
  const fifo = QueueUrl.endsWith('.fifo');
  const handle = () => (d.bool(0.6) && w.handles.length ? d.pick(w.handles) : forgedHandle(d, w));
  const send = (): Json => ({
    MessageBody: d.bool(0.9) ? `m${d.int(0, 99)}` : d.pick(STRINGS),
    ...(fifo
      ? { MessageGroupId: `g${d.int(0, 3)}`, MessageDeduplicationId: `d${d.int(0, 9999)}` }
      : {}),
    ...(d.bool(0.3) ? { MessageAttributes: messageAttributes(d) } : {}),
    ...(d.bool(0.1) && !fifo ? { DelaySeconds: d.pick([0, 900]) } : {}),
    ...(d.bool(0.05)
      ? {
          MessageSystemAttributes: {
            AWSTraceHeader: { DataType: 'String', StringValue: d.pick(['Root=1-a-b', ...STRINGS]) },
          },
        }
      : {}),
  });
  const ids = () => {
    const n = d.int(1, d.bool(0.1) ? 11 : 4);
    return Array.from({ length: n }, (_, i) =>
      d.bool(0.1) ? d.pick(['a', '', 'a b', 'x'.repeat(81), ...PROTO]) : `e${i}`,
    );
  };
  switch (action) {
    case 'CreateQueue':
      return {
        QueueName: d.pick(['fz-new', 'fz-new.fifo', 'fz-std', 'fz.fifo', 'bad name', '.fifo', '']),
        ...(d.bool(0.5)
          ? {
              Attributes: d.pick([
                { VisibilityTimeout: '600' },
                { FifoQueue: 'true' },
                {
                  RedrivePolicy: JSON.stringify({
                    deadLetterTargetArn: w.arns.dlq,
                    maxReceiveCount: 3,
                  }),
                },
                {
                  RedrivePolicy: JSON.stringify({
                    deadLetterTargetArn: w.arns.std,
                    maxReceiveCount: 3,
                  }),
                },
                { KmsMasterKeyId: d.pick(STRINGS) },
                { Policy: '{}' },
              ]),
            }
          : {}),
        ...(d.bool(0.2) ? { tags: { [d.pick(['k', ...STRINGS])]: d.pick(STRINGS) } } : {}),
      };
    case 'GetQueueUrl':
      return {
        QueueName: d.pick(['fz-std', 'fz.fifo', 'nope', ...PROTO]),
        ...(d.bool(0.2) ? { QueueOwnerAWSAccountId: d.pick(['000000000000', '1', '']) } : {}),
      };
    case 'ListQueues':
      return {
        ...(d.bool(0.5) ? { QueueNamePrefix: d.pick(['fz', '', 'zz', ...STRINGS]) } : {}),
        ...(d.bool(0.5) ? { MaxResults: d.pick([1, 2, 1000, 0, 1001]) } : {}),
        ...(d.bool(0.3) ? { NextToken: d.pick(['MQ==', 'LTE=', 'eA==', '', ...STRINGS]) } : {}),
      };
    case 'GetQueueAttributes':
      return {
        QueueUrl,
        AttributeNames: d.pick([['All'], ['QueueArn'], ['Bogus'], [], ['All', ...PROTO]]),
      };
    case 'SetQueueAttributes':
      return {
        QueueUrl,
        Attributes: d.pick([
          { VisibilityTimeout: String(validTimeout(d)) },
          { VisibilityTimeout: d.pick(['-1', '43201', '1.5', '1e3', '', ' 1', '0x10']) },
          { DelaySeconds: d.pick(['0', '901']) },
          { MaximumMessageSize: d.pick(['1023', '1024', '1048577']) },
          { MessageRetentionPeriod: d.pick(['59', '1209601']) },
          {
            RedrivePolicy: d.pick([
              '',
              '{}',
              '[]',
              'x',
              JSON.stringify({
                deadLetterTargetArn: w.arns.dlq,
                maxReceiveCount: d.pick([0, 1001, '5', 1.5, -1]),
              }),
            ]),
          },
          {
            RedrivePolicy: JSON.stringify({
              deadLetterTargetArn: d.pick(Object.values(w.arns)),
              maxReceiveCount: 3,
            }),
          },
          {
            RedriveAllowPolicy: d.pick([
              '{"redrivePermission":"denyAll"}',
              '{"redrivePermission":"byQueue"}',
              '{"redrivePermission":"byQueue","sourceQueueArns":[]}',
              'x',
            ]),
          },
          { FifoQueue: d.pick(['true', 'false']) },
          { ContentBasedDeduplication: d.pick(['true', 'false', 'yes']) },
          { KmsMasterKeyId: d.pick(STRINGS) },
          { Policy: d.pick(['{}', '[]', 'x', '']) },
          { [d.pick([...PROTO, 'Bogus', 'QueueArn', 'ApproximateNumberOfMessages'])]: '1' },
        ]),
      };
    case 'SendMessage':
      return { QueueUrl, ...send() };
    case 'SendMessageBatch':
      return { QueueUrl, Entries: ids().map((Id) => ({ Id, ...send() })) };
    case 'ReceiveMessage':
      return {
        QueueUrl,
        MaxNumberOfMessages: d.pick([1, 10, 0, 11]),
        VisibilityTimeout: validTimeout(d),
        WaitTimeSeconds: d.pick([0, 0, 0, 1, 21, -1]),
        ...(d.bool(0.3)
          ? { MessageAttributeNames: d.pick([['All'], ['.*'], ['a', 'b.*'], [''], PROTO]) }
          : {}),
        ...(d.bool(0.3)
          ? { MessageSystemAttributeNames: d.pick([['All'], ['SenderId'], ['Bogus']]) }
          : {}),
        ...(d.bool(0.3) ? { AttributeNames: d.pick([['All'], ['QueueArn'], ['Bogus']]) } : {}),
        ...(fifo && d.bool(0.3)
          ? { ReceiveRequestAttemptId: d.pick(['r1', 'r2', '', 'a b', 'x'.repeat(129)]) }
          : {}),
      };
    case 'DeleteMessage':
      return { QueueUrl, ReceiptHandle: handle() };
    case 'DeleteMessageBatch':
      return { QueueUrl, Entries: ids().map((Id) => ({ Id, ReceiptHandle: handle() })) };
    case 'ChangeMessageVisibility':
      return { QueueUrl, ReceiptHandle: handle(), VisibilityTimeout: validTimeout(d) };
    case 'ChangeMessageVisibilityBatch':
      return {
        QueueUrl,
        Entries: ids().map((Id) => ({
          Id,
          ReceiptHandle: handle(),
          VisibilityTimeout: validTimeout(d),
        })),
      };
    case 'DeleteQueue':
      // Only the spare queue: the others are what later cases aim at.
      return { QueueUrl: d.bool(0.9) ? `${w.edgeUrl}/000000000000/fz-gone` : w.queues.other };
    case 'PurgeQueue':
      // Purging the fuzz queues would leave little to aim at: a queue that does not exist, mostly.
      return { QueueUrl: d.bool(0.9) ? `${w.edgeUrl}/000000000000/fz-gone` : QueueUrl };
    case 'ListQueueTags':
    case 'ListDeadLetterSourceQueues':
      return { QueueUrl };
    case 'TagQueue':
      return { QueueUrl, Tags: { [d.pick(['k', 'team', ...STRINGS])]: d.pick(['v', ...STRINGS]) } };
    case 'UntagQueue':
      return { QueueUrl, TagKeys: d.pick([['k'], [], ['\u0000'], PROTO]) };
    case 'StartMessageMoveTask':
      return {
        SourceArn: d.pick([
          w.arns.dlq,
          w.arns.fifoDlq,
          w.arns.std,
          'arn:aws:sqs:us-east-1:000000000000:nope',
          '',
        ]),
        ...(d.bool(0.4) ? { DestinationArn: d.pick(Object.values(w.arns)) } : {}),
        ...(d.bool(0.4) ? { MaxNumberOfMessagesPerSecond: d.pick([0, 1, 500, 501, -1]) } : {}),
      };
    case 'ListMessageMoveTasks':
      return {
        SourceArn: d.pick(Object.values(w.arns)),
        ...(d.bool(0.5) ? { MaxResults: d.pick([1, 10, 0, 11]) } : {}),
      };
    case 'CancelMessageMoveTask':
      return {
        TaskHandle: d.pick([
          Buffer.from(JSON.stringify({ taskId: 'x', sourceArn: w.arns.dlq })).toString('base64'),
          Buffer.from('{"taskId":1}').toString('base64'),
          ...STRINGS,
        ]),
      };
    case 'AddPermission':
    case 'RemovePermission':
      return {
        QueueUrl,
        Label: d.pick(['l', '', ...STRINGS]),
        AWSAccountIds: ['1'],
        Actions: ['SendMessage'],
      };
    default:
      return { QueueUrl };
  }
}

/** JSON text of `input` with `n` mutations: members dropped, added, retyped, duplicated. */
function mutateJson(d: Dice, input: Json, n: number): string {
  const members: [string, string][] = Object.entries(input).map(([k, v]) => [k, JSON.stringify(v)]);
  for (let i = 0; i < n; i++) {
    const op = d.int(0, 7);
    if (op === 0 && members.length) members.splice(d.int(0, members.length - 1), 1);
    else if (op === 1)
      members.push([
        d.pick([...PROTO, 'Extra', 'QueueUrl', 'Entries', 'MaxNumberOfMessages', 'Attributes']),
        anyJson(d),
      ]);
    else if (op === 2 && members.length) members[d.int(0, members.length - 1)]![1] = anyJson(d);
    else if (op === 3 && members.length) {
      // A key twice: the JSON protocol's parsers disagree on which one counts.
      const m = d.pick(members);
      members.push([m[0], anyJson(d)]);
    } else if (op === 4 && members.length) {
      // Inside a nested value: an entry's or attribute's member retyped.
      const idx = d.int(0, members.length - 1);
      let v: unknown;
      try {
        v = JSON.parse(members[idx]![1]);
      } catch {
        v = members[idx]![1];
      }
      members[idx]![1] = JSON.stringify(retypeDeep(d, v));
    } else if (op === 5 && members.length) {
      const idx = d.int(0, members.length - 1);
      members[idx]![1] = d.pick(NUMBER_TEXTS);
    } else if (op === 6 && members.length) {
      const idx = d.int(0, members.length - 1);
      members[idx]![1] = `[${members[idx]![1]}]`;
    }
  }
  return `{${members.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

/** anyJson as a value (unbalanced brackets become a string). */
function anyValue(d: Dice): unknown {
  const text = anyJson(d);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function retypeDeep(d: Dice, v: unknown): unknown {
  if (Array.isArray(v) && v.length) {
    const out = [...v];
    const i = d.int(0, out.length - 1);
    out[i] = d.bool(0.5) ? retypeDeep(d, out[i]) : anyValue(d);
    if (d.bool(0.2)) out.push(out[0]);
    return out;
  }
  if (v && typeof v === 'object') {
    const out = { ...(v as Json) };
    const keys = Object.keys(out);
    if (keys.length) {
      const k = d.pick(keys);
      if (d.bool(0.3)) delete out[k];
      else out[k] = d.bool(0.5) ? retypeDeep(d, out[k]) : anyValue(d);
    }
    return out;
  }
  return anyValue(d);
}

/** Percent-encoding of a string's UTF-8 (a lone surrogate as U+FFFD, as Buffer encodes it). */
const enc = (s: string): string =>
  [...Buffer.from(s)]
    .map((b) =>
      /[A-Za-z0-9_.~-]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');

/** Form encoding with the Query protocol's own hazards mixed in. */
function mutateQuery(d: Dice, pairs: [string, string][], n: number): string {
  const parts = pairs.map(([k, v]) => [enc(k), enc(v)] as [string, string]);
  for (let i = 0; i < n; i++) {
    const op = d.int(0, 9);
    if (op === 0 && parts.length) parts.splice(d.int(0, parts.length - 1), 1);
    else if (op === 1 && parts.length)
      parts.push(d.pick(parts)); // repeated parameter
    else if (op === 2 && parts.length) {
      // An index moved: 0, a gap, a million, negative, not a number.
      const idx = d.int(0, parts.length - 1);
      parts[idx]![0] = parts[idx]![0].replace(
        /\.(\d+)/,
        `.${d.pick(['0', '3', '1000000', '999999999999', '-1', '01', 'x', ''])}`,
      );
    } else if (op === 3)
      parts.push([
        d.pick([
          'Attribute.0.Name',
          'AttributeName.1000000',
          'MessageAttribute.1.Value',
          'Entry.1',
          'Action',
          '',
          '.',
          '..',
          'QueueUrl.1',
        ]),
        enc(d.pick(STRINGS)),
      ]);
    else if (op === 4 && parts.length)
      parts[d.int(0, parts.length - 1)]![1] = d.pick([
        '%',
        '%zz',
        '%E0%A4',
        '%ED%A0%80',
        '%00',
        '%C0%80',
        '+',
        '%FF%FE',
      ]);
    else if (op === 5 && parts.length) parts[d.int(0, parts.length - 1)]![1] = enc(d.pick(STRINGS));
    else if (op === 6) parts.push(['Action', d.pick(['ListQueues', 'Bogus', '', '__proto__'])]);
    else if (op === 7 && parts.length)
      parts[d.int(0, parts.length - 1)]![0] = d.pick([
        '',
        '%',
        '__proto__.x',
        'constructor.prototype.x',
        'Tag.1.Key.2',
      ]);
  }
  return parts.map(([k, v]) => (d.bool(0.02) ? k : `${k}=${v}`)).join(d.bool(0.02) ? ';' : '&');
}

// --- DynamoDB requests ---------------------------------------------------------------------------

const DDB_ACTIONS = [
  'PutItem',
  'GetItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchWriteItem',
  'BatchGetItem',
  'DescribeTable',
  'CreateTable',
  'DeleteTable',
  'UpdateTable',
  'TransactWriteItems',
  'ListTables',
];

function attributeValue(d: Dice, depth = 0): unknown {
  switch (d.int(0, depth > 3 ? 6 : 10)) {
    case 0:
      return { S: d.pick(['v', '', ...STRINGS]) };
    case 1:
      return {
        N: d.pick([
          '1',
          '-0',
          '1e125',
          '1e126',
          '1e-130',
          '9'.repeat(39),
          '0x10',
          'NaN',
          ' 1',
          '1.',
          '.1',
          '',
          '1e9999999999',
        ]),
      };
    case 2:
      return { B: d.pick(['AAEC', '', '!!', 'AA=', '😀']) };
    case 3:
      return { SS: d.pick([[], ['a', 'a'], ['a'], [''], [1]]) };
    case 4:
      return { NS: d.pick([[], ['1', '1.0'], ['1'], ['x'], ['1e200']]) };
    case 5:
      return { BS: d.pick([[], ['AA==', 'AA=='], ['!!']]) };
    case 6:
      return d.pick([
        { BOOL: 'true' },
        { NULL: false },
        { NULL: true },
        {},
        { S: 'a', N: '1' },
        { X: 1 },
        null,
        'v',
        [],
      ]);
    case 7:
      return { L: Array.from({ length: d.int(0, 3) }, () => attributeValue(d, depth + 1)) };
    case 8: {
      const M: Json = {};
      for (let i = d.int(0, 3); i > 0; i--)
        M[d.pick(['a', '', ...PROTO, '\u0000'])] = attributeValue(d, depth + 1);
      return { M };
    }
    default: {
      // Deep: up to 40 levels of maps (DynamoDB allows 32).
      let v: unknown = { S: 'deep' };
      for (let i = d.int(1, 40); i > 0; i--) v = { M: { a: v } };
      return v;
    }
  }
}

const EXPRESSIONS = [
  'attribute_not_exists(pk)',
  'attribute_exists(#n)',
  '#n = :v',
  'size(#n) > :v',
  'begins_with(#n, :v)',
  'contains(#n, :v)',
  'a = :v AND',
  'name = :v',
  'size = :v',
  '#n IN (:v, :v, :v)',
  '#n BETWEEN :v AND :v',
  '(((((#n = :v)))))',
  `${'('.repeat(60)}#n = :v${')'.repeat(60)}`,
  'NOT NOT NOT #n = :v',
  ':v = :v',
  '#n = :missing',
  '#unused = :v',
  'attribute_type(#n, :v)',
  'a.b[99999999999] = :v',
  'a[-1] = :v',
  '',
  ' ',
  '\u0000',
  `${'#n = :v OR '.repeat(200)}#n = :v`,
];

const UPDATES = [
  'SET #n = :v',
  'SET #n = #n + :v',
  'SET l[3000000000] = :v',
  'SET l[0] = :v, l[0] = :v',
  'SET #n = list_append(#n, :v)',
  'SET #n = if_not_exists(#n, :v)',
  'ADD s :v',
  'DELETE s :v',
  'REMOVE #n, #n',
  'REMOVE l[99999999999]',
  'REMOVE pk',
  'SET pk = :v',
  'SET a.b.c.d = :v',
  'SET name = :v',
  'SET #n = :v REMOVE #n',
  'SET',
  '',
];

function ddbBase(d: Dice, w: World, action: string): Json {
  const TableName = d.bool(0.8)
    ? w.table
    : d.pick(['nope', '', 'x'.repeat(256), '__proto__', 'a b']);
  const key = () => ({
    pk: d.bool(0.8) ? { S: `k${d.int(0, 5)}` } : attributeValue(d),
    ...(d.bool(0.1) ? { extra: { S: 'x' } } : {}),
  });
  const names = () =>
    d.bool(0.8)
      ? {
          '#n': d.pick(['v', 'pk', 'a', '', '__proto__']),
          ...(d.bool(0.1) ? { '#unused': 'x' } : {}),
        }
      : d.pick([{}, { n: 'x' }, { '#n': 1 }]);
  const values = () =>
    d.bool(0.8) ? { ':v': attributeValue(d) } : d.pick([{}, { v: { S: 'x' } }, { ':v': null }]);
  const item = () => {
    const it: Json = { pk: { S: `k${d.int(0, 5)}` } };
    for (let i = d.int(0, 3); i > 0; i--)
      it[d.pick(['v', 'a', 'l', 's', '', ...PROTO])] = attributeValue(d);
    if (d.bool(0.1)) delete it.pk;
    return it;
  };
  switch (action) {
    case 'PutItem':
      return {
        TableName,
        Item: item(),
        ...(d.bool(0.4)
          ? {
              ConditionExpression: d.pick(EXPRESSIONS),
              ExpressionAttributeNames: names(),
              ExpressionAttributeValues: values(),
            }
          : {}),
        ...(d.bool(0.2) ? { ReturnValues: d.pick(['ALL_OLD', 'ALL_NEW', 'NONE', 'x']) } : {}),
      };
    case 'GetItem':
      return {
        TableName,
        Key: key(),
        ...(d.bool(0.4)
          ? {
              ProjectionExpression: d.pick([
                '#n',
                'a.b[1]',
                'l[99999999999]',
                'name',
                'a,,b',
                '',
                '#n, #n',
              ]),
              ExpressionAttributeNames: names(),
            }
          : {}),
        ...(d.bool(0.1) ? { ConsistentRead: d.pick([true, 'yes', 1]) } : {}),
      };
    case 'UpdateItem':
      return {
        TableName,
        Key: key(),
        UpdateExpression: d.pick(UPDATES),
        ExpressionAttributeNames: names(),
        ExpressionAttributeValues: values(),
        ...(d.bool(0.3) ? { ConditionExpression: d.pick(EXPRESSIONS) } : {}),
        ...(d.bool(0.2) ? { ReturnValues: d.pick(['ALL_NEW', 'UPDATED_OLD', 'x']) } : {}),
      };
    case 'DeleteItem':
      return {
        TableName,
        Key: key(),
        ...(d.bool(0.5)
          ? {
              ConditionExpression: d.pick(EXPRESSIONS),
              ExpressionAttributeNames: names(),
              ExpressionAttributeValues: values(),
            }
          : {}),
      };
    case 'Query':
      return {
        TableName,
        KeyConditionExpression: d.pick([
          'pk = :v',
          '#n = :v',
          'pk = :v AND sk > :v',
          ...EXPRESSIONS,
        ]),
        ExpressionAttributeNames: names(),
        ExpressionAttributeValues: values(),
        ...(d.bool(0.3) ? { FilterExpression: d.pick(EXPRESSIONS) } : {}),
        ...(d.bool(0.3) ? { Limit: d.pick([0, 1, -1, 1e300, 1.5]) } : {}),
        ...(d.bool(0.2) ? { ExclusiveStartKey: key() } : {}),
      };
    case 'Scan':
      return {
        TableName,
        ...(d.bool(0.5)
          ? {
              FilterExpression: d.pick(EXPRESSIONS),
              ExpressionAttributeNames: names(),
              ExpressionAttributeValues: values(),
            }
          : {}),
        ...(d.bool(0.3)
          ? { Segment: d.pick([0, 1, -1, 1000000]), TotalSegments: d.pick([1, 0, 1000001, 2]) }
          : {}),
        ...(d.bool(0.2) ? { Limit: d.pick([0, 1, -1]) } : {}),
      };
    case 'BatchWriteItem':
      return {
        RequestItems: {
          [TableName]: Array.from({ length: d.int(0, d.bool(0.1) ? 26 : 3) }, () =>
            d.bool(0.5) ? { PutRequest: { Item: item() } } : { DeleteRequest: { Key: key() } },
          ),
        },
      };
    case 'BatchGetItem':
      return {
        RequestItems: {
          [TableName]: { Keys: Array.from({ length: d.int(0, d.bool(0.1) ? 101 : 3) }, key) },
        },
      };
    case 'CreateTable':
      return {
        TableName: d.pick([w.table, 'fz-new-table', '']),
        KeySchema: d.pick([
          [{ AttributeName: 'pk', KeyType: 'HASH' }],
          [],
          [{ AttributeName: 'pk', KeyType: 'RANGE' }],
        ]),
        AttributeDefinitions: d.pick([
          [{ AttributeName: 'pk', AttributeType: 'S' }],
          [{ AttributeName: 'pk', AttributeType: 'X' }],
          [],
        ]),
        BillingMode: d.pick(['PAY_PER_REQUEST', 'x']),
      };
    case 'DeleteTable':
      // Never the fuzz table: every later case aims at it.
      return { TableName: d.pick(['fz-gone', 'fz-new-table']) };
    case 'UpdateTable':
      return {
        TableName,
        BillingMode: d.pick(['PROVISIONED', 'x']),
        ProvisionedThroughput: d.pick([
          { ReadCapacityUnits: 0, WriteCapacityUnits: 1 },
          { ReadCapacityUnits: 1e300, WriteCapacityUnits: 1 },
        ]),
      };
    case 'TransactWriteItems':
      return { TransactItems: [{ Put: { TableName, Item: item() } }] };
    default:
      return { TableName };
  }
}

// --- through the SDK clients -------------------------------------------------------------------

/** Numbers the SDK's types allow and a server must judge: NaN, infinities, fractions, 2^53. */
const SDK_NUMBERS = [Number.NaN, Number.POSITIVE_INFINITY, -1, 1.5, 2 ** 53, 1e21, -0, 0, 10, 11];

/** One SDK call with hostile values of the right TypeScript types (or cast past them). */
type SdkCommand = { input: unknown; constructor: { name: string } };

function sdkCase(
  d: Dice,
  w: World,
  sqs: SQSClient,
  ddb: DynamoDBClient,
): { label: string; run: () => Promise<unknown> } {
  const q = d.pick(Object.values(w.queues));
  const fifo = q.endsWith('.fifo');
  const attr = (): { DataType: string; StringValue?: string; BinaryValue?: Uint8Array } =>
    d.pick([
      { DataType: 'Number', StringValue: d.pick(['1e400', '-0', '1.', '.5', '9'.repeat(40)]) },
      { DataType: 'Binary', BinaryValue: d.pick([new Uint8Array(0), new Uint8Array([0, 255])]) },
      { DataType: 'String', StringValue: d.pick(['\u0000', '\ud800', '', 'ok']) },
      { DataType: 'String', BinaryValue: new Uint8Array([1]) },
      { DataType: d.pick(['Number.', 'String.\u0000', 'Binary.x']), StringValue: '1' },
    ]);
  const entry = (i: number) => ({
    Id: d.bool(0.2) ? 'same' : `e${i}`,
    MessageBody: d.pick(['m', '', '\u0000', 'x'.repeat(d.pick([1, 262_144]))]),
    ...(fifo
      ? { MessageGroupId: d.pick(['g', '', ' ']), MessageDeduplicationId: `s${d.int(0, 999)}` }
      : {}),
    ...(d.bool(0.5)
      ? { MessageAttributes: { [d.pick(['a', 'AWS.x', '__proto__'])]: attr() } }
      : {}),
    ...(d.bool(0.3) ? { DelaySeconds: d.pick(SDK_NUMBERS) } : {}),
  });
  const handle = () => d.pick([...w.handles, 'forged', '', '\u0000']);
  const item = (): Record<string, AttributeValue> => ({
    pk: { S: `k${d.int(0, 5)}` },
    [d.pick(['v', 'name', 'size', '__proto__'])]: d.pick<AttributeValue>([
      { N: d.pick(['1e400', '1e126', '-1e-130', `0.${'1'.repeat(40)}`, 'NaN']) },
      { SS: [] },
      { NS: ['1', '1'] },
      { B: new Uint8Array(0) },
      { BS: [new Uint8Array([1]), new Uint8Array([1])] },
      { L: [{ NULL: true }, { M: {} }] },
      { M: { a: { M: { b: { M: { c: { S: '' } } } } } } },
    ]),
  });
  const commands: (() => SdkCommand)[] = [
    () => new SendMessageCommand({ QueueUrl: q, ...entry(0) }),
    () =>
      new SendMessageBatchCommand({
        QueueUrl: q,
        Entries: Array.from({ length: d.int(1, 11) }, (_, i) => entry(i)),
      }),
    () =>
      new ReceiveMessageCommand({
        QueueUrl: q,
        MaxNumberOfMessages: d.pick(SDK_NUMBERS),
        VisibilityTimeout: d.pick([0, 600, Number.NaN, -1, 43_201]),
        WaitTimeSeconds: d.pick([0, Number.NaN, 21]),
        MessageAttributeNames: d.pick([['All'], ['a.*'], []]),
      }),
    () =>
      new DeleteMessageBatchCommand({
        QueueUrl: q,
        Entries: Array.from({ length: d.int(0, 3) }, (_, i) => ({
          Id: d.bool(0.3) ? 'x' : `e${i}`,
          ReceiptHandle: handle(),
        })),
      }),
    () =>
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: q,
        Entries: Array.from({ length: d.int(1, 3) }, (_, i) => ({
          Id: `e${i}`,
          ReceiptHandle: handle(),
          VisibilityTimeout: d.pick([0, 600, Number.NaN, 43_201]),
        })),
      }),
    () =>
      new SetQueueAttributesCommand({
        QueueUrl: q,
        Attributes: {
          [d.pick(['VisibilityTimeout', 'DelaySeconds', 'MaximumMessageSize'])]: d.pick([
            'NaN',
            '1e3',
            '600',
            '-0',
          ]),
        },
      }),
    () =>
      new PutItemCommand({
        TableName: w.table,
        Item: item(),
        ...(d.bool(0.3) ? { ConditionExpression: 'attribute_not_exists(pk)' } : {}),
      }),
    () =>
      new UpdateItemCommand({
        TableName: w.table,
        Key: { pk: { S: `k${d.int(0, 5)}` } },
        UpdateExpression: d.pick(UPDATES.filter(Boolean)),
        ExpressionAttributeNames: { '#n': d.pick(['v', 'pk', 'size']) },
        ExpressionAttributeValues: { ':v': item().v ?? { N: '1' } },
      }),
    () =>
      new QueryCommand({
        TableName: w.table,
        KeyConditionExpression: d.pick(['pk = :v', 'size = :v', '#n = :v']),
        ExpressionAttributeNames: d.bool(0.5) ? { '#n': 'pk' } : undefined,
        ExpressionAttributeValues: {
          ':v': d.pick<AttributeValue>([{ S: 'k1' }, { N: '1e400' }, { SS: [] }]),
        },
        Limit: d.pick(SDK_NUMBERS),
      }),
  ];
  const command = d.pick(commands)();
  const label = `${command.constructor.name} ${JSON.stringify(command.input, (_k, v) =>
    v instanceof Uint8Array
      ? `bytes(${v.length})`
      : typeof v === 'number' && !Number.isFinite(v)
        ? String(v)
        : v,
  ).slice(0, 600)}`;
  const run = () =>
    command.constructor.name.startsWith('SQS') || /Message|Queue/.test(command.constructor.name)
      ? sqs.send(command as never)
      : ddb.send(command as never);
  return { label, run };
}

// --- HTTP --------------------------------------------------------------------------------------

interface Wire {
  /** The bytes of the connection, sent in pieces with a pause between them. */
  pieces: Buffer[];
  pauseMs: number;
  /** After the last piece: wait for the answer, or close our side. */
  ending: 'wait' | 'half-close';
  /** How many answers a well-behaved server gives (pipelined requests). */
  requests: number;
}

function head(method: string, path: string, headers: [string, string][]): string {
  return `${method} ${path} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

function sqsJsonHeaders(d: Dice, action: string): [string, string][] {
  const target = d.bool(0.93)
    ? `AmazonSQS.${action}`
    : d.pick([
        'AmazonSQS.',
        'AmazonSQS',
        'amazonsqs.ListQueues',
        `AmazonSQS.${action}.x`,
        'AmazonSQS.__proto__',
        `DynamoDB_20120810.${action}`,
        'AmazonSQS.ListQueues\u0000',
      ]);
  return [
    ['Host', '127.0.0.1'],
    ['X-Amz-Target', target.replace(/[^\x20-\x7e]/g, '?')],
    [
      'Content-Type',
      d.pick([
        'application/x-amz-json-1.0',
        'application/x-amz-json-1.0',
        'application/json',
        'text/plain',
      ]),
    ],
  ];
}

/** Frames a request's body: Content-Length (right or wrong), or chunked (well or badly). */
function frame(
  d: Dice,
  headLines: string,
  body: Buffer,
): { bytes: Buffer; ending: 'wait' | 'half-close' } {
  const style = d.int(0, 39);
  if (style < 14 || style >= 20) {
    return {
      bytes: Buffer.concat([
        Buffer.from(`${headLines}Content-Length: ${body.length}\r\n\r\n`),
        body,
      ]),
      ending: 'wait',
    };
  }
  if (style === 14) {
    // Claims more than it sends, then leaves.
    return {
      bytes: Buffer.concat([
        Buffer.from(`${headLines}Content-Length: ${body.length + d.int(1, 100)}\r\n\r\n`),
        body,
      ]),
      ending: 'half-close',
    };
  }
  if (style === 15) {
    // Claims less: the rest reads as a second request.
    const cut = d.int(0, body.length);
    return {
      bytes: Buffer.concat([Buffer.from(`${headLines}Content-Length: ${cut}\r\n\r\n`), body]),
      ending: 'wait',
    };
  }
  if (style === 16) {
    const lengths = d.pick(['-1', '1e3', ' 5', '5, 6', '0x10', '99999999999999999999', '']);
    return {
      bytes: Buffer.concat([Buffer.from(`${headLines}Content-Length: ${lengths}\r\n\r\n`), body]),
      ending: 'half-close',
    };
  }
  // Chunked: well formed, or with a bad size line.
  const chunks: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    const n = Math.min(body.length - at, d.int(1, 64));
    chunks.push(
      Buffer.from(`${n.toString(16)}\r\n`),
      body.subarray(at, at + n),
      Buffer.from('\r\n'),
    );
    at += n;
  }
  const bad = style === 18 || style === 19;
  if (bad) {
    chunks.splice(
      d.int(0, chunks.length),
      0,
      Buffer.from(
        d.pick([
          'zz\r\n',
          '-1\r\n',
          'ffffffffffffffffff\r\n',
          '5\r\nab\r\n',
          '1;ext=\u0000\r\nA\r\n',
          '\r\n',
        ]),
      ),
    );
  }
  chunks.push(Buffer.from('0\r\n\r\n'));
  const te = d.pick([
    'chunked',
    'chunked',
    'Chunked',
    'gzip, chunked',
    'chunked, gzip',
    'identity',
  ]);
  const both = d.bool(0.15) ? `Content-Length: ${body.length}\r\n` : '';
  return {
    bytes: Buffer.concat([
      Buffer.from(`${headLines}Transfer-Encoding: ${te}\r\n${both}\r\n`),
      ...chunks,
    ]),
    ending: bad ? 'half-close' : 'wait',
  };
}

/** A request as one framed write, answered once. */
function oneRequest(
  d: Dice,
  method: string,
  path: string,
  headers: [string, string][],
  body: Buffer,
): Wire {
  const framed = frame(d, head(method, path, headers).slice(0, -2), body);
  return {
    pieces: [framed.bytes],
    pauseMs: 0,
    ending: framed.ending,
    requests: 1,
  };
}

function sqsJsonCase(d: Dice, w: World): Wire {
  const action = d.bool(0.97)
    ? d.pick(SQS_ACTIONS)
    : d.pick(['Bogus', '__proto__', 'constructor', '']);
  const input = sqsBase(d, w, action);
  const mutations = d.pick([0, 0, 0, 1, 1, 2, 3]);
  let body = mutateJson(d, input, mutations);
  if (d.bool(0.05)) body = body.slice(0, d.int(0, body.length)); // cut short: not JSON
  if (d.bool(0.03))
    body = d.pick(['', 'null', '[]', '"x"', '5', '{', '\u0000', '{"QueueUrl":1e999}']);
  const method = d.bool(0.95) ? 'POST' : d.pick(['GET', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);
  return oneRequest(
    d,
    method,
    d.bool(0.95) ? '/' : d.pick(['/000000000000/fz-std', '/x', '/?Action=ListQueues']),
    sqsJsonHeaders(d, action),
    Buffer.from(body),
  );
}

function sqsQueryCase(d: Dice, w: World): Wire {
  const action = d.bool(0.97) ? d.pick(SQS_ACTIONS) : d.pick(['Bogus', '__proto__', '']);
  const input = sqsBase(d, w, action);
  const pairs = toQuery(action, input);
  const form = mutateQuery(d, pairs, d.pick([0, 0, 0, 1, 1, 2, 4]));
  const asGet = d.bool(0.1);
  const path = asGet ? `/?${form}` : d.bool(0.95) ? '/' : '/000000000000/fz-std';
  const headers: [string, string][] = [['Host', '127.0.0.1']];
  if (!asGet)
    headers.push([
      'Content-Type',
      d.pick([
        'application/x-www-form-urlencoded',
        'application/x-www-form-urlencoded; charset=utf-8',
        'application/x-www-form-urlencoded; charset=latin1',
      ]),
    ]);
  return oneRequest(
    d,
    asGet ? 'GET' : 'POST',
    path.replace(/[^\x21-\x7e]/g, '%20'),
    headers,
    Buffer.from(asGet ? '' : form),
  );
}

function ddbCase(d: Dice, w: World): Wire {
  const action = d.bool(0.95) ? d.pick(DDB_ACTIONS) : d.pick(['Bogus', '__proto__', '']);
  const input = ddbBase(d, w, action);
  let body = mutateJson(d, input, d.pick([0, 0, 0, 1, 2]));
  if (d.bool(0.03))
    body = d.pick(['', 'null', '[]', '{', `${'{"a":'.repeat(150)}1${'}'.repeat(150)}`]);
  const headers: [string, string][] = [
    ['Host', '127.0.0.1'],
    ['X-Amz-Target', `DynamoDB_20120810.${action}`],
    ['Content-Type', 'application/x-amz-json-1.0'],
    // dynalite asks for a signature's shape (it checks none): without one every case would be
    // MissingAuthenticationToken.
    [
      'Authorization',
      'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=abc',
    ],
    ['X-Amz-Date', '20260101T000000Z'],
  ];
  const method = d.bool(0.95) ? 'POST' : d.pick(['GET', 'PUT', 'DELETE']);
  return oneRequest(
    d,
    method,
    d.bool(0.97) ? '/' : d.pick(['/x', '//a:b@[x', '/?a=b']),
    headers,
    Buffer.from(body),
  );
}

/** Connection-level hazards: pipelining, a partial body then silence, Expect headers. */
function connectionCase(d: Dice, w: World): Wire {
  const one = () =>
    d.bool(0.5) ? sqsJsonCase(d, w) : d.bool(0.5) ? sqsQueryCase(d, w) : ddbCase(d, w);
  const kind = d.int(0, 3);
  if (kind === 0) {
    // Pipelined: two or three requests in one write.
    const cases = Array.from({ length: d.int(2, 3) }, one);
    return {
      pieces: [Buffer.concat(cases.map((c) => c.pieces[0]!))],
      pauseMs: 0,
      // One that claims more body than it sends is followed by the client leaving, as alone.
      ending: cases.some((c) => c.ending === 'half-close') ? 'half-close' : 'wait',
      requests: cases.length,
    };
  }
  if (kind === 1) {
    // Slow: the request in small pieces with pauses; sometimes it never finishes.
    const c = one();
    const bytes = c.pieces[0]!;
    const n = d.int(2, 5);
    const size = Math.ceil(bytes.length / n);
    const pieces = Array.from({ length: n }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
    const stop = d.bool(0.5) ? d.int(1, n - 1) : n;
    return {
      pieces: pieces.slice(0, stop),
      pauseMs: d.int(20, 120),
      ending: stop < n ? 'half-close' : c.ending,
      requests: 1,
    };
  }
  // Expect: 100-continue (head first, body after a pause), or an expectation nobody meets.
  const c = one();
  const bytes = c.pieces[0]!;
  const split = bytes.indexOf('\r\n\r\n');
  const expect = d.pick(['100-continue', '100-continue', 'bogus', '']);
  const headPart = Buffer.concat([
    bytes.subarray(0, split),
    Buffer.from(`\r\nExpect: ${expect}\r\n\r\n`),
  ]);
  const rest = bytes.subarray(split + 4);
  const whole = d.bool(0.8);
  return {
    pieces: whole ? [headPart, rest] : [headPart],
    pauseMs: d.int(10, 50),
    ending: whole ? c.ending : 'half-close',
    requests: 1,
  };
}

/** Sends a case and collects every answer until the server closes or the answers are in. */
async function send(url: string, wire: Wire, timeoutMs: number): Promise<RawResponse[]> {
  const { host, port } = endpoint(url);
  const socket = connect({ host, port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  let received = Buffer.alloc(0);
  let closed = false;
  const answers = (): RawResponse[] => parseAll(received);
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(
          `no complete answer within ${timeoutMs} ms; received ${JSON.stringify(received.toString('latin1').slice(0, 600))}`,
        ),
      );
    }, timeoutMs);
    const check = () => {
      if (closed || answers().filter((a) => a.status >= 200).length >= wire.requests) {
        clearTimeout(timer);
        resolve();
      }
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      check();
    });
    socket.on('close', () => {
      closed = true;
      check();
    });
  });
  for (const [i, piece] of wire.pieces.entries()) {
    if (i > 0) await new Promise((r) => setTimeout(r, wire.pauseMs));
    if (!socket.destroyed) socket.write(piece);
  }
  if (wire.ending === 'half-close' && !socket.destroyed) socket.end();
  try {
    await done;
  } finally {
    socket.destroy();
  }
  return answers();
}

/** Every complete response in a byte stream (Content-Length or chunked), interim ones included. */
function parseAll(raw: Buffer): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const end = raw.indexOf('\r\n\r\n', at);
    if (end < 0) return out;
    const [statusLine, ...lines] = raw.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    let bodyStart = end + 4;
    if (status < 200) {
      out.push({ status, headers, body: '' });
      at = bodyStart;
      continue;
    }
    if (headers['transfer-encoding']?.includes('chunked')) {
      // Not sent by these servers for these routes; take the rest as the body.
      out.push({ status, headers, body: raw.subarray(bodyStart).toString('utf8') });
      return out;
    }
    const length = Number(headers['content-length'] ?? 0);
    if (raw.length < bodyStart + length) return out;
    out.push({
      status,
      headers,
      body: raw.subarray(bodyStart, bodyStart + length).toString('utf8'),
    });
    bodyStart += length;
    at = bodyStart;
  }
}

// --- state -----------------------------------------------------------------------------------------

interface Snapshot {
  text: string;
  /** A message move task is running: queue depths move by themselves. */
  moving: boolean;
}

async function snapshot(cloud: LocalCloud, w: World, ddb: DynamoDBClient): Promise<Snapshot> {
  const call = (action: string, input: Json) => cloud.sqs.call(action, input) as Promise<Json>;
  const parts: unknown[] = [];
  let moving = false;
  for (const url of Object.values(w.queues)) {
    try {
      const attrs = (await call('GetQueueAttributes', { QueueUrl: url, AttributeNames: ['All'] }))
        .Attributes;
      const tags = (await call('ListQueueTags', { QueueUrl: url })).Tags ?? {};
      parts.push({ url, attrs, tags });
    } catch (err) {
      // The spare queue, deleted by a case.
      parts.push({ url, gone: (err as Error).name });
    }
  }
  for (const arn of [w.arns.dlq, w.arns.fifoDlq]) {
    const tasks = (await call('ListMessageMoveTasks', { SourceArn: arn, MaxResults: 10 }))
      .Results as { Status: string }[];
    if (tasks.some((t) => t.Status === 'RUNNING')) moving = true;
  }
  parts.push((await call('ListQueues', {})).QueueUrls);
  const items = await ddb.send(new ScanCommand({ TableName: w.table, ConsistentRead: true }));
  parts.push(
    (items.Items ?? [])
      .map((i) =>
        JSON.stringify(i, (_k, v) =>
          v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v,
        ),
      )
      .sort(),
  );
  return { text: JSON.stringify(parts), moving };
}

/** A snapshot without the depths a running move task changes. */
const withoutDepths = (s: Snapshot) => s.text.replace(/"ApproximateNumberOf[A-Za-z]*":"\d+"/g, '');

const DEPTH =
  /"ApproximateNumberOfMessages":"(\d+)","ApproximateNumberOfMessagesNotVisible":"(\d+)","ApproximateNumberOfMessagesDelayed":"(\d+)"/g;

/**
 * Whether two snapshots show the same state. Time goes on between them: a delay or a hold that
 * ends moves a message from delayed or in flight to visible (a case can set a short one), so each
 * queue may show the same number of messages with more of them visible. What a refused request
 * could have done still shows: a message taken (fewer visible), added or removed (another
 * total). A running move task moves messages by itself: depths are not compared then.
 */
function sameState(before: Snapshot, after: Snapshot): boolean {
  if (before.moving || after.moving) return withoutDepths(before) === withoutDepths(after);
  if (before.text === after.text) return true;
  if (withoutDepths(before) !== withoutDepths(after)) return false;
  const depths = (s: Snapshot) => [...s.text.matchAll(DEPTH)].map((m) => m.slice(1, 4).map(Number));
  const a = depths(before);
  const b = depths(after);
  return (
    a.length === b.length &&
    a.every(([visible, held, delayed], i) => {
      const [visible2, held2, delayed2] = b[i]!;
      return (
        visible! + held! + delayed! === visible2! + held2! + delayed2! &&
        visible2! >= visible! &&
        held2! <= held! &&
        delayed2! <= delayed!
      );
    })
  );
}

// --- the run -----------------------------------------------------------------------------------

export interface FuzzReport {
  seed: number;
  cases: number;
  byKind: Record<string, number>;
  byStatus: Record<string, number>;
  failures: string[];
}

export interface FuzzOptions {
  seed: number;
  cases: number;
  /** Stop early (counted) after this long. */
  timeLimitMs?: number;
  /** Stop at the first failure. */
  stopOnFailure?: boolean;
  log?: (line: string) => void;
}

/** The fuzz queues, table and a few receipt handles, on a cloud started for the run. */
async function prepare(cloud: LocalCloud, sqs: SQSClient, ddb: DynamoDBClient): Promise<World> {
  const hold = { VisibilityTimeout: '600' };
  const fuzzQueues = await createFuzzQueues(sqs, hold);
  const other = await createQueue(sqs, 'fz-other', hold);
  const queues = { ...fuzzQueues, other };
  const arns = {
    std: await queueArn(sqs, queues.std),
    fifo: await queueArn(sqs, queues.fifo),
    dlq: await queueArn(sqs, queues.dlq),
    fifoDlq: await queueArn(sqs, queues.fifoDlq),
    other: await queueArn(sqs, other),
  };
  const handles = await fillQueues(sqs, Object.values(queues), {
    count: 4,
    fifoIds: (n) => ({ MessageGroupId: `g${n % 2}`, MessageDeduplicationId: `s${n}` }),
    receive: () => ({ MaxNumberOfMessages: 2 }),
  });
  await createActiveTable(ddb, keyedTable(FUZZ_TABLE, 'pk'));
  for (let i = 0; i < 3; i++) {
    await ddb.send(
      new PutItemCommand({
        TableName: FUZZ_TABLE,
        Item: {
          pk: { S: `k${i}` },
          v: { N: String(i) },
          l: { L: [{ S: 'a' }] },
          s: { SS: ['a', 'b'] },
        },
      }),
    );
  }
  return { edgeUrl: cloud.edgeUrl, queues, arns, handles, table: FUZZ_TABLE };
}

/** Starts a local cloud (services only) on free ports, runs the cases, stops it. */
export async function runEdgeFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const {
    seed,
    cases,
    timeLimitMs = Infinity,
    stopOnFailure = true,
    log = () => undefined,
  } = options;
  const cloud = await startLocalCloud({ port: 0, servicesOnly: true, seed: 7, faults: 'none' });
  const sqs = new SQSClient({
    endpoint: cloud.edgeUrl,
    region: cloud.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  const ddb = new DynamoDBClient({
    endpoint: cloud.edgeUrl,
    region: cloud.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  const report: FuzzReport = { seed, cases: 0, byKind: {}, byStatus: {}, failures: [] };
  const started = Date.now();
  try {
    const w = await prepare(cloud, sqs, ddb);
    const d = new Dice(seed);
    for (let i = 0; i < cases && Date.now() - started < timeLimitMs; i++) {
      const roll = d.int(0, 99);
      const kind =
        roll < 30
          ? 'sqs-json'
          : roll < 52
            ? 'sqs-query'
            : roll < 74
              ? 'dynamodb'
              : roll < 88
                ? 'connection'
                : 'sdk';
      if (kind === 'sdk') {
        report.byKind.sdk = (report.byKind.sdk ?? 0) + 1;
        report.cases++;
        const call = sdkCase(d, w, sqs, ddb);
        const before = await snapshot(cloud, w, ddb);
        const problems: string[] = [];
        let status: number | 'client' = 200;
        try {
          await call.run();
        } catch (err) {
          const e = err as {
            name?: string;
            message?: string;
            $metadata?: { httpStatusCode?: number };
          };
          // No status: the SDK refused it before sending (a client-side validation).
          status = e.$metadata?.httpStatusCode ?? 'client';
          if (typeof status === 'number' && status >= 500)
            problems.push(`answered ${status}: ${e.name}: ${e.message}`);
        }
        report.byStatus[`sdk ${status}`] = (report.byStatus[`sdk ${status}`] ?? 0) + 1;
        const health = await fetch(`${cloud.edgeUrl}/_localcloud/health`).then(
          (r) => r.status,
          (e: Error) => e.message,
        );
        if (health !== 200) problems.push(`health answered ${health}`);
        if (status !== 200) {
          const after = await snapshot(cloud, w, ddb);
          const same = sameState(before, after);
          if (!same)
            problems.push(
              `refused (${status}) but changed state:\n  before ${before.text}\n  after  ${after.text}`,
            );
        }
        if (problems.length) {
          const line = `case ${i} (sdk, seed ${seed}): ${problems.join('; ')}\n  call ${call.label}`;
          report.failures.push(line);
          log(line);
          if (stopOnFailure) break;
        }
        continue;
      }
      const wire =
        kind === 'sqs-json'
          ? sqsJsonCase(d, w)
          : kind === 'sqs-query'
            ? sqsQueryCase(d, w)
            : kind === 'dynamodb'
              ? ddbCase(d, w)
              : connectionCase(d, w);
      report.byKind[kind] = (report.byKind[kind] ?? 0) + 1;
      report.cases++;
      const before = await snapshot(cloud, w, ddb);
      const problems: string[] = [];
      let answers: RawResponse[] = [];
      try {
        answers = await send(cloud.edgeUrl, wire, 25_000);
      } catch (err) {
        problems.push((err as Error).message);
      }
      const finals = answers.filter((a) => a.status >= 200);
      for (const a of finals) {
        const key = `${kind} ${a.status}`;
        report.byStatus[key] = (report.byStatus[key] ?? 0) + 1;
        if (a.status >= 500) problems.push(`answered ${a.status}: ${a.body.slice(0, 300)}`);
        if (
          a.status === 200 &&
          a.headers['content-type'] === 'text/xml' &&
          !wellFormedXml(a.body)
        ) {
          problems.push(
            `answered XML that is not well-formed: ${JSON.stringify(a.body.slice(0, 300))}`,
          );
        }
        if (a.status >= 400 && a.headers['content-type'] === 'text/xml' && !wellFormedXml(a.body)) {
          problems.push(
            `refused with XML that is not well-formed: ${JSON.stringify(a.body.slice(0, 300))}`,
          );
        }
      }
      if (finals.length === 0)
        report.byStatus[`${kind} none`] = (report.byStatus[`${kind} none`] ?? 0) + 1;
      if (process.env.EDGE_FUZZ_TRACE) {
        const first = finals[0];
        log(
          `${i} ${kind} ${first?.status ?? 'none'} ${Buffer.concat(wire.pieces).toString('latin1').split('\r\n\r\n')[1]?.slice(0, 160)} => ${first?.body.slice(0, 160)}`,
        );
      }
      const health = await fetch(`${cloud.edgeUrl}/_localcloud/health`).then(
        (r) => r.status,
        (e: Error) => e.message,
      );
      if (health !== 200) problems.push(`health answered ${health}`);
      // A refused request changes nothing: every answer 4xx (or none at all).
      const refused = finals.every((a) => a.status >= 400);
      if (refused) {
        const after = await snapshot(cloud, w, ddb);
        const same = sameState(before, after);
        if (!same)
          problems.push(
            `refused (${finals.map((a) => a.status).join(', ') || 'no answer'}) but changed state:\n  before ${before.text}\n  after  ${after.text}`,
          );
      }
      // Receipt handles the cases received, for later cases to use.
      for (const a of finals) {
        for (const m of a.body.matchAll(
          /"ReceiptHandle":"([^"]+)"|<ReceiptHandle>([^<]+)<\/ReceiptHandle>/g,
        )) {
          if (w.handles.length < 200) w.handles.push((m[1] ?? m[2])!);
        }
      }
      if (problems.length) {
        const sent = Buffer.concat(wire.pieces).toString('latin1');
        if (process.env.EDGE_FUZZ_DUMP)
          writeFileSync(process.env.EDGE_FUZZ_DUMP, Buffer.concat(wire.pieces));
        const line = `case ${i} (${kind}, seed ${seed}): ${problems.join('; ')}\n  sent ${JSON.stringify(sent.length > 1500 ? `${sent.slice(0, 1500)}...` : sent)}\n  answers ${JSON.stringify(finals.map((a) => `${a.status} ${a.body.slice(0, 300)}`))}`;
        report.failures.push(line);
        log(line);
        if (stopOnFailure) break;
      }
    }
  } finally {
    sqs.destroy();
    ddb.destroy();
    await cloud.stop();
  }
  return report;
}

/** XML 1.0's Char production: a document with any other character is not well-formed. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters XML forbids.
const NOT_XML_CHAR = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function wellFormedXml(body: string): boolean {
  return body.startsWith('<?xml') && !NOT_XML_CHAR.test(body);
}
