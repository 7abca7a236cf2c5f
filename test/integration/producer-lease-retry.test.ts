import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoLedger } from '../../services/producer/src/adapters/ledger';
import type { AcceptedOrder } from '../../services/producer/src/domain/ports';
import { leaseHeldFor } from '../../services/producer/src/domain/resend';
import { pipelineConfig } from '../../shared/src/config/pipeline';
import { claimedByDeadRequest } from './support/dead-claim';
import {
  type LedgerBehindProxy,
  type ProxiedRequest,
  startLedgerBehindProxy,
} from './support/ledger-behind-proxy';
import { stopsAfterAll } from './support/stop-after-all';

/**
 * The producer's send lease against a real SDK retry. The functions' DynamoDB client sends a
 * request again when it gets no answer (the DynamoDB client's default: 4 tries), and the try it
 * gave up on may still reach DynamoDB later (a slow request). A real HTTP proxy in front of the
 * local DynamoDB takes the first try of a retry's lease bid, keeps it without forwarding it and
 * resets the client's connection, so the SDK sends the bid again; the test forwards the kept try
 * when it chooses: after the retry that bid took the lease, sent, and ended, and a later retry
 * took the lease and ended it too. That late try must not take the lease back: held for a request
 * that ended long ago, the lease would answer every later retry 409 until that request's deadline.
 */
const { ledger } = pipelineConfig.tables;

describe("a late try of a retry's send lease bid, after the SDK sent it again", () => {
  let ledgerBehindProxy: LedgerBehindProxy;
  let documents: DynamoDBDocumentClient;
  /** The bid of `by` whose first try the proxy keeps; `tries` counts the tries it saw. */
  let keepBidOf: { by: string; tries: number; kept?: ProxiedRequest } | undefined;

  const keep = stopsAfterAll();
  beforeAll(async () => {
    ledgerBehindProxy = await keep(
      startLedgerBehindProxy((received) => {
        const bid = keepBidOf;
        if (
          bid &&
          String(received.headers['x-amz-target']).endsWith('.UpdateItem') &&
          received.body.includes('SET sendingBy = :me') &&
          received.body.includes(`":me":{"S":"${bid.by}"}`) &&
          ++bid.tries === 1
        ) {
          // Not forwarded (yet): the client hears a reset connection (ECONNRESET) and tries again.
          bid.kept = received;
          return 'reset';
        }
        return undefined;
      }),
    );
    documents = ledgerBehindProxy.documents;
  }, 60_000);

  it('is refused once a later retry took the lease and ended it: the next retry takes the lease at once, no 409 (review)', async () => {
    // Prepare: an order whose claiming request died (its lease ran out at 1500).
    const producer = new DynamoLedger(documents, ledger.name, documents, { warn: () => {} });
    const orderId = 'order-late-bid';
    const bid = await claimedByDeadRequest(producer, 'late-bid', orderId);
    keepBidOf = { by: 'req-A', tries: 0 };

    // Act: retry A's bid (its first try kept by the proxy, the SDK's second try taking the
    // lease); A sends to FIFO and records it; retry B takes the lease A freed, sends to the
    // standard queue and records it. Then A's first try reaches DynamoDB.
    const ofA = await bid('req-A', 2000);
    const aRecorded = await producer.recordSends(
      orderId,
      { sent: { fifo: { messageId: 'f-A', sentAt: 2050 } } },
      { at: 2100, by: 'req-A' },
    );
    const ofB = await bid('req-B', 2200);
    const bRecorded = await producer.recordSends(
      orderId,
      { sent: { standard: { messageId: 's-B', sentAt: 2250 } } },
      { at: 2300, by: 'req-B' },
    );
    const kept = keepBidOf.kept;
    if (!kept) throw new Error("the proxy kept no try of A's bid");
    const lateTry = await ledgerBehindProxy.forward(kept);

    // Assess: the SDK did send A's bid twice; the late try was refused by DynamoDB and changed
    // nothing, so B's end still frees the lease, and retry C takes it at once (at 2400, long
    // before A's deadline of 11000, until which the lease would otherwise be held).
    expect(keepBidOf.tries).toBe(2);
    expect([ofA.taken, aRecorded, ofB.taken, bRecorded]).toEqual([
      true,
      'recorded',
      true,
      'recorded',
    ]);
    expect(lateTry.status).toBe(400);
    expect(lateTry.body.toString('utf8')).toMatch(/ConditionalCheckFailedException/);
    const record = await producer.getAccepted(orderId);
    expect(record).toMatchObject({
      messageIds: { fifo: 'f-A', standard: 's-B' },
      sendingBy: 'req-B',
      sendingUntil: 11_200,
      sendsEndedBy: 'req-B',
    });
    expect(leaseHeldFor(record as AcceptedOrder, 11_000, 2400)).toBe(0);
    expect(await bid('req-C', 2400)).toMatchObject({ taken: true });
  }, 30_000);
});
