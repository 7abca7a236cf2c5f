import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type LocalCloudOptions, localSqsClient, startLocalCloud } from '../../../local/cloud';
import { createDynamoDbClient, LOCAL_CREDENTIALS } from '../../../shared/src/aws-clients';
import type { QueueKind } from '../../../shared/src/config/pipeline';

/**
 * The integration suite's one switch: `TEST_TARGET` (default `local`) picks where the same
 * scenarios run. Each target returns the same `Target`; scenarios that need something only a
 * target can do (drive the SQS clock, change a consumer's env) ask `capabilities` first and say
 * why they cannot run elsewhere. `localstack` and `aws` plug in here (the integration issue).
 */

export type TargetName = 'local' | 'localstack' | 'aws';

export interface TargetOptions {
  seed?: number;
  faults?: LocalCloudOptions['faults'];
  consumerEnv?: LocalCloudOptions['consumerEnv'];
  pipeline?: LocalCloudOptions['pipeline'];
}

export interface Target {
  name: TargetName;
  apiUrl: string;
  /** The AWS endpoint the SDK clients use (the edge locally). */
  endpoint: string;
  region: string;
  seed: number;
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
  /** Moves the SQS clock forward; only when capabilities.clock. */
  advanceClock(ms: number): Promise<void>;
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

async function startLocal(options: TargetOptions): Promise<Target> {
  const lines: string[] = [];
  const cloud = await startLocalCloud({
    port: 0,
    apiPort: 0,
    faults: options.faults ?? 'none',
    // Short long-polls so stop() returns quickly; delivery itself is unaffected.
    pollWaitSeconds: 1,
    log: (line) => {
      lines.push(line);
      if (process.env.LOCAL_CLOUD_LOG) process.stdout.write(`${line}\n`);
    },
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.consumerEnv ? { consumerEnv: options.consumerEnv } : {}),
    ...(options.pipeline ? { pipeline: options.pipeline } : {}),
  });
  const sqs = localSqsClient(cloud.edgeUrl, cloud.region);
  const dynamodb = createDynamoDbClient({
    endpoint: cloud.edgeUrl,
    region: cloud.region,
    credentials: LOCAL_CREDENTIALS,
  });
  return {
    name: 'local',
    apiUrl: cloud.apiUrl,
    endpoint: cloud.edgeUrl,
    region: cloud.region,
    seed: cloud.seed,
    queueUrls: cloud.queueUrls,
    tableNames: cloud.tableNames,
    sqs,
    dynamodb,
    documents: DynamoDBDocumentClient.from(dynamodb),
    capabilities: { clock: true, consumerEnv: true },
    advanceClock: async (ms) => {
      cloud.clock.advance(ms);
    },
    stop: async () => {
      sqs.destroy();
      dynamodb.destroy();
      await cloud.stop();
    },
  };
}

/** Starts (or connects to) the target named by TEST_TARGET. Prints the seed for repeatability. */
export async function startTarget(options: TargetOptions = {}): Promise<Target> {
  const name = targetName();
  switch (name) {
    case 'local': {
      const target = await startLocal(options);
      process.stdout.write(`integration target local, seed ${target.seed}\n`);
      return target;
    }
    default:
      throw new UnsupportedTargetError(
        `TEST_TARGET=${name} is not implemented yet: only "local" runs today (localstack and aws come with the integration issue)`,
      );
  }
}

export type { QueueKind };
