import { randomUUID } from 'node:crypto';
import { setTimeout as sleepMs } from 'node:timers/promises';
import {
  BatchProcessor,
  EventType,
  processPartialResponse,
  SqsFifoPartialProcessorAsync,
} from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { ENV } from '../../../shared/src/config/function-env';
import {
  type BatchProcessing,
  pipelineConfig,
  QUEUE_KINDS,
  type QueueKind,
} from '../../../shared/src/config/pipeline';
import {
  ConfigError,
  type Env,
  getBooleanFromEnv,
  getEnumFromEnv,
  getNumberFromEnv,
  getOptionalStringFromEnv,
  getStringFromEnv,
} from '../../../shared/src/env';
import {
  type DeliveryRecord,
  deliverySk,
  type EffectRecord,
  effectSk,
  failureSk,
  ORDER_GUARD_KEY,
  runPk,
} from '../../../shared/src/ledger';
import type { OrderEvent } from '../../../shared/src/metrics';
import { type Delivery, parseDelivery } from './domain/delivery';
import { decideFaults, type FaultConfig, InjectedFaultError } from './domain/faults';
import type { ConsumerLedgerPort, ConsumerMetricsPort, DeliveryOutcome } from './domain/ports';

export type IdempotencyKeyField = 'orderId' | 'messageId';

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

export interface ConsumerDeps {
  ledger: ConsumerLedgerPort;
  /** Required when idempotency is enabled (DynamoDBPersistenceLayer in production). */
  persistenceStore?: BasePersistenceLayer;
  logger: Pick<Logger, 'info' | 'warn' | 'error' | 'appendKeys' | 'removeKeys'>;
  now?: () => number;
  newId?: () => string;
  sleep?: (ms: number) => Promise<void>;
  /**
   * Ends the execution environment at once (the injected crash). Lambda reports a process that
   * exits mid-invocation as Runtime.ExitError and the whole batch returns to the queue.
   */
  crash?: () => Promise<never>;
  /** One event per delivery outcome, published at the end of each invocation. */
  metrics?: ConsumerMetricsPort;
  /** Runs each record in its own trace subsegment, annotated with the order (X-Ray on AWS). */
  traceRecord?: <R>(
    annotations: Record<string, string | number>,
    work: () => Promise<R>,
  ) => Promise<R>;
}

/** The idempotent function's payload: what is hashed for the key and for payload validation. */
interface EffectInput {
  orderId: string;
  messageId: string;
  runId: string;
  customerId: string;
  sequence: number;
  amount: number;
  currency: string;
  acceptedAt: number;
  items: { sku: string; quantity: number; unitPrice: number }[];
}

/** The result stored with the idempotency record and answered to duplicates. */
export interface EffectResult {
  applyIndex: number;
  committedAt: number;
}

/** Per-call state beside the idempotent payload (not part of the key or the stored result). */
interface RunMarker {
  /** Set when the effect body ran; false when a stored result answered instead. */
  ran: boolean;
  /** Set when the body ran but the effect's conditional write found the effect already there. */
  refused: boolean;
  /**
   * Injected slowness of the work itself: it runs after Powertools has saved the IN_PROGRESS
   * record, as a slow effect would, so a copy delivered meanwhile meets that record.
   */
  stallMs: number;
  /** Injected crash once the effect committed. */
  crashAfterEffect: boolean;
  /** Set when the body ran: a higher sequence of the customer had already taken its turn. */
  late: boolean;
}

const exitNow = (): Promise<never> => {
  process.exit(1);
};

export type ConsumerHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export function createConsumerHandler(
  config: ConsumerFunctionConfig,
  deps: ConsumerDeps,
): ConsumerHandler {
  const { ledger, logger } = deps;
  const now = deps.now ?? Date.now;
  const newId = deps.newId ?? randomUUID;
  const sleep = deps.sleep ?? ((ms: number) => sleepMs(ms).then(() => undefined));
  const crash = deps.crash ?? exitNow;
  const { queue } = config;
  const { effectGuard } = config.idempotency;

  /** The effect's key is its guard: one effect per key, keyed on what idempotency is keyed on. */
  const guardKey = (input: EffectInput): string => {
    if (!effectGuard) return `unguarded-${newId()}`;
    return config.idempotency.key === 'orderId' ? ORDER_GUARD_KEY : `message-${input.messageId}`;
  };

  const applyEffect = async (input: EffectInput, marker: RunMarker): Promise<EffectResult> => {
    marker.ran = true;
    if (marker.stallMs > 0) await sleep(marker.stallMs);
    // The index is taken before the conditional write, so a refused write (or a crash between the
    // two) leaves a gap in the customer's indexes; the report counts those gaps.
    const turn = await ledger.takeApplyTurn(input.runId, queue, input.customerId, input.sequence);
    const { applyIndex } = turn;
    marker.late = turn.late;
    const committedAt = now();
    const effect: EffectRecord = {
      pk: runPk(input.runId),
      sk: effectSk(queue, input.orderId, guardKey(input)),
      type: 'effect',
      runId: input.runId,
      queue,
      orderId: input.orderId,
      customerId: input.customerId,
      sequence: input.sequence,
      messageId: input.messageId,
      applyIndex,
      acceptedAt: input.acceptedAt,
      committedAt,
    };
    if (effectGuard) {
      const write = await ledger.putEffectIfAbsent(effect);
      if (!write.written) {
        // Powertools' record let this attempt through (it had expired, or a crash left it in
        // progress past its expiry), but the effect exists: answer with the first effect.
        marker.refused = true;
        return write.existing;
      }
    } else {
      await ledger.putEffect(effect);
    }
    if (marker.crashAfterEffect) {
      logger.warn('crashing after the effect (injected)', { order: input.orderId, applyIndex });
      await crash();
    }
    return { applyIndex, committedAt };
  };

  let idempotencyConfig: IdempotencyConfig | undefined;
  let apply: (input: EffectInput, marker: RunMarker) => Promise<EffectResult> = applyEffect;
  if (config.idempotency.enabled) {
    if (!deps.persistenceStore) {
      throw new ConfigError('idempotency is enabled but no persistence store was given');
    }
    idempotencyConfig = new IdempotencyConfig({
      // The order id survives every copy SQS makes and every client retry the producer re-sends;
      // the message id only survives SQS's own redeliveries (the experiment that shows the gap).
      eventKeyJmesPath: config.idempotency.key,
      // Same key with a different order is a bug upstream: Powertools raises
      // IdempotencyValidationError instead of answering with the other order's result.
      payloadValidationJmesPath: '[customerId, sequence, amount, currency, items]',
      throwOnNoIdempotencyKey: true,
      expiresAfterSeconds: config.idempotency.expiresAfterSeconds,
    });
    apply = makeIdempotent(applyEffect, {
      persistenceStore: deps.persistenceStore,
      config: idempotencyConfig,
      // Per queue, so one order is applied once on EACH queue rather than once overall.
      keyPrefix: config.idempotency.keyPrefix,
      dataIndexArgument: 0,
    });
  }

  /**
   * The current invocation: an environment runs one invocation at a time. Each delivery record
   * names the invocation it ran in, and the last record to finish marks it ended
   * (`invocationEnd`, on its outcome write: no extra request). An invocation with no end mark
   * timed out or died, and SQS deletes nothing of its batch, so even a record that succeeded in
   * it comes back: the report counts that as a retry after failure, not a copy.
   */
  let invocation = { id: '', size: 0, finished: 0 };
  /** Counts a record as finished; true for the one that ends the invocation. */
  const finish = (stopsBatch: boolean): boolean => {
    invocation.finished++;
    return stopsBatch || invocation.finished === invocation.size;
  };

  /** What the delivery and failure records of one receive share. */
  function ledgerFields(delivery: Delivery) {
    const { message } = delivery;
    return {
      pk: runPk(message.runId),
      runId: message.runId,
      queue,
      orderId: message.orderId,
      customerId: message.customerId,
      sequence: message.sequence,
      messageId: delivery.messageId,
      receiveCount: delivery.receiveCount,
    };
  }

  async function recordFailure(delivery: Delivery, error: unknown): Promise<void> {
    await ledger.putFailure({
      ...ledgerFields(delivery),
      sk: failureSk(queue, delivery.message.orderId, newId()),
      type: 'failure',
      final: delivery.receiveCount >= config.maxReceiveCount,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      failedAt: now(),
    });
  }

  const metrics = deps.metrics;
  const traceRecord =
    deps.traceRecord ??
    (<R>(_annotations: Record<string, string | number>, work: () => Promise<R>) => work());

  function event(
    delivery: Delivery,
    kind: OrderEvent['event'],
    extra: Pick<OrderEvent, 'late' | 'latencyMs'> = {},
  ): OrderEvent {
    const { message } = delivery;
    return {
      event: kind,
      runId: message.runId,
      orderId: message.orderId,
      customerId: message.customerId,
      sequence: message.sequence,
      receiveCount: delivery.receiveCount,
      ...extra,
    };
  }

  async function handleRecord(record: SQSRecord): Promise<EffectResult> {
    let counted = false;
    const done = (stopsBatch: boolean): boolean => {
      counted = true;
      return finish(stopsBatch);
    };
    try {
      const delivery = parseDelivery(record);
      const { message } = delivery;
      return await traceRecord(
        {
          orderId: message.orderId,
          customerId: message.customerId,
          queue,
          receiveCount: delivery.receiveCount,
        },
        () => handleDelivery(delivery, done),
      );
    } finally {
      if (!counted) finish(false);
    }
  }

  async function handleDelivery(
    delivery: Delivery,
    done: (stopsBatch: boolean) => boolean,
  ): Promise<EffectResult> {
    const { message } = delivery;
    // appendKeys is logger-wide: with parallel processing another record's lines may carry this
    // order id, so the lines below also name their order in their own data.
    logger.appendKeys({ orderId: message.orderId, runId: message.runId });
    try {
      const delivered: DeliveryRecord = {
        ...ledgerFields(delivery),
        sk: deliverySk(queue, message.orderId, newId()),
        type: 'delivery',
        ...(delivery.sequenceNumber ? { sequenceNumber: delivery.sequenceNumber } : {}),
        sentAt: delivery.sentAt,
        firstReceivedAt: delivery.firstReceivedAt,
        receivedAt: now(),
        outcome: 'pending',
        ...(invocation.id ? { invocationId: invocation.id } : {}),
      };
      // Every receive is counted before any dedup, so the report sees duplicates the
      // idempotency layer hides.
      await ledger.putDelivery(delivered);
      const key = { pk: delivered.pk, sk: delivered.sk };
      try {
        const fault = decideFaults(config.faults, message.orderId, delivery.receiveCount);
        if (fault.failure) throw new InjectedFaultError(fault.failure, message.orderId);
        const marker: RunMarker = {
          ran: false,
          refused: false,
          stallMs: fault.delayMs,
          crashAfterEffect: fault.crashAfterEffect,
          late: false,
        };
        const result = await apply(
          {
            orderId: message.orderId,
            messageId: delivery.messageId,
            runId: message.runId,
            customerId: message.customerId,
            sequence: message.sequence,
            amount: message.amount,
            currency: message.currency,
            acceptedAt: message.acceptedAt,
            items: message.items,
          },
          marker,
        );
        if (fault.failAfterEffect) throw new InjectedFaultError('after-effect', message.orderId);
        const outcome: DeliveryOutcome =
          marker.ran && !marker.refused
            ? { outcome: 'applied', at: now() }
            : { outcome: 'suppressed', suppressedBy: marker.ran ? 'effect' : 'record', at: now() };
        await ledger.setDeliveryOutcome(key, { ...outcome, invocationEnd: done(false) });
        metrics?.record(
          outcome.outcome === 'applied'
            ? event(delivery, 'applied', {
                ...(marker.late ? { late: true } : {}),
                latencyMs: result.committedAt - message.acceptedAt,
              })
            : event(delivery, 'suppressed'),
        );
        logger.info('delivery handled', {
          order: message.orderId,
          outcome: outcome.outcome,
          ...(outcome.suppressedBy ? { suppressedBy: outcome.suppressedBy } : {}),
          applyIndex: result.applyIndex,
        });
        return result;
      } catch (err) {
        logger.warn('delivery failed', {
          order: message.orderId,
          receiveCount: delivery.receiveCount,
          error: err instanceof Error ? err.message : String(err),
        });
        metrics?.record(event(delivery, 'failed'));
        // FIFO stops the batch at its first failure (the rest is handed back unrun): this record
        // is then the invocation's last.
        await ledger.setDeliveryOutcome(key, {
          outcome: 'failed',
          at: now(),
          invocationEnd: done(queue === 'fifo'),
        });
        await recordFailure(delivery, err);
        throw err;
      }
    } finally {
      logger.removeKeys(['orderId', 'runId']);
    }
  }

  const processBatch = async (batch: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    if (queue === 'fifo') {
      // FIFO: records of one group must apply in order. The FIFO processor runs them one by one
      // and, at the first failure, reports that record and every later one as failed without
      // running them, so SQS redelivers the rest of the group in order and nothing jumps ahead.
      // (`skipGroupOnError` would keep other groups going; stopping the whole batch is the
      // simpler guarantee and the cost is only a redelivery of records that did not run.)
      return processPartialResponse(batch, handleRecord, new SqsFifoPartialProcessorAsync(), {
        context,
        throwOnFullBatchFailure: false,
      });
    }
    // Standard: `parallel` runs a batch's records concurrently, so even a customer's orders that
    // arrived in order inside one batch may apply in any order (faster, on top of the queue's own
    // best-effort order); `sequential` keeps the batch's order but still inherits the queue's.
    return processPartialResponse(batch, handleRecord, new BatchProcessor(EventType.SQS), {
      context,
      throwOnFullBatchFailure: false,
      processInParallel: config.batchProcessing === 'parallel',
    });
  };

  return async (batch, context) => {
    invocation = { id: context.awsRequestId, size: batch.Records.length, finished: 0 };
    idempotencyConfig?.registerLambdaContext(context);
    try {
      return await processBatch(batch, context);
    } finally {
      // One line per invocation; an invocation that dies (timeout, crash) writes none, as on AWS.
      metrics?.publish();
    }
  };
}
