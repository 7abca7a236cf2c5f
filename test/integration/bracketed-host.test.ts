import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { LocalCloud } from '../../local/cloud';
import { type PausedCloud, startPausedCloud } from './support/paused-cloud';
import { formRequest, hostRequest, rawRequest } from './support/raw-http';
import { stopsAfterAll } from './support/stop-after-all';

/**
 * Host values with IPv6 brackets, sent as is over a socket (fetch and the SDKs build Host from a
 * URL and would not send them) to the three things the local cloud answers on: the API (an order,
 * which the producer puts on both queues), the edge's SQS (CreateQueue) and the edge's DynamoDB
 * (CreateTable). RFC 3986 3.2.2: brackets hold an IPv6 address, and "this is the only place where
 * square bracket characters are allowed in the URI syntax"; RFC 9112 3.2 answers a Host with an
 * invalid value 400. Found in review: `[::1`, `[::1]junk` and the like were read as `::1`, passed
 * the browser guard as loopback and reached the handler's event (`headers.Host`,
 * `requestContext.domainName`) and SQS's queue URLs.
 */

const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

const xmlEscaped = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** No Host a server may take: each must be a 400 that changes nothing, on every port. */
const MALFORMED: readonly (readonly [string, string])[] = [
  ['a bracket never closed', '[::1'],
  ['a bracket never closed, then a port', '[::1:80'],
  ['no IPv6 address in the brackets', '[zz]:80'],
  ['empty brackets', '[]'],
  ['empty brackets, then a port', '[]:80'],
  ['an IPv4 address in brackets', '[127.0.0.1]'],
  ['a name in brackets', '[localhost]:80'],
  ['an IPvFuture literal (no IP address Node knows)', '[v1.fe]'],
  ['text after the brackets', '[::1]junk'],
  ['text between the brackets and the port', '[::1]x:80'],
  ['two ports', '[::1]:80:80'],
  ['a second closing bracket', '[::1]]'],
  ['brackets in brackets', '[[::1]]'],
  ['a closing bracket alone', '::1]'],
  ['a closing bracket in a name', 'local]host'],
  ['a port that is no TCP port after the brackets', '[::1]:65536'],
  ['an IPv6 address without brackets (ambiguous with a port)', '::1'],
  // Found in review: the name was all before the last colon, of any characters; these passed the
  // browser guard as loopback, reached the API's event and made DynamoDB tables.
  ['an IPv6 address without brackets, then an empty port', '::1:'],
  ['two colons outside brackets', 'a:b:80'],
  ['a path in a loopback-looking name', 'evil.example/.localhost'],
  ['a space in the name', 'x y.localhost'],
  ['user info before the name', 'me@x.localhost:80'],
  ['a port and no name', ':80'],
  ['an IPv6 zone ID', '[::ffff:127.0.0.1%25x]'],
];

/** Bracketed Hosts that are fine: each reaches its handler and changes what it should. */
const WELL_FORMED: readonly (readonly [string, string])[] = [
  ['IPv6 loopback', '[::1]'],
  ['IPv6 loopback with a port', '[::1]:3000'],
  ['IPv6 loopback with the highest port', '[::1]:65535'],
  ['an IPv4-mapped loopback address, upper case', '[::FFFF:127.0.0.1]:80'],
  // An empty port is no port (RFC 3986 3.2.3). The edge took these and SQS refused them with its
  // own reading of the Host (found in review): one reader now, local/address.ts parseHost.
  ['IPv6 loopback with an empty port', '[::1]:'],
  ['a name with an empty port (no brackets)', 'localhost:'],
];

describe('a Host with IPv6 brackets: refused with 400 when malformed, taken when well formed', () => {
  const keep = stopsAfterAll();
  let paused: PausedCloud;
  let cloud: LocalCloud;
  let sqs: SQSClient;
  let ddb: DynamoDBClient;

  beforeAll(async () => {
    paused = await keep(startPausedCloud());
    cloud = paused.cloud;
    sqs = new SQSClient({ endpoint: cloud.edgeUrl, region: 'us-east-1', credentials: CREDENTIALS });
    ddb = new DynamoDBClient({
      endpoint: cloud.edgeUrl,
      region: 'us-east-1',
      credentials: CREDENTIALS,
    });
  }, 60_000);

  afterAll(async () => {
    sqs?.destroy();
    ddb?.destroy();
  });

  /** POST /orders of a valid order: the producer puts it on both queues. */
  const postOrder = (host: string) =>
    rawRequest(
      cloud.apiUrl,
      hostRequest({
        target: '/orders',
        host,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          customerId: 'c-host',
          items: [{ sku: 'sku-1', quantity: 1, unitPrice: 5 }],
          amount: 5,
          currency: 'EUR',
        }),
      }),
    );

  /** CreateQueue in the Query protocol (its answer names the Host in the queue URL). */
  const createQueue = (host: string, name: string) =>
    rawRequest(cloud.edgeUrl, formRequest(host, `Action=CreateQueue&QueueName=${name}`));

  /** CreateTable in the JSON protocol, signed as an SDK would sign it (dynalite reads no signature). */
  const createTable = (host: string, name: string) =>
    rawRequest(
      cloud.edgeUrl,
      hostRequest({
        host,
        headers: {
          'X-Amz-Target': 'DynamoDB_20120810.CreateTable',
          'content-type': 'application/x-amz-json-1.0',
          Authorization:
            'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
          'X-Amz-Date': '20260101T000000Z',
        },
        body: JSON.stringify({
          TableName: name,
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      }),
    );

  const queueNames = async () =>
    ((await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'host-' }))).QueueUrls ?? []).map(
      (url) => url.slice(url.lastIndexOf('/') + 1),
    );
  const tableNames = async () =>
    ((await ddb.send(new ListTablesCommand({}))).TableNames ?? []).filter((t) =>
      t.startsWith('host-'),
    );

  it.each(MALFORMED.map(([what, host], i) => [what, host, i] as const))(
    'refuses %s (%j) on the API, SQS and DynamoDB with a 400 naming the Host, changing nothing',
    async (_, host, i) => {
      // Prepare
      const name = `host-bad-${i}`;
      const before = { queued: await paused.queued(), queues: await queueNames() };

      // Act
      const answers = [
        await postOrder(host),
        await createQueue(host, name),
        await createTable(host, name),
      ];

      // Assess: three clear 400s (no made-up AWS error code), CreateQueue's in the Query
      // protocol's XML, no order on either queue, no queue, no table, and the cloud still answers.
      expect(answers.map((a) => a?.status)).toEqual([400, 400, 400]);
      const [order, queue, table] = answers.map((a) => a?.body ?? '');
      for (const body of [order, table].map((b) => JSON.parse(b ?? '{}'))) {
        expect(body.message).toContain(`Host ${JSON.stringify(host)}`);
        expect(body).not.toHaveProperty('__type');
      }
      expect(queue).toMatch(/^<\?xml version="1.0"\?><ErrorResponse /);
      expect(queue).toContain(`<Message>Host ${xmlEscaped(JSON.stringify(host))}`);
      expect(queue).not.toContain('<Code>');
      expect({
        queued: await paused.queued(),
        queues: await queueNames(),
        tables: await tableNames(),
      }).toEqual({ ...before, tables: [] });
      expect((await fetch(`${cloud.edgeUrl}/_localcloud/health`)).status).toBe(200);
    },
  );

  it.each(WELL_FORMED.map(([what, host], i) => [what, host, i] as const))(
    'takes %s (%j) on the API, SQS and DynamoDB',
    async (_, host, i) => {
      // Prepare
      const name = `host-good-${i}`;
      const [fifo, standard] = await paused.queued();

      // Act
      const answers = [
        await postOrder(host),
        await createQueue(host, name),
        await createTable(host, name),
      ];

      // Assess: the order is on both queues, and the queue and the table exist.
      expect(answers.map((a) => a?.status)).toEqual([202, 200, 200]);
      expect(await paused.queued()).toEqual([fifo! + 1, standard! + 1]);
      expect(await queueNames()).toContain(name);
      expect(await tableNames()).toContain(name);
    },
  );
});
