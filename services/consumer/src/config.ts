/** The consumer function's configuration: its environment, read once at cold start into a typed config. */

import {
  clientTimeoutsFromEnv,
  DYNAMODB_BACKOFF_BASE_MS,
  dynamoDbTriesFromEnv,
  LAMBDA_DYNAMODB_TIMEOUTS,
  stalledCallMs,
} from '../../../shared/src/aws-clients';
import { ENV } from '../../../shared/src/config/function-env';
import { type BatchProcessing, pipelineConfig } from '../../../shared/src/config/pipeline';
import {
  ConfigError,
  type Env,
  getBooleanFromEnv,
  getEnumFromEnv,
  getNumberFromEnv,
  getOptionalStringFromEnv,
  getStringFromEnv,
} from '../../../shared/src/env';
import { QUEUE_KINDS, type QueueKind } from '../../../shared/src/queue-kind';
import type { FaultConfig } from './domain/faults';

export type IdempotencyKeyField = 'orderId' | 'messageId';

/**
 * How long before the invocation's deadline its DynamoDB calls are given up
 * (adapters/call-deadline.ts, set in handlers/sqs.ts): a record's calls `recordsMs` before it (what
 * the invocation keeps for its end: the outcomes' write and the answer), the end write `endMs`
 * before it (the answer). The soak check reads them too: a record handed back past the records'
 * cut was handed back with no more than `recordsMs` left (lab/soak/check.ts).
 */
export const CALL_ROOM = { recordsMs: 1_000, endMs: 250 } as const;

/**
 * The time a record needs before it starts, once a DynamoDB call of the invocation has run out
 * (domain/record-handling.ts, startsRecord): one stalled call of the DynamoDB clients as `env`
 * sets them (tries x request timeout + backoff, shared/src/aws-clients.ts; 4,175 ms at the
 * defaults) and the records' room (CALL_ROOM.recordsMs): 5,175 ms at the defaults. The handler
 * reads it at cold start (handlers/sqs.ts); the soak check holds a hand-back's own figure of it
 * to the configured one (lab/soak/check.ts), with no Lambda environment to import the handler in.
 */
export function recordBudgetMsFromEnv(env: Env = process.env): number {
  const { requestTimeoutMs } = clientTimeoutsFromEnv('dynamodb', LAMBDA_DYNAMODB_TIMEOUTS, env);
  return (
    stalledCallMs(dynamoDbTriesFromEnv(env), requestTimeoutMs, DYNAMODB_BACKOFF_BASE_MS) +
    CALL_ROOM.recordsMs
  );
}

export interface ConsumerFunctionConfig {
  queue: QueueKind;
  ledgerTableName: string;
  batchProcessing: BatchProcessing;
  maxReceiveCount: number;
  idempotency: {
    enabled: boolean;
    /** Required when enabled. */
    tableName?: string;
    key: IdempotencyKeyField;
    expiresAfterSeconds: number;
    keyPrefix: string;
    /**
     * The effect's own conditional write, keyed like the record (`key`). Off only with
     * idempotency off, or explicitly to show what it prevents (a test of the tests).
     */
    effectGuard: boolean;
  };
  faults: FaultConfig;
}

/** Reads the consumer's configuration; throws at cold start when something is missing or wrong. */
export function loadConsumerConfig(env: Env = process.env): ConsumerFunctionConfig {
  const queue = getEnumFromEnv(ENV.QUEUE_KIND, QUEUE_KINDS, undefined, env);
  const enabled = getBooleanFromEnv(ENV.IDEMPOTENCY_ENABLED, true, env);
  const maxReceiveCount = getNumberFromEnv(
    ENV.MAX_RECEIVE_COUNT,
    pipelineConfig.queues[queue].dlq.maxReceiveCount,
    env,
  );
  if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1) {
    throw new ConfigError(`environment variable ${ENV.MAX_RECEIVE_COUNT} must be an integer >= 1`);
  }
  const rate = (name: string): number => {
    const value = getNumberFromEnv(name, 0, env);
    if (value < 0 || value > 1) {
      throw new ConfigError(`environment variable ${name} must be between 0 and 1`);
    }
    return value;
  };
  return {
    queue,
    ledgerTableName: getStringFromEnv(ENV.LEDGER_TABLE_NAME, env),
    batchProcessing: getEnumFromEnv(
      ENV.BATCH_PROCESSING,
      ['sequential', 'parallel'] as const,
      pipelineConfig.consumers[queue].processing,
      env,
    ),
    maxReceiveCount,
    idempotency: {
      enabled,
      ...(enabled ? { tableName: getStringFromEnv(ENV.IDEMPOTENCY_TABLE_NAME, env) } : {}),
      key: getEnumFromEnv(ENV.IDEMPOTENCY_KEY, ['orderId', 'messageId'] as const, 'orderId', env),
      expiresAfterSeconds: getNumberFromEnv(
        ENV.IDEMPOTENCY_EXPIRES_AFTER_SECONDS,
        pipelineConfig.idempotency.expiresAfterSeconds,
        env,
      ),
      keyPrefix: getOptionalStringFromEnv(
        ENV.IDEMPOTENCY_KEY_PREFIX,
        pipelineConfig.idempotency.keyPrefix[queue],
        env,
      ),
      effectGuard: enabled && getBooleanFromEnv(ENV.EFFECT_GUARD_ENABLED, true, env),
    },
    faults: {
      seed: getNumberFromEnv(ENV.FAULT_SEED, 0, env),
      firstAttemptFailureRate: rate(ENV.FAULT_FIRST_ATTEMPT_FAILURE_RATE),
      slowRate: rate(ENV.FAULT_SLOW_RATE),
      slowMs: getNumberFromEnv(ENV.FAULT_SLOW_MS, 0, env),
      poisonPrefix: getOptionalStringFromEnv(ENV.FAULT_POISON_PREFIX, '', env),
      crashAfterEffectRate: rate(ENV.FAULT_CRASH_AFTER_EFFECT_RATE),
      failAfterEffectPrefix: getOptionalStringFromEnv(ENV.FAULT_FAIL_AFTER_EFFECT_PREFIX, '', env),
    },
  };
}
