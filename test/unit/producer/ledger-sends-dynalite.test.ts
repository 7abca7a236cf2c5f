import type { AcceptedOrder } from '../../../services/producer/src/domain/ports';
import { readProducerSends } from '../../../services/report/src/adapters/ledger-reader';
import {
  claimRecord,
  type DynaliteLedger,
  LEDGER_TABLE,
  startDynaliteLedger,
  T,
} from './dynalite-ledger';

/**
 * The record of every message id the producer was answered (`sentMessageIds`), against dynalite
 * (the local cloud's DynamoDB) in-process: recordSends appends to one list in the write that
 * records the latest id per queue, and the report reads the list back by key (BatchGetItem). The
 * report tells a DLQ redrive (a new message id SQS made) from a producer re-send by it.
 */
let db: DynaliteLedger;
let documents: DynaliteLedger['documents'];
let ledger: DynaliteLedger['ledger'];
let n = 0;

beforeAll(async () => {
  db = await startDynaliteLedger();
  ({ documents, ledger } = db);
});

afterAll(() => db.dynamo.stop());

/** A fresh order claimed as the producer claims one, with `fields` over it (undefined: absent). */
async function claimed(fields: Partial<AcceptedOrder> = {}): Promise<string> {
  const orderId = `sends-${++n}`;
  await ledger.claim(claimRecord(orderId, fields));
  return orderId;
}

const end = (by: string) => ({ at: T + 1, by });

/** `by` takes the send lease (free: its last holder wrote its end), as a client retry does. */
async function takeLease(orderId: string, by: string): Promise<void> {
  const from = (await ledger.getAccepted(orderId))?.sendingBy;
  const lease = { by, from, until: T + 20_000, now: T + 2, legacyWindowMs: 11_000 };
  await expect(ledger.leaseSends(orderId, lease)).resolves.toMatchObject({ taken: true });
}

describe('DynamoLedger.recordSends keeps every message id it was answered', () => {
  it("appends each request's ids to one list while messageIds keeps the latest per queue", async () => {
    const orderId = await claimed();

    await ledger.recordSends(
      orderId,
      { sent: { fifo: { messageId: 'f1', sentAt: T }, standard: { messageId: 's1', sentAt: T } } },
      end('claim-1'),
    );
    // A client retry that took the send lease and re-sent to standard (its first answer lost,
    // say), and the SDK's retry of that very write after its answer was lost: the id is appended
    // twice, read once.
    await takeLease(orderId, 'lease-2');
    const retry = { sent: { standard: { messageId: 's2', sentAt: T + 5 } } };
    await expect(ledger.recordSends(orderId, retry, end('lease-2'))).resolves.toBe('recorded');
    await expect(ledger.recordSends(orderId, retry, end('lease-2'))).resolves.toBe('recorded');
    // A request whose sends all failed appends nothing.
    await takeLease(orderId, 'lease-3');
    await expect(ledger.recordSends(orderId, { sent: {} }, end('lease-3'))).resolves.toBe(
      'recorded',
    );

    const record = await ledger.getAccepted(orderId);
    expect(record?.messageIds).toEqual({ fifo: 'f1', standard: 's2' });
    expect(record?.sentMessageIds).toEqual(['f1', 's1', 's2', 's2']);
    expect(await readProducerSends(documents, LEDGER_TABLE.name, [orderId])).toEqual([
      { orderId, sentMessageIds: ['f1', 's1', 's2'], messageIds: { fifo: 'f1', standard: 's2' } },
    ]);
  });

  it('starts the list on a record from before it, per-queue maps or not', async () => {
    const withMaps = await claimed();
    const withoutMaps = await claimed({ messageIds: undefined, sentAt: undefined });

    await ledger.recordSends(
      withMaps,
      { sent: { fifo: { messageId: 'f1', sentAt: T } } },
      end('claim-1'),
    );
    await ledger.recordSends(
      withoutMaps,
      {
        sent: { standard: { messageId: 's1', sentAt: T } },
        legacy: { all: { fifo: '', standard: 's1' }, sentAt: { standard: T } },
      },
      end('claim-1'),
    );

    expect((await ledger.getAccepted(withMaps))?.sentMessageIds).toEqual(['f1']);
    expect((await ledger.getAccepted(withoutMaps))?.sentMessageIds).toEqual(['s1']);
  });

  it('starts the list on a record from before it with the ids it held, one of which the write replaces', async () => {
    // Prepare: an order sent to both queues before the list existed; the standard queue lost its
    // message (past its retention), and a retry took the lease to send it there again.
    const orderId = await claimed({
      messageIds: { fifo: 'f0', standard: 's0' },
      sentAt: { fifo: T - 1, standard: T - 1 },
      sendsEndedBy: 'claim-1',
    });
    await takeLease(orderId, 'lease-2');

    // Act: the re-send's record, as the producer writes it: the ids the record held as it read it.
    await ledger.recordSends(
      orderId,
      { sent: { standard: { messageId: 's1', sentAt: T + 5 } }, recordedBefore: ['f0', 's0'] },
      end('lease-2'),
    );
    // Once the list is there, what a request read before it starts nothing.
    await takeLease(orderId, 'lease-3');
    await ledger.recordSends(
      orderId,
      { sent: { fifo: { messageId: 'f2', sentAt: T + 9 } }, recordedBefore: ['f0', 's1'] },
      end('lease-3'),
    );

    // Assess: s0 was sent by the producer and is still on its list, though no longer its latest.
    const record = await ledger.getAccepted(orderId);
    expect(record?.messageIds).toEqual({ fifo: 'f2', standard: 's1' });
    expect(record?.sentMessageIds).toEqual(['f0', 's0', 's1', 'f2']);
  });

  it('keeps the ids of a request whose record was refused, touching neither the lease nor the latest ids', async () => {
    // Prepare: the claiming request ran past its deadline; lease-2 took the lease over, re-sent
    // to FIFO and recorded it.
    const orderId = await claimed({ sendingUntil: T });
    await takeLease(orderId, 'lease-2');
    await ledger.recordSends(
      orderId,
      { sent: { fifo: { messageId: 'f2', sentAt: T + 5 } } },
      end('lease-2'),
    );
    const before = await ledger.getAccepted(orderId);

    // Act: the late claiming request's record is refused; its ids are appended on their own.
    const late = {
      fifo: { messageId: 'f1', sentAt: T + 6 },
      standard: { messageId: 's1', sentAt: T + 6 },
    };
    await expect(ledger.recordSends(orderId, { sent: late }, end('claim-1'))).resolves.toBe(
      'lease-passed',
    );
    await ledger.recordSentIds(orderId, ['f1', 's1']);
    await ledger.recordSentIds(orderId, []);

    // Assess
    const after = await ledger.getAccepted(orderId);
    expect(after).toEqual({ ...before, sentMessageIds: ['f2', 'f1', 's1'] });
    expect(after).toMatchObject({
      messageIds: { fifo: 'f2', standard: '' },
      sendingBy: 'lease-2',
      sendsEndedBy: 'lease-2',
    });
    await expect(ledger.recordSentIds('never-claimed', ['x'])).rejects.toThrow(/conditional/i);
    expect(await ledger.getAccepted('never-claimed')).toBeUndefined();
  });

  it('reads an order no send was recorded for, and one that is gone, without a list', async () => {
    const unsent = await claimed();
    expect(
      await readProducerSends(documents, LEDGER_TABLE.name, [unsent, 'never-claimed']),
    ).toEqual([{ orderId: unsent, messageIds: { fifo: '', standard: '' } }]);
  });
});
