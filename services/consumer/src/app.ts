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
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { ConfigError } from '../../../shared/src/env';
import { quietly } from '../../../shared/src/quietly';
import { parseDelivery } from './adapters/sqs-record';
import type { ConsumerFunctionConfig } from './config';
import type {
  CallDeadlinePort,
  ConsumerLedgerPort,
  ConsumerLogPort,
  ConsumerMetricsPort,
  HeldWritesPort,
} from './domain/ports';
import {
  type ApplyEffect,
  createEffect,
  createRecordHandling,
  type Received,
} from './domain/record-handling';

/**
 * The consumer's wiring: Powertools idempotency around the effect, Powertools' batch processors
 * around the record handling, the SQS records turned into deliveries. What a delivery does is
 * the domain's (domain/record-handling.ts); what the function is configured with, config.ts's.
 */

export interface ConsumerDeps {
  ledger: ConsumerLedgerPort;
  /** Required when idempotency is enabled (DynamoDBPersistenceLayer in production). */
  persistenceStore?: BasePersistenceLayer;
  /**
   * What holds writes for the invocation's end write: the persistence store itself in
   * production (adapters/idempotency-store.ts holds its COMPLETED records); it holds them only
   * with the effect guard on (without the guard nothing is held: each COMPLETED record is
   * Powertools' own update, sent as the record completes), and is begun and ended with every
   * invocation either way, for the copies it answers beside their order.
   */
  heldWrites?: HeldWritesPort;
  logger: ConsumerLogPort;
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
  /**
   * What a record needs left of the invocation to start once a DynamoDB call of it has run out
   * of time (one stalled call and room for the invocation's end: handlers/sqs.ts); absent, every
   * record starts (domain/record-handling.ts, startsRecord).
   */
  recordBudgetMs?: number;
  /**
   * The cut on the DynamoDB calls, set from the invocation's deadline with `callRoom`
   * (adapters/call-deadline.ts, on the clients handlers/sqs.ts makes); absent, no call is cut.
   */
  callDeadline?: CallDeadlinePort;
  callRoom?: { recordsMs: number; endMs: number };
  /** Runs each record in its own trace subsegment, annotated with the order (X-Ray on AWS). */
  traceRecord?: <R>(
    annotations: Record<string, string | number>,
    work: () => Promise<R>,
  ) => Promise<R>;
}

const exitNow = (): Promise<never> => {
  process.exit(1);
};

export type ConsumerHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export function createConsumerHandler(
  config: ConsumerFunctionConfig,
  deps: ConsumerDeps,
): ConsumerHandler {
  const { queue } = config;
  const handlingDeps = {
    ledger: deps.ledger,
    logger: deps.logger,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    now: deps.now ?? Date.now,
    newId: deps.newId ?? randomUUID,
    sleep: deps.sleep ?? ((ms: number) => sleepMs(ms).then(() => undefined)),
    crash: deps.crash ?? exitNow,
    // Powertools' COMPLETED writes are held for the invocation's end write only while the
    // effect guard is on: it refuses the rerun of every record a crash leaves IN_PROGRESS. With
    // the guard off (the experiment that shows what the idempotency record alone protects) each
    // record is written COMPLETED as it completes, Powertools' own update, so a crash exposes
    // only the record it was running, not every record its batch had completed. The layer is
    // begun either way: a copy running beside its order in a parallel batch waits for the
    // order's record and is answered from it, guard on or off (adapters/idempotency-store.ts).
    ...(deps.heldWrites
      ? { held: deps.heldWrites, holdCompleted: config.idempotency.effectGuard }
      : {}),
    ...(deps.callDeadline ? { callDeadline: deps.callDeadline } : {}),
    traceRecord:
      deps.traceRecord ??
      (<R>(_annotations: Record<string, string | number>, work: () => Promise<R>) => work()),
  };
  const options = {
    queue,
    maxReceiveCount: config.maxReceiveCount,
    faults: config.faults,
    guardKey: config.idempotency.key,
    effectGuard: config.idempotency.effectGuard,
    ...(deps.recordBudgetMs !== undefined ? { recordBudgetMs: deps.recordBudgetMs } : {}),
    ...(deps.callRoom ? { callRoom: deps.callRoom } : {}),
  };
  const applyEffect = createEffect(options, handlingDeps);

  let idempotencyConfig: IdempotencyConfig | undefined;
  let apply: ApplyEffect = applyEffect;
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

  // The batch processors hand the handler the event's own record objects, so a record is its
  // receive's identity.
  const handling = createRecordHandling<SQSRecord>(options, handlingDeps, apply);
  const handleRecord = (record: SQSRecord) => handling.handle(record);

  const processBatch = async (batch: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    if (queue === 'fifo') {
      // FIFO: records of one group (one customer) must apply in order. The FIFO processor runs
      // the batch's records one by one; with `skipGroupOnError`, a failure reports that record
      // and every later record of ITS group as failed without running them, so SQS hands the
      // rest of the group back in order and nothing of it jumps ahead, while other groups'
      // records in the batch still run. SQS orders only within a group ("messages that belong
      // to different message groups might be processed out of order", SQS Developer Guide,
      // "Using the message group ID"), so other groups owe nothing to this failure. Lambda's
      // advice for FIFO partial batch responses ("stop processing messages after the first
      // failure and return all failed and unprocessed messages", Lambda Developer Guide,
      // "Handling errors for an SQS event source") is stricter than order needs, and not
      // free: a record handed back unrun was still received, so its ApproximateReceiveCount
      // went up, and behind a poison message it reaches maxReceiveCount with the poison and is
      // dead-lettered without ever having run. Stopping the whole batch dragged other
      // customers' orders into the DLQ that way; now only the poison's own group pays it
      // (domain/record-handling.ts end() records each such record as not attempted).
      // Skipping by group needs every record's group id: the processor reads it from
      // `attributes.MessageGroupId`, which Lambda always sets, and a record without one would
      // never be skipped, so it could apply ahead of a failed earlier order of its customer.
      // Without them, the whole batch stops at the first failure.
      return processPartialResponse(batch, handleRecord, new SqsFifoPartialProcessorAsync(), {
        context,
        throwOnFullBatchFailure: false,
        skipGroupOnError: batch.Records.every((r) => Boolean(r.attributes?.MessageGroupId)),
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
    const received = batch.Records.map((record): Received<SQSRecord> => {
      try {
        return { record, delivery: parseDelivery(record) };
      } catch (err) {
        return { record, delivery: err instanceof Error ? err : new Error(String(err)) };
      }
    });
    idempotencyConfig?.registerLambdaContext(context);
    try {
      // The invocation's deadline goes into the receipts it writes anyway (no request more).
      // getRemainingTimeInMillis() "returns the number of milliseconds left before the execution
      // times out" (Lambda Developer Guide, the Node.js context object): the function's own
      // timeout as deployed, whatever the repository's config says.
      await handling.begin(received, context.awsRequestId, () =>
        typeof context.getRemainingTimeInMillis === 'function'
          ? context.getRemainingTimeInMillis()
          : undefined,
      );
      const response = await processBatch(batch, context);
      await handling.end();
      return response;
    } finally {
      // One line per invocation; an invocation that dies (timeout, crash) writes none, as on AWS.
      // Never thrown on: after the end write, a throw would fail an invocation whose deliveries
      // the ledger reads ended, and SQS would hand the batch back with no mark in the ledger to
      // explain the redelivery; before it, it would replace the invocation's own error.
      // Nor is the log of a failed publish: a logger that throws is let be.
      quietly(deps.logger, 'metrics line not published', {}, () => deps.metrics?.publish());
    }
  };
}
