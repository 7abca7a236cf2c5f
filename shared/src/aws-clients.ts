import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';

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
    requestHandler: handler,
  };
}

export function createSqsClient(options: ClientOptions = {}): SQSClient {
  return new SQSClient(baseConfig(options));
}

export function createDynamoDbClient(options: ClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient(baseConfig(options));
}

/** How each document client made here was made: its options and its connections. */
const madeHere = new WeakMap<
  DynamoDBDocumentClient,
  { options: ClientOptions; handler: NodeHttpHandler }
>();

function documentClient(options: ClientOptions, handler: NodeHttpHandler): DynamoDBDocumentClient {
  const documents = DynamoDBDocumentClient.from(new DynamoDBClient(baseConfig(options, handler)), {
    marshallOptions: { removeUndefinedValues: true },
  });
  madeHere.set(documents, { options, handler });
  return documents;
}

/** Plain objects in and out; `undefined` attributes are dropped rather than rejected. */
export function createDocumentClient(options: ClientOptions = {}): DynamoDBDocumentClient {
  return documentClient(options, requestHandler(options));
}

/** Whether createDocumentClient made `documents` (so createDocumentClientBeside can make its twin). */
export function madeByCreateDocumentClient(documents: DynamoDBDocumentClient): boolean {
  return madeHere.has(documents);
}

/**
 * A second document client beside `documents`, one createDocumentClient made: the same target,
 * region, credentials and timeouts, over the same connections (its request handler, which the
 * SDK takes as given when handed an instance, so no socket more), with `maxAttempts` of its own.
 * Its retries are its own: the SDK makes each client its own retry strategy, whose retry quota
 * every request of that client shares, so nothing sent through one client changes the tries of
 * the other. Destroying either client closes the connections of both. A client not made here
 * (a test's in-process or mocked one) is refused: this module cannot repeat its making.
 */
export function createDocumentClientBeside(
  documents: DynamoDBDocumentClient,
  settings: { maxAttempts: number },
): DynamoDBDocumentClient {
  const made = madeHere.get(documents);
  if (!made) {
    throw new Error('createDocumentClientBeside: that client was not made by createDocumentClient');
  }
  return documentClient({ ...made.options, maxAttempts: settings.maxAttempts }, made.handler);
}
