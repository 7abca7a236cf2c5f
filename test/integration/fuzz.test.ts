import fc from 'fast-check';
import { type LocalCloud, localSqsClient, startLocalCloud } from '../../local/cloud';
import { ACTIONS } from '../../local/sqs/actions';
import { freshSeed } from '../../shared/src/random';
import { createFuzzQueues, fillQueues, queueArn } from '../support/fuzz-queues';
import { toQuery } from '../support/sqs-query';
import { type RawResponse, rawRequest } from './support/raw-http';
import { stopsAfterAll } from './support/stop-after-all';

/**
 * HTTP-level fuzzing of every surface of the local cloud: the edge (SQS over AWS JSON and over the
 * Query protocol, DynamoDB, the control and health endpoints, unknown routes) and the API gateway
 * with the real producer behind it. Random methods, paths, headers and bodies built around valid
 * requests (so cases get past the first check), bodies cut short, clients that vanish
 * mid-request, request targets in authority or absolute form, bodies nested thousands of levels
 * deep. After every case: no 5xx but a deliberate AWS InternalError, the edge answers its health
 * check with every component serving, DynamoDB answers with the pipeline's tables, the API still
 * answers, Object.prototype is untouched.
 *
 * Bounded: FUZZ_RUNS cases per surface (default 200) and a time limit per surface, so a loaded
 * machine runs fewer cases, never a longer test; the counts are printed. The seed is printed;
 * FUZZ_SEED=<n> repeats the same requests in the same order (server-side timing, and so which
 * long polls end empty, is not part of what it repeats).
 */

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : freshSeed();
const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const TIME_LIMIT_MS = 40_000;

const PROTO_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'];
type Headers = [string, string][];

/** Every own property of Object.prototype with its value. */
function prototypeSnapshot(): Map<string, unknown> {
  return new Map(
    Reflect.ownKeys(Object.prototype).map((k) => [
      String(k),
      Object.getOwnPropertyDescriptor(Object.prototype, k)?.value,
    ]),
  );
}

interface FuzzRequest {
  method: string;
  path: string;
  headers: Headers;
  body: string;
  /** The Content-Length claims more than is sent. */
  truncated: boolean;
  ending: 'wait' | 'half-close' | 'vanish';
}

function render(r: FuzzRequest): string {
  const bytes = Buffer.byteLength(r.body);
  const length = r.truncated ? bytes + 1 + (bytes % 97) : bytes;
  const headers: Headers = [
    ['Host', '127.0.0.1'],
    ...r.headers,
    ['Content-Length', String(length)],
    ['Connection', 'close'],
  ];
  const head = headers.map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return `${r.method} ${r.path} HTTP/1.1\r\n${head}\r\n${r.body}`;
}

// --- generators shared by the surfaces ---------------------------------------------------------

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 40,
});

const method = fc.constantFrom('PUT', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH', 'FOO', 'GET', 'POST');

/** Paths that reach every route of the edge and the API, and many that reach none. */
const anyPath = fc
  .oneof(
    fc.constantFrom(
      '/',
      '/_emulator/clock',
      '/_emulator/faults',
      '/_emulator/x',
      '/_localcloud/health',
      '/orders',
      '/orders/',
      '//[',
      '/%',
      '/orders/%E0%A4%A',
      '/000000000000/q',
      '/?Action=ListQueues',
      '/?Action=',
      // Authority-form, absolute-form and IPv6 literals: legacy url.parse throws on some.
      '//a:b@[x',
      'http://[::1',
      '//[@]/',
      '//evil.example/orders',
      'http://evil.example/orders',
      '*',
    ),
    fc
      .tuple(
        fc.constantFrom('//', 'http://', 'https://', '/'),
        fc.stringMatching(/^[a-z:@[\]0-9.]{0,12}$/),
        fc.constantFrom('', '/', '/orders', '/?Action=ListQueues'),
      )
      .map(([scheme, authority, rest]) => `${scheme}${authority}${rest}`),
    fc.string({ maxLength: 30 }).map((s) => `/${encodeURI(s)}`),
    fc
      .tuple(fc.constantFrom('/orders/', '/?Action=', '/_emulator/'), fc.string({ maxLength: 20 }))
      .map(([a, b]) => `${a}${encodeURIComponent(b)}`),
    fc.constantFrom(...PROTO_NAMES).map((n) => `/orders/${n}?${n}=1&${n}.x=2`),
  )
  // The live view's stream stays open by design: a request to it is not a case with an end.
  .filter((p) => !p.startsWith('/_localcloud/live'));

/** Mostly none: a browser header or an `Expect` makes the guard or Node answer before a backend. */
const extraHeaders = fc.oneof(
  { weight: 5, arbitrary: fc.constant<Headers>([]) },
  {
    weight: 1,
    arbitrary: fc.array(
      fc.tuple(
        fc.oneof(
          fc.constantFrom(
            ...PROTO_NAMES,
            'Origin',
            'Referer',
            'Sec-Fetch-Site',
            'Expect',
            'Transfer-Encoding',
            'X-Amz-Target',
          ),
          fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/),
        ),
        printable,
      ),
      { minLength: 1, maxLength: 3 },
    ),
  },
);

/** Now and then a body shorter than its Content-Length. */
const cut = fc.oneof(
  { weight: 7, arbitrary: fc.constant(false) },
  { weight: 1, arbitrary: fc.constant(true) },
);

const ending = fc.oneof(
  { weight: 8, arbitrary: fc.constant<'wait'>('wait') },
  { weight: 1, arbitrary: fc.constant<'half-close'>('half-close') },
  { weight: 1, arbitrary: fc.constant<'vanish'>('vanish') },
);

/**
 * JSON text nested `depth` levels around `inner` (built as text: JSON.stringify itself recurses),
 * from a few levels to far past what any parser that recurses survives.
 */
function deepJson(inner = '"x"'): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.oneof(
        fc.integer({ min: 30, max: 130 }),
        fc.integer({ min: 1_000, max: 5_000 }),
        fc.integer({ min: 15_000, max: 25_000 }),
      ),
      fc.constantFrom(['{"M":{"a":', '}}'], ['{"L":[', ']}'], ['[', ']'], ['{"a":', '}']),
    )
    .map(([depth, [open, close]]) => `${open.repeat(depth)}${inner}${close.repeat(depth)}`);
}

/** Any JSON value, with names from `keys` as map keys. */
function jsonValue(strings: fc.Arbitrary<string>, keys: string[]): fc.Arbitrary<unknown> {
  return fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      strings,
      fc.integer({ min: -2, max: 50_000 }),
      fc.constantFrom(0, 1, 10, 11, 20, 21, 43_200, 43_201, 1e308, -0, 0.5),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie('value'), { maxLength: 3 }),
      fc.dictionary(fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 8 })), tie('value'), {
        maxKeys: 4,
      }),
    ),
  })).value;
}

/**
 * A record whose members are each present only now and then (`always` ones nearly always): a
 * request with few members passes its action's checks more often and reaches the state.
 */
function sparse<T extends Record<string, fc.Arbitrary<unknown>>>(
  shape: T,
  always: (keyof T)[] = [],
): fc.Arbitrary<Record<string, unknown>> {
  const members = Object.fromEntries(
    Object.entries(shape).map(([k, arb]) => [
      k,
      always.includes(k)
        ? fc.oneof({ weight: 12, arbitrary: arb }, { weight: 1, arbitrary: fc.constant(undefined) })
        : fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb }),
    ]),
  );
  return fc
    .record(members)
    .map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
}

/** Now and then `arb`, mostly null. */
const rarely = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });

/** Mostly `valid`, sometimes any JSON value: cases pass the first checks and reach the next. */
const mostly = <T>(valid: fc.Arbitrary<T>, hostile: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 6, arbitrary: valid as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: hostile },
  );

describe('HTTP fuzzing of the local cloud', () => {
  const keep = stopsAfterAll();
  let cloud: LocalCloud;
  const before = prototypeSnapshot();
  const counts: Record<string, number> = {};
  /** Answers by status per surface: shows how deep the cases reached. */
  const statuses: Record<string, Record<string, number>> = {};
  /** The fuzz's own queues: the pipeline's are left alone, so the API surface stays meaningful. */
  let queues: string[] = [];
  let arns: string[] = [];
  const handles: string[] = [];

  beforeAll(async () => {
    process.stdout.write(
      `fuzz: seed ${SEED} (FUZZ_SEED=${SEED} repeats these requests), up to ${RUNS} cases per surface\n`,
    );
    cloud = await keep(
      startLocalCloud({
        port: 0,
        apiPort: 0,
        seed: 11,
        faults: 'none',
        pollWaitSeconds: 1,
      }),
    );
    const sqs = localSqsClient(cloud.edgeUrl, cloud.region);
    try {
      const { std, fifo, dlq, fifoDlq } = await createFuzzQueues(sqs);
      queues = [std, fifo, dlq, fifoDlq];
      arns = await Promise.all(queues.map((url) => queueArn(sqs, url)));
      handles.push(
        ...(await fillQueues(sqs, queues, {
          count: 3,
          fifoIds: (n) => ({ MessageGroupId: `g${n}`, MessageDeduplicationId: `d${n}` }),
          receive: (i) => ({ MaxNumberOfMessages: 3, VisibilityTimeout: i }),
        })),
      );
    } finally {
      sqs.destroy();
    }
  }, 60_000);

  afterAll(async () => {
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const bySurface = Object.entries(counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    process.stdout.write(`fuzz: ran ${total} cases (${bySurface}), seed ${SEED}\n`);
    for (const [surface, seen] of Object.entries(statuses)) {
      const line = Object.entries(seen)
        .map(([status, n]) => `${status}x${n}`)
        .join(' ');
      process.stdout.write(`fuzz: ${surface} answered ${line}\n`);
    }
  });

  const listTables =
    'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n' +
    'Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=abc\r\n' +
    'X-Amz-Date: 20260101T000000Z\r\nContent-Type: application/x-amz-json-1.0\r\n' +
    'Content-Length: 2\r\nConnection: close\r\n\r\n{}';
  const get = (url: string, path: string) =>
    rawRequest(url, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);

  /** What every case must leave true. */
  async function invariants(answer: RawResponse | undefined): Promise<void> {
    if (answer && answer.status >= 500) {
      // The only 5xx allowed is the deliberate one of a backend that failed, in AWS's shape.
      expect({ status: answer.status, body: answer.body }).toEqual({
        status: 500,
        body: expect.stringContaining('InternalError'),
      });
    }
    expect((await get(cloud.edgeUrl, '/_localcloud/health'))?.status).toBe(200);
    // DynamoDB answers, with the pipeline's tables: a thread that died (and every table with it)
    // or one that was restarted empty both fail here.
    const tables = await rawRequest(cloud.edgeUrl, listTables);
    expect({ status: tables?.status, body: JSON.parse(tables?.body ?? '{}') }).toEqual({
      status: 200,
      body: { TableNames: expect.arrayContaining(Object.values(cloud.tableNames)) },
    });
    expect((await get(cloud.apiUrl, '/nope'))?.status).toBe(403);
    expect(prototypeSnapshot()).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  }

  async function fuzz(surface: string, target: () => string, request: fc.Arbitrary<FuzzRequest>) {
    let ran = 0;
    const seen: Record<string, number> = {};
    statuses[surface] = seen;
    // A counterexample prints as the request it sends, a deep body cut to its two ends.
    const printable = request.map((r) =>
      Object.assign(r, {
        [fc.toStringMethod]: () =>
          JSON.stringify(
            render({
              ...r,
              body:
                r.body.length > 400
                  ? `${r.body.slice(0, 150)}...(${r.body.length} chars)...${r.body.slice(-150)}`
                  : r.body,
            }),
          ),
      }),
    );
    const details = await fc.check(
      fc.asyncProperty(printable, async (r) => {
        ran++;
        // A body cut short is followed by the client leaving: waiting would only meet the
        // server's request timeout.
        const then = r.truncated && r.ending === 'wait' ? 'half-close' : r.ending;
        const answer = await rawRequest(target(), render(r), { timeoutMs: 25_000, then });
        const key = answer ? String(answer.status) : 'none';
        seen[key] = (seen[key] ?? 0) + 1;
        await invariants(then === 'wait' ? answer : undefined);
      }),
      {
        seed: SEED,
        numRuns: RUNS,
        interruptAfterTimeLimit: TIME_LIMIT_MS,
        markInterruptAsFailure: false,
        endOnFailure: true,
      },
    );
    counts[surface] = ran;
    if (details.failed)
      throw new Error(fc.defaultReportMessage(details) ?? `fuzz ${surface} failed`);
    expect(ran).toBeGreaterThan(0);
  }

  const strings = () =>
    fc.oneof(
      fc.constantFrom(
        ...queues,
        ...queues.map((u) => `${u}-nope`),
        ...arns,
        ...handles,
        'All',
        '.*',
        '',
        'x'.repeat(300),
        '\u0000',
        'a\u0001b',
        ...PROTO_NAMES,
        'null',
        '[]',
      ),
      fc.string({ maxLength: 20 }),
    );

  const SQS_KEYS = [
    'QueueUrl',
    'QueueName',
    'MessageBody',
    'Entries',
    'Id',
    'Attributes',
    'AttributeNames',
    'MessageAttributes',
    'MessageAttributeNames',
    'MessageSystemAttributeNames',
    'MaxNumberOfMessages',
    'WaitTimeSeconds',
    'VisibilityTimeout',
    'ReceiptHandle',
    'Tags',
    'TagKeys',
    'DelaySeconds',
    'MessageGroupId',
    'DataType',
    'StringValue',
    ...PROTO_NAMES,
  ];

  /** An SQS request in JSON shape: mostly valid members for some action, some hostile. */
  function sqsRequest(): fc.Arbitrary<[string, Record<string, unknown>]> {
    const hostile = jsonValue(strings(), SQS_KEYS);
    const small = mostly(fc.integer({ min: 0, max: 12 }), hostile);
    const body = mostly(fc.string({ minLength: 1, maxLength: 30 }), hostile);
    const group = mostly(fc.constantFrom('g1', 'g2', 'g3', 'a b'), hostile);
    const attribute = fc.record(
      {
        DataType: fc.constantFrom('String', 'Number', 'Binary', 'String.x', 'Bogus'),
        StringValue: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('1', '')),
        BinaryValue: fc.constantFrom('AAEC', '!!'),
      },
      { requiredKeys: ['DataType'] },
    );
    const names = (pool: string[]) =>
      mostly(fc.array(fc.constantFrom(...pool), { maxLength: 3 }), hostile);
    const entry = fc.record(
      {
        Id: fc.constantFrom('a', 'b', 'c', 'a:b', '', ...PROTO_NAMES),
        MessageBody: body,
        ReceiptHandle: strings(),
        VisibilityTimeout: small,
        MessageGroupId: group,
        MessageDeduplicationId: fc.string({ maxLength: 4 }),
        DelaySeconds: small,
      },
      { requiredKeys: ['Id'] },
    );
    const input = sparse(
      {
        QueueUrl: mostly(fc.constantFrom(...queues), strings()),
        QueueName: fc.constantFrom(
          'fz-new',
          'fz-new.fifo',
          'bad name',
          'x'.repeat(81),
          ...PROTO_NAMES,
        ),
        MessageBody: body,
        MessageGroupId: group,
        MessageDeduplicationId: mostly(fc.stringMatching(/^[a-z0-9]{1,4}$/), hostile),
        DelaySeconds: small,
        MaxNumberOfMessages: small,
        WaitTimeSeconds: fc.constantFrom(0, 0, 0, 1, 21, -1),
        VisibilityTimeout: small,
        ReceiptHandle: strings(),
        MessageAttributes: mostly(
          fc.dictionary(
            fc.oneof(
              fc.constantFrom('a', 'b.c', 'AWS.x', ...PROTO_NAMES),
              fc.string({ maxLength: 5 }),
            ),
            attribute,
            { maxKeys: 3 },
          ),
          hostile,
        ),
        MessageSystemAttributes: fc.constantFrom(
          { AWSTraceHeader: { DataType: 'String', StringValue: 'Root=1' } },
          { Bogus: { DataType: 'String', StringValue: 'x' } },
        ),
        MessageAttributeNames: names(['All', '.*', 'a', 'b.*', ...PROTO_NAMES]),
        MessageSystemAttributeNames: names([
          'All',
          'SentTimestamp',
          'DeadLetterQueueSourceArn',
          'Bogus',
          ...PROTO_NAMES,
        ]),
        AttributeNames: names([
          'All',
          'QueueArn',
          'ApproximateNumberOfMessages',
          'Bogus',
          ...PROTO_NAMES,
        ]),
        Attributes: mostly(
          fc.dictionary(
            fc.constantFrom(
              'VisibilityTimeout',
              'DelaySeconds',
              'RedrivePolicy',
              'RedriveAllowPolicy',
              'FifoQueue',
              'Policy',
              'MaximumMessageSize',
              ...PROTO_NAMES,
            ),
            fc.oneof(
              fc.constantFrom(
                '0',
                '30',
                '43201',
                'true',
                'false',
                'null',
                '[]',
                '{}',
                JSON.stringify({ deadLetterTargetArn: arns[2], maxReceiveCount: 3 }),
              ),
              fc.string({ maxLength: 5 }),
            ),
            { maxKeys: 3 },
          ),
          hostile,
        ),
        Entries: mostly(fc.array(entry, { maxLength: 4 }), hostile),
        Tags: mostly(
          fc.dictionary(
            fc.oneof(fc.constantFrom(...PROTO_NAMES), fc.string({ maxLength: 6 })),
            fc.string({ maxLength: 6 }),
            { maxKeys: 3 },
          ),
          hostile,
        ),
        TagKeys: names(['a', 'b', ...PROTO_NAMES]),
        SourceArn: fc.constantFrom(...arns, 'arn:aws:sqs:us-east-1:000000000000:nope'),
        DestinationArn: fc.constantFrom(...arns),
        MaxNumberOfMessagesPerSecond: fc.constantFrom(1, 500, 501),
        TaskHandle: strings(),
        Label: fc.string({ maxLength: 5 }),
      },
      ['QueueUrl', 'MessageBody', 'Entries'],
    );
    // Deleting or purging the fuzz's queues would leave little to reach; it stays possible, rarely.
    const action = fc.oneof(
      {
        weight: 20,
        arbitrary: fc.constantFrom(
          ...Object.keys(ACTIONS).filter((a) => a !== 'DeleteQueue' && a !== 'PurgeQueue'),
        ),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          'DeleteQueue',
          'PurgeQueue',
          'Bogus',
          '__proto__',
          'constructor',
        ),
      },
    );
    return fc.tuple(action, input);
  }

  it('SQS over AWS JSON 1.0', async () => {
    const request = fc
      .record({
        method: fc.oneof(
          { weight: 12, arbitrary: fc.constant('POST') },
          { weight: 1, arbitrary: method },
        ),
        path: fc.oneof(
          { weight: 12, arbitrary: fc.constant('/') },
          { weight: 1, arbitrary: anyPath },
        ),
        target: sqsRequest(),
        type: fc.constantFrom(
          'application/x-amz-json-1.0',
          'application/x-amz-json-1.0',
          'application/json',
          'text/plain',
        ),
        extra: extraHeaders,
        mangle: fc.oneof(
          { weight: 8, arbitrary: fc.constant('none') },
          { weight: 1, arbitrary: fc.constantFrom('cut', 'garbage', 'deep') },
        ),
        garbage: fc.string({ maxLength: 30 }),
        deep: deepJson(),
        truncated: cut,
        ending,
      })
      .map(
        ({ target: [action, input], type, extra, mangle, garbage, deep, ...rest }): FuzzRequest => {
          const json = JSON.stringify(input);
          const body =
            mangle === 'cut'
              ? json.slice(0, json.length >> 1)
              : mangle === 'garbage'
                ? garbage
                : mangle === 'deep'
                  ? `{"QueueUrl":"${queues[0]}","MessageBody":"x","MessageAttributes":${deep}}`
                  : json;
          return {
            ...rest,
            body,
            headers: [['X-Amz-Target', `AmazonSQS.${action}`], ['Content-Type', type], ...extra],
          };
        },
      );
    await fuzz('sqs-json', () => cloud.edgeUrl, request);
  }, 120_000);

  it('SQS over the Query protocol', async () => {
    const request = fc
      .record({
        method: fc.constantFrom('POST', 'POST', 'POST', 'GET'),
        target: sqsRequest(),
        extraPairs: fc.array(
          fc.tuple(
            fc
              .array(
                fc.oneof(
                  fc.constantFrom(...SQS_KEYS, 'Name', 'Value', 'Attribute', 'MessageAttribute'),
                  fc.integer({ min: 0, max: 11 }).map(String),
                ),
                { minLength: 1, maxLength: 4 },
              )
              .map((p) => p.join('.')),
            strings(),
          ),
          { maxLength: 3 },
        ),
        extra: extraHeaders,
        truncated: cut,
        ending,
      })
      .map(({ method: m, target: [action, input], extraPairs, extra, ...rest }): FuzzRequest => {
        const form = new URLSearchParams([...toQuery(action, input), ...extraPairs]).toString();
        // A GET carries its parameters in the URL, as `GET /?Action=...` does.
        return m === 'GET'
          ? { ...rest, method: m, path: `/?${form}`, body: '', headers: extra }
          : {
              ...rest,
              method: m,
              path: '/',
              body: form,
              headers: [['Content-Type', 'application/x-www-form-urlencoded'], ...extra],
            };
      });
    await fuzz('sqs-query', () => cloud.edgeUrl, request);
  }, 120_000);

  it('DynamoDB, the control and health endpoints, and unknown routes on the edge', async () => {
    const ddbKeys = [
      'TableName',
      'Key',
      'Item',
      'KeyConditionExpression',
      'ExpressionAttributeValues',
      'ExpressionAttributeNames',
      'ConditionExpression',
      'UpdateExpression',
      'Limit',
      'ExclusiveStartKey',
      'RequestItems',
      'KeySchema',
      'AttributeDefinitions',
      'S',
      'N',
      'B',
      'M',
      'L',
      ...PROTO_NAMES,
    ];
    const tables = [cloud.tableNames.ledger, cloud.tableNames.idempotency];
    const ddbStrings = fc.oneof(
      fc.constantFrom(
        ...tables,
        'pk = :p',
        ':p',
        '#n',
        'SET #a = :v',
        'attribute_not_exists(pk)',
        ...PROTO_NAMES,
      ),
      fc.string({ maxLength: 12 }),
    );
    const signed: Headers = [
      [
        'Authorization',
        'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=abc',
      ],
      ['X-Amz-Date', '20260101T000000Z'],
    ];
    const dynamodb = fc.record({
      method: fc.oneof(
        { weight: 8, arbitrary: fc.constant('POST') },
        { weight: 1, arbitrary: method },
      ),
      path: fc.oneof({ weight: 8, arbitrary: fc.constant('/') }, { weight: 1, arbitrary: anyPath }),
      headers: fc
        .tuple(
          fc.oneof(
            fc.constantFrom(
              'ListTables',
              'GetItem',
              'PutItem',
              'Query',
              'Scan',
              'UpdateItem',
              'DeleteItem',
              'BatchWriteItem',
              'BatchGetItem',
              'DescribeTable',
              'TransactWriteItems',
              'Bogus',
            ),
            printable,
          ),
          fc.constantFrom('application/x-amz-json-1.0', 'application/json', 'text/plain'),
          fc.boolean(),
          extraHeaders,
        )
        .map(
          ([op, type, sign, extra]): Headers => [
            ['X-Amz-Target', `DynamoDB_20120810.${op}`],
            ['Content-Type', type],
            ...(sign ? signed : []),
            ...extra,
          ],
        ),
      body: fc.oneof(
        {
          weight: 6,
          arbitrary: fc
            .dictionary(fc.constantFrom(...ddbKeys), jsonValue(ddbStrings, ddbKeys), { maxKeys: 5 })
            .map((o) => JSON.stringify(o)),
        },
        { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
      ),
      truncated: cut,
      ending,
    });
    // Requests that get past every check before dynalite's url.parse (a valid operation and body,
    // any target) or before its recursive validation (signed, a deep item on "/").
    const target = fc.oneof(
      fc.constantFrom('//a:b@[x', 'http://[::1', '//[@]/', 'http://[', '//a@[:/', '*'),
      fc
        .tuple(
          fc.constantFrom('//', 'http://', '/'),
          fc.stringMatching(/^[a-z:@[\]0-9.]{0,12}$/),
          fc.constantFrom('', '/', '/?a=b'),
        )
        .map(([scheme, authority, rest]) => `${scheme}${authority}${rest}`),
    );
    const deepItem = fc
      .tuple(fc.constantFrom(...tables), deepJson('{"S":"x"}'))
      .map(
        ([table, deep]) =>
          `{"TableName":"${table}","Item":{"pk":{"S":"k"},"sk":{"S":"s"},"d":${deep}}}`,
      );
    // Conditions nested in parentheses, up to and past DynamoDB's 4 KB: each level had tripled
    // the time dynalite's parser took, on DynamoDB's thread (20 levels, 16 s).
    const nested = fc
      .tuple(
        fc.integer({ min: 20, max: 2_000 }),
        fc.constantFrom('(%)', '(pk = :v OR %)', 'NOT (%)', '(% AND attribute_exists(pk))'),
      )
      .map(([levels, wrap]) => {
        let expression = 'pk = :v';
        for (let i = 0; i < levels; i++) expression = wrap.replace('%', expression);
        return expression;
      });
    const dynamodbPastChecks = fc
      .oneof(
        target.map((path) => ({ path, op: 'ListTables', body: '{}' })),
        fc.tuple(fc.constantFrom(...tables), nested).map(([table, expression]) => ({
          path: '/',
          op: 'Scan',
          body: JSON.stringify({
            TableName: table,
            FilterExpression: expression,
            ExpressionAttributeValues: { ':v': { S: 'x' } },
          }),
        })),
        deepItem.map((body) => ({ path: '/', op: 'PutItem', body })),
        deepItem.map((body) => ({
          path: '/',
          op: 'BatchWriteItem',
          body: `{"RequestItems":{"${tables[0]}":[{"PutRequest":${body}}]}}`,
        })),
      )
      .map(
        ({ path, op, body }): FuzzRequest => ({
          method: 'POST',
          path,
          headers: [
            ['X-Amz-Target', `DynamoDB_20120810.${op}`],
            ['Content-Type', 'application/x-amz-json-1.0'],
            ...signed,
          ],
          body,
          truncated: false,
          ending: 'wait',
        }),
      );
    const control = fc.record({
      method: fc.constantFrom('POST', 'GET', 'POST'),
      path: fc.constantFrom('/_emulator/clock', '/_emulator/faults'),
      headers: fc
        .tuple(fc.constantFrom('application/json', 'text/plain'), extraHeaders)
        .map(([type, extra]): Headers => [['Content-Type', type], ...extra]),
      body: fc.oneof(
        fc
          .record(
            {
              advanceMs: mostly(
                fc.constantFrom(0, 1000, 60_000, 1e12, 1e308, -1, 0.5),
                jsonValue(fc.string(), ['advanceMs']),
              ),
            },
            { requiredKeys: [] },
          )
          .map((o) => JSON.stringify(o)),
        fc
          .record(
            {
              preset: fc.constantFrom('none', 'demo', 'chaos', 'bogus', ...PROTO_NAMES),
              duplicateRate: fc.constantFrom(0, 0.5, 2, -1),
            },
            { requiredKeys: [] },
          )
          .map((o) => JSON.stringify(o)),
        jsonValue(fc.string(), ['advanceMs', 'preset', ...PROTO_NAMES]).map(
          (v) => JSON.stringify(v) ?? '',
        ),
      ),
      truncated: cut,
      ending,
    });
    const other = fc.record({
      method,
      path: anyPath,
      headers: fc.array(
        fc.tuple(fc.constantFrom('Content-Type', 'X-Amz-Target', ...PROTO_NAMES), printable),
        { maxLength: 3 },
      ),
      body: fc.string({ maxLength: 30 }),
      truncated: cut,
      ending,
    });
    const request = fc.oneof(
      { weight: 4, arbitrary: dynamodb },
      { weight: 1, arbitrary: dynamodbPastChecks },
      { weight: 2, arbitrary: control },
      { weight: 2, arbitrary: other },
    );
    await fuzz('edge', () => cloud.edgeUrl, request);
  }, 120_000);
  it('the API gateway and the producer behind it', async () => {
    const orderKeys = [
      'customerId',
      'items',
      'amount',
      'currency',
      'sku',
      'quantity',
      'unitPrice',
      ...PROTO_NAMES,
    ];
    const hostile = jsonValue(fc.string({ maxLength: 6 }), orderKeys);
    // A valid order (the amount is its items' total), or one with hostile members.
    const valid = fc
      .record({
        customerId: fc.constantFrom('c-1', 'c-2', 'c-3'),
        items: fc.array(
          fc.record({
            sku: fc.constantFrom('a', 'b'),
            quantity: fc.integer({ min: 1, max: 3 }),
            unitPrice: fc.constantFrom(1, 5),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        currency: fc.constant('EUR'),
      })
      .map((o) => ({ ...o, amount: o.items.reduce((n, i) => n + i.quantity * i.unitPrice, 0) }));
    const mangled = fc.record(
      {
        customerId: mostly(fc.constantFrom('c-1', 'c-2', 'x'.repeat(200), ''), hostile),
        items: mostly(
          fc.array(
            fc.record(
              {
                sku: mostly(fc.constantFrom('a', 'b'), hostile),
                quantity: mostly(fc.integer({ min: -1, max: 5 }), hostile),
                unitPrice: mostly(fc.constantFrom(0, 1, 5, -1, 1e308), hostile),
              },
              { requiredKeys: [] },
            ),
            { maxLength: 3 },
          ),
          hostile,
        ),
        amount: mostly(fc.constantFrom(5, 10, 0, -1, 1e308), hostile),
        currency: mostly(fc.constantFrom('EUR', 'USD', 'eur', '', 'EURO'), hostile),
      },
      { requiredKeys: [] },
    );
    const order = fc.oneof(valid, mangled);
    const route = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.constantFrom<[string, string]>(['POST', '/orders'], ['POST', '/orders/']),
      },
      {
        weight: 2,
        arbitrary: fc
          .string({ maxLength: 12 })
          .map((s): [string, string] => ['GET', `/orders/${encodeURIComponent(s)}`]),
      },
      { weight: 1, arbitrary: fc.tuple(method, anyPath) },
    );
    const request = fc
      .record({
        route,
        headers: fc
          .tuple(
            fc.constantFrom(
              'application/json',
              'application/json',
              'text/plain',
              'application/json; charset=utf-8',
              '',
            ),
            rarely(fc.oneof(fc.constantFrom('key-1', 'key-2'), printable)),
            rarely(fc.oneof(fc.constant('fuzz-run'), printable)),
            extraHeaders,
          )
          .map(
            ([type, key, run, extra]): Headers => [
              ...(type ? ([['Content-Type', type]] as Headers) : []),
              ...(key !== null ? ([['Idempotency-Key', key]] as Headers) : []),
              ...(run !== null ? ([['X-Run-Id', run]] as Headers) : []),
              ...extra,
            ],
          ),
        body: fc.oneof(
          { weight: 6, arbitrary: order.map((o) => JSON.stringify(o)) },
          { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
          {
            weight: 1,
            arbitrary: deepJson().map(
              (deep) =>
                `{"customerId":"c-1","items":${deep},"amount":5,"currency":"EUR","x":${deep}}`,
            ),
          },
        ),
        truncated: cut,
        ending,
      })
      .map(({ route: [m, p], ...rest }): FuzzRequest => ({ ...rest, method: m, path: p }));
    await fuzz('api', () => cloud.apiUrl, request);
  }, 120_000);
});
