import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ConfigError, type Env } from './env';

/**
 * The one place AWS clients are made. Endpoints are not set here on purpose: the SDK itself
 * honours `AWS_ENDPOINT_URL` and the per-service `AWS_ENDPOINT_URL_SQS` /
 * `AWS_ENDPOINT_URL_DYNAMODB`, so the same code talks to AWS, LocalStack or the local cloud.
 * `endpoint` is only for code that talks to a target other than its environment's (tests, CLIs).
 */
export interface ClientOptions {
  endpoint?: string;
  region?: string;
  /** Connections kept open per client; Lambda runs one batch at a time, CLIs run many requests. */
  maxSockets?: number;
  /**
   * Only for local targets, which check no signature but still need the SDK to sign: without
   * this the SDK's default chain is used (environment, profile, role), as on AWS.
   */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /**
   * Tries per request, the first included. Unset, each SDK client keeps its own default (in the
   * SDK this project installs, @aws-sdk/client-dynamodb 3.1169 and @aws-sdk/client-sqs 3.1175):
   * DynamoDB 4, where @aws-sdk/client-dynamodb sets `default: 4`; SQS 3, the @smithy/core retry
   * default the other clients keep. Either is replaced by `AWS_MAX_ATTEMPTS` or a profile's
   * `max_attempts` when set. Code with its own retry loop sets 1, so one layer decides how often
   * and how long a failing call is retried.
   */
  maxAttempts?: number;
  /**
   * Time to open a connection, and time for a whole request and its answer; each ends one try
   * with a TimeoutError. Unset, the SDK waits forever on an endpoint that accepts and never
   * answers, and so would a caller that has its own deadline (a Lambda's timeout).
   */
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /**
   * The SDK's `cacheMiddleware`: the client builds each command class's middleware stack once,
   * on its first send, and reuses it, instead of copying and resolving the client's and the
   * command's stacks on every request (@smithy/core's Client.send). The SDK documents the cost:
   * middleware added to the client or a command after its first request is not applied, and a
   * send given options (an abortSignal) builds its stack as before. Only for SQS clients whose
   * stack is complete before their first send; lib-dynamodb's document client refuses it.
   */
  cacheMiddleware?: boolean;
}

/** The two timeouts of one client, in ms (see ClientOptions). */
export interface ClientTimeouts {
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
}

/**
 * The environment variables that set the Lambdas' client timeouts, in whole ms; unset or empty,
 * the defaults below hold.
 */
export const CLIENT_TIMEOUT_ENV = {
  dynamodb: {
    connectionTimeoutMs: 'DYNAMODB_CONNECTION_TIMEOUT_MS',
    requestTimeoutMs: 'DYNAMODB_REQUEST_TIMEOUT_MS',
  },
  sqs: {
    connectionTimeoutMs: 'SQS_CONNECTION_TIMEOUT_MS',
    requestTimeoutMs: 'SQS_REQUEST_TIMEOUT_MS',
  },
} as const;

/**
 * The Lambdas' DynamoDB timeouts (producer and consumer, both with a 10 s function timeout in
 * shared/src/config/pipeline.ts). AWS's guidance for latency-aware DynamoDB clients (the AWS
 * Database blog "Tuning AWS Java SDK HTTP request settings for latency-aware Amazon DynamoDB
 * applications", written for the Java SDK; the same two settings are NodeHttpHandler's here) is
 * to bound each try so a stalled one fails and the SDK's retries still run inside the caller's
 * time. NodeHttpHandler documents `connectionTimeout` as the most the connection phase may take
 * and `requestTimeout` as the most request and response may take, a TimeoutError when
 * `throwOnRequestTimeout` is set (requestHandler above sets it); both default to 0, no timeout.
 *
 * The arithmetic, with the SDK installed here: a DynamoDB client tries 4 times; a TimeoutError is
 * a transient error, retried after a full-jitter backoff of at most 25 ms x 2^n before retry n
 * (@aws-sdk/client-dynamodb's base delay 25 ms), so at most 25 + 50 + 100 = 175 ms in all. The
 * request timeout runs from the start of a try and covers its connection too, so one call to an
 * endpoint that accepts and never answers ends after at most 4 x 1000 + 175 = 4,175 ms with a
 * TimeoutError. Two such calls in series (the consumer's Powertools record, then its deletion
 * or the effect write) end by 8,350 ms, inside the 10 s function timeout with 1.6 s to answer;
 * the producer's failing claim answers 500 by about 4.2 s, well before API Gateway's 29 s.
 * The margin the other way: DynamoDB answers in milliseconds; the local cloud's dynalite, under
 * the demo bench's load, about 75 ms a request on average (its floor replay: 5,296 requests in
 * 15.5 s, 26 at a time), and the demo bench (500 orders, seed 7) sent exactly 5 PutItem and 5
 * UpdateItem requests an order with these timeouts: no try ran out. One that does is retried,
 * not failed.
 */
export const LAMBDA_DYNAMODB_TIMEOUTS: ClientTimeouts = {
  connectionTimeoutMs: 1000,
  requestTimeoutMs: 1000,
};

/** The DynamoDB client's tries (its SDK default) and its backoff before each retry, at most. */
export const DYNAMODB_DEFAULT_TRIES = 4;
export const DYNAMODB_BACKOFF_BASE_MS = 25;

/**
 * The tries a DynamoDB client made here without `maxAttempts` makes: `AWS_MAX_ATTEMPTS` when set
 * (the SDK reads it before its own default: @smithy/core's NODE_MAX_ATTEMPT_CONFIG_OPTIONS), else
 * DYNAMODB_DEFAULT_TRIES. The cold-start check must count these, not the default, or a function
 * given more tries passes it and still runs to its timeout. The SDK reads the variable lazily,
 * at each request, and fails every request when it is no number; refused here, at cold start,
 * the cause is named once (a whole number of tries, 1 or more; a profile's `max_attempts`, which
 * a Lambda has no profile for, is not read).
 */
export function dynamoDbTriesFromEnv(env: Env = process.env): number {
  const raw = env.AWS_MAX_ATTEMPTS;
  // The SDK ignores an empty value, as here.
  if (raw === undefined || raw === '') return DYNAMODB_DEFAULT_TRIES;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ConfigError(
      `environment variable AWS_MAX_ATTEMPTS must be a whole number of tries above 0, got "${raw}"`,
    );
  }
  return value;
}

/**
 * The longest one call takes against an endpoint that never answers: every try runs out its
 * request timeout, and each retry waits its full-jitter backoff at most (base x 2^n before retry n).
 */
export function stalledCallMs(tries: number, requestTimeoutMs: number, backoffBaseMs: number) {
  return tries * requestTimeoutMs + backoffBaseMs * (2 ** (tries - 1) - 1);
}

/**
 * A client's timeouts from the environment (`CLIENT_TIMEOUT_ENV[service]`), `defaults` for what
 * is unset. Each must be a whole number of ms above 0, and the connection's no longer than the
 * request's (the request timeout covers the connection). Throws a ConfigError otherwise, at
 * cold start.
 */
export function clientTimeoutsFromEnv(
  service: keyof typeof CLIENT_TIMEOUT_ENV,
  defaults: ClientTimeouts,
  env: Env = process.env,
): ClientTimeouts {
  const names = CLIENT_TIMEOUT_ENV[service];
  const read = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new ConfigError(
        `environment variable ${name} must be a whole number of ms above 0, got "${raw}"`,
      );
    }
    return value;
  };
  const timeouts = {
    connectionTimeoutMs: read(names.connectionTimeoutMs, defaults.connectionTimeoutMs),
    requestTimeoutMs: read(names.requestTimeoutMs, defaults.requestTimeoutMs),
  };
  if (timeouts.connectionTimeoutMs > timeouts.requestTimeoutMs) {
    throw new ConfigError(
      `environment variable ${names.connectionTimeoutMs} (${timeouts.connectionTimeoutMs}) must not exceed ${names.requestTimeoutMs} (${timeouts.requestTimeoutMs})`,
    );
  }
  return timeouts;
}

/**
 * Refuses, at cold start, a request timeout under which `callsInSeries` stalled calls of `tries`
 * tries (and their backoff) would not end `roomMs` before the function's timeout.
 */
export function checkTimeoutBudget(budget: {
  name: string;
  functionTimeoutMs: number;
  callsInSeries: number;
  tries: number;
  requestTimeoutMs: number;
  backoffBaseMs: number;
  roomMs: number;
}): void {
  const worst =
    budget.callsInSeries *
    stalledCallMs(budget.tries, budget.requestTimeoutMs, budget.backoffBaseMs);
  if (worst + budget.roomMs > budget.functionTimeoutMs) {
    throw new ConfigError(
      `${budget.name}: ${budget.callsInSeries} stalled call(s) of ${budget.tries} tries at a ${budget.requestTimeoutMs} ms request timeout take up to ${worst} ms, leaving less than ${budget.roomMs} ms of the ${budget.functionTimeoutMs} ms function timeout`,
    );
  }
}

/**
 * What clients of the local cloud or LocalStack sign with: those check no signature, but the SDK
 * will not send a request it cannot sign, and a machine without an AWS profile must still work.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;

function requestHandler(options: ClientOptions): NodeHttpHandler {
  const maxSockets = options.maxSockets ?? 50;
  return new NodeHttpHandler({
    httpAgent: new Agent({ keepAlive: true, maxSockets }),
    httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
    ...(options.connectionTimeoutMs !== undefined
      ? { connectionTimeout: options.connectionTimeoutMs }
      : {}),
    // The handler only warns at requestTimeout unless told to throw.
    ...(options.requestTimeoutMs !== undefined
      ? { requestTimeout: options.requestTimeoutMs, throwOnRequestTimeout: true }
      : {}),
  });
}

function baseConfig(options: ClientOptions, handler: NodeHttpHandler = requestHandler(options)) {
  return {
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.region ? { region: options.region } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
    ...(options.cacheMiddleware !== undefined ? { cacheMiddleware: options.cacheMiddleware } : {}),
    requestHandler: handler,
  };
}

export function createSqsClient(options: ClientOptions = {}): SQSClient {
  return new SQSClient(baseConfig(options));
}

export function createDynamoDbClient(options: ClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient(baseConfig(options));
}

function documentClient(options: ClientOptions, handler: NodeHttpHandler): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(baseConfig(options, handler)), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

/** Plain objects in and out; `undefined` attributes are dropped rather than rejected. */
export function createDocumentClient(options: ClientOptions = {}): DynamoDBDocumentClient {
  return documentClient(options, requestHandler(options));
}

/** Two document clients over one request handler: see createDocumentClients. */
export interface DocumentClients {
  /** createDocumentClient's client: `options.maxAttempts` tries, else the SDK's default. */
  documents: DynamoDBDocumentClient;
  /** The same, for one try a request (`maxAttempts: 1`). */
  oneTry: DynamoDBDocumentClient;
}

/**
 * Two document clients made from the same options over one request handler (one pool of
 * connections: the SDK takes a handler instance as given, so no socket more): `documents`, as
 * createDocumentClient makes it, and `oneTry`, the same target, region, credentials, timeouts and
 * conversion, with one try a request. Their retries are their own: the SDK makes each client its
 * own retry strategy, whose retry quota every request of that client shares, so nothing sent
 * through one client changes the tries of the other. Destroying either client closes the
 * connections of both.
 */
export function createDocumentClients(options: ClientOptions = {}): DocumentClients {
  const handler = requestHandler(options);
  return {
    documents: documentClient(options, handler),
    oneTry: documentClient({ ...options, maxAttempts: 1 }, handler),
  };
}
