import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ENV } from '../../../shared/src/config/function-env';
import { pipelineConfig, QUEUE_KINDS, type QueueKind } from '../../../shared/src/config/pipeline';
import {
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
import { type LedgerPort, type QueuePort, QueueUnavailableError } from './domain/ports';
import {
  type ParsedOrderRequest,
  parseOrderRequest,
  RequestError,
  validId,
} from './domain/request';
import { queueStatus } from './domain/status';

export interface ProducerConfig {
  ledgerTableName: string;
  queueUrls: Record<QueueKind, string>;
  maxBodyBytes: number;
  defaultRunId: string;
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
  };
}

export interface ProducerDeps {
  ledger: LedgerPort;
  queues: QueuePort;
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
  const { ledger, queues, logger } = deps;

  /** Takes the accepted record to reuse (a client retry) or writes a new one. */
  async function accept(req: ParsedOrderRequest): Promise<AcceptedRecord> {
    if (req.idempotencyKey !== undefined) {
      const existing = await findExisting(req.idempotencyKey, req.payloadHash, req.runId);
      if (existing) return existing;
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
      requests: 1,
    };
    if (!(await ledger.putAcceptedIfAbsent(record))) {
      // Another request with the same key won the race; answer as its retry.
      const existing = await findExisting(orderId, req.payloadHash, req.runId);
      if (existing) return existing;
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
    return record;
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
    const accepted = await accept(req);
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
    // A retry re-sends to both queues: the first attempt may have reached only one of them.
    let fifo: string | undefined;
    let standard: string | undefined;
    try {
      [fifo, standard] = await Promise.all(QUEUE_KINDS.map((q) => queues.send(q, message)));
    } catch (err) {
      if (!(err instanceof QueueUnavailableError)) throw err;
      logger.error('queue unavailable', { queue: err.queue, error: err.cause });
      // The order is accepted (its record and sequence are kept), so the caller must retry THIS
      // order, not post a new one: the order id is the Idempotency-Key that finds it again, also
      // when the first request carried none.
      return respond(503, {
        message: `a queue is unavailable; retry with the header Idempotency-Key: ${accepted.orderId}`,
        orderId: accepted.orderId,
        idempotencyKey: accepted.orderId,
      });
    }
    const messageIds = { fifo: fifo ?? '', standard: standard ?? '' };
    await ledger.setMessageIds(accepted.runId, accepted.orderId, messageIds);
    logger.info('order accepted', { sequence: accepted.sequence, messageIds });
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
