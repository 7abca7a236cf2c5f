import { parseJson } from '../../shared/src/json-keys';
import { NOT_JSON, type ShapeBounds, shapeProblem } from '../json-shape';
import { errors, type SqsError } from './errors';
import {
  dict,
  type Input,
  NOT_XML_CHAR,
  noteQueryRepeat,
  noteRepeatedScalar,
  type Output,
} from './wire';

/**
 * The two wire protocols SQS speaks. AWS JSON 1.0 (current SDKs): `X-Amz-Target:
 * AmazonSQS.<Op>`, JSON in and out. Query (older SDKs, the AWS CLI v2 from Debian): a form POST
 * with `Action=<Op>` and flattened, 1-based parameters; XML out. Both become one JSON-shaped
 * input so the operations are written once.
 */

/**
 * The shape a JSON-protocol request body may have, judged before it is parsed (shapeProblem).
 * From SQS's API model: the deepest request is 6 levels (SendMessageBatch's request, `Entries`,
 * an entry, its `MessageAttributes`, an attribute value, its `StringListValues`); the most keys an
 * object can have are a queue's 50 tags (TagQueue, CreateQueue's `tags`; an attribute map has
 * under 25 names, a request at most 8 members, `MessageAttributes` 10); the longest list with a
 * documented bound is `Entries` (10), and `TagKeys`, `AttributeNames`, `MessageAttributeNames` and
 * AddPermission's lists have none. The largest request counts about 410 values (a
 * SendMessageBatch of 10 entries with 10 message attributes each; see ShapeBounds.values). The
 * bounds leave a wide margin: 10 levels, 1,000 keys, 1,000 elements (a Query request holds no
 * more parameters, MAX_QUERY_PARAMETERS) and 2,000 values. A request past the documented counts
 * but within these (11 attributes, 51 tags, 11 entries) keeps its own refusal. Past them the body
 * is refused as JSON SQS cannot read, unparsed: a 4 MiB body of 2 million nested arrays, or
 * of 300,000 escaped keys, had held the main thread (SQS, DynamoDB's proxy, the API, the live
 * view) about 1 s before the request was answered (found in audit), and one of a million empty
 * objects in lists of 1,000 about 0.15 s.
 */
export const JSON_REQUEST_SHAPE: Readonly<ShapeBounds> = {
  depth: 10,
  keys: 1000,
  items: 1000,
  values: 2000,
};

export function parseJsonRequest(body: Buffer): Input {
  if (body.length === 0) return {};
  let parsed: unknown;
  const text = body.toString('utf8');
  const problem = shapeProblem(text, JSON_REQUEST_SHAPE);
  // No JSON at all is JSON.parse's to find below, with its answer as before.
  if (problem !== undefined && problem !== NOT_JSON) {
    // The answer to a body that is no JSON (the same code and status; AWS's JSON protocol has no
    // other for a body it cannot read), saying what is past the bounds.
    throw errors.serialization(
      `The request body is not one SQS reads: ${problem}, more than any SQS request has.`,
    );
  }
  try {
    // parseJson, not JSON.parse: on Node 24 and 26 V8 can read an escaped key as a key an earlier
    // request had at that place (nodejs/node#63785), and `"\u0051ueueUrl"` went missing, or of a
    // QueueUrl given twice the first won where JSON keeps the last.
    parsed = parseJson(text);
  } catch {
    throw errors.serialization(
      'Start of structure or map found where not expected, or the request body is not valid JSON.',
    );
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw errors.serialization('The request body must be a JSON object.');
  }
  return parsed as Input;
}

type Tree = { [k: string]: Tree | string };

const SCALARS = [
  'QueueUrl',
  'QueueName',
  'QueueOwnerAWSAccountId',
  'MessageBody',
  'DelaySeconds',
  'MessageGroupId',
  'MessageDeduplicationId',
  'ReceiptHandle',
  'VisibilityTimeout',
  'MaxNumberOfMessages',
  'WaitTimeSeconds',
  'ReceiveRequestAttemptId',
  'QueueNamePrefix',
  'NextToken',
  'MaxResults',
  'SourceArn',
  'DestinationArn',
  'MaxNumberOfMessagesPerSecond',
  'TaskHandle',
  'Label',
];

const ENTRY_LISTS = [
  'SendMessageBatchRequestEntry',
  'DeleteMessageBatchRequestEntry',
  'ChangeMessageVisibilityBatchRequestEntry',
];

/**
 * The parameter names the emulator reads (every other one is ignored): the first segment of a
 * flattened name, and how deep a name goes at most, in parts
 * (`SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue`).
 */
const ROOTS: ReadonlySet<string> = new Set([
  'Action',
  ...SCALARS,
  'Attribute',
  'Tag',
  'Tags',
  'AttributeName',
  'MessageSystemAttributeName',
  'MessageAttributeName',
  'TagKey',
  'AWSAccountId',
  'ActionName',
  'MessageAttribute',
  'MessageSystemAttribute',
  ...ENTRY_LISTS,
]);
const MAX_PARTS = 6;
/** The longest name of that shape with indexes of up to 6 digits, and then some. */
const MAX_NAME_LENGTH = 128;
/**
 * Parameters whose repetition in one request is refused (refuseRepeatedAttribute,
 * refuseRepeatedTag, and a message attribute's through messageAttributeMap): only those the
 * emulator reads. A repeated parameter it never reads (`Attribute.1.Note`, `Attribute.x.Name`)
 * is ignored as any parameter it never reads is; it had been refused (found in review). No SDK
 * or CLI repeats a parameter (botocore's Query serializer and the AWS SDK for Java v1's
 * marshallers write each name once).
 */
const CHECKED_TWICE =
  /^(?:Attribute\.\d+\.(?:Name|Value)|Tags?\.\d+\.(?:Key|Value)|(?:SendMessageBatchRequestEntry\.\d+\.)?Message(?:System)?Attribute\.\d+\.(?:Name|Value\.(?:DataType|StringValue|BinaryValue)))$/;

/** The fields of a batch entry read as single values (see `entry`). */
const ENTRY_SCALARS = [
  'Id',
  'MessageBody',
  'DelaySeconds',
  'MessageGroupId',
  'MessageDeduplicationId',
  'ReceiptHandle',
  'VisibilityTimeout',
];

/** The flattened lists of strings, by the member they become. */
const STRING_LISTS: Readonly<Record<string, string>> = {
  AttributeName: 'AttributeNames',
  MessageSystemAttributeName: 'MessageSystemAttributeNames',
  MessageAttributeName: 'MessageAttributeNames',
  TagKey: 'TagKeys',
  AWSAccountId: 'AWSAccountIds',
  ActionName: 'Actions',
};

/**
 * A parameter that holds one value (`MessageBody`, `SendMessageBatchRequestEntry.1.Id`,
 * `AttributeName.2`): given twice, the later one had silently won (see repeatedScalar).
 */
const SCALAR_TWICE = new RegExp(
  `^(?:${SCALARS.join('|')}|(?:${ENTRY_LISTS.join('|')})\\.\\d+\\.(?:${ENTRY_SCALARS.join('|')})|(?:${Object.keys(STRING_LISTS).join('|')})\\.\\d+)$`,
);

/**
 * `A.1.B=x` -> { A: { '1': { B: 'x' } } }, for the names the emulator reads. A name it never reads
 * is skipped before it is split: a 4 MB name of dots (`....`) became 4 million nested maps and
 * held the main thread, and with it every surface of the local cloud, 7 s; 300,000 unknown names,
 * 1.3 s (found in review). Skipping them changes no answer.
 */
function unflatten(
  params: URLSearchParams,
  repeated: Set<string>,
  repeatedScalars: Set<string>,
): Tree {
  const root: Tree = dict();
  const attributeKeys = new Set<string>();
  const scalarKeys = new Set<string>();
  for (const [key, value] of params) {
    if (key.length > MAX_NAME_LENGTH) continue;
    const dot = key.indexOf('.');
    if (!ROOTS.has(dot < 0 ? key : key.slice(0, dot))) continue;
    if (CHECKED_TWICE.test(key)) {
      if (attributeKeys.has(key)) repeated.add(key);
      attributeKeys.add(key);
    } else if (SCALAR_TWICE.test(key)) {
      if (scalarKeys.has(key)) repeatedScalars.add(key);
      scalarKeys.add(key);
    }
    const parts = key.split('.');
    if (parts.length > MAX_PARTS) continue;
    let node: Tree = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const p = parts[i]!;
      const next = node[p];
      if (typeof next === 'string' || next === undefined) node[p] = dict();
      node = node[p] as Tree;
    }
    const last = parts[parts.length - 1]!;
    if (typeof node[last] !== 'object') node[last] = value;
  }
  return root;
}

/** A flattened list's items with their indexes as sent (`1`, `01`), in index order. */
const indexed = (t: Tree | string | undefined): [string, Tree | string][] => {
  if (t === undefined) return [];
  if (typeof t === 'string') return [['', t]];
  return Object.keys(t)
    .filter((k) => /^\d+$/.test(k))
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => [k, t[k]!]);
};

const list = (t: Tree | string | undefined): (Tree | string)[] => indexed(t).map(([, v]) => v);

/**
 * Every value of a flattened list of strings (`AttributeName.1=a&AttributeName.1=b&...`), a
 * repeated item too, in index order, then as sent: `list` keeps one value an item.
 */
function everyListItem(params: URLSearchParams, name: string): string[] {
  const items: [number, string][] = [];
  for (const [key, value] of params) {
    if (key === name) items.push([0, value]); // unnumbered, as `indexed` takes it
    if (key.length > MAX_NAME_LENGTH || !key.startsWith(`${name}.`)) continue;
    const index = key.slice(name.length + 1);
    if (/^\d+$/.test(index)) items.push([Number(index), value]);
  }
  return items.sort((a, b) => a[0] - b[0]).map(([, value]) => value);
}

const leaf = (t: Tree | string | undefined): string | undefined =>
  typeof t === 'string' ? t : undefined;

function nameValueMap(
  t: Tree | string | undefined,
  keyField = 'Name',
  valueField = 'Value',
  repeated?: Set<string>,
): Record<string, string> | undefined {
  const items = list(t);
  if (!items.length) return undefined;
  const out = dict<string>();
  for (const item of items) {
    if (typeof item === 'string') continue;
    const k = leaf(item[keyField]);
    if (k === undefined) continue;
    if (Object.hasOwn(out, k)) repeated?.add(k);
    out[k] = leaf(item[valueField]) ?? '';
  }
  return out;
}

/**
 * A queue attribute given twice in one Query request: two entries naming it
 * (`Attribute.1.Name=DelaySeconds&Attribute.2.Name=DelaySeconds`), or one entry's name or value
 * sent twice (`Attribute.1.Value=5&Attribute.1.Value=6`). The later one had silently won, so a
 * client's own mistake set a value it may not have meant. AWS's answer is not documented or
 * recorded; refused with InvalidAttributeName (the code AWS gives a queue attribute name it does
 * not take), naming what was repeated, before anything is read or changed.
 */
function refuseRepeatedAttribute(parameters: Set<string>, names: Set<string>): void {
  const [name] = names;
  if (name !== undefined) {
    throw errors.invalidAttributeName(`Attribute ${name} is specified more than once.`);
  }
  const [parameter] = [...parameters].filter((p) => p.startsWith('Attribute.'));
  if (parameter !== undefined) {
    throw errors.invalidAttributeName(`Parameter ${parameter} is specified more than once.`);
  }
}

/**
 * A tag given twice in one Query TagQueue or CreateQueue: two entries with one key
 * (`Tag.1.Key=a&Tag.2.Key=a`), or one entry's key or value sent twice. The last one had silently
 * won. AWS's answer is not documented or recorded (TagQueue's reference lists no tag error;
 * LocalStack's AWS-validated snapshots hold none); refused, by analogy with a queue attribute
 * given twice, with the code AWS gives a tag it does not take (InvalidParameterValue), before
 * anything is read or changed. `Tag` and `Tags` (aws-sdk-java v2's spelling) are one list here.
 */
function refuseRepeatedTag(parameters: Set<string>, keys: Set<string>): void {
  const [key] = keys;
  if (key !== undefined) throw errors.invalidParameter(`Tag ${key} is specified more than once.`);
  const [parameter] = [...parameters].filter((p) => /^Tags?\./.test(p));
  if (parameter !== undefined) {
    throw errors.invalidParameter(`Parameter ${parameter} is specified more than once.`);
  }
}

/**
 * A Query name/value entry that gives one half of the pair: `Attribute.1.Name=Policy` with no
 * `Attribute.1.Value` had been read as an empty value, which removes the policy; a value with no
 * name had been dropped. Refused as the parameter AWS requires and did not get (MissingParameter,
 * "The request must contain the parameter Attribute.1.Value.", AWS's answer to a SendMessage
 * without MessageBody, LocalStack's AWS-validated test_valid_action_with_missing_parameter_raises_exception);
 * what AWS answers for a half entry is not recorded. A tag may have no value (AWS: "The tag Value
 * may be empty or null"), so only a tag without a key is refused.
 */
function refuseHalfEntry(
  t: Tree | string | undefined,
  prefix: string,
  keyField: string,
  valueField: string | undefined,
): void {
  if (t === undefined || typeof t === 'string') return;
  const indexes = Object.keys(t)
    .filter((k) => /^\d+$/.test(k))
    .sort((a, b) => Number(a) - Number(b));
  for (const i of indexes) {
    const item = t[i];
    if (item === undefined || typeof item === 'string') continue;
    // `Attribute.1.Value.x=1` makes Value a map, no value: it too had been read as empty.
    const hasKey = typeof item[keyField] === 'string';
    const hasValue = valueField !== undefined && typeof item[valueField] === 'string';
    if (!hasKey && (hasValue || valueField === undefined)) {
      throw errors.missingParameter(`${prefix}.${i}.${keyField}`);
    }
    if (hasKey && valueField !== undefined && !hasValue) {
      throw errors.missingParameter(`${prefix}.${i}.${valueField}`);
    }
  }
}

/**
 * `MessageAttribute.n` / `MessageSystemAttribute.n` entries as the JSON map SendMessage reads.
 * An entry with a name and no value is a value with no DataType, and one with a value and no
 * name an attribute named "", so SendMessage refuses them as it refuses those over JSON
 * ("The message attribute 'k' must contain a DataType.", "Message (user) attribute name '' is
 * invalid.", InvalidParameterValue, per entry in a batch). They had been dropped silently and the
 * message sent without them. What AWS answers for a half entry is not recorded.
 *
 * A name two entries give (`MessageAttribute.1.Name=a&MessageAttribute.2.Name=a`), or a parameter
 * of `prefix` sent twice (`MessageAttribute.1.Value.StringValue` twice), is noted for SendMessage
 * to refuse (queryRepeat): the later one had silently won. What AWS answers is not recorded
 * either; refused as a queue attribute or tag given twice is, with InvalidParameterValue, the code
 * of AWS's other message attribute refusals.
 */
function messageAttributeMap(
  t: Tree | string | undefined,
  prefix: string,
  kind: 'user' | 'system',
  repeats: Repeats,
): Record<string, Input> | undefined {
  const items = list(t);
  if (!items.length) return undefined;
  const out = dict<Input>();
  const parameter = repeats.get(prefix);
  let repeated =
    parameter === undefined ? undefined : `Parameter ${parameter} is specified more than once.`;
  for (const item of items) {
    if (typeof item === 'string') continue;
    const given = leaf(item.Name);
    const v = item.Value;
    if (given === undefined && v === undefined) continue;
    const name = given ?? '';
    if (repeated === undefined && Object.hasOwn(out, name)) {
      repeated =
        kind === 'user'
          ? `Message (user) attribute '${name}' is specified more than once.`
          : `Message system attribute '${name}' is specified more than once.`;
    }
    if (typeof v !== 'object') {
      out[name] = {};
      continue;
    }
    out[name] = {
      DataType: leaf(v.DataType),
      ...(leaf(v.StringValue) !== undefined ? { StringValue: leaf(v.StringValue) } : {}),
      ...(leaf(v.BinaryValue) !== undefined ? { BinaryValue: leaf(v.BinaryValue) } : {}),
    };
  }
  if (repeated !== undefined) noteQueryRepeat(out, repeated);
  return out;
}

/**
 * The first repeated parameter of each message attribute list, by the list's name as sent
 * (`MessageAttribute`, `SendMessageBatchRequestEntry.3.MessageSystemAttribute`): found once a
 * request, so each map looks its own up. Each map had scanned every repeated parameter of the
 * request, and a batch of 20,000 entries that each repeated one held the main thread 100 s
 * (found in review).
 */
type Repeats = Map<string, string>;

const MESSAGE_ATTRIBUTE_LIST =
  /^((?:SendMessageBatchRequestEntry\.\d+\.)?Message(?:System)?Attribute)\./;

function repeatsByList(parameters: Set<string>): Repeats {
  const out: Repeats = new Map();
  for (const parameter of parameters) {
    const list = MESSAGE_ATTRIBUTE_LIST.exec(parameter)?.[1];
    if (list !== undefined && !out.has(list)) out.set(list, parameter);
  }
  return out;
}

/** The two message attribute maps of a SendMessage, or of one batch entry under `prefix`. */
function messageAttributeMaps(t: Tree, prefix: string, repeated: Repeats, into: Input): void {
  const attrs = messageAttributeMap(
    t.MessageAttribute,
    `${prefix}MessageAttribute`,
    'user',
    repeated,
  );
  if (attrs) into.MessageAttributes = attrs;
  const system = messageAttributeMap(
    t.MessageSystemAttribute,
    `${prefix}MessageSystemAttribute`,
    'system',
    repeated,
  );
  if (system) into.MessageSystemAttributes = system;
}

function entry(
  t: Tree | string,
  prefix: string,
  repeated: Repeats,
  repeatedScalars: Set<string>,
): Input {
  if (typeof t === 'string') return {};
  const out: Input = {};
  for (const k of ENTRY_SCALARS) {
    const v = leaf(t[k]);
    if (v !== undefined) out[k] = v;
    if (repeatedScalars.has(`${prefix}${k}`)) noteRepeatedScalar(out, k, `${prefix}${k}`);
  }
  messageAttributeMaps(t, prefix, repeated, out);
  return out;
}

/**
 * The parameters a Query request may have, counted before any is decoded. The largest request an
 * SQS action takes has under 400: a SendMessageBatch of 10 entries, each with its 5 fields, 10
 * message attributes of 3 parameters and a system attribute, and the request's own (Action,
 * QueueUrl, Version, a signature's). AWS publishes no count of its own; its limit is on size
 * (1 MiB for a batch, MAX_REQUEST_BYTES here). Past the cap a request is refused having decoded
 * nothing: a 4 MB form of 200,000 parameters had been decoded, split into a tree and its indexes
 * sorted whole, 2 to 4 s of the main thread, every surface of the local cloud waiting (found in
 * review).
 */
export const MAX_QUERY_PARAMETERS = 1000;

/**
 * The parameters in `text` (`&`-separated parts; an empty one counts too, though URLSearchParams
 * skips it and no client sends one), counted up to `max + 1` at most: a body of 4 million `&`
 * costs no more to count than one of 1,000.
 */
function countParameters(text: Buffer, max: number): number {
  if (text.length === 0) return 0;
  let count = 1;
  for (let at = text.indexOf(0x26); at >= 0 && count <= max; at = text.indexOf(0x26, at + 1)) {
    count++;
  }
  return count;
}

/**
 * A Query request: parameters from the query string and a form body. `pathQueueUrl` is the
 * queue URL the request path names (`/<account>/<queue>`): AWS's documented Query form gives the
 * queue as the path with no QueueUrl parameter (aws-sdk-java v1 sends it so); a QueueUrl
 * parameter, when there is one, wins.
 */
export function parseQueryRequest(
  body: Buffer,
  search: string,
  pathQueueUrl?: string,
): { action: string; input: Input } {
  const query = Buffer.from(search.startsWith('?') ? search.slice(1) : search);
  if (
    countParameters(query, MAX_QUERY_PARAMETERS) + countParameters(body, MAX_QUERY_PARAMETERS) >
    MAX_QUERY_PARAMETERS
  ) {
    throw errors.invalidParameter(
      `The request has more than ${MAX_QUERY_PARAMETERS} parameters; no SQS action takes that many.`,
    );
  }
  const params = new URLSearchParams(search);
  for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params.append(k, v);
  const action = params.get('Action');
  if (!action) throw errors.missingParameter('Action');
  // The action is read first (get: the first one); a second one, even the same, had been
  // ignored. Refused as any repeated parameter the emulator reads (see repeatedScalarsIn in
  // wire.ts).
  if (params.getAll('Action').length > 1) {
    throw errors.invalidParameter('Parameter Action is specified more than once.');
  }
  const repeatedParameters = new Set<string>();
  const repeatedScalarParameters = new Set<string>();
  const t = unflatten(params, repeatedParameters, repeatedScalarParameters);
  if (action === 'ReceiveMessage') {
    // The SQS model gives ReceiveMessage's AttributeNames and MessageSystemAttributeNames one
    // Query name, `AttributeName`: the AWS SDK's own Query serializer (@aws-sdk/core's
    // AwsQueryProtocol) writes both lists as `AttributeName.1`, `AttributeName.2`, ..., so a
    // receive asking for both gives `AttributeName.1` twice. Every value given is asked for.
    for (const p of repeatedScalarParameters) {
      if (p.startsWith('AttributeName.')) repeatedScalarParameters.delete(p);
    }
  }
  const input: Input = {};
  for (const k of SCALARS) {
    const v = leaf(t[k]);
    if (v !== undefined) input[k] = v;
  }
  for (const parameter of repeatedScalarParameters) {
    const dot = parameter.indexOf('.');
    if (dot < 0) noteRepeatedScalar(input, parameter, parameter);
    else {
      const member = STRING_LISTS[parameter.slice(0, dot)];
      if (member !== undefined) noteRepeatedScalar(input, member, parameter);
    }
  }
  const repeatedNames = new Set<string>();
  const attributes = nameValueMap(t.Attribute, 'Name', 'Value', repeatedNames);
  if (action === 'CreateQueue' || action === 'SetQueueAttributes') {
    refuseRepeatedAttribute(repeatedParameters, repeatedNames);
    refuseHalfEntry(t.Attribute, 'Attribute', 'Name', 'Value');
  }
  if (attributes) input.Attributes = attributes;
  const repeatedKeys = new Set<string>();
  const tags =
    nameValueMap(t.Tag, 'Key', 'Value', repeatedKeys) ??
    nameValueMap(t.Tags, 'Key', 'Value', repeatedKeys);
  if (action === 'CreateQueue' || action === 'TagQueue') {
    refuseRepeatedTag(repeatedParameters, repeatedKeys);
    refuseHalfEntry(t.Tag ?? t.Tags, t.Tag !== undefined ? 'Tag' : 'Tags', 'Key', undefined);
  }
  if (tags) input[action === 'CreateQueue' ? 'tags' : 'Tags'] = tags;
  const names =
    action === 'ReceiveMessage'
      ? everyListItem(params, 'AttributeName')
      : list(t.AttributeName).filter((x): x is string => typeof x === 'string');
  if (names.length) input.AttributeNames = names;
  const sysNames = list(t.MessageSystemAttributeName).filter(
    (x): x is string => typeof x === 'string',
  );
  if (sysNames.length) input.MessageSystemAttributeNames = sysNames;
  const msgAttrNames = list(t.MessageAttributeName).filter(
    (x): x is string => typeof x === 'string',
  );
  if (msgAttrNames.length) input.MessageAttributeNames = msgAttrNames;
  const tagKeys = list(t.TagKey).filter((x): x is string => typeof x === 'string');
  if (tagKeys.length) input.TagKeys = tagKeys;
  // AddPermission's lists (AWSAccountId.N, ActionName.N). The bare name with no value is how
  // botocore's Query serializer writes an empty list (`AWSAccountId=`): an empty list, as
  // `"AWSAccountIds": []` is over JSON, so both protocols get one answer (it had been a list of
  // one empty name: an account "" taken, an action "" refused as one SQS does not have).
  for (const [flat, member] of [
    ['AWSAccountId', 'AWSAccountIds'],
    ['ActionName', 'Actions'],
  ] as const) {
    const items = list(t[flat]).filter((x): x is string => typeof x === 'string');
    if (t[flat] === '') input[member] = [];
    else if (items.length) input[member] = items;
  }
  const repeats = repeatsByList(repeatedParameters);
  messageAttributeMaps(t, '', repeats, input);
  for (const field of ENTRY_LISTS) {
    if (t[field] !== undefined) {
      input.Entries = indexed(t[field]).map(([i, e]) =>
        entry(e, `${field}.${i}.`, repeats, repeatedScalarParameters),
      );
    }
  }
  if (input.QueueUrl === undefined && pathQueueUrl !== undefined) input.QueueUrl = pathQueueUrl;
  return { action, input };
}

/**
 * NOT_XML_CHAR (wire.ts), everywhere in a string: SQS refuses those characters in message bodies
 * and attribute values (InvalidMessageContents), but an answer can still carry text a client
 * chose: a value echoed in an error message (`Action=%00`: "The action \u0000 is not valid...",
 * or the refusal of a tag key outside AWS's tag characters), a queue policy. Written as they were,
 * the answer was no XML at all and the client read a parse failure instead of the error (found by
 * the edge fuzzer, test/integration/edge-fuzz.test.ts). Each one is written as U+FFFD, the
 * replacement character.
 */
const NOT_XML = new RegExp(NOT_XML_CHAR.source, 'gu');

const escapeXml = (s: string): string =>
  s
    .replace(
      /[&<>"'\r]/g,
      (c) =>
        ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#xD;' })[
          c
        ]!,
    )
    .replace(NOT_XML, '\uFFFD');

const el = (name: string, inner: string): string => `<${name}>${inner}</${name}>`;

const ENTRY_NAMES: Record<string, string> = {
  SendMessageBatch: 'SendMessageBatchResultEntry',
  DeleteMessageBatch: 'DeleteMessageBatchResultEntry',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibilityBatchResultEntry',
};

function xmlValue(action: string, key: string, value: unknown): string {
  if (value === undefined || value === null) return '';
  if (key === 'Attributes' && typeof value === 'object') {
    return Object.entries(value as Record<string, string>)
      .map(([k, v]) =>
        el('Attribute', el('Name', escapeXml(k)) + el('Value', escapeXml(String(v)))),
      )
      .join('');
  }
  if (key === 'Tags' && typeof value === 'object') {
    return Object.entries(value as Record<string, string>)
      .map(([k, v]) => el('Tag', el('Key', escapeXml(k)) + el('Value', escapeXml(String(v)))))
      .join('');
  }
  if (key === 'MessageAttributes' && typeof value === 'object') {
    return Object.entries(value as Record<string, Record<string, string>>)
      .map(([k, v]) =>
        el(
          'MessageAttribute',
          el('Name', escapeXml(k)) +
            el(
              'Value',
              Object.entries(v)
                .map(([f, x]) => el(f, escapeXml(String(x))))
                .join(''),
            ),
        ),
      )
      .join('');
  }
  if (Array.isArray(value)) {
    const item =
      key === 'Messages'
        ? 'Message'
        : key === 'QueueUrls' || key === 'queueUrls'
          ? 'QueueUrl'
          : key === 'Failed'
            ? 'BatchResultErrorEntry'
            : key === 'Successful'
              ? (ENTRY_NAMES[action] ?? 'Entry')
              : key === 'Results'
                ? 'ListMessageMoveTasksResultEntry'
                : key;
    return value
      .map((v) =>
        el(item, typeof v === 'object' ? xmlObject(action, v as Output) : escapeXml(String(v))),
      )
      .join('');
  }
  if (typeof value === 'object') return el(key, xmlObject(action, value as Output));
  return el(key, escapeXml(String(value)));
}

function xmlObject(action: string, obj: Output): string {
  return Object.entries(obj)
    .map(([k, v]) =>
      Array.isArray(v) || ['Attributes', 'Tags', 'MessageAttributes'].includes(k)
        ? xmlValue(action, k, v)
        : typeof v === 'object' && v !== null
          ? el(k, xmlObject(action, v as Output))
          : xmlValue(action, k, v),
    )
    .join('');
}

const XMLNS = 'http://queue.amazonaws.com/doc/2012-11-05/';

export function queryResponse(action: string, output: Output, requestId: string): string {
  return `<?xml version="1.0"?><${action}Response xmlns="${XMLNS}"><${action}Result>${xmlObject(action, output)}</${action}Result><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`;
}

export function queryError(err: SqsError, requestId: string): string {
  return queryErrorBody(err.fault, err.queryCode, err.message, requestId);
}

/**
 * SQS's XML `ErrorResponse`. Without a code the `Code` element is left out: Query-protocol
 * clients then report the message under `Unknown` (the edge's refusal of a bad Host, for which
 * AWS documents no code).
 */
export function queryErrorBody(
  fault: 'Sender' | 'Receiver',
  code: string | undefined,
  message: string,
  requestId: string,
): string {
  const codeElement = code === undefined ? '' : `<Code>${escapeXml(code)}</Code>`;
  return `<?xml version="1.0"?><ErrorResponse xmlns="${XMLNS}"><Error><Type>${fault}</Type>${codeElement}<Message>${escapeXml(message)}</Message><Detail/></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}

export function jsonError(err: SqsError): string {
  return JSON.stringify({ __type: `${err.namespace}#${err.code}`, message: err.message });
}
