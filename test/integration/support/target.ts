import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { apiFromStack } from '../../../lab/loadgen/adapters/stack-api';
import { deployedRecordBudgetMs, recordClockSkip } from '../../../lab/local-run';
import {
  applyOverrides,
  deployPipeline,
  type LocalCloud,
  type LocalCloudOptions,
  localSqsClient,
  startLocalCloud,
} from '../../../local/cloud';
import {
  createDynamoDbClient,
  createSqsClient,
  LOCAL_CREDENTIALS,
} from '../../../shared/src/aws-clients';
import { type PipelineConfig, pipelineConfig } from '../../../shared/src/config/pipeline';
import { describeDeployment } from '../../../shared/src/deployment';
import type { ClockSkip } from '../../../shared/src/fifo-redelivery';
import { QUEUE_KINDS, type QueueKind } from '../../../shared/src/queue-kind';
import { freshSeed } from '../../../shared/src/random';
import { readStackOutputs, requireOutput } from '../../../shared/src/stack-outputs';

/**
 * The integration suite's one switch: `TEST_TARGET` (default `local`) picks where the same
 * scenarios run. Every target returns the same `Target`. What a target cannot do is declared in
 * differences.ts (with the reason), not tested here by name.
 *
 * - local: the in-process local cloud (our SQS emulator + dynalite behind one edge port).
 * - localstack: SQS and DynamoDB of a LocalStack container at LOCALSTACK_ENDPOINT (started by
 *   `npm run test:localstack`); the pipeline is deployed onto it from the shared config and the
 *   producer, consumers and event source mappings run here, as in the local cloud.
 * - aws: a deployed stack found by name (STACK_NAME, default OrderPipelineLab) in AWS_REGION,
 *   with the default credential chain.
 */

export type TargetName = 'local' | 'localstack' | 'aws';

export interface TargetOptions {
  seed?: number;
  faults?: LocalCloudOptions['faults'];
  consumerEnv?: LocalCloudOptions['consumerEnv'];
  /** Extra producer environment (its fault switches); needs capabilities.consumerEnv. */
  producerEnv?: LocalCloudOptions['producerEnv'];
  pipeline?: LocalCloudOptions['pipeline'];
  waiveVisibilityGuidance?: LocalCloudOptions['waiveVisibilityGuidance'];
}

export interface Target {
  name: TargetName;
  apiUrl: string;
  /** The deployed API's key (usage plan); absent where the API takes none. */
  apiKey?: string;
  /** The AWS endpoint the SDK clients use (the edge locally); '' on AWS itself. */
  endpoint: string;
  region: string;
  seed: number;
  /**
   * The pipeline as it runs on this target, with the scenario's overrides (its consumers'
   * timeouts and so on): what a report of its runs must classify with. On AWS, the repository's
   * config, which the stack was deployed from (the aws target takes no overrides).
   */
  config: PipelineConfig;
  queueUrls: { fifo: string; standard: string; fifoDlq: string; standardDlq: string };
  tableNames: { idempotency: string; ledger: string };
  sqs: SQSClient;
  dynamodb: DynamoDBClient;
  documents: DynamoDBDocumentClient;
  capabilities: {
    /** The SQS clock can be advanced (visibility timeouts pass in milliseconds). */
    clock: boolean;
    /** Consumers can be started with extra env (fault switches, idempotency experiments). */
    consumerEnv: boolean;
  };
  /** Changes a consumer's environment (Lambda UpdateFunctionConfiguration); only when capabilities.consumerEnv. */
  updateConsumerEnv(kind: QueueKind, vars: Record<string, string>): Promise<void>;
  /** The same for the producer; only when capabilities.consumerEnv. */
  updateProducerEnv(vars: Record<string, string>): Promise<void>;
  /** Batches the consumers are processing right now (0 where the target cannot tell). */
  invocationsInFlight(): number;
  /**
   * Moves the clock forward, for SQS and the functions alike (`queuesOnly`: SQS alone); only
   * when capabilities.clock, otherwise it throws. An advance of the functions' clock is also
   * written, before it resolves, to the ledger of every run given to recordClockSkips (a
   * ClockSkipRecord, as lab/local-run.ts writes a local run's skips, with its writer).
   */
  advanceClock(ms: number, options?: { queuesOnly?: boolean }): Promise<void>;
  /**
   * Every advance of the functions' clock so far, on that clock (none where the clock cannot
   * move): the run check holds a receive's outcome to its deadline less the skips between.
   */
  clockSkips(): readonly ClockSkip[];
  /**
   * Writes every advance of the functions' clock so far to run `runId`'s ledger (`CLOCKSKIP#<n>`,
   * the target's nth, recordClockSkip), and from now on advanceClock writes each later one there
   * too, so the report of that run notes them. Every skip of the target, as the run check is
   * given them all (clockSkips): the target's runs share its clock. None where the clock cannot
   * move. Writing one again puts the same item.
   */
  recordClockSkips(runId: string): Promise<void>;
  /**
   * Per queue, the record budget of the consumer function as the target runs it
   * (recordBudgetMsFromEnv of that function's environment, deployedRecordBudgetMs, as
   * lab/local-run.ts reads it), the largest of every environment it was read with so far: a
   * scenario that changes a consumer's environment had records run under each. What the run
   * check holds a hand-back after a stall to (RunEvidence.recordBudgetMs). Empty where the
   * target cannot read it (aws: the stack, deployed from the repository's config, and the check
   * takes the repository's figure).
   */
  recordBudgetMs(): Partial<Record<QueueKind, number>>;
  stop(): Promise<void>;
}

export class UnsupportedTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedTargetError';
  }
}

const TARGETS: readonly TargetName[] = ['local', 'localstack', 'aws'];

export function targetName(env: Record<string, string | undefined> = process.env): TargetName {
  const raw = (env.TEST_TARGET ?? 'local').trim() || 'local';
  if (!(TARGETS as readonly string[]).includes(raw)) {
    throw new UnsupportedTargetError(
      `TEST_TARGET must be one of ${TARGETS.join(', ')}, got "${raw}"`,
    );
  }
  return raw as TargetName;
}

function collectLog(): (line: string) => void {
  return (line) => {
    if (process.env.LOCAL_CLOUD_LOG) process.stdout.write(`${line}\n`);
  };
}

/** A target whose SQS time is real: a scenario asking to skip time is a test bug (see differences.ts). */
function noClock(name: TargetName) {
  return async (): Promise<void> => {
    throw new UnsupportedTargetError(
      `${name} has no drivable SQS clock; guard the scenario with where('clock')`,
    );
  };
}

function documentsOf(dynamodb: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(dynamodb, {
    marshallOptions: { removeUndefinedValues: true },
  });
}

/**
 * Per queue, the largest record budget of the consumer functions `deployed` runs, over every
 * reading of it (each call reads their environments now): see Target.recordBudgetMs. Nothing
 * while no consumer function runs.
 */
function budgetsSeen(
  deployed: Parameters<typeof deployedRecordBudgetMs>[0],
): () => Partial<Record<QueueKind, number>> {
  const seen: Partial<Record<QueueKind, number>> = {};
  return () => {
    if (deployed.functions().length > 0) {
      const now = deployedRecordBudgetMs(deployed);
      for (const q of QUEUE_KINDS) seen[q] = Math.max(seen[q] ?? 0, now[q]);
    }
    return { ...seen };
  };
}

async function startLocal(options: TargetOptions): Promise<Target> {
  const cloud = await startLocalCloud({
    port: 0,
    apiPort: 0,
    faults: options.faults ?? 'none',
    // Short long-polls so stop() returns quickly; delivery itself is unaffected.
    pollWaitSeconds: 1,
    log: collectLog(),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.consumerEnv ? { consumerEnv: options.consumerEnv } : {}),
    ...(options.producerEnv ? { producerEnv: options.producerEnv } : {}),
    ...(options.pipeline ? { pipeline: options.pipeline } : {}),
    ...(options.waiveVisibilityGuidance ? { waiveVisibilityGuidance: true } : {}),
  });
  return targetOnLocalCloud(cloud);
}

/** The Target over a running local cloud; its stop() also stops the cloud. */
export function targetOnLocalCloud(cloud: LocalCloud): Target {
  const sqs = localSqsClient(cloud.edgeUrl, cloud.region);
  const dynamodb = createDynamoDbClient({
    endpoint: cloud.edgeUrl,
    region: cloud.region,
    credentials: LOCAL_CREDENTIALS,
  });
  const documents = documentsOf(dynamodb);
  const skips: ClockSkip[] = [];
  /** The runs whose ledger each skip is written to (recordClockSkips). */
  const skipRuns = new Set<string>();
  const writeSkip = (runId: string, n: number) =>
    recordClockSkip(documents, cloud.tableNames.ledger, runId, n, skips[n - 1]!);
  const budgets = budgetsSeen(cloud);
  // As deployed, before a scenario can change the consumers' environment.
  budgets();
  // The functions' clock, which stamps the ledger (local/function-runtime.ts reads the same
  // shared offset), not cloud.clock.now(), which a queues-only advance has moved further.
  const functionsOffset = new BigInt64Array(cloud.clock.shared);
  const functionsNow = () => Date.now() + Number(Atomics.load(functionsOffset, 0));
  return {
    name: 'local',
    apiUrl: cloud.apiUrl,
    endpoint: cloud.edgeUrl,
    region: cloud.region,
    seed: cloud.seed,
    config: cloud.config,
    queueUrls: cloud.queueUrls,
    tableNames: cloud.tableNames,
    sqs,
    dynamodb,
    documents,
    capabilities: { clock: true, consumerEnv: true },
    updateConsumerEnv: async (kind, vars) => {
      cloud.updateConsumerEnv(kind, vars);
      budgets();
    },
    updateProducerEnv: async (vars) => cloud.updateProducerEnv(vars),
    invocationsInFlight: () => cloud.invocationsInFlight(),
    advanceClock: async (ms, options) => {
      if (options?.queuesOnly) {
        cloud.clock.advance(ms, { functions: false });
        return;
      }
      skips.push({ at: functionsNow(), ms });
      // The clock moves at once, as the caller asked now; the skip's items are written after.
      cloud.clock.advance(ms, { functions: true });
      const n = skips.length;
      await Promise.all([...skipRuns].map((runId) => writeSkip(runId, n)));
    },
    clockSkips: () => skips,
    recordClockSkips: async (runId) => {
      skipRuns.add(runId);
      await Promise.all(skips.map((_, i) => writeSkip(runId, i + 1)));
    },
    recordBudgetMs: budgets,
    stop: async () => {
      sqs.destroy();
      dynamodb.destroy();
      await cloud.stop();
    },
  };
}

async function startLocalStack(options: TargetOptions): Promise<Target> {
  const endpoint = process.env.LOCALSTACK_ENDPOINT;
  if (!endpoint) {
    throw new UnsupportedTargetError(
      'TEST_TARGET=localstack needs LOCALSTACK_ENDPOINT (npm run test:localstack starts LocalStack and sets it)',
    );
  }
  const region = process.env.AWS_REGION ?? 'us-east-1';
  const seed = options.seed ?? freshSeed();
  const config = applyOverrides(pipelineConfig, options.pipeline);
  const deployment = describeDeployment(config, {
    waiveVisibilityGuidance: Boolean(options.waiveVisibilityGuidance),
  });
  const deployed = await deployPipeline({
    endpoint,
    credentials: LOCAL_CREDENTIALS,
    region,
    host: '127.0.0.1',
    seed,
    deployment,
    apiPort: 0,
    pollWaitSeconds: 1,
    log: collectLog(),
    ...(options.consumerEnv ? { consumerEnv: options.consumerEnv } : {}),
    ...(options.producerEnv ? { producerEnv: options.producerEnv } : {}),
  });
  const sqs = createSqsClient({ endpoint, region, credentials: LOCAL_CREDENTIALS });
  const dynamodb = createDynamoDbClient({ endpoint, region, credentials: LOCAL_CREDENTIALS });
  const budgets = budgetsSeen({ functions: deployed.functions, deployment });
  budgets();
  return {
    name: 'localstack',
    apiUrl: deployed.apiUrl,
    endpoint,
    region,
    seed,
    config,
    queueUrls: deployed.queueUrls,
    tableNames: {
      idempotency: deployment.tables.idempotency.name,
      ledger: deployment.tables.ledger.name,
    },
    sqs,
    dynamodb,
    documents: documentsOf(dynamodb),
    capabilities: { clock: false, consumerEnv: true },
    updateConsumerEnv: async (kind, vars) => {
      deployed.updateConsumerEnv(kind, vars);
      budgets();
    },
    updateProducerEnv: async (vars) => deployed.updateProducerEnv(vars),
    invocationsInFlight: () =>
      Object.values(deployed.mappings).reduce((n, m) => n + m.invocationsInFlight, 0),
    advanceClock: noClock('localstack'),
    clockSkips: () => [],
    recordClockSkips: async () => undefined,
    recordBudgetMs: budgets,
    stop: async () => {
      sqs.destroy();
      dynamodb.destroy();
      await deployed.stop();
    },
  };
}

async function startAws(options: TargetOptions): Promise<Target> {
  const stackName = process.env.STACK_NAME ?? 'OrderPipelineLab';
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new UnsupportedTargetError(
      'TEST_TARGET=aws needs AWS_REGION (the region the stack is deployed in) and AWS credentials',
    );
  }
  if (options.consumerEnv || options.producerEnv || options.pipeline) {
    throw new UnsupportedTargetError(
      "TEST_TARGET=aws cannot change the deployed consumers; guard the scenario with where('consumerEnv')",
    );
  }
  const cfn = new CloudFormationClient({ region, maxAttempts: 2 });
  try {
    const outputs = await readStackOutputs(stackName, cfn);
    const { apiUrl, apiKey } = await apiFromStack(stackName, { cfn });
    const sqs = createSqsClient({ region });
    const dynamodb = createDynamoDbClient({ region });
    const need = (key: Parameters<typeof requireOutput>[1]) =>
      requireOutput(outputs, key, stackName);
    return {
      name: 'aws',
      // The stage URL ends with a slash; the scenarios append /orders.
      apiUrl: apiUrl.replace(/\/+$/, ''),
      ...(apiKey ? { apiKey } : {}),
      endpoint: '',
      region,
      seed: options.seed ?? freshSeed(),
      config: pipelineConfig,
      queueUrls: {
        fifo: need('fifoQueueUrl'),
        standard: need('standardQueueUrl'),
        fifoDlq: need('fifoDlqUrl'),
        standardDlq: need('standardDlqUrl'),
      },
      tableNames: { idempotency: need('idempotencyTableName'), ledger: need('ledgerTableName') },
      sqs,
      dynamodb,
      documents: documentsOf(dynamodb),
      capabilities: { clock: false, consumerEnv: false },
      updateConsumerEnv: async () => {
        throw new UnsupportedTargetError(
          "aws: the deployed consumers' environment is the stack's; guard the scenario with where('consumerEnv')",
        );
      },
      updateProducerEnv: async () => {
        throw new UnsupportedTargetError(
          "aws: the deployed producer's environment is the stack's; guard the scenario with where('consumerEnv')",
        );
      },
      invocationsInFlight: () => 0,
      advanceClock: noClock('aws'),
      clockSkips: () => [],
      recordClockSkips: async () => undefined,
      recordBudgetMs: () => ({}),
      stop: async () => {
        sqs.destroy();
        dynamodb.destroy();
      },
    };
  } catch (err) {
    if (err instanceof UnsupportedTargetError) throw err;
    throw new UnsupportedTargetError(
      `TEST_TARGET=aws: stack ${stackName} in ${region} not usable: ${(err as Error).message}`,
    );
  } finally {
    cfn.destroy();
  }
}

/** Starts (or connects to) the target named by TEST_TARGET. Prints the seed for repeatability. */
export async function startTarget(options: TargetOptions = {}): Promise<Target> {
  return startTargetNamed(targetName(), options);
}

/** Starts one named target whatever TEST_TARGET says (the targets' own tests use it). */
export async function startTargetNamed(
  name: TargetName,
  options: TargetOptions = {},
): Promise<Target> {
  const start = { local: startLocal, localstack: startLocalStack, aws: startAws }[name];
  const target = await start(options);
  process.stdout.write(`integration target ${name}, seed ${target.seed}\n`);
  return target;
}
