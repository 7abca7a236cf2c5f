import { createRequire } from 'node:module';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SQSClient,
  type SQSClientConfig,
} from '@aws-sdk/client-sqs';
import {
  createSqsEmulator,
  type FaultConfig,
  type FaultPreset,
  type SqsEmulator,
  type SqsEmulatorOptions,
} from '../../local/sqs';

export interface Harness {
  emulator: SqsEmulator;
  url: string;
  sqs: SQSClient;
  stop(): Promise<void>;
}

/** Starts the emulator on 127.0.0.1 and a free port, with a real SDK client pointed at it. */
export async function startEmulator(
  faults: FaultPreset | Partial<FaultConfig> = 'none',
  seed = 1234,
  options: Omit<SqsEmulatorOptions, 'seed' | 'faults'> = {},
): Promise<Harness> {
  const emulator = createSqsEmulator({ ...options, seed, faults });
  const { url } = await emulator.listen(0);
  const sqs = new SQSClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  return {
    emulator,
    url,
    sqs,
    async stop() {
      sqs.destroy();
      await emulator.close();
    },
  };
}

/** Creates queue `QueueName` (with `Attributes`, if any) and answers its URL. */
export async function createQueue(
  h: Harness,
  QueueName: string,
  Attributes?: Record<string, string>,
): Promise<string> {
  return (
    await h.sqs.send(new CreateQueueCommand({ QueueName, ...(Attributes ? { Attributes } : {}) }))
  ).QueueUrl!;
}

/** The ARN of the queue at `QueueUrl`, as GetQueueAttributes answers it. */
export async function queueArn(h: Harness, QueueUrl: string): Promise<string> {
  return (
    await h.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }))
  ).Attributes!.QueueArn!;
}

/**
 * A queue's approximate counts as GetQueueAttributes answers them: the visible messages, those
 * in flight, and its depth (those two and the delayed ones).
 */
export async function queueCounts(
  sqs: SQSClient,
  QueueUrl: string,
): Promise<{ visible: number; inFlight: number; depth: number }> {
  const a = (
    await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl,
        AttributeNames: [
          'ApproximateNumberOfMessages',
          'ApproximateNumberOfMessagesNotVisible',
          'ApproximateNumberOfMessagesDelayed',
        ],
      }),
    )
  ).Attributes!;
  const visible = Number(a.ApproximateNumberOfMessages);
  const inFlight = Number(a.ApproximateNumberOfMessagesNotVisible);
  return {
    visible,
    inFlight,
    depth: visible + inFlight + Number(a.ApproximateNumberOfMessagesDelayed),
  };
}

/** Sends n messages to `url` in batches of ten, with bodies `${prefix}0` to `${prefix}${n - 1}`. */
export async function sendMany(h: Harness, url: string, n: number, prefix = ''): Promise<void> {
  for (let i = 0; i < n; i += 10) {
    await h.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: Array.from({ length: Math.min(10, n - i) }, (_, j) => ({
          Id: `e${j}`,
          MessageBody: `${prefix}${i + j}`,
        })),
      }),
    );
  }
}

/**
 * Measures how long the main thread is held: a 10 ms ticker notes the longest gap between two of
 * its ticks. `stop()` ends it and gives that gap in ms.
 */
export function watchStalls(): { stop(): number } {
  let longestStall = 0;
  let last = Date.now();
  const ticker = setInterval(() => {
    const now = Date.now();
    longestStall = Math.max(longestStall, now - last);
    last = now;
  }, 10);
  return {
    stop() {
      clearInterval(ticker);
      return longestStall;
    },
  };
}

export interface RawAnswer {
  status: number;
  /** JSON: `__type` without its namespace; Query: the XML `<Code>`. */
  type: string;
  /** JSON: the `x-amzn-query-error` code; Query: the XML `<Code>`. */
  queryCode: string;
  message: string;
  body: Record<string, unknown>;
}

/**
 * One request as a hand-written client sends it, so a test can send what the SDK's types
 * forbid: AWS JSON 1.0 with any JSON body.
 */
export async function callJson(url: string, action: string, body: unknown): Promise<RawAnswer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `AmazonSQS.${action}`,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const parsed = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  const type = String(parsed.__type ?? '').replace(/^.*#/, '');
  return {
    status: res.status,
    type,
    queryCode: (res.headers.get('x-amzn-query-error') ?? '').split(';')[0] ?? '',
    message: String(parsed.message ?? ''),
    body: parsed,
  };
}

/**
 * An SDK client that speaks the Query protocol through the AWS SDK's own Query serializer
 * (AwsQueryProtocol from @aws-sdk/core, the copy @aws-sdk/client-sqs itself loads) instead of
 * the JSON protocol the SQS client uses by default: what a client generated from today's SQS
 * model sends over Query, byte for byte. Each request's form body is pushed to `bodies`.
 */
export function queryClient(h: Harness): { sqs: SQSClient; bodies: string[] } {
  const fromClient = createRequire(require.resolve('@aws-sdk/client-sqs'));
  const { AwsQueryProtocol } = fromClient('@aws-sdk/core/protocols') as {
    AwsQueryProtocol: new (options: Record<string, unknown>) => unknown;
  };
  const settings = h.sqs.config.protocolSettings as Record<string, unknown>;
  const sqs = new SQSClient({
    endpoint: h.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    protocol: new AwsQueryProtocol({
      defaultNamespace: settings.defaultNamespace,
      errorTypeRegistries: settings.errorTypeRegistries,
      xmlNamespace: 'http://queue.amazonaws.com/doc/2012-11-05/',
      version: '2012-11-05',
    }) as SQSClientConfig['protocol'],
  });
  const bodies: string[] = [];
  sqs.middlewareStack.add(
    (next) => async (args) => {
      const body = (args.request as { body?: unknown }).body;
      if (typeof body === 'string') bodies.push(body);
      return next(args);
    },
    { step: 'finalizeRequest', name: 'recordQueryBody' },
  );
  return { sqs, bodies };
}

/** The Query protocol (form POST, XML answers): what the AWS CLI v2 from Debian sends. */
export async function callQuery(
  url: string,
  params: Record<string, string> | [string, string][],
): Promise<RawAnswer & { xml: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  const xml = await res.text();
  const code = /<Code>([^<]*)<\/Code>/.exec(xml)?.[1] ?? '';
  return {
    status: res.status,
    type: code,
    queryCode: code,
    message: /<Message>([^<]*)<\/Message>/.exec(xml)?.[1] ?? '',
    body: {},
    xml,
  };
}

/**
 * A standard queue `name` whose redrive policy moves a message to its own new DLQ (`<name>-dlq`)
 * after `maxReceiveCount` receives; answers both queue URLs and the DLQ's ARN.
 */
export async function queueWithDlq(
  h: Harness,
  name: string,
  { maxReceiveCount, visibilityTimeout }: { maxReceiveCount: number; visibilityTimeout: number },
): Promise<{ url: string; dlqUrl: string; dlqArn: string }> {
  const { QueueUrl: dlqUrl } = await h.sqs.send(
    new CreateQueueCommand({ QueueName: `${name}-dlq` }),
  );
  const dlqArn = (
    await h.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: dlqUrl!, AttributeNames: ['QueueArn'] }),
    )
  ).Attributes!.QueueArn!;
  const { QueueUrl: url } = await h.sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        VisibilityTimeout: String(visibilityTimeout),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }),
      },
    }),
  );
  return { url: url!, dlqUrl: dlqUrl!, dlqArn };
}
