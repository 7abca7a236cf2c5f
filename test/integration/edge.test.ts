import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { type AddressInfo, connect, createServer as createNetServer } from 'node:net';
import { promisify } from 'node:util';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { type LocalCloud, startLocalCloud } from '../../local/cloud';
import { createActiveTable, keyedTable } from '../../local/tables';
import { AWS_CLI, describeWithTool } from '../support/system-tools';
import type { Json } from './support/pipeline-client';
import { endpoint, formRequest, openSocket, rawRequest, untilClosed } from './support/raw-http';
import { stopsAfterAll } from './support/stop-after-all';

const run = promisify(execFile);
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

describe('edge port: any SDK or the AWS CLI against SQS and DynamoDB (services only)', () => {
  const keep = stopsAfterAll();
  let cloud: LocalCloud;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    cloud = await keep(startLocalCloud({ port: 0, servicesOnly: true, seed: 1, faults: 'none' }));
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_PAGER: '',
    };
  }, 300_000);

  const aws = async (...args: string[]) => {
    // CLI 2.9 predates AWS_ENDPOINT_URL (added in 2.13), so the endpoint goes on the command line.
    const { stdout } = await run(
      AWS_CLI.bin,
      [...args, '--endpoint-url', cloud.edgeUrl, '--output', 'json'],
      {
        env,
        timeout: 30_000,
      },
    );
    return stdout.trim() === '' ? {} : (JSON.parse(stdout) as Json);
  };

  it('answers health with the seed and component states', async () => {
    const res = await fetch(`${cloud.edgeUrl}/_localcloud/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: 'ok',
      seed: 1,
      components: { sqs: 'running', dynamodb: 'running' },
    });
  });

  it('answers HEAD on health like GET, without a body (curl -I, load balancers; found in review)', async () => {
    // Prepare: a raw socket, to see every byte of the answer.
    const socket = await openSocket(cloud.edgeUrl);
    const answer = untilClosed(socket);

    // Act
    socket.write(
      `HEAD /_localcloud/health HTTP/1.1\r\nHost: ${new URL(cloud.edgeUrl).host}\r\nConnection: close\r\n\r\n`,
    );

    // Assess: GET's status and headers, and nothing after them.
    const [head, body] = (await answer).split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).toMatch(/\r\ncontent-type: application\/json\r\n/i);
    expect(body).toBe('');
  });

  it("takes the Query protocol's documented form with the queue URL as the request path (found in review)", async () => {
    // Prepare: AWS's "Making query API requests" gives the queue as the path, with no QueueUrl
    // parameter; aws-sdk-java v1 sends exactly this.
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const created = await fetch(cloud.edgeUrl, {
      method: 'POST',
      headers: form,
      body: 'Action=CreateQueue&QueueName=by-path',
    });
    expect(created.status).toBe(200);
    await created.text();

    // Act: a send over POST and a read over GET, each to the queue's path.
    const sent = await fetch(`${cloud.edgeUrl}/000000000000/by-path`, {
      method: 'POST',
      headers: form,
      body: 'Action=SendMessage&MessageBody=hi',
    });
    const read = await fetch(
      `${cloud.edgeUrl}/000000000000/by-path?Action=GetQueueAttributes&AttributeName.1=ApproximateNumberOfMessages`,
    );

    // Assess
    expect(sent.status).toBe(200);
    expect(await sent.text()).toMatch(/<MessageId>[^<]+<\/MessageId>/);
    expect(read.status).toBe(200);
    expect(await read.text()).toMatch(/<Name>ApproximateNumberOfMessages<\/Name><Value>1<\/Value>/);
  });

  it('answers a request for no known service with a clear 400', async () => {
    const res = await fetch(`${cloud.edgeUrl}/`, {
      method: 'POST',
      headers: { 'x-amz-target': 'Kinesis_20131202.ListStreams' },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(
      /serves SQS .* and DynamoDB/,
    );
  });

  it.each(['0', '65536', '99999'])(
    'refuses a Host whose port %s is no TCP port with a 400, creating nothing (found in review: the edge took up to 99999)',
    async (port) => {
      // Prepare: a CreateQueue whose answer would name the Host in its queue URL.
      const name = `bad-port-${port}`;
      const body = `Action=CreateQueue&QueueName=${name}`;

      // Act
      const res = await rawRequest(cloud.edgeUrl, formRequest(`127.0.0.1:${port}`, body));
      const list = await fetch(`${cloud.edgeUrl}/?Action=ListQueues&QueueNamePrefix=${name}`);

      // Assess: a clear 400 naming the Host, in the Query protocol's XML, and no queue made.
      expect(res?.status).toBe(400);
      expect(res?.body).toMatch(/<Message>Host .*port .*1 to 65535<\/Message>/);
      expect(await list.text()).not.toContain(name);
    },
  );

  it.each([
    ['a valid one first', ['127.0.0.1:4566', '127.0.0.1:99999']],
    ['the same one twice', ['127.0.0.1', '127.0.0.1']],
  ])(
    'refuses a Host sent twice (%s) with a 400, creating nothing (found in review: only the first was checked)',
    async (what, hosts) => {
      // Prepare: RFC 9112 3.2 answers more than one Host field line 400.
      const name = `twice-host-${what.split(' ')[1]}`;
      const body = `Action=CreateQueue&QueueName=${name}`;

      // Act
      const res = await rawRequest(cloud.edgeUrl, formRequest(hosts, body));
      const list = await fetch(`${cloud.edgeUrl}/?Action=ListQueues&QueueNamePrefix=${name}`);

      // Assess
      expect(res?.status).toBe(400);
      // A plain 400: AWS documents no error code for a bad Host, and the edge makes none up.
      expect(res?.body).toMatch(/<Message>Host is given 2 times/);
      expect(res?.body).not.toContain('<Code>');
      expect(res?.headers).not.toHaveProperty('x-amzn-query-error');
      expect(await list.text()).not.toContain(name);
    },
  );

  it('takes a Host with the highest port, 65535, and one with no port', async () => {
    const raw = (host: string) => formRequest(host, 'Action=ListQueues');

    const highest = await rawRequest(cloud.edgeUrl, raw('127.0.0.1:65535'));
    const none = await rawRequest(cloud.edgeUrl, raw('localhost'));

    expect([highest?.status, none?.status]).toEqual([200, 200]);
  });

  it('takes a loopback Host however the client spelled it (found in review: the browser guard refused them 403)', async () => {
    // Prepare: the SDK's URL parser (WHATWG URL) sends [::ffff:127.0.0.1] as [::ffff:7f00:1];
    // curl sends an address as typed; `http://localhost.:4566` sends the fully qualified name.
    const port = new URL(cloud.edgeUrl).port;
    const sqs = new SQSClient({
      endpoint: `http://[::ffff:127.0.0.1]:${port}`,
      region: 'us-east-1',
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
    const raw = (host: string) => formRequest(host, 'Action=ListQueues');

    // Act
    const created = await sqs.send(new CreateQueueCommand({ QueueName: 'mapped-loopback' }));
    sqs.destroy();
    const spelled = await Promise.all(
      [`localhost.:${port}`, `LOCALHOST.:${port}`, `[0:0:0:0:0:0:0:1]:${port}`].map((h) =>
        rawRequest(cloud.edgeUrl, raw(h)),
      ),
    );

    // Assess
    expect(created.QueueUrl).toBe(`http://[::ffff:7f00:1]:${port}/000000000000/mapped-loopback`);
    expect(spelled.map((r) => r?.status)).toEqual([200, 200, 200]);
  });

  // The Debian AWS CLI v2 speaks the SQS Query protocol: the one real client for that path here.
  describeWithTool(AWS_CLI, 'with the AWS CLI', () => {
    it('lets the AWS CLI (Query protocol) create, send to and receive from a queue', async () => {
      const created = await aws('sqs', 'create-queue', '--queue-name', 'cli-queue');
      expect(created.QueueUrl).toMatch(/\/000000000000\/cli-queue$/);
      const sent = await aws(
        'sqs',
        'send-message',
        '--queue-url',
        created.QueueUrl,
        '--message-body',
        'hello from the cli',
      );
      expect(sent.MD5OfMessageBody).toBe(
        createHash('md5').update('hello from the cli').digest('hex'),
      );
      const received = await aws(
        'sqs',
        'receive-message',
        '--queue-url',
        created.QueueUrl,
        '--wait-time-seconds',
        '1',
      );
      expect(received.Messages?.[0]?.Body).toBe('hello from the cli');
      expect(received.Messages?.[0]?.MessageId).toBe(sent.MessageId);
    }, 60_000);

    /**
     * A TCP relay in front of the edge that rewrites the Host line of the first request on each
     * connection: the CLI builds Host from its endpoint URL and cannot send a malformed one.
     */
    const withHostRelay = async <T>(host: string, use: (url: string) => Promise<T>) => {
      const edge = endpoint(cloud.edgeUrl);
      const relay = createNetServer((client) => {
        const upstream = connect(edge);
        let head = Buffer.alloc(0);
        const onHead = (chunk: Buffer) => {
          head = Buffer.concat([head, chunk]);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          client.off('data', onHead);
          const headers = head
            .subarray(0, end)
            .toString('latin1')
            .replace(/\r\nhost:[^\r]*/i, `\r\nHost: ${host}`);
          upstream.write(Buffer.concat([Buffer.from(headers, 'latin1'), head.subarray(end)]));
          client.pipe(upstream);
        };
        client.on('data', onHead);
        upstream.pipe(client);
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
      });
      await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
      try {
        return await use(`http://127.0.0.1:${(relay.address() as AddressInfo).port}`);
      } finally {
        relay.close();
      }
    };

    /** An AWS CLI call expected to fail: what it prints on stderr. */
    const awsFails = async (url: string, ...args: string[]) => {
      const failed = await run(AWS_CLI.bin, [...args, '--endpoint-url', url], {
        env,
        timeout: 30_000,
      }).then(
        () => undefined,
        (err: { stderr?: string }) => err.stderr ?? '',
      );
      expect(failed).toBeDefined();
      return failed ?? '';
    };

    it.each([
      [
        'a malformed Host with a plain 400',
        '[::1]junk',
        'An error occurred (Unknown) when calling the ListQueues operation: Host "[::1]junk" has more than a port after its brackets',
      ],
      [
        "a rebinding page's Host with the browser guard's 403",
        'rebind.evil.example',
        'An error occurred (AccessDenied) when calling the ListQueues operation: host rebind.evil.example is not',
      ],
    ])(
      'lets the AWS CLI (Query protocol) report %s as the error, not as a response it cannot parse (found in review: JSON bodies were "invalid XML received")',
      async (_, host, error) => {
        const stderr = await withHostRelay(host, (url) => awsFails(url, 'sqs', 'list-queues'));
        expect(stderr).toContain(error);
        expect(stderr).not.toMatch(/Unable to parse response|invalid XML/);
      },
      60_000,
    );

    it('lets the AWS CLI create a table and put and get an item', async () => {
      await aws(
        'dynamodb',
        'create-table',
        '--table-name',
        'cli-table',
        '--attribute-definitions',
        'AttributeName=id,AttributeType=S',
        '--key-schema',
        'AttributeName=id,KeyType=HASH',
        '--billing-mode',
        'PAY_PER_REQUEST',
      );
      await aws(
        'dynamodb',
        'put-item',
        '--table-name',
        'cli-table',
        '--item',
        '{"id":{"S":"1"},"v":{"N":"42"}}',
      );
      const got = await aws(
        'dynamodb',
        'get-item',
        '--table-name',
        'cli-table',
        '--key',
        '{"id":{"S":"1"}}',
      );
      expect(got.Item).toEqual({ id: { S: '1' }, v: { N: '42' } });
    }, 60_000);
  });

  it('lets the AWS SDK v3 (JSON protocols) use a queue and a table through the same port', async () => {
    const sqs = new SQSClient({
      endpoint: cloud.edgeUrl,
      region: 'us-east-1',
      credentials: CREDENTIALS,
    });
    const ddb = new DynamoDBClient({
      endpoint: cloud.edgeUrl,
      region: 'us-east-1',
      credentials: CREDENTIALS,
    });
    try {
      const { QueueUrl } = await sqs.send(
        new CreateQueueCommand({ QueueName: 'sdk-queue.fifo', Attributes: { FifoQueue: 'true' } }),
      );
      await sqs.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: 'm1',
          MessageGroupId: 'g',
          MessageDeduplicationId: 'd1',
        }),
      );
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl,
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ['All'],
        }),
      );
      expect(out.Messages?.[0]).toMatchObject({ Body: 'm1', Attributes: { MessageGroupId: 'g' } });
      await sqs.send(
        new DeleteMessageCommand({ QueueUrl, ReceiptHandle: out.Messages![0]!.ReceiptHandle }),
      );

      await createActiveTable(ddb, keyedTable('sdk-table', 'pk'));
      await ddb.send(new PutItemCommand({ TableName: 'sdk-table', Item: { pk: { S: 'a' } } }));
      const item = await ddb.send(
        new GetItemCommand({ TableName: 'sdk-table', Key: { pk: { S: 'a' } } }),
      );
      expect(item.Item).toEqual({ pk: { S: 'a' } });
    } finally {
      sqs.destroy();
      ddb.destroy();
    }
  }, 30_000);
});
