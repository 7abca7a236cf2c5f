import type { APIGatewayProxyEvent } from 'aws-lambda';
import { DynamoLedger } from '../../services/producer/src/adapters/ledger';
import { SqsQueueLifetimes } from '../../services/producer/src/adapters/queue-lifetimes';
import { PRODUCER_SQS_CLIENT, SqsQueues } from '../../services/producer/src/adapters/queues';
import { type ApiHandler, createApiHandler } from '../../services/producer/src/app';
import { NO_PRODUCER_FAULTS } from '../../services/producer/src/domain/faults';
import { payloadHash } from '../../services/producer/src/domain/request';
import { leaseHeldFor } from '../../services/producer/src/domain/resend';
import { createSqsClient, LOCAL_CREDENTIALS } from '../../shared/src/aws-clients';
import { pipelineConfig } from '../../shared/src/config/pipeline';
import { type OrderInput, validateOrder } from '../../shared/src/order';
import { operationOf } from './support/dynamodb-proxy';
import {
  type LedgerBehindProxy,
  type ProxiedRequest,
  startLedgerBehindProxy,
} from './support/ledger-behind-proxy';
import { type PausedCloud, startPausedCloud } from './support/paused-cloud';
import { stopsAfterAll } from './support/stop-after-all';

/**
 * A client retry whose bid for the send lease failed: every try the SDK made was answered 500
 * or had its connection dropped, so the request ends with a 500. The bid may still have taken
 * the lease: its first try committed before the connection dropped, or it reaches DynamoDB late
 * (the try the SDK gave up on). Held for a request that ended, the lease would answer every
 * later retry 409 until that request's deadline. The producer, real SDK clients: its ledger on a
 * local DynamoDB behind a proxy that decides each try of the bid, its queues on the local
 * cloud's SQS (consumers paused, so every message sent stays queued).
 */
const { ledger } = pipelineConfig.tables;

const body = {
  customerId: 'cust-bid',
  items: [{ sku: 'a', quantity: 1, unitPrice: 5 }],
  amount: 5,
  currency: 'EUR',
};
const input: OrderInput = (() => {
  const parsed = validateOrder(body);
  if (!parsed.ok) throw new Error('the test order is not valid');
  return parsed.value;
})();

const quiet = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  appendKeys: () => undefined,
  removeKeys: () => undefined,
};

/** DynamoDB's own answer to a failure on its side, which the SDK retries. */
const internalError = () => ({
  status: 500,
  headers: { 'content-type': 'application/x-amz-json-1.0' },
  body: Buffer.from(
    JSON.stringify({
      __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError',
      message: 'Internal server error',
    }),
  ),
});

describe("a retry's send lease bid all of whose SDK tries failed", () => {
  const keep = stopsAfterAll();
  let ledgerBehindProxy: LedgerBehindProxy;
  let paused: PausedCloud;
  /**
   * The bid of `by`: its first try is committed then its connection reset (`committed`), or kept
   * unforwarded and its connection reset (`late`, forwarded by the test later); every later try
   * is answered 500; with `withdrawalFails`, so is each try of its withdrawal (DynamoDB failing
   * through both).
   */
  let failBidOf: {
    by: string;
    first: 'committed' | 'late';
    tries: number;
    kept?: ProxiedRequest;
    withdrawalFails?: boolean;
  };
  /** How far ahead of the machine's the producer's clock runs. */
  let clockAheadMs = 0;
  let requestIds: string[];
  let api: ApiHandler;
  let producer: DynamoLedger;
  let closeSqs: () => void;
  /** Every request the producer's ledger client sent, by operation; a withdrawal so named. */
  const seen: string[] = [];

  /** Claims `orderId` as a request that died 30 s ago (its lease ran out) having sent nothing. */
  const claimedByDeadRequest = async (orderId: string) => {
    const now = Date.now();
    await producer.claim({
      claimId: 'claim-dead',
      runId: 'failed-bid',
      orderId,
      customerId: input.customerId,
      sequence: 1,
      acceptedAt: now - 40_000,
      payloadHash: payloadHash(input),
      messageIds: { fifo: '', standard: '' },
      sentAt: {},
      requests: 1,
      sendingBy: 'claim-dead',
      sendingUntil: now - 30_000,
    });
  };

  beforeAll(async () => {
    ledgerBehindProxy = await keep(
      startLedgerBehindProxy(async (received, forward) => {
        const operation = operationOf(received);
        seen.push(
          received.body.includes('SET sendsEndedBy = :me, sendsEndedAt = :ended')
            ? 'withdrawBid'
            : operation,
        );
        const bid = failBidOf;
        if (
          !bid ||
          !String(received.headers['x-amz-target']).endsWith('.UpdateItem') ||
          !received.body.includes(`":me":{"S":"${bid.by}"}`)
        ) {
          return undefined;
        }
        if (received.body.includes('SET sendsEndedBy = :me, sendsEndedAt = :ended')) {
          return bid.withdrawalFails ? internalError() : undefined;
        }
        if (!received.body.includes('SET sendingBy = :me, sendingUntil = :until')) return undefined;
        bid.tries++;
        if (bid.tries > 1) return internalError();
        if (bid.first === 'committed') await forward(received);
        else bid.kept = received;
        return 'reset';
      }),
    );
    paused = await keep(startPausedCloud());
    const { cloud } = paused;
    const sqs = createSqsClient({
      ...PRODUCER_SQS_CLIENT,
      endpoint: cloud.edgeUrl,
      region: cloud.region,
      credentials: LOCAL_CREDENTIALS,
    });
    closeSqs = () => sqs.destroy();
    // The ledger as the producer's handler makes it: its one-try client for the withdrawal.
    producer = new DynamoLedger(
      ledgerBehindProxy.documents,
      ledger.name,
      ledgerBehindProxy.oneTry,
      { warn: () => {} },
    );
    api = createApiHandler(
      {
        ledgerTableName: ledger.name,
        queueUrls: cloud.queueUrls,
        maxBodyBytes: 16_384,
        defaultRunId: 'failed-bid',
        faults: NO_PRODUCER_FAULTS,
        timeoutMs: 10_000,
        clockMarginMs: 1000,
        inProgressWindowMs: 11_000,
      },
      {
        ledger: producer,
        queues: new SqsQueues(sqs, cloud.queueUrls),
        lifetimes: new SqsQueueLifetimes(sqs, cloud.queueUrls),
        logger: quiet,
        now: () => Date.now() + clockAheadMs,
        newRequestId: () => requestIds.shift() ?? 'req-spare',
      },
    );
  }, 120_000);

  afterAll(async () => {
    closeSqs?.();
  });

  const post = (key: string) =>
    api({
      resource: '/orders',
      httpMethod: 'POST',
      path: '/orders',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify(body),
    } as unknown as APIGatewayProxyEvent);

  it.each([
    ['its first try committed, then the connection dropped', 'committed'],
    ['its first try reached DynamoDB only after the request failed', 'late'],
  ] as const)(
    'leaves no lease held when %s: the next retry sends at once, not 409 (review)',
    async (_what, first) => {
      // Prepare: an order whose claiming request died 30 s ago (its lease ran out) having sent
      // nothing; retry A's bid fails as `first` says.
      const orderId = `failed-bid-${first}`;
      await claimedByDeadRequest(orderId);
      const [fifoBefore = 0, standardBefore = 0] = await paused.queued();
      failBidOf = { by: `A-${first}`, first, tries: 0 };
      requestIds = [`A-${first}`, `B-${first}`];

      // Act: retry A, whose bid fails; A's kept try (if any) reaches DynamoDB; then retry B.
      const ofA = await post(orderId);
      if (failBidOf.kept) await ledgerBehindProxy.forward(failBidOf.kept);
      const afterA = await producer.getAccepted(orderId);
      const ofB = await post(orderId);

      // Assess: A failed after the SDK's tries (the client's default number); the lease it may
      // have taken is free, so B took it and sent the order to both queues once.
      expect(failBidOf.tries).toBeGreaterThan(1);
      expect(ofA.statusCode).toBe(500);
      expect(leaseHeldFor(afterA ?? ({} as never), 11_000, Date.now())).toBe(0);
      expect(ofB.statusCode).toBe(202);
      expect(await producer.getAccepted(orderId)).toMatchObject({
        sendingBy: `B-${first}`,
        sendsEndedBy: `B-${first}`,
      });
      expect(await paused.queued()).toEqual([fifoBefore + 1, standardBefore + 1]);
    },
    60_000,
  );

  it('makes no DynamoDB request more when its bid is answered: a first request and a retry that takes the lease (review)', async () => {
    // Prepare: an order whose claiming request died having sent nothing (its lease ran out).
    const orderId = 'bid-answered';
    await claimedByDeadRequest(orderId);
    requestIds = ['first-new', 'retry-new'];

    // Act: a first request of another order, then a retry of this one.
    seen.length = 0;
    const first = await post('bid-answered-first');
    const ofFirst = seen.splice(0);
    const retry = await post(orderId);
    const ofRetry = seen.splice(0);

    // Assess: the first request claims, takes and keeps its sequence, and records its sends; the
    // retry claims (refused: dynalite hands no item back, so one read), counts itself, bids and
    // records its sends. No withdrawal, no write more.
    expect([first.statusCode, retry.statusCode]).toEqual([202, 202]);
    expect(ofFirst).toEqual(['PutItem', 'UpdateItem', 'UpdateItem', 'UpdateItem']);
    expect(ofRetry).toEqual(['PutItem', 'GetItem', 'UpdateItem', 'UpdateItem', 'UpdateItem']);
  }, 60_000);

  it("tries its withdrawal once when DynamoDB fails it too, after every SDK try of the bid: one request more, not a second round of the SDK's tries (review)", async () => {
    // Prepare: a retry due to send again; DynamoDB fails its bid (every try) and its withdrawal.
    const orderId = 'withdrawal-fails-count';
    await claimedByDeadRequest(orderId);
    failBidOf = { by: 'A-count', first: 'late', tries: 0, withdrawalFails: true };
    requestIds = ['A-count'];

    // Act
    seen.length = 0;
    const ofA = await post(orderId);
    const ofRetry = seen.splice(0);

    // Assess: the claim (refused, then read), the count, every try of the bid (the DynamoDB
    // client's default, 4 in this SDK), and one try of the withdrawal, where the SDK made as many
    // as of the bid before.
    expect(ofA.statusCode).toBe(500);
    expect(failBidOf.tries).toBeGreaterThan(1);
    expect(ofRetry).toEqual([
      'PutItem',
      'GetItem',
      'UpdateItem',
      ...Array.from({ length: failBidOf.tries }, () => 'UpdateItem'),
      'withdrawBid',
    ]);
  }, 60_000);

  it("leaves the producer's DynamoDB client every SDK try for its other requests however often a withdrawal's one try fails: after 40 failed withdrawals, a bid still gets them all (review)", async () => {
    // Prepare: a retry due to send again; before it, the producer's client tried 40 withdrawals
    // (of another request's bid), each failed by DynamoDB: more than the SDK's retry quota (one
    // per client, 500; 14 a retry after a transient failure) pays for, had each been charged for
    // the retry it did not make.
    const orderId = 'withdrawals-fail-quota';
    await claimedByDeadRequest(orderId);
    failBidOf = { by: 'W-quota', first: 'late', tries: 0, withdrawalFails: true };
    const now = Date.now();
    const lease = {
      by: 'W-quota',
      from: 'claim-dead',
      until: now + 11_000,
      now,
      legacyWindowMs: 11_000,
    };
    for (let i = 0; i < 40; i++) {
      await expect(producer.withdrawBid(orderId, lease, Date.now())).rejects.toMatchObject({
        name: 'InternalServerError',
      });
    }
    failBidOf = { by: 'A-quota', first: 'late', tries: 0, withdrawalFails: true };
    requestIds = ['A-quota'];

    // Act
    const ofA = await post(orderId);

    // Assess: the bid got as many tries as the client makes (4), not one.
    expect(ofA.statusCode).toBe(500);
    expect(failBidOf.tries).toBe(await ledgerBehindProxy.documents.config.maxAttempts());
  }, 60_000);

  it("answers 500 with Retry-After to its bid's deadline when the withdrawal fails too: a late try of the bid holds the lease, a retry before that is answered 409, one after it sends (review)", async () => {
    // Prepare: a retry due to send again; its bid's first try reaches DynamoDB only after the
    // request failed, every other try and the withdrawal are answered 500.
    const orderId = 'withdrawal-fails-late';
    await claimedByDeadRequest(orderId);
    const [fifoBefore = 0, standardBefore = 0] = await paused.queued();
    failBidOf = { by: 'A-held', first: 'late', tries: 0, withdrawalFails: true };
    requestIds = ['A-held', 'B-held', 'C-held'];

    // Act: retry A; its kept try lands and takes the lease; retry B at once; retry C once A's
    // Retry-After has passed (the producer's clock moved that far ahead).
    const startedAt = Date.now();
    const ofA = await post(orderId);
    const answeredAt = Date.now();
    if (failBidOf.kept) await ledgerBehindProxy.forward(failBidOf.kept);
    const held = await producer.getAccepted(orderId);
    const ofB = await post(orderId);
    const seconds = Number(ofA.headers?.['retry-after']);
    clockAheadMs = seconds * 1000;
    const ofC = await post(orderId).finally(() => {
      clockAheadMs = 0;
    });

    // Assess: A's Retry-After is the rest of the lease its late try took, in whole seconds
    // rounded up; B is told to wait no longer than that; C takes the lease and sends.
    expect(ofA.statusCode).toBe(500);
    expect(held).toMatchObject({ sendingBy: 'A-held' });
    const until = held?.sendingUntil ?? 0;
    expect(answeredAt + seconds * 1000).toBeGreaterThanOrEqual(until);
    expect(startedAt + (seconds - 1) * 1000).toBeLessThan(until);
    expect(ofB.statusCode).toBe(409);
    expect(Number(ofB.headers?.['retry-after'])).toBeLessThanOrEqual(seconds);
    expect(ofC.statusCode).toBe(202);
    expect(await paused.queued()).toEqual([fifoBefore + 1, standardBefore + 1]);
  }, 60_000);
});
