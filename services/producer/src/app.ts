import { randomUUID } from 'node:crypto';
import { isHttpMethod, Router } from '@aws-lambda-powertools/event-handler/http';
import type { Path } from '@aws-lambda-powertools/event-handler/types';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { ENV } from '../../../shared/src/config/function-env';
import { pipelineConfig, QUEUE_KINDS, type QueueKind } from '../../../shared/src/config/pipeline';
import {
  ConfigError,
  type Env,
  getNumberFromEnv,
  getOptionalStringFromEnv,
  getStringFromEnv,
} from '../../../shared/src/env';
import { orderIdSchema, runIdSchema } from '../../../shared/src/order';
import type { OrderMessage } from '../../../shared/src/order-message';
import { type ProducerFaultConfig, SendAnswerLostError, sendAnswerLost } from './domain/faults';
import { orderMessage } from './domain/message';
import {
  type AcceptedOrder,
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

/**
 * What a route answers. The route serializes the body itself, so the answer's bytes are the
 * app's own; the router adds only the JSON content type.
 */
interface Answer {
  statusCode: number;
  body: string;
}

const respond = (statusCode: number, body: unknown): Answer => ({
  statusCode,
  body: JSON.stringify(body),
});

/** The API's resources, as API Gateway names them (and passes in `event.resource`). */
const RESOURCE = { orders: '/orders', order: '/orders/{orderId}' } as const;
const RESOURCES: ReadonlySet<unknown> = new Set(Object.values(RESOURCE));

/**
 * A resource as the router matches it: the router reads the path it is given as a URL, where
 * braces are percent-encoded.
 */
const routePath = (resource: string): Path => encodeURI(resource) as Path;

/**
 * What the router is given of a request: its method and the resource API Gateway matched,
 * nothing a client wrote. The router turns its event into a web Request before any route or
 * error handler runs, and that throws, escaping as a 5xx, on input a client controls: a body on
 * a GET, an X-Forwarded-Proto or Host that is not a URL part, a header value a Headers object
 * refuses, a path parameter that is not valid percent-encoding. A REST API invokes the
 * function only for its own resources, so the resource is what to route on (the path may also
 * carry a custom domain's base path). The routes read headers, body and path parameters from
 * the event as API Gateway delivered it.
 */
function routingView(event: APIGatewayProxyEvent): APIGatewayProxyEvent {
  const path = routePath(String(event.resource)) as string;
  return {
    resource: path,
    path,
    httpMethod: event.httpMethod,
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: { ...event.requestContext, domainName: 'producer.internal' },
  };
}

/** The routes read nothing from the Lambda context; a caller without one (a test) may omit it. */
export type ApiHandler = (
  event: APIGatewayProxyEvent,
  context?: Context,
) => Promise<APIGatewayProxyResult>;

export function createApiHandler(config: ProducerConfig, deps: ProducerDeps): ApiHandler {
  const now = deps.now ?? Date.now;
  const newOrderId = deps.newOrderId ?? randomUUID;
  const { ledger, queues, lifetimes, logger } = deps;

  /**
   * Takes the accepted record to reuse (a client retry) or claims the order id with a new one
   * (`created`): one conditional write, no read before it. A retry learns it is one from the
   * refusal, then reads the record that holds the id.
   */
  async function accept(
    req: ParsedOrderRequest,
  ): Promise<{ record: AcceptedOrder; created: boolean }> {
    const orderId = req.idempotencyKey ?? newOrderId();
    if (req.idempotencyKey !== undefined && req.input.sequence === undefined) {
      // The sequence is taken before the claim, so a retry that carries no sequence looks first:
      // taking one for it would leave a hole in the customer's sequence.
      const existing = await ledger.getAccepted(orderId);
      if (existing) return { record: await asRetry(existing, req.payloadHash), created: false };
    }
    const sequence =
      req.input.sequence ?? (await ledger.nextSequence(req.runId, req.input.customerId));
    const record: AcceptedOrder = {
      runId: req.runId,
      orderId,
      customerId: req.input.customerId,
      sequence,
      acceptedAt: now(),
      payloadHash: req.payloadHash,
      messageIds: { fifo: '', standard: '' },
      sentAt: {},
      requests: 1,
    };
    const claim = await ledger.claim(record);
    if (claim.claimed) return { record, created: true };
    return { record: await asRetry(claim.existing, req.payloadHash), created: false };
  }

  /**
   * The order a key already named, in whatever run it was accepted: the same order (a client
   * retry, counted) or a different one under the same key (422).
   */
  async function asRetry(accepted: AcceptedOrder, hash: string): Promise<AcceptedOrder> {
    if (accepted.payloadHash !== hash) {
      throw new RequestError(
        422,
        `Idempotency-Key ${accepted.orderId} was already used for a different order`,
      );
    }
    await ledger.countRequest(accepted.orderId);
    return accepted;
  }

  /** Which queues a client retry must send to again (see domain/resend.ts); none: the record answers. */
  async function retryPlan(record: AcceptedOrder): Promise<Partial<Record<QueueKind, SendReason>>> {
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

  async function postOrder(event: APIGatewayProxyEvent): Promise<Answer> {
    const req = parseOrderRequest(event, {
      maxBodyBytes: config.maxBodyBytes,
      defaultRunId: config.defaultRunId,
    });
    const { record: accepted, created } = await accept(req);
    logger.appendKeys({ orderId: accepted.orderId, runId: accepted.runId });
    const message = orderMessage(req.input, accepted);
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
      await ledger.recordSends(accepted.orderId, messageIds, sentAt);
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

  async function getOrder(event: APIGatewayProxyEvent): Promise<Answer> {
    const orderId = validId(event.pathParameters?.orderId ?? '', orderIdSchema, 'orderId');
    const accepted = await ledger.getAccepted(orderId);
    if (!accepted) throw new RequestError(404, `order ${orderId} not found`);
    const [fifo, standard] = await Promise.all(
      QUEUE_KINDS.map(async (q) =>
        queueStatus(await ledger.queueFacts(accepted.runId, q, orderId)),
      ),
    );
    return respond(200, {
      orderId,
      customerId: accepted.customerId,
      sequence: accepted.sequence,
      runId: accepted.runId,
      acceptedAt: accepted.acceptedAt,
      fifo,
      standard,
    });
  }

  const router = new Router({
    logger: {
      debug: () => undefined,
      info: logger.info.bind(logger),
      warn: logger.warn.bind(logger),
      error: logger.error.bind(logger),
    },
  });
  /** The event each routing view stands for (per request, so concurrent requests never mix). */
  const delivered = new WeakMap<object, APIGatewayProxyEvent>();
  const original = (reqCtx: { event: unknown }): APIGatewayProxyEvent => {
    const event = delivered.get(reqCtx.event as object);
    if (!event) throw new Error('a route ran for an event it was not given');
    return event;
  };
  // The router hands an error handler only what it can look up by class: a thrown string or
  // object gets the router's own 500 and no log line, and a thrown null or undefined makes the
  // router itself throw. A port implementation or a library may reject with anything, so every
  // thrown value reaches the handlers below as an Error, the value kept as its cause.
  router.use(async ({ next }) => {
    try {
      await next();
    } catch (thrown) {
      throw thrown instanceof Error
        ? thrown
        : new Error('a non-Error was thrown', { cause: thrown });
    }
  });
  router.post(routePath(RESOURCE.orders), (reqCtx) => postOrder(original(reqCtx)));
  router.get(routePath(RESOURCE.order), (reqCtx) => getOrder(original(reqCtx)));
  router.notFound(async (_err, reqCtx) => noRoute(original(reqCtx)));
  router.errorHandler(RequestError, async (err) => {
    logger.warn('request rejected', { statusCode: err.statusCode, reason: err.message });
    return respond(err.statusCode, {
      message: err.message,
      ...(err.errors ? { errors: err.errors } : {}),
    });
  });
  // Registered after RequestError: the router tries an error's own class first, then these in
  // order, so this one answers only what nothing more specific did.
  router.errorHandler(Error, async (err) => {
    logger.error('request failed', { error: err });
    return respond(500, { message: 'internal error' });
  });

  return async (event, context) => {
    try {
      // The router answers a method it does not know with a bare 405 before any handler runs;
      // there is no route for one either way, so it gets the same answer as any unrouted call.
      // A resource is matched exactly: the router reads its path as a URL (a `?` or `#` ends
      // it) and ignores a trailing slash, which would route `/orders?x` or `/orders/` to POST
      // /orders if a proxy resource or a gateway forwarding raw paths ever passed one.
      if (!isHttpMethod(event.httpMethod) || !RESOURCES.has(event.resource)) {
        return { ...noRoute(event), headers: JSON_HEADERS };
      }
      const view = routingView(event);
      delivered.set(view, event);
      return await router.resolve(view, context ?? NO_CONTEXT);
    } catch (err) {
      // What escapes the router (an event that is no API Gateway event, a handler that failed)
      // is still the app's 500 with a log line: no request makes the invocation fail.
      logger.error('request failed', { error: err });
      return { ...respond(500, { message: 'internal error' }), headers: JSON_HEADERS };
    } finally {
      logger.removeKeys(['orderId', 'runId']);
    }
  };
}

const JSON_HEADERS = { 'content-type': 'application/json' };

/** The routes never read it; Router.resolve takes one. */
const NO_CONTEXT = {} as Context;

const noRoute = (event: APIGatewayProxyEvent): Answer =>
  respond(404, { message: `no route for ${event.httpMethod} ${event.resource}` });
