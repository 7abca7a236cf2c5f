import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AcceptedOrder, SendLease } from '../../../services/producer/src/domain/ports';
import { leaseHeldFor } from '../../../services/producer/src/domain/resend';
import {
  claimRecord,
  type DynaliteLedger,
  LEDGER_TABLE,
  startDynaliteLedger,
  T,
} from './dynalite-ledger';

/**
 * The send lease's conditional update, against dynalite (the local cloud's DynamoDB) in-process:
 * the condition is DynamoDB's to evaluate, so it is tested where it is evaluated. Each case also
 * asks the domain's leaseHeldFor, which must agree with the condition (the fake ledger of the
 * use-case tests decides by it).
 */
const WINDOW_MS = 11_000;

let db: DynaliteLedger;
let documents: DynaliteLedger['documents'];
let ledger: DynaliteLedger['ledger'];
let n = 0;

beforeAll(async () => {
  db = await startDynaliteLedger();
  ({ documents, ledger } = db);
});

afterAll(() => db.dynamo.stop());

/** A fresh order claimed by `claim-1` at T, with `fields` over it (undefined: absent). */
async function claimed(fields: Partial<AcceptedOrder> = {}): Promise<string> {
  const orderId = `lease-${++n}`;
  const order = claimRecord(orderId, fields);
  await expect(ledger.claim(order)).resolves.toEqual({ claimed: true });
  return orderId;
}

/** `by`'s bid at `now`, made on a record it read held by `from` (none: a record before leases). */
const bid = (by: string, now: number, from: string | undefined): SendLease => ({
  by,
  from,
  until: now + 9000,
  now,
  legacyWindowMs: WINDOW_MS,
});

/** The lease's answer, and whether the domain's reading of the record before it agrees. */
async function lease(orderId: string, by: string, now: number) {
  const before = await ledger.getAccepted(orderId);
  if (!before) throw new Error(`no order ${orderId}`);
  const answer = await ledger.leaseSends(orderId, bid(by, now, before.sendingBy));
  const domainSaysFree = before.sendingBy === by || leaseHeldFor(before, WINDOW_MS, now) === 0;
  return { ...answer, domainSaysFree };
}

describe('DynamoLedger.leaseSends against dynalite', () => {
  it("refuses a lease whose holder has not ended before its deadline, answering the holder's record unchanged", async () => {
    const orderId = await claimed();

    const answer = await lease(orderId, 'req-2', T + 9999);

    expect(answer).toMatchObject({
      taken: false,
      domainSaysFree: false,
      record: { sendingBy: 'claim-1', sendingUntil: T + 10_000 },
    });
    expect(await ledger.getAccepted(orderId)).toMatchObject({ sendingBy: 'claim-1' });
  });

  it('takes a lease whose deadline passed without its end (the holder died)', async () => {
    const orderId = await claimed();

    const answer = await lease(orderId, 'req-2', T + 10_000);

    expect(answer).toMatchObject({
      taken: true,
      domainSaysFree: true,
      record: { sendingBy: 'req-2', sendingUntil: T + 19_000 },
    });
  });

  it('takes a lease before its deadline once its holder wrote its end, and no other after that', async () => {
    const orderId = await claimed();
    await ledger.recordSends(orderId, { sent: {} }, { at: T + 50, by: 'claim-1' });

    const first = await lease(orderId, 'req-2', T + 100);
    const second = await lease(orderId, 'req-3', T + 101);

    expect(first).toMatchObject({ taken: true, domainSaysFree: true });
    expect(second).toMatchObject({
      taken: false,
      domainSaysFree: false,
      record: { sendingBy: 'req-2', sendsEndedBy: 'claim-1' },
    });
  });

  it("takes its own lease again: the SDK's retry of a lease update whose answer was lost", async () => {
    const orderId = await claimed({ sendingUntil: T - 1 });
    await ledger.leaseSends(orderId, bid('req-2', T, 'claim-1'));

    const retried = await ledger.leaseSends(orderId, bid('req-2', T + 5, 'claim-1'));

    expect(retried).toMatchObject({ taken: true, record: { sendingBy: 'req-2' } });
  });

  it('answers the record as the lease left it: ids another request recorded since it was read', async () => {
    const orderId = await claimed({ sendingUntil: T - 1 });
    await ledger.leaseSends(orderId, bid('req-other', T, 'claim-1'));
    await ledger.recordSends(
      orderId,
      { sent: { fifo: { messageId: 'f-other', sentAt: T } } },
      { at: T, by: 'req-other' },
    );

    // Bid on the record as it is now (the use case bids again so, once a bid made on the record
    // as it was is refused: see the tests of late bids below).
    const answer = await ledger.leaseSends(orderId, bid('req-2', T + 1, 'req-other'));

    expect(answer).toMatchObject({
      taken: true,
      record: { messageIds: { fifo: 'f-other', standard: '' }, sendingBy: 'req-2' },
    });
  });

  it.each([
    ['claimed 3 s ago, not ended', T + 3000, {}, false],
    ['claimed the window ago, not ended (its request died)', T + WINDOW_MS, {}, true],
    ['claimed 3 s ago, its sends ended', T + 3000, { sendsEndedAt: T + 1000 }, true],
  ] as const)(
    'reads a record from before leases by its claim time and end: %s',
    async (_case, now, fields, taken) => {
      const orderId = await claimed({ sendingBy: undefined, sendingUntil: undefined, ...fields });

      const answer = await lease(orderId, 'req-2', now);

      expect(answer).toMatchObject({ taken, domainSaysFree: taken });
    },
  );

  it('holds a lease whose end was written by another request, or by nobody, until its deadline', async () => {
    // A lease with no holder named: dynalite takes two missing attributes as equal, and the
    // condition must not read that as "its holder ended".
    const nobody = await claimed({ sendingBy: undefined });
    const other = await claimed();
    // Written as a producer from before recordSends was conditional could write it (it is
    // refused now: the writer does not hold the lease; see the tests below).
    await documents.send(
      new UpdateCommand({
        TableName: LEDGER_TABLE.name,
        Key: { pk: `ORDER#${other}`, sk: 'ORDER' },
        UpdateExpression: 'SET sendsEndedAt = :at, sendsEndedBy = :by',
        ExpressionAttributeValues: { ':at': T + 10, ':by': 'req-other' },
      }),
    );

    await expect(lease(nobody, 'req-2', T + 100)).resolves.toMatchObject({
      taken: false,
      domainSaysFree: false,
    });
    await expect(lease(other, 'req-2', T + 100)).resolves.toMatchObject({
      taken: false,
      domainSaysFree: false,
    });
  });

  it("refuses a late copy of an earlier holder's record of its sends (the SDK's retry): the later holder's lease stays free and its ids stay", async () => {
    // Prepare: the claiming request died. Retry A takes the lease, sends to both queues and
    // records it; retry B takes the freed lease and sends to the standard queue again.
    const orderId = await claimed({ sendingUntil: T - 1 });
    const recordOfA = () =>
      ledger.recordSends(
        orderId,
        {
          sent: {
            fifo: { messageId: 'f-A', sentAt: T + 5 },
            standard: { messageId: 's-A', sentAt: T + 5 },
          },
        },
        { at: T + 10, by: 'req-A' },
      );
    await expect(ledger.leaseSends(orderId, bid('req-A', T, 'claim-1'))).resolves.toMatchObject({
      taken: true,
    });
    await expect(recordOfA()).resolves.toBe('recorded');
    await expect(ledger.leaseSends(orderId, bid('req-B', T + 20, 'req-A'))).resolves.toMatchObject({
      taken: true,
    });
    await expect(
      ledger.recordSends(
        orderId,
        { sent: { standard: { messageId: 's-B', sentAt: T + 25 } } },
        { at: T + 30, by: 'req-B' },
      ),
    ).resolves.toBe('recorded');

    // Act: A's write again, as the SDK sends it again when the first try's answer was lost.
    const late = await recordOfA();

    // Assess: refused, nothing changed; B's end still frees the lease for the next retry. The
    // refusal is told for what it is: A's record is there, from the first try.
    expect(late).toBe('recorded-by-earlier-try');
    const record = await ledger.getAccepted(orderId);
    expect(record).toMatchObject({
      messageIds: { fifo: 'f-A', standard: 's-B' },
      sentAt: { fifo: T + 5, standard: T + 25 },
      sendingBy: 'req-B',
      sendsEndedBy: 'req-B',
      sendsEndedAt: T + 30,
    });
    expect(leaseHeldFor(record as AcceptedOrder, WINDOW_MS, T + 40)).toBe(0);
    await expect(lease(orderId, 'req-C', T + 40)).resolves.toMatchObject({
      taken: true,
      domainSaysFree: true,
    });
  });

  it("refuses a late copy of a retry's bid once that retry ended and a later one took the lease and ended it: the next retry takes it at once, no 409", async () => {
    // Prepare: the claiming request died (its lease ran out). Retry A bids; the first try of its
    // bid is slow, so the SDK sends it again, and that copy takes the lease; A sends to both
    // queues and records it. Retry B then takes the lease A freed, sends again and ends.
    const orderId = await claimed({ sendingUntil: T - 1 });
    const bidOfA = bid('req-A', T, 'claim-1');
    await expect(ledger.leaseSends(orderId, bidOfA)).resolves.toMatchObject({ taken: true });
    await ledger.recordSends(
      orderId,
      { sent: { fifo: { messageId: 'f-A', sentAt: T + 5 } } },
      { at: T + 10, by: 'req-A' },
    );
    await expect(lease(orderId, 'req-B', T + 20)).resolves.toMatchObject({ taken: true });
    await ledger.recordSends(
      orderId,
      { sent: { standard: { messageId: 's-B', sentAt: T + 25 } } },
      { at: T + 30, by: 'req-B' },
    );

    // Act: the slow first try of A's bid reaches DynamoDB.
    const late = await ledger.leaseSends(orderId, bidOfA);

    // Assess: refused, nothing changed: B's end still frees the lease. Taken, it would be held
    // for A (which ended long ago) until A's deadline, and every retry answered 409 until then.
    expect(late).toMatchObject({
      taken: false,
      record: { sendingBy: 'req-B', sendsEndedBy: 'req-B' },
    });
    const record = await ledger.getAccepted(orderId);
    expect(record).toMatchObject({
      messageIds: { fifo: 'f-A', standard: 's-B' },
      sendingBy: 'req-B',
      sendingUntil: T + 20 + 9000,
      sendsEndedBy: 'req-B',
    });
    expect(leaseHeldFor(record as AcceptedOrder, WINDOW_MS, T + 40)).toBe(0);
    await expect(lease(orderId, 'req-C', T + 40)).resolves.toMatchObject({
      taken: true,
      domainSaysFree: true,
    });
  });

  it('refuses a late copy of a bid on a record from before leases once a later holder took the lease', async () => {
    const orderId = await claimed({ sendingBy: undefined, sendingUntil: undefined });
    const bidOfA = bid('req-A', T + WINDOW_MS, undefined);
    await expect(ledger.leaseSends(orderId, bidOfA)).resolves.toMatchObject({ taken: true });
    await ledger.recordSends(orderId, { sent: {} }, { at: T + WINDOW_MS + 1, by: 'req-A' });
    await expect(lease(orderId, 'req-B', T + WINDOW_MS + 2)).resolves.toMatchObject({
      taken: true,
    });
    await ledger.recordSends(orderId, { sent: {} }, { at: T + WINDOW_MS + 3, by: 'req-B' });

    await expect(ledger.leaseSends(orderId, bidOfA)).resolves.toMatchObject({ taken: false });

    expect(await ledger.getAccepted(orderId)).toMatchObject({
      sendingBy: 'req-B',
      sendsEndedBy: 'req-B',
    });
  });

  it('lets a late copy of a bid that arrives before any later holder find its own ended lease: it stays free', async () => {
    const orderId = await claimed({ sendingUntil: T - 1 });
    const bidOfA = bid('req-A', T, 'claim-1');
    await ledger.leaseSends(orderId, bidOfA);
    await ledger.recordSends(orderId, { sent: {} }, { at: T + 10, by: 'req-A' });

    await expect(ledger.leaseSends(orderId, bidOfA)).resolves.toMatchObject({ taken: true });

    const record = await ledger.getAccepted(orderId);
    expect(record).toMatchObject({ sendingBy: 'req-A', sendsEndedBy: 'req-A' });
    expect(leaseHeldFor(record as AcceptedOrder, WINDOW_MS, T + 20)).toBe(0);
  });

  it('refuses the record of a holder that ran past its deadline once another request took the lease over', async () => {
    const orderId = await claimed({ sendingUntil: T + 1000 });
    await ledger.leaseSends(orderId, bid('req-2', T + 1000, 'claim-1'));

    const late = await ledger.recordSends(
      orderId,
      { sent: { fifo: { messageId: 'f-late', sentAt: T + 1100 } } },
      { at: T + 1200, by: 'claim-1' },
    );

    expect(late).toBe('lease-passed');
    expect(await ledger.getAccepted(orderId)).toMatchObject({
      messageIds: { fifo: '', standard: '' },
      sendingBy: 'req-2',
    });
    expect((await ledger.getAccepted(orderId))?.sendsEndedBy).toBeUndefined();
  });

  it('fails, writing nothing, for an order that is not there', async () => {
    await expect(ledger.leaseSends('lease-none', bid('req-2', T, 'claim-1'))).rejects.toThrow(
      /vanished/,
    );
    await expect(ledger.getAccepted('lease-none')).resolves.toBeUndefined();
  });
});

describe('DynamoLedger.withdrawBid against dynalite', () => {
  it('ends a lease its failed bid took, and a late copy of that bid leaves it ended', async () => {
    // Prepare: the claim's holder died (deadline T + 10 000); req-2's bid committed, its answer lost.
    const orderId = await claimed();
    const ofReq2 = bid('req-2', T + 10_000, 'claim-1');
    await ledger.leaseSends(orderId, ofReq2);

    // Act
    await ledger.withdrawBid(orderId, ofReq2, T + 10_050);
    await ledger.leaseSends(orderId, ofReq2);
    const record = await ledger.getAccepted(orderId);

    // Assess
    expect(record).toMatchObject({ sendingBy: 'req-2', sendsEndedBy: 'req-2' });
    expect(leaseHeldFor(record as AcceptedOrder, WINDOW_MS, T + 10_100)).toBe(0);
    expect(await lease(orderId, 'req-3', T + 10_100)).toMatchObject({ taken: true });
  });

  it('takes a lease its failed bid never reached ended, so a late copy of that bid takes nothing', async () => {
    const orderId = await claimed();
    const ofReq2 = bid('req-2', T + 10_000, 'claim-1');

    await ledger.withdrawBid(orderId, ofReq2, T + 10_050);
    await ledger.leaseSends(orderId, ofReq2);
    const record = await ledger.getAccepted(orderId);

    expect(record).toMatchObject({ sendingBy: 'req-2', sendsEndedBy: 'req-2' });
    expect(leaseHeldFor(record as AcceptedOrder, WINDOW_MS, T + 10_100)).toBe(0);
  });

  it('changes nothing, and throws nothing, on a lease another request holds', async () => {
    const orderId = await claimed();
    await ledger.leaseSends(orderId, bid('req-3', T + 10_000, 'claim-1'));

    await ledger.withdrawBid(orderId, bid('req-2', T + 10_000, 'claim-1'), T + 10_050);

    expect(await ledger.getAccepted(orderId)).toMatchObject({
      sendingBy: 'req-3',
      sendingUntil: T + 19_000,
    });
    expect((await ledger.getAccepted(orderId))?.sendsEndedBy).toBeUndefined();
  });
});
