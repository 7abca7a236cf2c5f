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
import { parseDelivery } from './adapters/sqs-record';
import type { ConsumerFunctionConfig } from './config';
import type { ConsumerLedgerPort, ConsumerLogPort, ConsumerMetricsPort } from './domain/ports';
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
    const received = batch.Records.map((record): Received<SQSRecord> => {
      try {
        return { record, delivery: parseDelivery(record) };
      } catch (err) {
        return { record, delivery: err instanceof Error ? err : new Error(String(err)) };
      }
    });
    idempotencyConfig?.registerLambdaContext(context);
    try {
      await handling.begin(received, context.awsRequestId);
      const response = await processBatch(batch, context);
      await handling.end();
      return response;
    } finally {
      // One line per invocation; an invocation that dies (timeout, crash) writes none, as on AWS.
      deps.metrics?.publish();
    }
  };
}
