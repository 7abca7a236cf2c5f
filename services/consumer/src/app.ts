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
  type FailureRecord,
  failureSk,
  ORDER_GUARD_KEY,
  runPk,
} from '../../../shared/src/ledger';
import type { OrderEvent } from '../../../shared/src/metrics';
import { type Delivery, parseDelivery } from './domain/delivery';
import { decideFaults, type FaultConfig, InjectedFaultError } from './domain/faults';
import type {
  ConsumerLedgerPort,
  ConsumerMetricsPort,
  DeliveryOutcome,
  InvocationEnd,
} from './domain/ports';

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

  function failureRecord(delivery: Delivery, error: unknown): FailureRecord {
    return {
      ...ledgerFields(delivery),
      sk: failureSk(queue, delivery.message.orderId, newId()),
      type: 'failure',
      final: delivery.receiveCount >= config.maxReceiveCount,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      failedAt: now(),
    };
  }

  /**
   * One receive of the current invocation: its delivery record (written when the batch arrives)
   * and, once it ran, how it ended (written with the whole batch's when the invocation returns).
   */
  interface Slot {
    delivery: Delivery;
    record: DeliveryRecord;
    outcome?: DeliveryOutcome;
    failure?: FailureRecord;
  }

  /**
   * The current invocation's receives, by the event's record objects (the batch processors hand
   * the same objects to the record handler), so two copies of one message in a batch are two
   * slots. An environment runs one invocation at a time.
   */
  let slots = new Map<SQSRecord, Slot>();

  function slotsOf(batch: SQSEvent, invocationId: string): Map<SQSRecord, Slot> {
    const out = new Map<SQSRecord, Slot>();
    const receivedAt = now();
    for (const sqsRecord of batch.Records) {
      let delivery: Delivery;
      try {
        delivery = parseDelivery(sqsRecord);
      } catch {
        // Not an order: it fails when its turn comes (handleRecord parses it again) and leaves
        // nothing in the ledger, which has no run to put it in.
        continue;
      }
      out.set(sqsRecord, {
        delivery,
        record: {
          ...ledgerFields(delivery),
          sk: deliverySk(queue, delivery.message.orderId, newId()),
          type: 'delivery',
          ...(delivery.sequenceNumber ? { sequenceNumber: delivery.sequenceNumber } : {}),
          sentAt: delivery.sentAt,
          firstReceivedAt: delivery.firstReceivedAt,
          receivedAt,
          outcome: 'pending',
          ...(invocationId ? { invocationId } : {}),
        },
      });
    }
    return out;
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
    const slot = slots.get(record);
    if (!slot) {
      // Only a record that is not an order has no slot: parsing it again throws its error.
      parseDelivery(record);
      throw new Error(`record ${record.messageId} was not recorded as a delivery`);
    }
    const { message } = slot.delivery;
    return traceRecord(
      {
        orderId: message.orderId,
        customerId: message.customerId,
        queue,
        receiveCount: slot.delivery.receiveCount,
      },
      () => handleDelivery(slot),
    );
  }

  async function handleDelivery(slot: Slot): Promise<EffectResult> {
    const { delivery } = slot;
    const { message } = delivery;
    // appendKeys is logger-wide: with parallel processing another record's lines may carry this
    // order id, so the lines below also name their order in their own data.
    logger.appendKeys({ orderId: message.orderId, runId: message.runId });
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
      const applied = marker.ran && !marker.refused;
      if (applied) {
        // The effect committed: it counts now, whatever happens to this delivery afterwards (a
        // later failure is recorded as well, and its retry is answered without applying).
        metrics?.record(
          event(delivery, 'applied', {
            ...(marker.late ? { late: true } : {}),
            latencyMs: result.committedAt - message.acceptedAt,
          }),
        );
      }
      if (fault.failAfterEffect) throw new InjectedFaultError('after-effect', message.orderId);
      slot.outcome = applied
        ? { outcome: 'applied', at: now() }
        : { outcome: 'suppressed', suppressedBy: marker.ran ? 'effect' : 'record', at: now() };
      if (!applied) metrics?.record(event(delivery, 'suppressed'));
      logger.info('delivery handled', {
        order: message.orderId,
        outcome: slot.outcome.outcome,
        ...(slot.outcome.suppressedBy ? { suppressedBy: slot.outcome.suppressedBy } : {}),
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
      slot.outcome = { outcome: 'failed', at: now() };
      slot.failure = failureRecord(delivery, err);
      throw err;
    } finally {
      logger.removeKeys(['orderId', 'runId']);
    }
  }

  /**
   * Writes how every delivery of the invocation ended, in one batch, each marked as the end of
   * its invocation. Receives the FIFO processor handed back without running them lose their
   * delivery record: they were never attempted, and come back as first attempts.
   */
  async function endInvocation(): Promise<void> {
    const end: InvocationEnd = { outcomes: [], unrun: [], failures: [] };
    for (const { record, outcome, failure } of slots.values()) {
      if (!outcome) {
        end.unrun.push({ pk: record.pk, sk: record.sk });
        continue;
      }
      end.outcomes.push({
        ...record,
        outcome: outcome.outcome,
        outcomeAt: outcome.at,
        ...(outcome.suppressedBy ? { suppressedBy: outcome.suppressedBy } : {}),
        invocationEnd: true,
      });
      if (failure) end.failures.push(failure);
    }
    try {
      await ledger.setDeliveryOutcomes(end);
    } catch (err) {
      // The invocation fails, so SQS deletes nothing of the batch and every record comes back;
      // the deliveries stay pending, which the report reads as an invocation that died.
      for (const { delivery, outcome } of slots.values()) {
        if (outcome && outcome.outcome !== 'failed') metrics?.record(event(delivery, 'failed'));
      }
      throw err;
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
    slots = slotsOf(batch, context.awsRequestId);
    idempotencyConfig?.registerLambdaContext(context);
    try {
      // Every receive is in the ledger before any record of the batch runs, so the report sees
      // the duplicates that idempotency hides; one write for the batch.
      await ledger.putDeliveries([...slots.values()].map((slot) => slot.record));
      const response = await processBatch(batch, context);
      await endInvocation();
      return response;
    } finally {
      // One line per invocation; an invocation that dies (timeout, crash) writes none, as on AWS.
      metrics?.publish();
    }
  };
}
