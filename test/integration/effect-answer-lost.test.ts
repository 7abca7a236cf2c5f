import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoConsumerLedger } from '../../services/consumer/src/adapters/ledger';
import { DynamoLedger } from '../../services/producer/src/adapters/ledger';
import { pipelineConfig } from '../../shared/src/config/pipeline';
import { effectSk, ORDER_GUARD_KEY, runPk } from '../../shared/src/ledger';
import { claimedByDeadRequest, firstClaim } from './support/dead-claim';
import { type LedgerBehindProxy, startLedgerBehindProxy } from './support/ledger-behind-proxy';
import { stopsAfterAll } from './support/stop-after-all';

/**
 * The functions' DynamoDB clients retry a request whose answer they did not get (the DynamoDB
 * client's default: 4 tries). When the effect's conditional put committed and the connection was reset before its
 * answer came, the retry is refused by that very write: the adapter must still answer "written",
 * or the order's only delivery is counted as a duplicate the guard refused and never as applied;
 * the producer's claim likewise, or the order's first POST is answered 409 and never sent.
 * A real HTTP proxy in front of the local DynamoDB forwards the first conditional PutItem, lets
 * it commit, then resets the client's connection instead of answering. A retry can also come
 * late: the producer's record of its sends, retried after a later request took the send lease
 * and ended, must change nothing, or the later request's lease looks held to its deadline.
 */
const { ledger } = pipelineConfig.tables;

describe('a conditional write whose answer is lost after it committed', () => {
  let ledgerBehindProxy: LedgerBehindProxy;
  let documents: DynamoDBDocumentClient;
  /** Conditional PutItems that reached DynamoDB, and answers the proxy dropped. */
  const seen = { conditionalPuts: 0, dropped: 0 };
  /**
   * A record of its sends by `by` (the producer's recordSends) whose answer the proxy holds once,
   * after it committed, until `release` settles, then drops: the SDK sends it again then.
   */
  let lateRecord:
    | { by: string; tries: number; committed: () => void; release: Promise<void> }
    | undefined;

  const keep = stopsAfterAll();
  beforeAll(async () => {
    ledgerBehindProxy = await keep(
      startLedgerBehindProxy(async (received, forward) => {
        const conditionalPut =
          String(received.headers['x-amz-target']).endsWith('.PutItem') &&
          received.body.includes('attribute_not_exists');
        if (conditionalPut) seen.conditionalPuts++;
        const answer = await forward(received);
        const record = lateRecord;
        if (
          record &&
          String(received.headers['x-amz-target']).endsWith('.UpdateItem') &&
          received.body.includes('SET sendsEndedAt') &&
          received.body.includes(`"${record.by}"`) &&
          ++record.tries === 1
        ) {
          record.committed();
          await record.release;
          return 'reset';
        }
        if (conditionalPut && seen.dropped === 0) {
          // Committed upstream; the client hears a reset connection (ECONNRESET), not the answer.
          seen.dropped++;
          return 'reset';
        }
        return answer;
      }),
    );
    documents = ledgerBehindProxy.documents;
  }, 60_000);

  it('answers written when the SDK retry is refused by its own first try', async () => {
    const adapter = new DynamoConsumerLedger(documents, ledger.name);
    const runId = 'answer-lost';
    const turn = await adapter.takeApplyTurn(runId, 'standard', 'cust-1', 1);

    // Act
    const write = await adapter.putEffectIfAbsent({
      guard: 'order',
      runId,
      queue: 'standard',
      orderId: 'order-1',
      customerId: 'cust-1',
      sequence: 1,
      messageId: 'm-1',
      applyIndex: turn.applyIndex,
      acceptedAt: 1000,
      committedAt: 2000,
    });

    // Assess: the answer was lost once and the SDK sent the put again, which DynamoDB refused;
    // the one effect there is this attempt's, and the adapter says so.
    expect(seen).toEqual({ conditionalPuts: 2, dropped: 1 });
    expect(write).toEqual({ written: true });
    const stored = await documents.send(
      new GetCommand({
        TableName: ledger.name,
        Key: { pk: runPk(runId), sk: effectSk('standard', 'order-1', ORDER_GUARD_KEY) },
        ConsistentRead: true,
      }),
    );
    expect(stored.Item).toMatchObject({ applyIndex: turn.applyIndex, committedAt: 2000 });
  }, 30_000);

  it("keeps the producer's claim its own when the SDK retry is refused by its first try (found in review)", async () => {
    // Prepare: a first request's claim; the proxy drops the first conditional put's answer.
    seen.conditionalPuts = 0;
    seen.dropped = 0;
    const producer = new DynamoLedger(documents, ledger.name, documents, { warn: () => {} });
    const order = firstClaim('claim-first', 'answer-lost', 'order-claimed');

    // Act
    const first = await producer.claim(order);
    const retry = await producer.claim({ ...order, claimId: 'claim-second', acceptedAt: 2000 });

    // Assess: the first request's claim is its own (taken for another's, its POST would be
    // answered 409 and the order never sent); a real second request's claim is still refused.
    expect(seen).toEqual({ conditionalPuts: 3, dropped: 1 });
    expect(first).toEqual({ claimed: true });
    expect(retry).toMatchObject({ claimed: false, existing: { acceptedAt: 1000 } });
  }, 30_000);

  it("refuses a late SDK retry of an earlier holder's record of its sends: the later holder's lease stays free and its ids stay (review)", async () => {
    // Prepare: an order whose claiming request died (its lease ran out); retry A took the lease
    // and sent to both queues. The proxy lets A's record of its sends commit and holds its
    // answer; meanwhile retry B takes the lease A freed, sends to the standard queue again and
    // records it. Then the proxy resets A's connection, and the SDK sends A's write again.
    const producer = new DynamoLedger(documents, ledger.name, documents, { warn: () => {} });
    const orderId = 'order-late-record';
    const bid = await claimedByDeadRequest(producer, 'answer-lost', orderId);
    expect(await bid('req-A', 2000)).toMatchObject({ taken: true });
    let release = () => {};
    let committed = () => {};
    const aCommitted = new Promise<void>((resolve) => {
      committed = resolve;
    });
    lateRecord = {
      by: 'req-A',
      tries: 0,
      committed,
      release: new Promise<void>((resolve) => {
        release = resolve;
      }),
    };

    // Act
    const recordOfA = producer.recordSends(
      orderId,
      {
        sent: {
          fifo: { messageId: 'f-A', sentAt: 2050 },
          standard: { messageId: 's-A', sentAt: 2050 },
        },
      },
      { at: 2100, by: 'req-A' },
    );
    await aCommitted;
    expect(await bid('req-B', 2200)).toMatchObject({ taken: true });
    await producer.recordSends(
      orderId,
      { sent: { standard: { messageId: 's-B', sentAt: 2250 } } },
      { at: 2300, by: 'req-B' },
    );
    release();
    const late = await recordOfA;

    // Assess: A's write went twice; the second was refused and changed nothing, so B's end
    // still frees the lease (the next retry takes it at once, no 409) and B's id stays. A is told
    // the truth: its sends are recorded (its first try), not refused.
    expect(lateRecord.tries).toBe(2);
    expect(await producer.getAccepted(orderId)).toMatchObject({
      messageIds: { fifo: 'f-A', standard: 's-B' },
      sendingBy: 'req-B',
      sendsEndedBy: 'req-B',
      sendsEndedAt: 2300,
    });
    expect(await bid('req-C', 2400)).toMatchObject({ taken: true });
    expect(late).toBe('recorded-by-earlier-try');
  }, 30_000);
});
