import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { effectSk, ORDER_GUARD_KEY } from '../../shared/src/ledger';
import standardBatch from '../events/sqs/standard-batch.json';
import {
  consumerEnv,
  contextUntil,
  createIdempotencyTable,
  loadConsumerHandler,
  quietly,
} from './support/consumer-handler';
import { jsonBodyOf, operationOf } from './support/dynamodb-proxy';
import { type LedgerBehindProxy, startLedgerBehindProxy } from './support/ledger-behind-proxy';

/**
 * A DynamoDB that stalls the late turn's read: the consistent GetItem the consumer makes, once a
 * late turn's effect committed, of the effect of the order that made it late (OutOfOrderApplies,
 * services/consumer/src/adapters/ledger.ts committedBelow). The standard consumer's handler module
 * (its own clients, default timeouts: 1 s a try) runs against a local DynamoDB behind a real HTTP
 * proxy on 127.0.0.1 that holds that GetItem, and only it, without an answer. The read ran on the
 * ledger's client with the SDK's 4 tries (a whole stalled call, 4 x 1 s and backoff, for a
 * metric), and its time-out was swallowed without telling the cut-off on later records
 * (domain/record-handling.ts, startsRecord), which then started a record with less time left
 * than one needs after a stall.
 */

interface Sent {
  Key?: { sk?: { S?: string } };
}

/** The deadline the scenario's context gives: less than a record needs (5,175 ms) once 1 s is gone. */
const DEADLINE_MS = 5_500;

describe("a DynamoDB that stalls the late turn's read", () => {
  const saved = { ...process.env };
  let ledgerBehindProxy: LedgerBehindProxy;
  /** The sort key of the effect whose GetItem the proxy holds (none: nothing is held). */
  let heldSk: string | undefined;
  /** Every GetItem of `heldSk` the proxy received. */
  let heldReads = 0;

  beforeAll(async () => {
    ledgerBehindProxy = await startLedgerBehindProxy((received) => {
      if (operationOf(received) !== 'GetItem' || heldSk === undefined) return undefined;
      if (jsonBodyOf<Sent>(received).Key?.sk?.S !== heldSk) return undefined;
      heldReads += 1;
      return 'hold';
    });
    await createIdempotencyTable(ledgerBehindProxy.documents);
    process.env = consumerEnv(saved, ledgerBehindProxy.endpoint, {
      QUEUE_KIND: 'standard',
      BATCH_PROCESSING: 'sequential',
    });
  }, 60_000);

  afterAll(async () => {
    process.env = { ...saved };
    await ledgerBehindProxy?.stop();
  });

  /**
   * Three orders of run `runId`, in this order: cust-1's sequence 2, cust-1's sequence 1 (its
   * turn is late: sequence 2 took one first), cust-2's sequence 1.
   */
  const batchOf = (runId: string): SQSRecord[] => {
    const [template] = standardBatch.Records as unknown as SQSRecord[];
    return [
      ['o-2', 'cust-1', 2],
      ['o-1', 'cust-1', 1],
      ['o-3', 'cust-2', 1],
    ].map(([order, customer, sequence]) => {
      const record = structuredClone(template) as SQSRecord;
      const body = JSON.parse(record.body) as Record<string, unknown>;
      record.messageId = `${runId}-${order}`;
      record.body = JSON.stringify({
        ...body,
        runId,
        orderId: `${runId}-${order}`,
        customerId: `${runId}-${customer}`,
        sequence,
      });
      return record;
    });
  };

  it('gives the read one try, and tells the cut-off it ran out: the next record, with less left than one needs, goes back unrun', async () => {
    // Prepare: the module warm (a first invocation, nothing held, a far deadline); then the
    // GetItem of the first order's effect, which the second order's late turn reads, is held.
    const handler = loadConsumerHandler();
    const warm = await quietly(() =>
      handler({ Records: batchOf('late-read-warm') }, contextUntil(Date.now() + 30_000, 'req-w')),
    );
    expect(warm.batchItemFailures).toEqual([]);
    const runId = 'late-read-stall';
    const batch = batchOf(runId);
    const [higher, lateOne, other] = batch as [SQSRecord, SQSRecord, SQSRecord];
    heldSk = effectSk('standard', higher.messageId, ORDER_GUARD_KEY);
    heldReads = 0;

    // Act
    const response: SQSBatchResponse = await quietly(() =>
      handler({ Records: batch }, contextUntil(Date.now() + DEADLINE_MS, 'req-late-read')),
    );
    heldSk = undefined;

    // Assess: the read was sent once (it was sent 4 times, each try running out its 1 s). The
    // late order applied (its effect committed; the read is for a metric); the third record did
    // not start, 1 s and more after a call ran out with 5.5 s to go (it started, and applied).
    expect({
      reads: heldReads,
      handedBack: response.batchItemFailures.map((f) => f.itemIdentifier),
    }).toEqual({ reads: 1, handedBack: [other.messageId] });
    const items = await ledgerBehindProxy.runItems(runId);
    expect(
      items
        .filter((i) => i.type === 'delivery')
        .map((d) => `${d.orderId}:${d.outcome}`)
        .sort(),
    ).toEqual([`${lateOne.messageId}:applied`, `${higher.messageId}:applied`]);
    expect(items.filter((i) => i.type === 'effect').map((e) => e.orderId)).not.toContain(
      other.messageId,
    );
  }, 30_000);
});
