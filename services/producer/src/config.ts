/** The producer function's configuration: its environment, read once at cold start into a typed config. */

import { ENV } from '../../../shared/src/config/function-env';
import { pipelineConfig, type QueueKind } from '../../../shared/src/config/pipeline';
import {
  ConfigError,
  type Env,
  getNumberFromEnv,
  getOptionalStringFromEnv,
  getStringFromEnv,
} from '../../../shared/src/env';
import { runIdSchema } from '../../../shared/src/order';
import type { ProducerFaultConfig } from './domain/faults';
import { validId } from './domain/request';

export interface ProducerConfig {
  ledgerTableName: string;
  queueUrls: Record<QueueKind, string>;
  maxBodyBytes: number;
  defaultRunId: string;
  faults: ProducerFaultConfig;
  /**
   * How long after an order's claim the claiming request may still be sending it: the producer's
   * function timeout (Lambda ends the invocation then) plus a second for the clocks of two
   * instances. A client retry inside it, while ids are missing, is answered 409 instead of sending
   * again (domain/resend.ts stillSendingFor).
   */
  inProgressWindowMs: number;
}

/** What inProgressWindowMs adds to the function timeout for the clocks of two instances. */
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
