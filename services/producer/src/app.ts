import { randomUUID } from 'node:crypto';
import { isHttpMethod, Router } from '@aws-lambda-powertools/event-handler/http';
import type { Path } from '@aws-lambda-powertools/event-handler/types';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { orderIdSchema } from '../../../shared/src/order';
import type { ProducerConfig } from './config';
import {
  createOrderHandling,
  type OrderReceipt,
  SendLeaseBidNotWithdrawnError,
} from './domain/order-handling';
import type { InvocationPort, LedgerPort, QueueLifetimePort, QueuePort } from './domain/ports';
import { parseOrderRequest, RequestError, validId } from './domain/request';

/** The producer's wiring: the use case over its ports, and the routes that say its outcomes in HTTP. */

export interface ProducerDeps {
  ledger: LedgerPort;
  queues: QueuePort;
  lifetimes: QueueLifetimePort;
  logger: Pick<Logger, 'info' | 'warn' | 'error' | 'appendKeys' | 'removeKeys'>;
  now?: () => number;
  newOrderId?: () => string;
  /** A fresh id per request (its claim id or send lease id). */
  newRequestId?: () => string;
}

/**
 * What a route answers. The route serializes the body itself, so the answer's bytes are the
 * app's own; the router adds only the JSON content type.
 */
interface Answer {
  statusCode: number;
  body: string;
  headers?: Record<string, string>;
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

/**
 * POST reads the invocation's remaining time from the Lambda context; a caller without one (a
 * test) may omit it, and is given the function timeout instead.
 */
export type ApiHandler = (
  event: APIGatewayProxyEvent,
  context?: Context,
) => Promise<APIGatewayProxyResult>;

export function createApiHandler(config: ProducerConfig, deps: ProducerDeps): ApiHandler {
  const { logger } = deps;
  const orders = createOrderHandling({
    ledger: deps.ledger,
    queues: deps.queues,
    lifetimes: deps.lifetimes,
    log: logger,
    faults: config.faults,
    now: deps.now ?? Date.now,
    newOrderId: deps.newOrderId ?? randomUUID,
    newRequestId: deps.newRequestId ?? randomUUID,
    inProgressWindowMs: config.inProgressWindowMs,
    clockMarginMs: config.clockMarginMs,
  });

  /**
   * The invocation's remaining time, from its Lambda context; a caller without one (a test), or
   * a context answering no number, is taken to have the whole function timeout, the most Lambda
   * gives an invocation.
   */
  const invocationOf = (context: Context | undefined): InvocationPort => {
    const remaining = context?.getRemainingTimeInMillis;
    if (typeof remaining !== 'function') return { remainingMs: () => config.timeoutMs };
    return {
      remainingMs: () => {
        const ms = remaining.call(context);
        return Number.isFinite(ms) ? ms : config.timeoutMs;
      },
    };
  };

  const accepted = (receipt: OrderReceipt): Answer =>
    respond(202, {
      orderId: receipt.orderId,
      sequence: receipt.sequence,
      messageIds: receipt.messageIds,
    });

  async function postOrder(
    event: APIGatewayProxyEvent,
    context: Context | undefined,
  ): Promise<Answer> {
    const req = parseOrderRequest(event, {
      maxBodyBytes: config.maxBodyBytes,
      defaultRunId: config.defaultRunId,
    });
    const outcome = await orders.place(req, invocationOf(context));
    switch (outcome.kind) {
      case 'key-reused':
        throw new RequestError(
          422,
          `Idempotency-Key ${outcome.orderId} was already used for a different order`,
        );
      case 'in-progress': {
        // As an idempotent API answers a request with a key whose first request is still
        // running: 409 Conflict, and when to come back (Retry-After, in whole seconds).
        const seconds = Math.max(1, Math.ceil(outcome.retryAfterMs / 1000));
        logger.info('order retry while another request may still be sending it', {
          retryAfterSeconds: seconds,
        });
        return {
          ...respond(409, {
            message: `another request with this Idempotency-Key may still be sending order ${outcome.orderId}; retry after ${seconds} s`,
            orderId: outcome.orderId,
            idempotencyKey: outcome.orderId,
          }),
          headers: { 'retry-after': String(seconds) },
        };
      }
      case 'answered-from-record':
        logger.info('order retry answered from the record', {
          messageIds: outcome.receipt.messageIds,
        });
        return accepted(outcome.receipt);
      case 'queue-unavailable': {
        const err = outcome.failure;
        logger.error('queue unavailable', { queue: err.queue, error: err.cause ?? err.message });
        // The order is accepted (its record and sequence are kept), so the caller must retry
        // THIS order, not post a new one: the order id is the Idempotency-Key that finds it
        // again, also when the first request carried none.
        return respond(503, {
          message: `a queue is unavailable; retry with the header Idempotency-Key: ${outcome.orderId}`,
          orderId: outcome.orderId,
          idempotencyKey: outcome.orderId,
        });
      }
      case 'sent':
        logger.info(outcome.created ? 'order accepted' : 'order re-sent', {
          sequence: outcome.receipt.sequence,
          messageIds: outcome.receipt.messageIds,
          sent: outcome.sent,
        });
        return accepted(outcome.receipt);
    }
  }

  async function getOrder(event: APIGatewayProxyEvent): Promise<Answer> {
    const orderId = validId(event.pathParameters?.orderId ?? '', orderIdSchema, 'orderId');
    const outcome = await orders.find(orderId);
    if (outcome.kind === 'not-found') throw new RequestError(404, `order ${orderId} not found`);
    const { status } = outcome;
    return respond(200, {
      orderId: status.orderId,
      customerId: status.customerId,
      sequence: status.sequence,
      runId: status.runId,
      acceptedAt: status.acceptedAt,
      fifo: status.fifo,
      standard: status.standard,
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
  /**
   * The event each routing view stands for, and its invocation's context (per request, so
   * concurrent requests never mix).
   */
  const delivered = new WeakMap<
    object,
    { event: APIGatewayProxyEvent; context: Context | undefined }
  >();
  const invoked = (reqCtx: { event: unknown }) => {
    const found = delivered.get(reqCtx.event as object);
    if (!found) throw new Error('a route ran for an event it was not given');
    return found;
  };
  const original = (reqCtx: { event: unknown }): APIGatewayProxyEvent => invoked(reqCtx).event;
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
  router.post(routePath(RESOURCE.orders), (reqCtx) => {
    const { event, context } = invoked(reqCtx);
    return postOrder(event, context);
  });
  router.get(routePath(RESOURCE.order), (reqCtx) => getOrder(original(reqCtx)));
  router.notFound(async (_err, reqCtx) => noRoute(original(reqCtx)));
  router.errorHandler(RequestError, async (err) => {
    logger.warn('request rejected', { statusCode: err.statusCode, reason: err.message });
    return respond(err.statusCode, {
      message: err.message,
      ...(err.errors ? { errors: err.errors } : {}),
    });
  });
  // A DynamoDB failure is the same 500 as any, but this one may leave the order's send lease
  // held by a late try of the retry's bid, and a retry before it runs out is answered 409: the
  // answer says when a retry can be served (Retry-After, in whole seconds, as the 409 says it),
  // and the log that the lease may be held.
  router.errorHandler(SendLeaseBidNotWithdrawnError, async (err) => {
    const seconds = Math.max(1, Math.ceil(err.retryAfterMs / 1000));
    logger.error('request failed; its send lease bid may hold the lease', {
      error: err,
      retryAfterSeconds: seconds,
    });
    return {
      ...respond(500, { message: `internal error; retry after ${seconds} s` }),
      headers: { 'retry-after': String(seconds) },
    };
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
      delivered.set(view, { event, context });
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

/** Router.resolve takes a context; the routes read the one the handler was given, if any. */
const NO_CONTEXT = {} as Context;

const noRoute = (event: APIGatewayProxyEvent): Answer =>
  respond(404, { message: `no route for ${event.httpMethod} ${event.resource}` });
