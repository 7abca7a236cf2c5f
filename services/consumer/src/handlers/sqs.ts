import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import {
  checkTimeoutBudget,
  clientTimeoutsFromEnv,
  createDocumentClients,
  createDynamoDbClient,
  DYNAMODB_BACKOFF_BASE_MS,
  dynamoDbTriesFromEnv,
  LAMBDA_DYNAMODB_TIMEOUTS,
} from '../../../../shared/src/aws-clients';
import { pipelineConfig } from '../../../../shared/src/config/pipeline';
import { createLogger } from '../../../../shared/src/logger';
import { createTracing } from '../../../../shared/src/tracing';
import { CallDeadline } from '../adapters/call-deadline';
import { OwnWriteDynamoDBPersistenceLayer } from '../adapters/idempotency-store';
import { DynamoConsumerLedger } from '../adapters/ledger';
import { PowertoolsConsumerMetrics } from '../adapters/metrics';
import { createConsumerHandler } from '../app';
import { CALL_ROOM, loadConsumerConfig, recordBudgetMsFromEnv } from '../config';

// Module scope runs once per execution environment: config errors fail the cold start, and
// clients (with their keep-alive connections) are reused by every warm invocation.
const config = loadConsumerConfig();
const logger = createLogger(`consumer-${config.queue}`);
// What the tracing cannot record (a subsegment not closed) is logged and goes no further: after
// the outcomes' write, a throw would fail the invocation and SQS would hand back the whole batch.
const tracing = createTracing(`consumer-${config.queue}`, process.env, logger);
const idempotencyTable = config.idempotency.tableName;
// Both DynamoDB clients (the ledger's and Powertools idempotency's, which is ours to make and
// hand it) have a connection and a request timeout, so an endpoint that accepts and never
// answers fails a try with a TimeoutError instead of holding the batch to the function's
// timeout (which fails the whole batch, every record redelivered). Set by environment variable;
// the defaults and their arithmetic are in shared/src/aws-clients.ts (LAMBDA_DYNAMODB_TIMEOUTS):
// a stalled call ends by 4 x 1 s + 175 ms of backoff, and two in series (the idempotency record,
// then its deletion when the effect failed) a second and more before the 10 s timeout.
const dynamoDbTimeouts = clientTimeoutsFromEnv('dynamodb', LAMBDA_DYNAMODB_TIMEOUTS);
const dynamoDbTries = dynamoDbTriesFromEnv();
/** What the invocation keeps for its end (the outcomes' write, the answer) after a stalled call. */
const ROOM_MS = CALL_ROOM.recordsMs;
checkTimeoutBudget({
  name: `consumer-${config.queue} DynamoDB clients`,
  functionTimeoutMs: pipelineConfig.consumers[config.queue].timeoutSeconds * 1000,
  callsInSeries: 2,
  tries: dynamoDbTries,
  requestTimeoutMs: dynamoDbTimeouts.requestTimeoutMs,
  backoffBaseMs: DYNAMODB_BACKOFF_BASE_MS,
  roomMs: ROOM_MS,
});
// The time a record needs before it starts, once a DynamoDB call of the invocation has run out
// (domain/record-handling.ts, startsRecord): one stalled call, as the cold-start check counts it
// (these tries x this request timeout + backoff; 4,175 ms at the defaults), and the same room:
// 5,175 ms at the defaults (config.ts, recordBudgetMsFromEnv). Exported for its test
// (test/unit/consumer/config.test.ts).
export const recordBudgetMs = recordBudgetMsFromEnv();
/** What the end write leaves of the invocation for the answer, once the records' calls are cut. */
const ANSWER_MS = CALL_ROOM.endMs;
// The cut on every DynamoDB call of an invocation (adapters/call-deadline.ts): a record's calls
// are given up ROOM_MS before the invocation's deadline, so a stall inside a record (after its
// first call, which the cut-off above does not cover) leaves the end write its room; the end
// write is given up ANSWER_MS before it, so a stalled one fails the invocation before Lambda ends
// it at its timeout.
const callDeadline = new CallDeadline();
const idempotencyClient = tracing.captureClient(createDynamoDbClient(dynamoDbTimeouts));
// The ledger's client, and beside it (over the same connections) its one-try twin, for the late
// turn's read alone (adapters/ledger.ts, committedBelow): a read for a metric, after the effect
// committed, that a stalled DynamoDB must not hold for a whole stalled call.
const ledgerClients = createDocumentClients(dynamoDbTimeouts);
const ledgerClient = tracing.captureClient(ledgerClients.documents);
const ledgerOneTry = tracing.captureClient(ledgerClients.oneTry);
callDeadline.attach(idempotencyClient);
callDeadline.attach(ledgerClient);
callDeadline.attach(ledgerOneTry);
// Powertools' DynamoDB layer whose IN_PROGRESS put recognises the SDK's second copy of itself,
// and which holds its COMPLETED writes for the invocation's end write while the effect guard is
// on (adapters/idempotency-store.ts; app.ts begins it only then).
const idempotencyStore =
  idempotencyTable &&
  new OwnWriteDynamoDBPersistenceLayer({
    tableName: idempotencyTable,
    client: idempotencyClient,
    deadline: callDeadline,
  });
const consume = createConsumerHandler(config, {
  // Its batch writes carry the idempotency table's held COMPLETED records at the end too.
  ledger: new DynamoConsumerLedger(ledgerClient, config.ledgerTableName, undefined, ledgerOneTry),
  ...(idempotencyStore ? { persistenceStore: idempotencyStore, heldWrites: idempotencyStore } : {}),
  logger,
  recordBudgetMs,
  callDeadline,
  callRoom: { recordsMs: ROOM_MS, endMs: ANSWER_MS },
  metrics: new PowertoolsConsumerMetrics(config.queue),
  traceRecord: (annotations, work) => tracing.subsegment('record', annotations, work),
});

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  return tracing.handler(`consumer-${config.queue}`, () => consume(event, context));
};
