import { resolve } from 'node:path';
import { ENV } from './config/function-env';
import type { PipelineConfig, QueueConfig, TableConfig } from './config/pipeline';
import { orderJsonSchema } from './order';
import { QUEUE_KINDS, type QueueKind } from './queue-kind';

/**
 * The deployment, described once: every queue with its DLQ, every table, every function with
 * its handler module, environment, timeout and memory, the event source mappings and the API's
 * routes. infra/ turns it into CloudFormation (CDK constructs); local/ turns it into emulated
 * queues, tables, worker-thread functions, mappings and a gateway. Neither names a handler path,
 * an environment variable or a setting of its own: what differs between the two targets is only
 * what a target supplies itself (resource urls and names, the runtime's own variables, tracing),
 * and test/infra/deployment-agreement.test.ts shows that what each builds agrees.
 */

export type TableId = 'ledger' | 'idempotency';
export const TABLE_IDS: readonly TableId[] = ['ledger', 'idempotency'] as const;

/**
 * An environment value: a literal, or a resource only the target knows once it exists (a queue
 * url is a CloudFormation token on AWS and an emulator url locally).
 */
export type EnvValue = string | { queueUrl: QueueKind } | { tableName: TableId };

export interface FunctionSpec {
  /** Construct id, the local function's name, and the Lambda's name after `<stack>-`. */
  id: string;
  /** The handler module (exports `handler`), relative to the repository root. */
  entry: string;
  timeoutSeconds: number;
  memorySizeMb: number;
  environment: Readonly<Record<string, EnvValue>>;
}

/** An SQS event source mapping: which queue feeds which function, and how. */
export interface MappingSpec {
  queue: QueueKind;
  /** FunctionSpec.id of the consumer. */
  functionId: string;
  batchSize: number;
  /** 0: no batching window (the only value a FIFO event source takes). */
  maxBatchingWindowSeconds: number;
  maximumConcurrency: number;
  /**
   * Partial batch responses: without them one failed record sends the whole batch back, re-running
   * the records that worked.
   */
  reportBatchItemFailures: true;
}

export interface RouteSpec {
  method: 'GET' | 'POST';
  /** API Gateway resource path, e.g. `/orders/{orderId}`. */
  resource: string;
  /** FunctionSpec.id behind the route (Lambda proxy integration). */
  functionId: string;
  /** What the gateway validates the body against before the function runs. */
  body?: { model: string; schema: Record<string, unknown> };
}

export interface Deployment {
  stackName: string;
  queues: Readonly<Record<QueueKind, QueueConfig>>;
  tables: Readonly<Record<TableId, TableConfig>>;
  producer: FunctionSpec;
  consumers: Readonly<Record<QueueKind, FunctionSpec>>;
  mappings: Readonly<Record<QueueKind, MappingSpec>>;
  routes: readonly RouteSpec[];
  api: { throttlingRateLimit: number; throttlingBurstLimit: number };
}

/** The handler modules, relative to the repository root. */
export const HANDLER_ENTRIES = {
  producer: 'services/producer/src/handlers/api.ts',
  consumer: 'services/consumer/src/handlers/sqs.ts',
} as const;

const ROOT = resolve(__dirname, '../..');

/** A FunctionSpec's entry as an absolute path, for the bundler and the worker runtime alike. */
export function entryPath(entry: string): string {
  return resolve(ROOT, entry);
}

/** Lambda's guidance for SQS event sources: visibility timeout at least 6x the function timeout. */
export const VISIBILITY_TO_TIMEOUT_RATIO = 6;

/**
 * Lambda's guidance for SQS event sources: a source queue's redrive policy allows at least 5
 * receives, so a valid message survives a few throttled, timed-out or lost-delete receives before
 * SQS moves it to the DLQ. With 3, a loaded soak dead-lettered valid orders.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
 * https://repost.aws/knowledge-center/lambda-retrying-valid-sqs-messages
 */
export const MIN_MAX_RECEIVE_COUNT = 5;

/**
 * The pipeline config asks for something AWS rejects, or breaks a rule the pipeline relies on.
 * Both targets refuse it the same way, before anything is created.
 */
export class DeploymentConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeploymentConfigError';
  }
}

export interface DescribeOptions {
  /**
   * Waives Lambda's visibility-timeout guidance (at least 6x the function timeout). Only for a
   * fault scenario that needs a consumer to outlive its message's visibility timeout: what the
   * guidance exists to prevent is then the thing under test.
   */
  waiveVisibilityGuidance?: boolean;
}

function check(config: PipelineConfig, options: DescribeOptions): void {
  for (const kind of QUEUE_KINDS) {
    const q = config.queues[kind];
    const c = config.consumers[kind];
    const fifoOnly = [q.contentBasedDeduplication, q.deduplicationScope, q.fifoThroughputLimit];
    if (!q.fifo && fifoOnly.some((v) => v !== undefined)) {
      throw new DeploymentConfigError(`queue ${q.name}: FIFO-only settings on a standard queue`);
    }
    // Lambda's own rule, which no waiver lifts: "Your function's timeout must be less than or
    // equal to the queue's visibility timeout. Lambda validates this requirement when you create
    // or update an event source mapping" (Lambda Developer Guide, SQS event source mapping).
    if (q.visibilityTimeoutSeconds < c.timeoutSeconds) {
      throw new DeploymentConfigError(
        `queue ${q.name}: visibility timeout ${q.visibilityTimeoutSeconds}s is below the consumer timeout ${c.timeoutSeconds}s (Lambda refuses the event source mapping)`,
      );
    }
    // Shorter, and a batch still running could reappear on the queue and run twice at once.
    if (
      !options.waiveVisibilityGuidance &&
      q.visibilityTimeoutSeconds < VISIBILITY_TO_TIMEOUT_RATIO * c.timeoutSeconds
    ) {
      throw new DeploymentConfigError(
        `queue ${q.name}: visibility timeout ${q.visibilityTimeoutSeconds}s is below ${VISIBILITY_TO_TIMEOUT_RATIO} x the consumer timeout ${c.timeoutSeconds}s`,
      );
    }
    // Fewer, and a valid message whose receives were spent by throttles or timeouts, not by its
    // own failures, is dead-lettered.
    if (q.dlq.maxReceiveCount < MIN_MAX_RECEIVE_COUNT) {
      throw new DeploymentConfigError(
        `queue ${q.name}: maxReceiveCount ${q.dlq.maxReceiveCount} is below ${MIN_MAX_RECEIVE_COUNT}`,
      );
    }
    // Lambda's CreateEventSourceMapping answers InvalidParameterValueException for it.
    if (q.fifo && c.maxBatchingWindowSeconds > 0) {
      throw new DeploymentConfigError(
        `consumer ${c.functionId}: Lambda rejects a batching window on a FIFO event source (MaximumBatchingWindowInSeconds ${c.maxBatchingWindowSeconds})`,
      );
    }
  }
}

/** Every function of the deployment: the producer, then the consumers. */
export function deploymentFunctions(d: Deployment): FunctionSpec[] {
  return [d.producer, ...QUEUE_KINDS.map((kind) => d.consumers[kind])];
}

/** Builds the deployment from the pipeline config; throws DeploymentConfigError on a bad one. */
export function describeDeployment(
  config: PipelineConfig,
  options: DescribeOptions = {},
): Deployment {
  check(config, options);
  // What every function is told: where the tables and queues are, and Powertools' settings.
  const common = (id: string): Record<string, EnvValue> => ({
    [ENV.LEDGER_TABLE_NAME]: { tableName: 'ledger' },
    [ENV.IDEMPOTENCY_TABLE_NAME]: { tableName: 'idempotency' },
    [ENV.FIFO_QUEUE_URL]: { queueUrl: 'fifo' },
    [ENV.STANDARD_QUEUE_URL]: { queueUrl: 'standard' },
    [ENV.DEFAULT_RUN_ID]: config.defaultRunId,
    [ENV.POWERTOOLS_SERVICE_NAME]: id,
    [ENV.POWERTOOLS_LOG_LEVEL]: 'INFO',
    [ENV.POWERTOOLS_TRACE_ENABLED]: 'true',
  });
  const p = config.producer;
  const producer: FunctionSpec = {
    id: p.functionId,
    entry: HANDLER_ENTRIES.producer,
    timeoutSeconds: p.timeoutSeconds,
    memorySizeMb: p.memorySizeMb,
    environment: { ...common(p.functionId), [ENV.MAX_BODY_BYTES]: String(config.api.maxBodyBytes) },
  };
  const consumers = {} as Record<QueueKind, FunctionSpec>;
  const mappings = {} as Record<QueueKind, MappingSpec>;
  for (const kind of QUEUE_KINDS) {
    const c = config.consumers[kind];
    consumers[kind] = {
      id: c.functionId,
      entry: HANDLER_ENTRIES.consumer,
      timeoutSeconds: c.timeoutSeconds,
      memorySizeMb: c.memorySizeMb,
      environment: {
        ...common(c.functionId),
        [ENV.QUEUE_KIND]: kind,
        [ENV.BATCH_PROCESSING]: c.processing,
        [ENV.MAX_RECEIVE_COUNT]: String(config.queues[kind].dlq.maxReceiveCount),
        [ENV.IDEMPOTENCY_ENABLED]: 'true',
        [ENV.IDEMPOTENCY_KEY]: 'orderId',
        [ENV.IDEMPOTENCY_EXPIRES_AFTER_SECONDS]: String(config.idempotency.expiresAfterSeconds),
        [ENV.IDEMPOTENCY_KEY_PREFIX]: config.idempotency.keyPrefix[kind],
      },
    };
    mappings[kind] = {
      queue: kind,
      functionId: c.functionId,
      batchSize: c.batchSize,
      maxBatchingWindowSeconds: c.maxBatchingWindowSeconds,
      maximumConcurrency: c.maximumConcurrency,
      reportBatchItemFailures: true,
    };
  }
  return {
    stackName: config.stackName,
    queues: config.queues,
    tables: config.tables,
    producer,
    consumers,
    mappings,
    routes: [
      {
        method: 'POST',
        resource: '/orders',
        functionId: p.functionId,
        body: { model: 'Order', schema: orderJsonSchema() },
      },
      { method: 'GET', resource: '/orders/{orderId}', functionId: p.functionId },
    ],
    api: {
      throttlingRateLimit: config.api.throttlingRateLimit,
      throttlingBurstLimit: config.api.throttlingBurstLimit,
    },
  };
}

/** A function's environment with every resource reference replaced by the target's value. */
export function resolveEnvironment(
  environment: Readonly<Record<string, EnvValue>>,
  resources: { queueUrl(kind: QueueKind): string; tableName(id: TableId): string },
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(environment).map(([name, value]) => [
      name,
      typeof value === 'string'
        ? value
        : 'queueUrl' in value
          ? resources.queueUrl(value.queueUrl)
          : resources.tableName(value.tableName),
    ]),
  );
}
