/** The producer function's configuration: its environment, read once at cold start into a typed config. */

import { ENV } from '../../../shared/src/config/function-env';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import {
  ConfigError,
  type Env,
  getNumberFromEnv,
  getOptionalStringFromEnv,
  getStringFromEnv,
} from '../../../shared/src/env';
import { runIdSchema } from '../../../shared/src/order';
import type { QueueKind } from '../../../shared/src/queue-kind';
import type { ProducerFaultConfig } from './domain/faults';
import { validId } from './domain/request';

export interface ProducerConfig {
  ledgerTableName: string;
  queueUrls: Record<QueueKind, string>;
  maxBodyBytes: number;
  defaultRunId: string;
  faults: ProducerFaultConfig;
  /**
   * The function timeout the deployment gives the producer: the remaining time of an invocation
   * whose Lambda context is not at hand (a test calling the app without one).
   */
  timeoutMs: number;
  /**
   * What a send lease's deadline adds to the invocation's remaining time, for the clocks of two
   * instances (domain/resend.ts sendingDeadline).
   */
  clockMarginMs: number;
  /**
   * For records claimed before send leases existed (no `sendingUntil`): how long after its claim
   * the claiming request may still be sending, the function timeout plus the clock margin
   * (domain/resend.ts leaseHeldFor). A record with a lease carries its own deadline, taken from
   * the invocation's remaining time.
   */
  inProgressWindowMs: number;
}

/** What a send lease adds to the invocation's remaining time for the clocks of two instances. */
export const CLOCK_MARGIN_MS = 1000;

/** Reads the producer's configuration; throws at cold start when something is missing. */
export function loadProducerConfig(env: Env = process.env): ProducerConfig {
  const defaultRunId = getOptionalStringFromEnv(
    ENV.DEFAULT_RUN_ID,
    pipelineConfig.defaultRunId,
    env,
  );
  validId(defaultRunId, runIdSchema, ENV.DEFAULT_RUN_ID);
  const maxBodyBytes = getNumberFromEnv(ENV.MAX_BODY_BYTES, pipelineConfig.api.maxBodyBytes, env);
  return {
    ledgerTableName: getStringFromEnv(ENV.LEDGER_TABLE_NAME, env),
    queueUrls: {
      fifo: getStringFromEnv(ENV.FIFO_QUEUE_URL, env),
      standard: getStringFromEnv(ENV.STANDARD_QUEUE_URL, env),
    },
    maxBodyBytes,
    defaultRunId,
    faults: {
      seed: getNumberFromEnv(ENV.FAULT_SEED, 0, env),
      lostSendAnswerRate: rateFromEnv(ENV.FAULT_LOST_SEND_ANSWER_RATE, env),
    },
    // The deployment gives the function this timeout (shared/src/deployment.ts), on AWS and locally.
    timeoutMs: pipelineConfig.producer.timeoutSeconds * 1000,
    clockMarginMs: CLOCK_MARGIN_MS,
    inProgressWindowMs: pipelineConfig.producer.timeoutSeconds * 1000 + CLOCK_MARGIN_MS,
  };
}

function rateFromEnv(name: string, env: Env): number {
  const value = getNumberFromEnv(name, 0, env);
  if (value < 0 || value > 1) {
    throw new ConfigError(`environment variable ${name} must be between 0 and 1`);
  }
  return value;
}
