import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, ListQueuesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { createApp } from '../../infra/lib/create-app';
import type { OrderPipelineStack } from '../../infra/lib/order-pipeline-stack';
import {
  type LocalCloud,
  localSqsClient,
  localTargetEnv,
  startLocalCloud,
} from '../../local/cloud';
import { createDynamoDbClient, LOCAL_CREDENTIALS } from '../../shared/src/aws-clients';
import { pipelineConfig } from '../../shared/src/config/pipeline';
import {
  DeploymentConfigError,
  deploymentFunctions,
  describeDeployment,
  entryPath,
} from '../../shared/src/deployment';
import { QUEUE_KINDS } from '../../shared/src/queue-kind';

/**
 * The stack and the local cloud are two interpreters of one description
 * (shared/src/deployment.ts). This reads what each actually built, the synthesized template on
 * one side and the running local cloud through its own APIs on the other, puts both in the same
 * shape and expects them equal: a setting one side hard-codes, drops or reads from elsewhere
 * shows up as a difference here. Left out, with the reason: encryption, IAM, log groups and
 * alarms (AWS only: the local cloud checks no policy), TTL and point-in-time recovery (dynalite
 * has neither), and the variables each target supplies itself (`localTargetEnv`, and
 * NODE_OPTIONS for the bundle's source maps).
 */

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
type Ref = { Ref?: string; 'Fn::GetAtt'?: [string, string] };

const deployment = describeDeployment(pipelineConfig);
const QUEUE_ATTRIBUTES = [
  'FifoQueue',
  'VisibilityTimeout',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'FifoThroughputLimit',
] as const;
const TARGET_ENV = new Set([...Object.keys(localTargetEnv('INFO', 0)), 'NODE_OPTIONS']);

/** The logical id a Ref or Fn::GetAtt points at. */
const target = (v: unknown): string => {
  const r = v as Ref;
  return r.Ref ?? r['Fn::GetAtt']?.[0] ?? '';
};
const lastSegment = (arnOrUrl: string): string => arnOrUrl.split(/[:/]/).pop() ?? '';
/** The last literal of an Fn::Join (CDK builds an ARN from a configured name that way). */
const joinedName = (v: unknown): string => {
  const parts = (v as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
  return lastSegment(String(parts[parts.length - 1]));
};

describe('the synthesized template and the local cloud, built from one description', () => {
  let stack: OrderPipelineStack;
  let resources: Resources;
  let cloud: LocalCloud;
  let sqs: SQSClient;
  let dynamodb: DynamoDBClient;

  beforeAll(async () => {
    // The real handler entries; bundling skipped, so no esbuild run is needed to read the template.
    ({ stack } = createApp({ context: { 'aws:cdk:bundling-stacks': [] } }));
    resources = Template.fromStack(stack).toJSON().Resources as Resources;
    cloud = await startLocalCloud({
      port: 0,
      apiPort: 0,
      seed: 1,
      faults: 'none',
      pollWaitSeconds: 1,
    });
    sqs = localSqsClient(cloud.edgeUrl, cloud.region);
    dynamodb = createDynamoDbClient({
      endpoint: cloud.edgeUrl,
      region: cloud.region,
      credentials: LOCAL_CREDENTIALS,
    });
  }, 120_000);

  afterAll(async () => {
    sqs?.destroy();
    dynamodb?.destroy();
    await cloud?.stop();
  }, 30_000);

  const ofType = (type: string) =>
    Object.entries(resources).filter(([, r]) => r.Type === type) as [string, Resources[string]][];
  const queueName = (logicalId: string) => String(resources[logicalId]?.Properties.QueueName);
  const functionName = (logicalId: string) => String(resources[logicalId]?.Properties.FunctionName);

  it('the same queues with the same attributes, redrive and redrive-allow policies', async () => {
    const fromTemplate = Object.fromEntries(
      ofType('AWS::SQS::Queue').map(([, { Properties: p }]) => {
        const attributes = Object.fromEntries(
          QUEUE_ATTRIBUTES.filter((a) => p[a] !== undefined).map((a) => [a, String(p[a])]),
        );
        const redrive = p.RedrivePolicy as {
          deadLetterTargetArn: unknown;
          maxReceiveCount: number;
        };
        const allow = p.RedriveAllowPolicy as
          | { redrivePermission: string; sourceQueueArns: unknown[] }
          | undefined;
        return [
          String(p.QueueName),
          {
            attributes,
            redrive: redrive && {
              dlq: queueName(target(redrive.deadLetterTargetArn)),
              maxReceiveCount: redrive.maxReceiveCount,
            },
            allow: allow && {
              permission: allow.redrivePermission,
              sources: allow.sourceQueueArns.map(joinedName),
            },
          },
        ];
      }),
    );

    const urls = (await sqs.send(new ListQueuesCommand({}))).QueueUrls ?? [];
    const fromLocal: Record<string, unknown> = {};
    for (const url of urls) {
      const name = lastSegment(url);
      const got = (
        await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))
      ).Attributes as Record<string, string>;
      const expected = fromTemplate[name] as { attributes: Record<string, string> } | undefined;
      // AWS's defaults fill what the template leaves out; compare what the template sets.
      const attributes = Object.fromEntries(
        Object.keys(expected?.attributes ?? {}).map((a) => [a, got[a]]),
      );
      const redrive = got.RedrivePolicy ? JSON.parse(got.RedrivePolicy) : undefined;
      const allow = got.RedriveAllowPolicy ? JSON.parse(got.RedriveAllowPolicy) : undefined;
      fromLocal[name] = {
        attributes,
        redrive: redrive && {
          dlq: lastSegment(redrive.deadLetterTargetArn),
          maxReceiveCount: Number(redrive.maxReceiveCount),
        },
        allow: allow && {
          permission: allow.redrivePermission,
          sources: (allow.sourceQueueArns as string[]).map(lastSegment),
        },
      };
    }

    expect(Object.keys(fromTemplate).sort()).toEqual(
      QUEUE_KINDS.flatMap((k) => [deployment.queues[k].name, deployment.queues[k].dlq.name]).sort(),
    );
    expect(fromLocal).toEqual(fromTemplate);
  });

  type GlobalIndex = { IndexName?: string; KeySchema?: unknown; Projection?: unknown };
  /** Global indexes by name: their keys and projection, nothing a target adds (status, sizes). */
  const indexesOf = (indexes: GlobalIndex[] | undefined) =>
    Object.fromEntries(
      (indexes ?? []).map((i) => [i.IndexName, { keys: i.KeySchema, projection: i.Projection }]),
    );

  it('the same tables with the same keys, indexes and billing', async () => {
    const fromTemplate = Object.fromEntries(
      ofType('AWS::DynamoDB::Table').map(([, { Properties: p }]) => [
        String(p.TableName),
        {
          keys: p.KeySchema,
          attributes: p.AttributeDefinitions,
          billing: p.BillingMode,
          indexes: indexesOf(p.GlobalSecondaryIndexes as GlobalIndex[] | undefined),
        },
      ]),
    );
    const fromLocal: Record<string, unknown> = {};
    for (const name of Object.keys(fromTemplate)) {
      const t = (await dynamodb.send(new DescribeTableCommand({ TableName: name }))).Table!;
      fromLocal[name] = {
        keys: t.KeySchema,
        attributes: t.AttributeDefinitions,
        billing: t.BillingModeSummary?.BillingMode ?? 'PAY_PER_REQUEST',
        indexes: indexesOf(t.GlobalSecondaryIndexes as GlobalIndex[] | undefined),
      };
    }
    expect(Object.keys(fromTemplate).sort()).toEqual(
      Object.values(deployment.tables)
        .map((t) => t.name)
        .sort(),
    );
    expect(fromLocal).toEqual(fromTemplate);
  });

  it('the same functions: handler module, timeout, memory and environment', () => {
    const prefix = `${deployment.stackName}-`;
    // The template holds only a bundle's hash: the construct says which module it bundled.
    const builtEntries = new Map(
      [stack.producer, ...QUEUE_KINDS.map((k) => stack.consumers[k].function)].map((f) => [
        stack.getLogicalId(f.fn.node.defaultChild as CfnElement),
        f.entry,
      ]),
    );
    const fromTemplate = Object.fromEntries(
      ofType('AWS::Lambda::Function')
        .filter(([, r]) => String(r.Properties.FunctionName ?? '').startsWith(prefix))
        .map(([logicalId, { Properties: p }]) => {
          const vars = (p.Environment as { Variables: Record<string, unknown> }).Variables;
          const env = Object.fromEntries(
            Object.entries(vars)
              .filter(([name]) => !TARGET_ENV.has(name))
              .map(([name, v]) => {
                if (typeof v === 'string') return [name, v];
                // A resource reference: name it by the queue or table it points at.
                const res = resources[target(v)]!;
                return [name, String(res.Properties.QueueName ?? res.Properties.TableName)];
              }),
          );
          const name = String(p.FunctionName).slice(prefix.length);
          return [
            name,
            {
              entry: builtEntries.get(logicalId),
              timeout: p.Timeout,
              memory: p.MemorySize,
              env,
            },
          ];
        }),
    );
    const fromLocal = Object.fromEntries(
      cloud.functions().map((f) => [
        f.name,
        {
          entry: f.modulePath,
          timeout: f.timeoutSeconds,
          memory: f.memorySizeMb,
          // Only what the description sets: the target's own runtime variables are not its.
          env: Object.fromEntries(
            Object.keys(fromTemplate[f.name]?.env ?? {}).map((name) => {
              const v = f.env[name] ?? '';
              return [name, v.startsWith('http') ? lastSegment(v) : v];
            }),
          ),
        },
      ]),
    );

    expect(Object.keys(fromTemplate).sort()).toEqual(
      deploymentFunctions(deployment)
        .map((f) => f.id)
        .sort(),
    );
    for (const spec of deploymentFunctions(deployment)) {
      expect(fromTemplate[spec.id]?.entry).toBe(entryPath(spec.entry));
      expect(Object.keys(fromTemplate[spec.id]?.env ?? {}).sort()).toEqual(
        Object.keys(spec.environment)
          .filter((n) => !TARGET_ENV.has(n))
          .sort(),
      );
    }
    expect(fromLocal).toEqual(fromTemplate);
  });

  it('the same event source mappings: queue, function, batch, window, concurrency, partial failures', () => {
    const fromTemplate = ofType('AWS::Lambda::EventSourceMapping')
      .map(([, { Properties: p }]) => ({
        queue: queueName(target(p.EventSourceArn)),
        function: functionName(target(p.FunctionName)).slice(deployment.stackName.length + 1),
        batchSize: p.BatchSize,
        windowSeconds: p.MaximumBatchingWindowInSeconds ?? 0,
        maximumConcurrency: (p.ScalingConfig as { MaximumConcurrency: number }).MaximumConcurrency,
        reportBatchItemFailures: (p.FunctionResponseTypes as string[]).includes(
          'ReportBatchItemFailures',
        ),
      }))
      .sort((a, b) => a.queue.localeCompare(b.queue));
    const fromLocal = cloud
      .eventSourceMappings()
      .map((m) => ({
        queue: lastSegment(m.queueArn),
        function: m.functionName,
        batchSize: m.batchSize,
        windowSeconds: m.maxBatchingWindowSeconds,
        maximumConcurrency: m.maximumConcurrency,
        reportBatchItemFailures: m.reportBatchItemFailures,
      }))
      .sort((a, b) => a.queue.localeCompare(b.queue));

    expect(fromTemplate).toHaveLength(QUEUE_KINDS.length);
    expect(fromLocal).toEqual(fromTemplate);
  });

  it('the same routes, each to the same function, with the same request model', () => {
    const pathOf = (resourceId: unknown): string => {
      const id = target(resourceId);
      const r = resources[id];
      if (r?.Type !== 'AWS::ApiGateway::Resource') return '';
      return `${pathOf(r.Properties.ParentId)}/${r.Properties.PathPart}`;
    };
    const fromTemplate = ofType('AWS::ApiGateway::Method')
      .filter(([, r]) => r.Properties.HttpMethod !== 'OPTIONS')
      .map(([, { Properties: p }]) => {
        const uri = JSON.stringify((p.Integration as { Uri: unknown }).Uri);
        const fnId = Object.keys(resources).find(
          (id) =>
            resources[id]?.Type === 'AWS::Lambda::Function' &&
            uri.includes(`"Fn::GetAtt":["${id}","Arn"]`),
        );
        const models = p.RequestModels as Record<string, unknown> | undefined;
        const model = models?.['application/json'];
        return {
          route: `${p.HttpMethod} ${pathOf(p.ResourceId)}`,
          function: functionName(fnId ?? '').slice(deployment.stackName.length + 1),
          schema: model ? resources[target(model)]?.Properties.Schema : undefined,
        };
      })
      .sort((a, b) => a.route.localeCompare(b.route));
    const fromLocal = cloud
      .routes()
      .map((r) => ({
        route: `${r.method} ${r.resource}`,
        function: r.functionName,
        schema: r.bodySchema,
      }))
      .sort((a, b) => a.route.localeCompare(b.route));

    expect(fromTemplate.map((r) => r.route)).toEqual(
      deployment.routes.map((r) => `${r.method} ${r.resource}`).sort(),
    );
    expect(fromLocal).toEqual(fromTemplate);
  });
});

describe('a config AWS would refuse', () => {
  const fifoWindow = structuredClone(pipelineConfig);
  fifoWindow.consumers.fifo.maxBatchingWindowSeconds = 1;
  const message = /consumer consumer-fifo: Lambda rejects a batching window on a FIFO event source/;

  it('is refused by the stack', () => {
    expect(() =>
      createApp({ config: fifoWindow, context: { 'aws:cdk:bundling-stacks': [] } }),
    ).toThrow(DeploymentConfigError);
    expect(() =>
      createApp({ config: fifoWindow, context: { 'aws:cdk:bundling-stacks': [] } }),
    ).toThrow(message);
  });

  it('is refused by the local cloud the same way, before it starts anything', async () => {
    const started = startLocalCloud({
      port: 0,
      apiPort: 0,
      seed: 1,
      faults: 'none',
      pipeline: { fifo: { maxBatchingWindowSeconds: 1 } },
    });
    await expect(started).rejects.toThrow(DeploymentConfigError);
    await expect(started).rejects.toThrow(message);
  });
});
