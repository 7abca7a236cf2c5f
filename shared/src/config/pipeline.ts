/**
 * The pipeline's settings, in one place. `describeDeployment` (../deployment.ts) turns them into
 * the deployment `infra/` (CDK) and `local/` (the local cloud) both build, and
 * test/infra/deployment-agreement.test.ts checks that what the two build agrees.
 */

import { ACCEPTED_BY_RUN } from '../ledger';
import type { QueueKind } from '../queue-kind';

/** How a consumer runs the records of one batch. */
export type BatchProcessing = 'sequential' | 'parallel';

export interface DlqConfig {
  /** Queue name; a FIFO queue's DLQ must itself be FIFO (AWS rule), so it ends in `.fifo`. */
  name: string;
  /** Receives before SQS moves a message to the DLQ. */
  maxReceiveCount: number;
  retentionPeriodSeconds: number;
}

export interface QueueConfig {
  kind: QueueKind;
  name: string;
  fifo: boolean;
  visibilityTimeoutSeconds: number;
  retentionPeriodSeconds: number;
  receiveWaitTimeSeconds: number;
  /** FIFO only. */
  contentBasedDeduplication?: boolean;
  /** FIFO only: `messageGroup` + `perMessageGroupId` is AWS's high-throughput FIFO mode. */
  deduplicationScope?: 'queue' | 'messageGroup';
  fifoThroughputLimit?: 'perQueue' | 'perMessageGroupId';
  dlq: DlqConfig;
}

export interface ConsumerConfig {
  kind: QueueKind;
  /** Construct id and local function name. */
  functionId: string;
  timeoutSeconds: number;
  memorySizeMb: number;
  batchSize: number;
  /** Standard queues only: Lambda rejects a batching window on a FIFO event source. */
  maxBatchingWindowSeconds: number;
  /** Event source mapping MaximumConcurrency: 2..1000 (AWS limits). */
  maximumConcurrency: number;
  /**
   * FIFO always runs sequentially and stops at the first failure, so a group's later messages are
   * never applied before an earlier one. Standard may run a batch in parallel: faster, but it
   * reorders records of the same customer inside a batch on top of what the queue already does.
   */
  processing: BatchProcessing;
}

/** A global secondary index: string keys, projecting the keys and `projected`. */
export interface TableIndexConfig {
  indexName: string;
  partitionKey: string;
  sortKey: string;
  projected: readonly string[];
}

export interface TableConfig {
  name: string;
  partitionKey: string;
  sortKey?: string;
  ttlAttribute?: string;
  pointInTimeRecovery: boolean;
  globalIndexes?: readonly TableIndexConfig[];
}

export interface PipelineConfig {
  stackName: string;
  queues: Record<QueueKind, QueueConfig>;
  consumers: Record<QueueKind, ConsumerConfig>;
  producer: { functionId: string; timeoutSeconds: number; memorySizeMb: number };
  tables: { idempotency: TableConfig; ledger: TableConfig };
  idempotency: {
    /** How long an idempotency record suppresses a repeat (Powertools `expiresAfterSeconds`). */
    expiresAfterSeconds: number;
    /** Key prefix per queue, so the same order id is processed once per queue, not once overall. */
    keyPrefix: Record<QueueKind, string>;
  };
  api: {
    /** Largest request body the producer accepts; bigger answers 413. */
    maxBodyBytes: number;
    throttlingRateLimit: number;
    throttlingBurstLimit: number;
  };
  /** The run id used when a client sends no `X-Run-Id` header. */
  defaultRunId: string;
}

const CONSUMER_TIMEOUT_SECONDS = 10;
/**
 * Lambda's guidance for SQS event sources: at least 5 receives before the DLQ (see
 * MIN_MAX_RECEIVE_COUNT in ../deployment.ts), so throttles and timeouts do not dead-letter a
 * valid message.
 */
const MAX_RECEIVE_COUNT = 5;

export const pipelineConfig: PipelineConfig = {
  stackName: 'OrderPipelineLab',
  queues: {
    fifo: {
      kind: 'fifo',
      name: 'orders.fifo',
      fifo: true,
      // Lambda's guidance: visibility timeout at least 6x the function timeout, so a batch that
      // is retried by the poller is not redelivered while a previous invocation still runs.
      visibilityTimeoutSeconds: 6 * CONSUMER_TIMEOUT_SECONDS,
      retentionPeriodSeconds: 4 * 24 * 3600,
      receiveWaitTimeSeconds: 20,
      contentBasedDeduplication: false,
      deduplicationScope: 'messageGroup',
      fifoThroughputLimit: 'perMessageGroupId',
      dlq: {
        name: 'orders-dlq.fifo',
        maxReceiveCount: MAX_RECEIVE_COUNT,
        retentionPeriodSeconds: 14 * 24 * 3600,
      },
    },
    standard: {
      kind: 'standard',
      name: 'orders-standard',
      fifo: false,
      visibilityTimeoutSeconds: 6 * CONSUMER_TIMEOUT_SECONDS,
      retentionPeriodSeconds: 4 * 24 * 3600,
      receiveWaitTimeSeconds: 20,
      dlq: {
        name: 'orders-standard-dlq',
        maxReceiveCount: MAX_RECEIVE_COUNT,
        retentionPeriodSeconds: 14 * 24 * 3600,
      },
    },
  },
  consumers: {
    fifo: {
      kind: 'fifo',
      functionId: 'consumer-fifo',
      timeoutSeconds: CONSUMER_TIMEOUT_SECONDS,
      memorySizeMb: 512,
      batchSize: 10,
      maxBatchingWindowSeconds: 0,
      maximumConcurrency: 5,
      processing: 'sequential',
    },
    standard: {
      kind: 'standard',
      functionId: 'consumer-standard',
      timeoutSeconds: CONSUMER_TIMEOUT_SECONDS,
      memorySizeMb: 512,
      batchSize: 10,
      maxBatchingWindowSeconds: 1,
      maximumConcurrency: 5,
      processing: 'parallel',
    },
  },
  producer: { functionId: 'producer', timeoutSeconds: 10, memorySizeMb: 256 },
  tables: {
    // Powertools idempotency's schema: partition key `id`, TTL attribute `expiration`.
    idempotency: {
      name: 'order-pipeline-idempotency',
      partitionKey: 'id',
      ttlAttribute: 'expiration',
      pointInTimeRecovery: false,
    },
    // One partition per run (`RUN#<runId>`) so the report reads a run back with Query; accepted
    // orders are keyed on the order id and listed per run by the `byRun` index.
    ledger: {
      name: 'order-pipeline-ledger',
      partitionKey: 'pk',
      sortKey: 'sk',
      pointInTimeRecovery: true,
      globalIndexes: [ACCEPTED_BY_RUN],
    },
  },
  idempotency: {
    expiresAfterSeconds: 3600,
    keyPrefix: { fifo: 'consumer-fifo', standard: 'consumer-standard' },
  },
  api: { maxBodyBytes: 16 * 1024, throttlingRateLimit: 500, throttlingBurstLimit: 1000 },
  defaultRunId: 'adhoc',
};
