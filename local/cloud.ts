import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  type QueueAttributeName,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  createDynamoDbClient,
  createSqsClient,
  LOCAL_CREDENTIALS,
} from '../shared/src/aws-clients';
import { ENV } from '../shared/src/config/function-env';
import {
  type BatchProcessing,
  type ConsumerConfig,
  type PipelineConfig,
  pipelineConfig,
  type QueueConfig,
} from '../shared/src/config/pipeline';
import {
  type Deployment,
  describeDeployment,
  entryPath,
  type FunctionSpec,
  resolveEnvironment,
  TABLE_IDS,
} from '../shared/src/deployment';
import { QUEUE_KINDS, type QueueKind } from '../shared/src/queue-kind';
import { freshSeed } from '../shared/src/random';
import {
  MAX_REQUEST_BYTES as DYNAMODB_MAX_REQUEST_BYTES,
  type DynamoDbEngine,
  type DynamoDbUsage,
  type LocalDynamoDb,
  startDynamoDb,
} from './dynamodb';
import { type Edge, LIVE_PATH, startEdge } from './edge';
import {
  EventSourceMapping,
  inProcessSqsCalls,
  type MappingConfiguration,
  type SqsCall,
} from './event-source';
import { bundleFunction } from './function-bundle';
import { checkNice, type FunctionConfiguration, LocalFunction } from './function-runtime';
import { type Gateway, startGateway } from './gateway';
import { createLiveView, type LiveView, type LiveViewOptions } from './live/server';
import { createSqsEmulator, MAX_REQUEST_BYTES as SQS_MAX_REQUEST_BYTES } from './sqs';
import { createTable } from './tables';
import { type ThreadStats, threadStats } from './thread-stats';

/**
 * The local cloud: SQS (the project's emulator) and DynamoDB (dynalite) behind one edge port,
 * the pipeline deployed into them from the deployment description infra/ reads too
 * (shared/src/deployment.ts), the producer behind a
 * local API Gateway and both consumers behind Lambda-like SQS event source mappings. Everything
 * is created over the AWS SDK against the edge, so the local resources are made the way a user's
 * own code would make them.
 */

type SqsEmulator = ReturnType<typeof createSqsEmulator>;
type EmulatorOptions = NonNullable<Parameters<typeof createSqsEmulator>[0]>;

export type FunctionLogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';

/** Consumer settings an experiment may change without touching the shared config. */
export type ConsumerOverrides = Partial<
  Pick<
    ConsumerConfig,
    'batchSize' | 'maximumConcurrency' | 'maxBatchingWindowSeconds' | 'timeoutSeconds'
  > & { processing: BatchProcessing }
>;

export interface LocalCloudOptions {
  /** Edge port (SQS + DynamoDB); default 4566, 0 = a free port. */
  port?: number;
  /** API port (the producer's routes); default 3000, 0 = a free port. */
  apiPort?: number;
  host?: string;
  /** Master seed of the SQS fault model and of the consumers' fault switches; random when absent. */
  seed?: number;
  /** SQS fault model: a preset name (`none`, `realistic`, `demo`, `chaos`) or the emulator's config. */
  faults?: EmulatorOptions['faults'];
  /** dynalite keeps its tables on disk here; in memory when absent. */
  dataDir?: string;
  /**
   * What serves DynamoDB: dynalite (the default), or the in-memory prototype of the pipeline's
   * subset, for measuring what dynalite costs (docs/benchmarks.md); no data directory with it.
   */
  dynamodb?: DynamoDbEngine;
  /** Only SQS + DynamoDB on the edge: no queues, tables, functions or API. */
  servicesOnly?: boolean;
  /** Extra environment per consumer, e.g. `{ standard: { IDEMPOTENCY_ENABLED: 'false' } }`. */
  consumerEnv?: Partial<Record<QueueKind, Record<string, string>>>;
  /** Extra environment for the producer, e.g. `{ FAULT_LOST_SEND_ANSWER_RATE: '0.01' }`. */
  producerEnv?: Record<string, string>;
  /** Consumer mapping overrides for experiments. */
  pipeline?: Partial<Record<QueueKind, ConsumerOverrides>>;
  /** See DescribeOptions.waiveVisibilityGuidance: only for a scenario that needs it broken. */
  waiveVisibilityGuidance?: boolean;
  /** Log level of the functions' Powertools loggers; default WARN. */
  functionLogLevel?: FunctionLogLevel;
  /** Long-poll wait of the mappings' receives, 1..20 s (Lambda: 20 s); lower only to make stop() quicker. */
  pollWaitSeconds?: number;
  /** Producer environments kept warm at most (Lambda would scale further). Default 4. */
  producerConcurrency?: number;
  /**
   * Nice value of every function environment's thread, 0 (unchanged) to 19; default
   * DEFAULT_FUNCTION_NICE. On Linux the main thread (edge, SQS, gateway, mappings) and
   * DynamoDB's thread then get a core whenever they have work, as AWS's services never wait
   * for your functions' CPU; elsewhere it changes nothing (docs/local-cloud.md).
   */
  functionNice?: number;
  /**
   * Creates the event source mappings disabled (Lambda's `Enabled: false`): nothing is consumed
   * until `startConsumers()`, so an experiment can fill both queues first and time only the
   * consumers.
   */
  consumersPaused?: boolean;
  /** The live page's settings (flush period, stream bounds); tests drive its flushes with them. */
  liveView?: LiveViewOptions;
  region?: string;
  /** Origins a browser page may call the edge and the API from; none by default, `*` any. */
  allowedOrigins?: readonly string[];
  /** Receives one line per component state change, error and function log line. */
  log?: (line: string) => void;
}

/** One thread's event-loop utilisation since it started (diff two readings for an interval). */
export interface ThreadUsage {
  /** `main`, `dynamodb`, or `<function>#<n>` for a function's environment. */
  thread: string;
  elu: EventLoopUtilization;
}

/** Work the local cloud has done since it started; benchmarks diff two readings. */
export interface CloudUsage {
  /** HTTP requests served by surface: the API, SQS (by action), DynamoDB (by operation). */
  http: { gateway: number; sqs: Record<string, number>; dynamodb: Record<string, number> };
  /**
   * SQS calls the event source mappings made straight into the emulator (by action), which are
   * not HTTP requests; absent where they go over HTTP.
   */
  sqsInProcess?: Record<string, number>;
  /** TCP connections accepted per listening server: few means the clients keep them alive. */
  connections: Record<string, number>;
  dynamodb: DynamoDbUsage;
  threads: ThreadUsage[];
  /** CPU time of the whole process (every thread), microseconds. */
  cpu: NodeJS.CpuUsage;
}

export interface LocalCloud {
  edgeUrl: string;
  /**
   * DynamoDB's private endpoint (its own thread; the edge forwards to it): for the local cloud's
   * own clients, which skip the forwarding hop. Users point at the edge.
   */
  dynamodbUrl: string;
  /** '' when servicesOnly. */
  apiUrl: string;
  /** The live page (FIFO and standard side by side as orders apply); '' when servicesOnly. */
  liveUrl: string;
  /** What the live page shows, for tests and tools; undefined when servicesOnly. */
  live: LiveView | undefined;
  seed: number;
  /**
   * The cloud's clock: advance it to expire visibility timeouts and dedup windows; the functions'
   * `Date.now()` (Powertools' record expiry, the ledger's timestamps) moves with it.
   */
  clock: SqsEmulator['clock'];
  /** The emulator itself (faults can be changed at run time with setFaults). */
  sqs: SqsEmulator;
  /** DynamoDB's thread: its state, restarts and request counters. */
  dynamodb: LocalDynamoDb;
  /** Empty strings when servicesOnly. */
  queueUrls: { fifo: string; standard: string; fifoDlq: string; standardDlq: string };
  queueArns: { fifo: string; standard: string; fifoDlq: string; standardDlq: string };
  tableNames: { idempotency: string; ledger: string };
  region: string;
  /** The config the cloud was built from, after overrides. */
  config: PipelineConfig;
  /** The deployment description the cloud built its resources from. */
  deployment: Deployment;
  /** The functions as running now (ListFunctions); empty when servicesOnly. */
  functions(): FunctionConfiguration[];
  /** The event source mappings (ListEventSourceMappings); empty when servicesOnly. */
  eventSourceMappings(): DeployedMapping[];
  /** The API's routes and the function behind each; empty when servicesOnly. */
  routes(): DeployedRoute[];
  /**
   * Mapping statistics per consumer (received, invocations, failures, deletes, invocations by
   * records in their event), a copy: later readings do not change it.
   */
  mappingStats(): Partial<Record<QueueKind, EventSourceMapping['stats']>>;
  /** DynamoDB requests served so far, by operation (PutItem, UpdateItem, Query...). */
  dynamodbRequests(): Record<string, number>;
  /** Requests, connections, DynamoDB units, thread busy time and CPU so far. */
  usage(): CloudUsage;
  /** CPU time (Linux) and V8 heap of each thread so far, by the names usage() gives them. */
  threadStats(): Promise<Record<string, ThreadStats>>;
  /** Enables consumers created with `consumersPaused` (all, or the named ones). */
  startConsumers(kinds?: readonly QueueKind[]): void;
  /**
   * Ends every function environment not running an invocation (LocalFunction.releaseIdle); the
   * next event of a function starts a fresh one. Resolves with how many ended.
   */
  releaseIdleEnvironments(): Promise<number>;
  /**
   * Batches the mappings are processing right now (received, not yet deleted or failed), plus one
   * while SQS holds a batch no mapping has read yet (on its way to a poller).
   */
  invocationsInFlight(): number;
  /**
   * Changes a consumer's environment as Lambda's UpdateFunctionConfiguration does (new
   * invocations start in fresh environments); a no-op before the pipeline is deployed.
   */
  updateConsumerEnv(kind: QueueKind, vars: Record<string, string>): void;
  /** The same for the producer (its fault switches). */
  updateProducerEnv(vars: Record<string, string>): void;
  /** Stops polling, waits (bounded) for in-flight invocations, closes every port. Idempotent. */
  stop(): Promise<void>;
}

export type DeployedMapping = MappingConfiguration & { functionName: string };
export interface DeployedRoute {
  method: string;
  resource: string;
  functionName: string;
  bodySchema?: Record<string, unknown>;
}

/**
 * What this target sets over the description's environment: the functions' log level for the
 * run, tracing off (no X-Ray daemon here), and the seed of the functions' fault switches.
 */
export function localTargetEnv(logLevel: FunctionLogLevel, seed: number): Record<string, string> {
  return {
    [ENV.POWERTOOLS_LOG_LEVEL]: logLevel,
    [ENV.POWERTOOLS_TRACE_ENABLED]: 'false',
    [ENV.FAULT_SEED]: String(seed),
  };
}

/**
 * The function environments' nice value when none is given (see LocalCloudOptions.functionNice;
 * chosen by measurement, docs/benchmarks.md).
 */
export const DEFAULT_FUNCTION_NICE = 10;

/** An SQS client for the cloud's edge, signing with the fixed local credentials. */
export function localSqsClient(endpoint: string, region = 'us-east-1'): SQSClient {
  return createSqsClient({ endpoint, region, credentials: LOCAL_CREDENTIALS, maxSockets: 64 });
}

export function applyOverrides(
  base: PipelineConfig,
  overrides: LocalCloudOptions['pipeline'],
): PipelineConfig {
  const config = structuredClone(base);
  for (const kind of QUEUE_KINDS) {
    Object.assign(config.consumers[kind], overrides?.[kind] ?? {});
  }
  return config;
}

async function createQueue(
  sqs: SQSClient,
  name: string,
  attributes: Partial<Record<QueueAttributeName, string>>,
): Promise<{ url: string; arn: string }> {
  const created = await sqs.send(
    new CreateQueueCommand({ QueueName: name, Attributes: attributes }),
  );
  const url = created.QueueUrl!;
  const attrs = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  return { url, arn: attrs.Attributes!.QueueArn! };
}

async function createQueuePair(
  sqs: SQSClient,
  q: QueueConfig,
): Promise<{ url: string; arn: string; dlqUrl: string; dlqArn: string }> {
  const fifoAttrs: Partial<Record<QueueAttributeName, string>> = q.fifo
    ? { FifoQueue: 'true' }
    : {};
  const dlq = await createQueue(sqs, q.dlq.name, {
    ...fifoAttrs,
    MessageRetentionPeriod: String(q.dlq.retentionPeriodSeconds),
  });
  const main = await createQueue(sqs, q.name, {
    ...fifoAttrs,
    VisibilityTimeout: String(q.visibilityTimeoutSeconds),
    MessageRetentionPeriod: String(q.retentionPeriodSeconds),
    ReceiveMessageWaitTimeSeconds: String(q.receiveWaitTimeSeconds),
    ...(q.fifo
      ? {
          ContentBasedDeduplication: String(q.contentBasedDeduplication ?? false),
          ...(q.deduplicationScope ? { DeduplicationScope: q.deduplicationScope } : {}),
          ...(q.fifoThroughputLimit ? { FifoThroughputLimit: q.fifoThroughputLimit } : {}),
        }
      : {}),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: dlq.arn,
      maxReceiveCount: q.dlq.maxReceiveCount,
    }),
  });
  // Only the pipeline's own queue may use this DLQ (SQS RedriveAllowPolicy `byQueue`), so a
  // stray queue cannot dump its failures into the pipeline's dead letters.
  await sqs.send(
    new SetQueueAttributesCommand({
      QueueUrl: dlq.url,
      Attributes: {
        RedriveAllowPolicy: JSON.stringify({
          redrivePermission: 'byQueue',
          sourceQueueArns: [main.arn],
        }),
      },
    }),
  );
  return { url: main.url, arn: main.arn, dlqUrl: dlq.url, dlqArn: dlq.arn };
}

function isResourceInUse(err: unknown): boolean {
  const name = (err as Error)?.name ?? '';
  return name === 'ResourceInUseException';
}

const NO_QUEUES: LocalCloud['queueUrls'] = { fifo: '', standard: '', fifoDlq: '', standardDlq: '' };

/** Stop steps run once, last registered first; a failing step is logged and the rest still run. */
class Cleanups {
  private readonly steps: Array<() => Promise<void>> = [];
  private done = false;

  constructor(private readonly log: (line: string) => void) {}

  push(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  /** Runs the steps; false when they had already run. */
  async run(): Promise<boolean> {
    if (this.done) return false;
    this.done = true;
    for (const step of this.steps.reverse()) {
      try {
        await step();
      } catch (err) {
        this.log(`stop: ${(err as Error).message}`);
      }
    }
    return true;
  }
}

/** What `deployPipeline` needs: where the AWS services are and how the pipeline is set up there. */
export interface DeployPipelineOptions
  extends Pick<
    LocalCloudOptions,
    | 'apiPort'
    | 'consumerEnv'
    | 'producerEnv'
    | 'functionLogLevel'
    | 'pollWaitSeconds'
    | 'producerConcurrency'
    | 'functionNice'
    | 'allowedOrigins'
    | 'consumersPaused'
  > {
  /** The SQS and DynamoDB endpoint: the local edge, or an external one such as LocalStack. */
  endpoint: string;
  /**
   * Where the functions reach DynamoDB when that is not `endpoint` (the local cloud's private
   * DynamoDB port, which spares the edge a forwarded request per item operation).
   */
  dynamodbEndpoint?: string;
  /**
   * The SQS emulator's in-process entry, when the queues at `endpoint` live in this process (the
   * local cloud's own edge): the event source mappings call it instead of sending HTTP requests
   * to this same thread (see inProcessSqsCalls). Absent for an external endpoint (LocalStack).
   */
  sqsCall?: SqsCall;
  /**
   * The time of the SQS at `endpoint` (the emulator's drivable clock): the mappings tell by it
   * when a receipt handle's visibility timeout has passed. Date.now when absent.
   */
  sqsNow?: () => number;
  /**
   * How much longer the SQS at `endpoint` holds a receipt handle it answered on a queue (ms on
   * `sqsNow`'s clock; SqsEmulator.holdLeft): given with `sqsCall` for the local cloud's own
   * emulator, bound to each mapped queue, so a mapping knows a handle exactly as long as SQS
   * holds it. Absent for an external endpoint, which cannot tell: a mapping keeps a handle for
   * the queue's deploy-time visibility timeout.
   */
  sqsHoldLeft?: (queueUrl: string, receiptHandle: string) => number | undefined;
  credentials: { accessKeyId: string; secretAccessKey: string };
  region: string;
  host: string;
  seed: number;
  /** What to deploy (describeDeployment of the pipeline config, overrides applied). */
  deployment: Deployment;
  log: (line: string) => void;
  /**
   * Takes every line a function writes; true when it consumed the line as a metric line, which
   * is then logged only at DEBUG (one per invocation would drown the log).
   */
  onFunctionLine?: (functionName: string, line: string) => boolean;
  /** The drivable clock's shared offset, so the functions' `Date.now()` follows it. */
  clockOffset?: SharedArrayBuffer;
}

export interface DeployedPipeline {
  apiUrl: string;
  queueUrls: LocalCloud['queueUrls'];
  queueArns: LocalCloud['queueArns'];
  mappings: Partial<Record<QueueKind, EventSourceMapping>>;
  functions: LocalCloud['functions'];
  eventSourceMappings: LocalCloud['eventSourceMappings'];
  routes: LocalCloud['routes'];
  updateConsumerEnv(kind: QueueKind, vars: Record<string, string>): void;
  updateProducerEnv(vars: Record<string, string>): void;
  /** Requests and connections the API took, and the functions' environments' busy time. */
  usage(): { gatewayRequests: number; gatewayConnections: number; threads: ThreadUsage[] };
  /** CPU time and heap of each function environment's thread. */
  threadStats(): Promise<Array<{ thread: string } & ThreadStats>>;
  /** Enables the given consumers' mappings (all when none are named); a no-op for running ones. */
  startConsumers(kinds?: readonly QueueKind[]): void;
  releaseIdleEnvironments: LocalCloud['releaseIdleEnvironments'];
  /** Stops the API, the mappings and the functions; the queues and tables stay where they are. */
  stop(): Promise<void>;
}

function pickDeployOptions(options: LocalCloudOptions) {
  const {
    apiPort,
    consumerEnv,
    producerEnv,
    functionLogLevel,
    pollWaitSeconds,
    producerConcurrency,
    functionNice,
    allowedOrigins,
    consumersPaused,
  } = options;
  return Object.fromEntries(
    Object.entries({
      apiPort,
      allowedOrigins,
      consumerEnv,
      producerEnv,
      functionLogLevel,
      pollWaitSeconds,
      producerConcurrency,
      functionNice,
      consumersPaused,
    }).filter(([, v]) => v !== undefined),
  ) as Partial<DeployPipelineOptions>;
}

/**
 * Deploys the pipeline onto SQS and DynamoDB at `endpoint`, the way the stack does on AWS: queues
 * with their DLQs and tables from the deployment description (reused when they already exist, so a
 * long-lived LocalStack can be targeted again), then the producer behind a local API Gateway and
 * both consumers behind SQS event source mappings, all running here and talking to `endpoint`.
 * The local cloud uses it against its own edge; the LocalStack target against the container.
 */
export async function deployPipeline(options: DeployPipelineOptions): Promise<DeployedPipeline> {
  const { endpoint, credentials, region, host, seed, deployment, log } = options;
  const nice = checkNice(options.functionNice ?? DEFAULT_FUNCTION_NICE, 'functionNice');
  const mappings: Partial<Record<QueueKind, EventSourceMapping>> = {};
  const functions: LocalFunction[] = [];
  const queueUrls = { ...NO_QUEUES };
  const queueArns = { ...NO_QUEUES };
  const cleanups = new Cleanups(log);
  const stop = async (): Promise<void> => {
    await cleanups.run();
  };

  try {
    const sqsClient = createSqsClient({ endpoint, region, credentials, maxSockets: 64 });
    const dynamoClient = createDynamoDbClient({
      endpoint: options.dynamodbEndpoint ?? endpoint,
      region,
      credentials,
    });
    cleanups.push(async () => {
      sqsClient.destroy();
      dynamoClient.destroy();
    });

    for (const kind of QUEUE_KINDS) {
      const queue = deployment.queues[kind];
      const q = await createQueuePair(sqsClient, queue);
      queueUrls[kind] = q.url;
      queueArns[kind] = q.arn;
      queueUrls[`${kind}Dlq`] = q.dlqUrl;
      queueArns[`${kind}Dlq`] = q.dlqArn;
      log(
        `sqs: created ${queue.name} with DLQ ${queue.dlq.name} (maxReceiveCount ${queue.dlq.maxReceiveCount})`,
      );
    }
    for (const id of TABLE_IDS) {
      const table = deployment.tables[id];
      try {
        await createTable(dynamoClient, table, log);
        log(`dynamodb: created table ${table.name}`);
      } catch (err) {
        // On disk (--data-dir) the tables survive a restart: reuse them.
        if (!isResourceInUse(err)) throw err;
        log(`dynamodb: table ${table.name} exists, reused`);
      }
    }

    const functionLogLevel = options.functionLogLevel ?? 'WARN';
    const onLog = (fn: string, line: string) => {
      const metricLine = options.onFunctionLine?.(fn, line) ?? false;
      if (!metricLine || functionLogLevel === 'DEBUG') log(`${fn}: ${line}`);
    };
    const clock = options.clockOffset ? { clockOffset: options.clockOffset } : {};
    /**
     * A function of the description, with what this target supplies itself: the variables Lambda
     * sets in every environment, the endpoint that points the SDK here, the seed of the fault
     * switches, and the log level chosen for this run. Tracing is off: there is no X-Ray daemon
     * here, and the handlers then never load the tracer (shared/src/tracing.ts).
     */
    const localFunction = (
      spec: FunctionSpec,
      extraEnv: Record<string, string> | undefined,
      maxEnvironments: number,
    ): LocalFunction => {
      const fn = new LocalFunction({
        name: spec.id,
        modulePath: entryPath(spec.entry),
        env: {
          ...(process.env.PATH ? { PATH: process.env.PATH } : {}),
          ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
          ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
          AWS_REGION: region,
          AWS_DEFAULT_REGION: region,
          AWS_ACCESS_KEY_ID: credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
          AWS_ENDPOINT_URL: endpoint,
          // The SDK's per-service endpoint variable, as for any app whose services live apart.
          ...(options.dynamodbEndpoint
            ? { AWS_ENDPOINT_URL_DYNAMODB: options.dynamodbEndpoint }
            : {}),
          AWS_LAMBDA_FUNCTION_NAME: spec.id,
          AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
          AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memorySizeMb),
          AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${spec.id}`,
          // The deployed functions run nodejs24.x; the SDK's warning about this machine's Node 20
          // would otherwise repeat in every environment's log.
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          ...resolveEnvironment(spec.environment, {
            queueUrl: (kind) => queueUrls[kind],
            tableName: (id) => deployment.tables[id].name,
          }),
          ...localTargetEnv(functionLogLevel, seed),
          ...(extraEnv ?? {}),
        },
        timeoutSeconds: spec.timeoutSeconds,
        memorySizeMb: spec.memorySizeMb,
        maxEnvironments,
        region,
        onLog,
        nice,
        ...clock,
      });
      functions.push(fn);
      return fn;
    };

    const producer = localFunction(
      deployment.producer,
      options.producerEnv,
      options.producerConcurrency ?? 4,
    );
    const consumers = {} as Record<QueueKind, LocalFunction>;
    for (const kind of QUEUE_KINDS) {
      consumers[kind] = localFunction(
        deployment.consumers[kind],
        options.consumerEnv?.[kind],
        deployment.mappings[kind].maximumConcurrency,
      );
    }
    const byId = new Map(functions.map((f) => [f.name, f]));
    cleanups.push(async () => {
      await Promise.all(functions.map((f) => f.stop(2000)));
      log('functions: stopped');
    });
    await Promise.all(functions.map((f) => f.warm()));
    if (options.consumersPaused) {
      // Consumers that start on a full queue (the sweep) are timed from the moment they are
      // enabled: every environment their maximum concurrency allows is started now, as Lambda's
      // provisioned concurrency would, so that time holds the consumers' work and not cold starts
      // (seconds each on a busy machine) that only a point using more than one environment pays
      // (FIFO with one group runs one batch at a time, in the environment warmed above).
      await Promise.all(
        QUEUE_KINDS.flatMap((kind) =>
          Array.from({ length: deployment.mappings[kind].maximumConcurrency - 1 }, () =>
            consumers[kind].warm(),
          ),
        ),
      );
    }
    log(`functions: ${functions.map((f) => f.name).join(', ')} initialised`);

    for (const kind of QUEUE_KINDS) {
      const m = deployment.mappings[kind];
      const queue = deployment.queues[kind];
      const fn = byId.get(m.functionId)!;
      const queueUrl = queueUrls[kind];
      const { sqsHoldLeft } = options;
      const mapping = new EventSourceMapping({
        sqs: options.sqsCall ? inProcessSqsCalls(options.sqsCall, queueUrl) : sqsClient,
        queueUrl,
        queueArn: queueArns[kind],
        region,
        fifo: queue.fifo,
        batchSize: m.batchSize,
        maxBatchingWindowSeconds: m.maxBatchingWindowSeconds,
        maximumConcurrency: m.maximumConcurrency,
        reportBatchItemFailures: m.reportBatchItemFailures,
        invoke: (event) => fn.invoke(event),
        visibilityTimeoutSeconds: queue.visibilityTimeoutSeconds,
        ...(options.sqsNow ? { now: options.sqsNow } : {}),
        ...(sqsHoldLeft ? { holdLeft: (handle: string) => sqsHoldLeft(queueUrl, handle) } : {}),
        ...(options.pollWaitSeconds !== undefined
          ? { pollWaitSeconds: options.pollWaitSeconds }
          : {}),
        log: (line) => log(`mapping-${kind}: ${line}`),
      });
      mappings[kind] = mapping;
      cleanups.push(async () => {
        await mapping.stop(Math.min(fn.configuration().timeoutSeconds * 1000, 5000));
        log(`mapping-${kind}: stopped`);
      });
      const settings = `batch ${m.batchSize}, max concurrency ${m.maximumConcurrency}${queue.fifo ? '' : `, window ${m.maxBatchingWindowSeconds}s`}, ReportBatchItemFailures`;
      if (options.consumersPaused) {
        log(`mapping-${kind}: created disabled on ${queue.name} (${settings})`);
      } else {
        mapping.start();
        log(`mapping-${kind}: polling ${queue.name} (${settings})`);
      }
    }
    const startConsumers = (kinds: readonly QueueKind[] = QUEUE_KINDS) => {
      for (const kind of kinds) {
        const mapping = mappings[kind];
        if (!mapping || mapping.isRunning) continue;
        mapping.start();
        log(`mapping-${kind}: enabled, polling ${deployment.queues[kind].name}`);
      }
    };

    let gatewayRequests = 0;
    let gatewayConnections = 0;
    // API Gateway's proxy event names the route it matched: it picks the function.
    const routeFunctions = new Map(
      deployment.routes.map((r) => [`${r.method} ${r.resource}`, byId.get(r.functionId)!]),
    );
    const gateway: Gateway = await startGateway({
      routes: deployment.routes.map((r) => ({
        resource: r.resource,
        method: r.method,
        ...(r.body ? { bodySchema: r.body.schema } : {}),
      })),
      invoke: (event) => routeFunctions.get(`${event.httpMethod} ${event.resource}`)!.invoke(event),
      port: options.apiPort ?? 3000,
      host,
      log,
      ...(options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {}),
    });
    gateway.server.on('request', () => gatewayRequests++);
    gateway.server.on('connection', () => gatewayConnections++);
    cleanups.push(async () => {
      await gateway.close();
      log('gateway: stopped');
    });
    const routeList = deployment.routes.map((r) => `${r.method} ${r.resource}`).join(', ');
    log(`gateway: listening on ${gateway.url} (${routeList})`);
    return {
      apiUrl: gateway.url,
      queueUrls,
      queueArns,
      mappings,
      functions: () => functions.map((f) => f.configuration()),
      eventSourceMappings: () =>
        QUEUE_KINDS.flatMap((kind) => {
          const mapping = mappings[kind];
          if (!mapping) return [];
          const functionName = deployment.mappings[kind].functionId;
          return [{ ...mapping.configuration(), functionName }];
        }),
      routes: () =>
        deployment.routes.map((r) => ({
          method: r.method,
          resource: r.resource,
          functionName: routeFunctions.get(`${r.method} ${r.resource}`)!.name,
          ...(r.body ? { bodySchema: r.body.schema } : {}),
        })),
      updateConsumerEnv: (kind, vars) => consumers[kind].updateEnvironment(vars),
      updateProducerEnv: (vars) => producer.updateEnvironment(vars),
      usage: () => ({
        gatewayRequests,
        gatewayConnections,
        threads: functions.flatMap((f) => f.threadUsage()),
      }),
      threadStats: async () => (await Promise.all(functions.map((f) => f.threadStats()))).flat(),
      releaseIdleEnvironments: async () =>
        (await Promise.all(functions.map((f) => f.releaseIdle()))).reduce((a, b) => a + b, 0),
      startConsumers,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * A poll hook that skips the SQS visibility timeout once no batch has been in flight for `polls`
 * polls in a row. What is left then only waits for its timeout to be retried; skipping it under
 * a running invocation would hand that invocation's messages to a second receive (a duplicate
 * nobody asked for, and one more of the maxReceiveCount receives spent).
 */
export function skipVisibilityWhenIdle(
  inFlight: () => number,
  advance: () => void | Promise<void>,
  polls: number,
): () => Promise<void> {
  let idle = 0;
  return async () => {
    idle = inFlight() === 0 ? idle + 1 : 0;
    if (idle < polls) return;
    idle = 0;
    await advance();
  };
}

export async function startLocalCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  const log = options.log ?? (() => undefined);
  const host = options.host ?? '127.0.0.1';
  const region = options.region ?? 'us-east-1';
  const seed = options.seed ?? freshSeed();
  if (options.functionNice !== undefined) checkNice(options.functionNice, 'functionNice');
  const config = applyOverrides(pipelineConfig, options.pipeline);
  // Refuses a config AWS would refuse, the same way infra/ does, before anything starts.
  const deployment = describeDeployment(config, {
    waiveVisibilityGuidance: Boolean(options.waiveVisibilityGuidance),
  });
  const mappings: Partial<Record<QueueKind, EventSourceMapping>> = {};
  const sqsRequests: Record<string, number> = {};
  const sqsInProcess: Record<string, number> = {};
  let edgeConnections = 0;
  let pipelineUsage: DeployedPipeline['usage'] = () => ({
    gatewayRequests: 0,
    gatewayConnections: 0,
    threads: [],
  });
  let pipelineStats: DeployedPipeline['threadStats'] = async () => [];
  const cleanups = new Cleanups(log);
  const stop = async (): Promise<void> => {
    if (await cleanups.run()) log('local cloud: stopped');
  };

  try {
    // The functions' bundles are built while the rest starts (esbuild works in its own process;
    // DynamoDB starts in its own thread): their first environments, started once the queues and
    // tables exist, then find them built. A build that fails here is not kept, and is tried again
    // (and its error reported) by the environment that needs it.
    if (!options.servicesOnly) {
      for (const spec of [
        deployment.producer,
        ...QUEUE_KINDS.map((k) => deployment.consumers[k]),
      ]) {
        bundleFunction(entryPath(spec.entry)).catch(() => undefined);
      }
    }
    const sqs = createSqsEmulator({
      seed,
      region,
      ...(options.faults !== undefined ? { faults: options.faults } : {}),
    });
    let sqsStopped = false;
    cleanups.push(async () => {
      sqsStopped = true;
      await sqs.close();
      log('sqs: stopped');
    });
    log(
      `sqs: emulator ready (seed ${seed}${options.faults !== undefined ? `, faults ${typeof options.faults === 'string' ? options.faults : 'custom'}` : ''})`,
    );

    // Set once the pipeline's tables exist: a restarted in-memory DynamoDB has none.
    let recreateTables: (() => Promise<void>) | undefined;
    const dynamodb: LocalDynamoDb = await startDynamoDb({
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      ...(options.dynamodb ? { engine: options.dynamodb } : {}),
      log,
      onRestart: () => recreateTables?.(),
    });
    cleanups.push(async () => {
      await dynamodb.close();
      log('dynamodb: stopped');
    });
    log(
      `dynamodb: ${options.dynamodb === 'prototype' ? 'the prototype store' : 'dynalite'} ready in its own thread (${options.dataDir ? `on disk at ${options.dataDir}` : 'in memory'}), private endpoint ${dynamodb.url}`,
    );

    // The live page reads the consumers' metric lines; without the pipeline there are none.
    const live = options.servicesOnly ? undefined : createLiveView(options.liveView);

    const edge: Edge = await startEdge(
      {
        sqs: (req, res) => {
          // The action of a JSON request is in its header; a Query-protocol form carries it in
          // the body, which the edge does not read.
          const target = req.headers['x-amz-target'];
          const op =
            typeof target === 'string'
              ? target.slice(target.indexOf('.') + 1)
              : req.url?.startsWith('/_emulator/')
                ? 'control'
                : 'Query protocol';
          sqsRequests[op] = (sqsRequests[op] ?? 0) + 1;
          sqs.handle(req, res);
        },
        ...(live ? { live: (req, res) => live.handle(req, res) } : {}),
        dynamodb: (req, res) => dynamodb.handle(req, res),
        maxBodyBytes: { sqs: SQS_MAX_REQUEST_BYTES, dynamodb: DYNAMODB_MAX_REQUEST_BYTES },
        health: () => ({
          seed,
          faults: sqs.faults(),
          servicesOnly: Boolean(options.servicesOnly),
          restarts: { dynamodb: dynamodb.restarts() },
          components: {
            // The emulator lives in this process: while it answers, SQS does.
            sqs: sqsStopped ? 'stopped' : 'running',
            dynamodb: dynamodb.state(),
            ...Object.fromEntries(
              Object.entries(mappings).map(([k, m]) => [
                `mapping-${k}`,
                m.isRunning ? 'polling' : 'stopped',
              ]),
            ),
          },
        }),
      },
      {
        port: options.port ?? 4566,
        host,
        log,
        ...(options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {}),
      },
    );
    edge.server.on('connection', () => edgeConnections++);
    cleanups.push(async () => {
      await edge.close();
      log('edge: stopped');
    });
    log(`edge: listening on ${edge.url}`);

    /**
     * 1 while SQS holds a batch of a mapped queue that no mapping has read yet (answered, the
     * answer not yet parsed: on a busy machine that takes seconds), else 0. Such a batch is in
     * flight before its mapping counts it, and a clock skip then would hand it out twice. Also
     * forgets the handles SQS no longer holds (deleted, or visible again).
     */
    const batchesInTransit = (): number => {
      const mapped = Object.values(mappings);
      if (mapped.length === 0) return 0;
      const held = new Set(sqs.heldReceipts(QUEUE_KINDS.map((q) => config.queues[q].name)));
      let transit = 0;
      for (const handle of held) {
        if (!mapped.some((m) => m.knownReceipts.has(handle))) transit++;
      }
      for (const m of mapped) {
        for (const handle of m.knownReceipts.keys()) {
          if (!held.has(handle)) m.knownReceipts.delete(handle);
        }
      }
      return transit > 0 ? 1 : 0;
    };

    const cloud: LocalCloud = {
      edgeUrl: edge.url,
      dynamodbUrl: dynamodb.url,
      apiUrl: '',
      liveUrl: '',
      live: undefined,
      seed,
      clock: sqs.clock,
      sqs,
      dynamodb,
      queueUrls: { ...NO_QUEUES },
      queueArns: { ...NO_QUEUES },
      tableNames: {
        idempotency: config.tables.idempotency.name,
        ledger: config.tables.ledger.name,
      },
      region,
      config,
      deployment,
      functions: () => [],
      eventSourceMappings: () => [],
      routes: () => [],
      updateConsumerEnv: () => undefined,
      startConsumers: () => undefined,
      releaseIdleEnvironments: async () => 0,
      updateProducerEnv: () => undefined,
      dynamodbRequests: () => dynamodb.usage().requests,
      usage: () => {
        const dynamo = dynamodb.usage();
        const pipeline = pipelineUsage();
        return {
          http: {
            gateway: pipeline.gatewayRequests,
            sqs: { ...sqsRequests },
            dynamodb: dynamo.requests,
          },
          sqsInProcess: { ...sqsInProcess },
          connections: { edge: edgeConnections, gateway: pipeline.gatewayConnections },
          dynamodb: dynamo,
          threads: [
            { thread: 'main', elu: performance.eventLoopUtilization() },
            { thread: 'dynamodb', elu: dynamodb.eventLoopUtilization() },
            ...pipeline.threads,
          ],
          cpu: process.cpuUsage(),
        };
      },
      threadStats: async () => {
        const [dynamo, functionThreads] = await Promise.all([
          dynamodb.threadStats(),
          pipelineStats(),
        ]);
        return Object.fromEntries([
          ['main', threadStats()],
          ...(dynamo ? [['dynamodb', dynamo]] : []),
          ...functionThreads.map(({ thread, ...stats }) => [thread, stats]),
        ]);
      },
      invocationsInFlight: () =>
        Object.values(mappings).reduce((n, m) => n + m.invocationsInFlight, 0) + batchesInTransit(),
      mappingStats: () =>
        Object.fromEntries(
          Object.entries(mappings).map(([k, m]) => [
            k,
            { ...m.stats, invocationsByRecords: { ...m.stats.invocationsByRecords } },
          ]),
        ),
      stop,
    };

    if (!live) return cloud;
    // Streams end before the edge closes, which would otherwise wait for them.
    cleanups.push(async () => live.close());
    cloud.live = live;
    cloud.liveUrl = `${edge.url}${LIVE_PATH}`;
    const deployed = await deployPipeline({
      endpoint: edge.url,
      dynamodbEndpoint: dynamodb.url,
      // The mappings poll the emulator of this thread without an HTTP round trip to themselves.
      sqsCall: (action, input, callOptions) => {
        sqsInProcess[action] = (sqsInProcess[action] ?? 0) + 1;
        return sqs.call(action, input, callOptions);
      },
      sqsNow: () => sqs.clock.now(),
      sqsHoldLeft: (queueUrl, receiptHandle) => sqs.holdLeft(queueUrl, receiptHandle),
      credentials: LOCAL_CREDENTIALS,
      region,
      host,
      seed,
      deployment,
      log,
      onFunctionLine: (_fn, line) => live.ingest(line),
      // One clock for the whole cloud: skipping time on SQS skips it for the functions too.
      clockOffset: sqs.clock.shared,
      ...pickDeployOptions(options),
    });
    cleanups.push(() => deployed.stop());
    if (!options.dataDir) {
      recreateTables = async () => {
        const client = createDynamoDbClient({
          endpoint: dynamodb.url,
          region,
          credentials: LOCAL_CREDENTIALS,
        });
        try {
          for (const id of TABLE_IDS) await createTable(client, deployment.tables[id], log);
          log(
            'dynamodb: error: the pipeline tables were created again, EMPTY: idempotency records and ledger entries written before the restart are gone, so a report over this run is wrong',
          );
        } finally {
          client.destroy();
        }
      };
    }
    cloud.apiUrl = deployed.apiUrl;
    Object.assign(cloud.queueUrls, deployed.queueUrls);
    Object.assign(cloud.queueArns, deployed.queueArns);
    Object.assign(mappings, deployed.mappings);
    cloud.functions = deployed.functions;
    cloud.eventSourceMappings = deployed.eventSourceMappings;
    cloud.routes = deployed.routes;
    cloud.updateConsumerEnv = deployed.updateConsumerEnv;
    cloud.startConsumers = deployed.startConsumers;
    cloud.releaseIdleEnvironments = deployed.releaseIdleEnvironments;
    cloud.updateProducerEnv = deployed.updateProducerEnv;
    pipelineUsage = deployed.usage;
    pipelineStats = deployed.threadStats;
    return cloud;
  } catch (err) {
    await stop();
    throw err;
  }
}
