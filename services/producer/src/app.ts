import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ENV } from '../../../shared/src/config/function-env';
import { pipelineConfig, QUEUE_KINDS, type QueueKind } from '../../../shared/src/config/pipeline';
import {
  ConfigError,
  type Env,
  getNumberFromEnv,
  getOptionalStringFromEnv,
  getStringFromEnv,
} from '../../../shared/src/env';
import {
  type AcceptedRecord,
  acceptedSk,
  ORDER_SK,
  type OrderMessage,
  orderPk,
  runPk,
} from '../../../shared/src/ledger';
import { orderIdSchema, runIdSchema } from '../../../shared/src/order';
import { type ProducerFaultConfig, SendAnswerLostError, sendAnswerLost } from './domain/faults';
import {
  type LedgerPort,
  type QueueLifetimePort,
  type QueuePort,
  QueueUnavailableError,
} from './domain/ports';
import {
  type ParsedOrderRequest,
  parseOrderRequest,
  RequestError,
  validId,
} from './domain/request';
import { mayStillBeQueued, recordedSentAt, type SendReason } from './domain/resend';
import { queueStatus } from './domain/status';

export interface ProducerConfig {
  ledgerTableName: string;
  queueUrls: Record<QueueKind, string>;
  maxBodyBytes: number;
  defaultRunId: string;
  faults: ProducerFaultConfig;
}

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
  };
}

function rateFromEnv(name: string, env: Env): number {
  const value = getNumberFromEnv(name, 0, env);
  if (value < 0 || value > 1) {
    throw new ConfigError(`environment variable ${name} must be between 0 and 1`);
  }
  return value;
}

export interface ProducerDeps {
  ledger: LedgerPort;
  queues: QueuePort;
  lifetimes: QueueLifetimePort;
  logger: Pick<Logger, 'info' | 'warn' | 'error' | 'appendKeys' | 'removeKeys'>;
  now?: () => number;
  newOrderId?: () => string;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

function respond(statusCode: number, body: unknown): APIGatewayProxyResult {
  return { statusCode, headers: JSON_HEADERS, body: JSON.stringify(body) };
}

export type ApiHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

export function createApiHandler(config: ProducerConfig, deps: ProducerDeps): ApiHandler {
  const now = deps.now ?? Date.now;
  const newOrderId = deps.newOrderId ?? randomUUID;
  const { ledger, queues, lifetimes, logger } = deps;

  /** Takes the accepted record to reuse (a client retry) or writes a new one (`created`). */
  async function accept(
    req: ParsedOrderRequest,
  ): Promise<{ record: AcceptedRecord; created: boolean }> {
    if (req.idempotencyKey !== undefined) {
      const existing = await findExisting(req.idempotencyKey, req.payloadHash, req.runId);
      if (existing) return { record: existing, created: false };
    }
    const orderId = req.idempotencyKey ?? newOrderId();
    const sequence =
      req.input.sequence ?? (await ledger.nextSequence(req.runId, req.input.customerId));
    const acceptedAt = now();
    const record: AcceptedRecord = {
      pk: runPk(req.runId),
      sk: acceptedSk(orderId),
      type: 'accepted',
      runId: req.runId,
      orderId,
      customerId: req.input.customerId,
      sequence,
      acceptedAt,
      payloadHash: req.payloadHash,
      messageIds: { fifo: '', standard: '' },
      sentAt: {},
      requests: 1,
    };
    if (!(await ledger.putAcceptedIfAbsent(record))) {
      // Another request with the same key won the race; answer as its retry.
      const existing = await findExisting(orderId, req.payloadHash, req.runId);
      if (existing) return { record: existing, created: false };
      throw new Error(`accepted record for ${orderId} vanished after a conditional put failed`);
    }
    await ledger.putOrderIndex({
      pk: orderPk(orderId),
      sk: ORDER_SK,
      type: 'order',
      orderId,
      runId: req.runId,
      customerId: record.customerId,
      sequence,
      acceptedAt,
    });
    return { record, created: true };
  }

  /** Which queues a client retry must send to again (see domain/resend.ts); none: the record answers. */
  async function retryPlan(
    record: AcceptedRecord,
  ): Promise<Partial<Record<QueueKind, SendReason>>> {
    const reasons = await Promise.all(
      QUEUE_KINDS.map(async (q): Promise<SendReason | undefined> => {
        if (!record.messageIds?.[q]) return 'outcome-unknown';
        let life: Awaited<ReturnType<QueueLifetimePort['life']>>;
        try {
          life = await lifetimes.life(q);
        } catch (err) {
          // Without the queue's lifetime the recorded send is taken as still queued; a later
          // retry asks again.
          logger.warn('queue lifetime unknown', { queue: q, error: err });
          return undefined;
        }
        if (mayStillBeQueued(recordedSentAt(record, q), life, now())) return undefined;
        return (await ledger.hasEffect(record.runId, q, record.orderId))
          ? undefined
          : 'queue-lost-it';
      }),
    );
    const plan: Partial<Record<QueueKind, SendReason>> = {};
    QUEUE_KINDS.forEach((q, i) => {
      const reason = reasons[i];
      if (reason) plan[q] = reason;
    });
    return plan;
  }

  /** One send; on an order's first request, the injected fault may lose SQS's answer. */
  async function sendTo(q: QueueKind, message: OrderMessage, first: boolean): Promise<string> {
    const messageId = await queues.send(q, message);
    if (first && sendAnswerLost(config.faults, message.orderId, q)) {
      throw new SendAnswerLostError(q);
    }
    return messageId;
  }

  /**
   * Finds the order a key already named. Without the index item it still looks in the request's
   * run: a first attempt that stopped between the two writes must not block its own retry, so
   * the missing index item is written now.
   */
  async function findExisting(
    orderId: string,
    hash: string,
    runId: string,
  ): Promise<AcceptedRecord | undefined> {
    const index = await ledger.getOrderIndex(orderId);
    const accepted = await ledger.getAccepted(index?.runId ?? runId, orderId);
    if (!accepted) return undefined;
    if (!index && accepted.payloadHash === hash) {
      await ledger.putOrderIndex({
        pk: orderPk(orderId),
        sk: ORDER_SK,
        type: 'order',
        orderId,
        runId: accepted.runId,
        customerId: accepted.customerId,
        sequence: accepted.sequence,
        acceptedAt: accepted.acceptedAt,
      });
    }
    if (accepted.payloadHash !== hash) {
      throw new RequestError(
        422,
        `Idempotency-Key ${orderId} was already used for a different order`,
      );
    }
    await ledger.countRequest(accepted.runId, orderId);
    return accepted;
  }

  async function postOrder(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const req = parseOrderRequest(event, {
      maxBodyBytes: config.maxBodyBytes,
      defaultRunId: config.defaultRunId,
    });
    const { record: accepted, created } = await accept(req);
    logger.appendKeys({ orderId: accepted.orderId, runId: accepted.runId });
    const message: OrderMessage = {
      orderId: accepted.orderId,
      runId: accepted.runId,
      customerId: accepted.customerId,
      sequence: accepted.sequence,
      items: req.input.items,
      amount: req.input.amount,
      currency: req.input.currency,
      acceptedAt: accepted.acceptedAt,
    };
    const plan: Partial<Record<QueueKind, SendReason>> = created
      ? { fifo: 'first', standard: 'first' }
      : await retryPlan(accepted);
    const targets = QUEUE_KINDS.filter((q) => plan[q] !== undefined);
    const messageIds: Record<QueueKind, string> = Object.assign(
      { fifo: '', standard: '' },
      accepted.messageIds,
    );
    const sentAt = { ...(accepted.sentAt ?? {}) };
    if (targets.length === 0) {
      logger.info('order retry answered from the record', { messageIds });
      return respond(202, { orderId: accepted.orderId, sequence: accepted.sequence, messageIds });
    }
    const results = await Promise.allSettled(targets.map((q) => sendTo(q, message, created)));
    const failures: unknown[] = [];
    results.forEach((r, i) => {
      const q = targets[i] as QueueKind;
      if (r.status === 'fulfilled') {
        messageIds[q] = r.value;
        sentAt[q] = now();
      } else failures.push(r.reason);
    });
    // What was sent is recorded even when another send failed: a retry then sends only to the
    // queue whose outcome is still unknown.
    if (failures.length < targets.length) {
      await ledger.recordSends(accepted.runId, accepted.orderId, messageIds, sentAt);
    }
    const unexpected = failures.find((f) => !(f instanceof QueueUnavailableError));
    if (unexpected !== undefined) throw unexpected;
    if (failures.length > 0) {
      const err = failures[0] as QueueUnavailableError;
      logger.error('queue unavailable', { queue: err.queue, error: err.cause ?? err.message });
      // The order is accepted (its record and sequence are kept), so the caller must retry THIS
      // order, not post a new one: the order id is the Idempotency-Key that finds it again, also
      // when the first request carried none.
      return respond(503, {
        message: `a queue is unavailable; retry with the header Idempotency-Key: ${accepted.orderId}`,
        orderId: accepted.orderId,
        idempotencyKey: accepted.orderId,
      });
    }
    logger.info(created ? 'order accepted' : 'order re-sent', {
      sequence: accepted.sequence,
      messageIds,
      sent: plan,
    });
    return respond(202, { orderId: accepted.orderId, sequence: accepted.sequence, messageIds });
  }

  async function getOrder(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const orderId = validId(event.pathParameters?.orderId ?? '', orderIdSchema, 'orderId');
    const index = await ledger.getOrderIndex(orderId);
    if (!index) throw new RequestError(404, `order ${orderId} not found`);
    const [fifo, standard] = await Promise.all(
      QUEUE_KINDS.map(async (q) => queueStatus(await ledger.queueFacts(index.runId, q, orderId))),
    );
    return respond(200, {
      orderId,
      customerId: index.customerId,
      sequence: index.sequence,
      runId: index.runId,
      acceptedAt: index.acceptedAt,
      fifo,
      standard,
    });
  }

  return async (event) => {
    try {
      if (event.resource === '/orders' && event.httpMethod === 'POST')
        return await postOrder(event);
      if (event.resource === '/orders/{orderId}' && event.httpMethod === 'GET') {
        return await getOrder(event);
      }
      return respond(404, { message: `no route for ${event.httpMethod} ${event.resource}` });
    } catch (err) {
      if (err instanceof RequestError) {
        logger.warn('request rejected', { statusCode: err.statusCode, reason: err.message });
        return respond(err.statusCode, {
          message: err.message,
          ...(err.errors ? { errors: err.errors } : {}),
        });
      }
      logger.error('request failed', { error: err });
      return respond(500, { message: 'internal error' });
    } finally {
      logger.removeKeys(['orderId', 'runId']);
    }
  };
}
