import type { RunLedger } from '../../../services/report/src/domain/metrics';
import {
  type AcceptedSummary,
  acceptedKeys,
  type DeliveryRecord,
  type EffectRecord,
  type FailureRecord,
} from '../../../shared/src/ledger';
import type { QueueKind } from '../../../shared/src/queue-kind';

/** Builds ledger records the way the producer and consumers write them, for one run. */
export class LedgerBuilder {
  readonly ledger: RunLedger = {
    accepted: [],
    deliveries: [],
    effects: [],
    failures: [],
    counters: [],
  };
  private readonly orders = new Map<
    string,
    { customerId: string; sequence: number; acceptedAt: number }
  >();
  private readonly counters = new Map<string, number>();
  private n = 0;

  accept(
    orderId: string,
    customerId: string,
    sequence: number,
    acceptedAt: number,
    requests = 1,
  ): this {
    this.orders.set(orderId, { customerId, sequence, acceptedAt });
    this.ledger.accepted.push({
      ...acceptedKeys('r', orderId),
      type: 'accepted',
      runId: 'r',
      orderId,
      customerId,
      sequence,
      acceptedAt,
      requests,
    } satisfies AcceptedSummary);
    return this;
  }

  deliver(
    queue: QueueKind,
    orderId: string,
    receivedAt: number,
    outcome: DeliveryRecord['outcome'],
    receiveCount = 1,
    extra: Partial<
      Pick<
        DeliveryRecord,
        'messageId' | 'outcomeAt' | 'suppressedBy' | 'invocationId' | 'invocationEnd' | 'deadlineAt'
      >
    > = {},
  ): this {
    const o = this.order(orderId);
    this.ledger.deliveries.push({
      pk: 'RUN#r',
      sk: `DELIVERY#${queue}#${orderId}#${++this.n}`,
      type: 'delivery',
      runId: 'r',
      queue,
      orderId,
      customerId: o.customerId,
      sequence: o.sequence,
      messageId: `${queue}-${orderId}`,
      receiveCount,
      sentAt: o.acceptedAt,
      firstReceivedAt: receivedAt,
      receivedAt,
      outcome,
      ...extra,
    } satisfies DeliveryRecord);
    return this;
  }

  /** The order's message in the queue's DLQ, as the report reads it from there. */
  dead(queue: QueueKind, orderId: string, messageId = `${queue}-${orderId}`): this {
    this.order(orderId);
    const dlq = this.ledger.dlq ?? {};
    this.ledger.dlq = dlq;
    const read = dlq[queue] ?? { depth: 0, orderIds: [], unread: 0 };
    dlq[queue] = read;
    read.depth++;
    read.orderIds.push(orderId);
    read.messages = [...(read.messages ?? []), { orderId, messageId }];
    return this;
  }

  /** An apply index taken with no effect written (a refused or interrupted attempt). */
  takeIndex(queue: QueueKind, customerId: string): this {
    const key = `${queue}#${customerId}`;
    this.counters.set(key, (this.counters.get(key) ?? 0) + 1);
    this.syncCounter(queue, customerId);
    return this;
  }

  private syncCounter(queue: QueueKind, customerId: string): void {
    const sk = `COUNTER#apply#${queue}#${customerId}`;
    const value = this.counters.get(`${queue}#${customerId}`) ?? 0;
    const list = this.ledger.counters ?? [];
    this.ledger.counters = list;
    const found = list.find((c) => c.sk === sk);
    if (found) found.value = value;
    else list.push({ pk: 'RUN#r', sk, value });
  }

  /** An effect with the next apply index of the customer on this queue, as the atomic counter gives. */
  apply(queue: QueueKind, orderId: string, committedAt: number): this {
    const o = this.order(orderId);
    const key = `${queue}#${o.customerId}`;
    const applyIndex = (this.counters.get(key) ?? 0) + 1;
    this.counters.set(key, applyIndex);
    this.syncCounter(queue, o.customerId);
    this.ledger.effects.push({
      pk: 'RUN#r',
      sk: `EFFECT#${queue}#${orderId}#${++this.n}`,
      type: 'effect',
      runId: 'r',
      queue,
      orderId,
      customerId: o.customerId,
      sequence: o.sequence,
      messageId: `${queue}-${orderId}`,
      applyIndex,
      acceptedAt: o.acceptedAt,
      committedAt,
    } satisfies EffectRecord);
    return this;
  }

  fail(
    queue: QueueKind,
    orderId: string,
    receiveCount: number,
    final: boolean,
    at: Partial<Pick<FailureRecord, 'messageId' | 'failedAt'>> = {},
  ): this {
    return this.failure(queue, orderId, receiveCount, { final, error: 'boom', ...at });
  }

  /**
   * What the producer recorded of the order's sends, as the report reads it from the accepted
   * item: every id it was answered (`sentMessageIds`; undefined: a record from before the list)
   * and the latest per queue.
   */
  sent(
    orderId: string,
    sentMessageIds: string[] | undefined,
    messageIds: Partial<Record<QueueKind, string>> = {},
  ): this {
    this.order(orderId);
    this.ledger.producerSends = [
      ...(this.ledger.producerSends ?? []),
      { orderId, ...(sentMessageIds ? { sentMessageIds } : {}), messageIds },
    ];
    return this;
  }

  /**
   * The final not-attempted failure the FIFO consumer writes for a record it handed back unrun
   * at its last receive (an earlier message of its group failed in invocation `invocationId`).
   */
  notAttempted(
    queue: QueueKind,
    orderId: string,
    receiveCount: number,
    invocationId: string,
  ): this {
    return this.failure(queue, orderId, receiveCount, {
      final: true,
      notAttempted: true,
      invocationId,
      error: 'NotAttempted: an earlier message of its group failed in the same batch',
    });
  }

  /**
   * The failure the consumer writes for a receive that ended in an invocation whose end write
   * failed (FailureRecord.endGivenUp): the invocation failed, whatever its deliveries read.
   */
  endGivenUp(
    queue: QueueKind,
    orderId: string,
    receiveCount: number,
    invocationId: string,
    failedAt: number,
  ): this {
    return this.failure(queue, orderId, receiveCount, {
      final: false,
      endGivenUp: true,
      invocationId,
      failedAt,
      error: "EndWriteFailed: the invocation's end write failed",
    });
  }

  private failure(
    queue: QueueKind,
    orderId: string,
    receiveCount: number,
    how: Pick<FailureRecord, 'final' | 'notAttempted' | 'invocationId' | 'error' | 'endGivenUp'> &
      Partial<Pick<FailureRecord, 'messageId' | 'failedAt'>>,
  ): this {
    const o = this.order(orderId);
    this.ledger.failures.push({
      pk: 'RUN#r',
      sk: `FAILURE#${queue}#${orderId}#${++this.n}`,
      type: 'failure',
      runId: 'r',
      queue,
      orderId,
      customerId: o.customerId,
      sequence: o.sequence,
      messageId: `${queue}-${orderId}`,
      receiveCount,
      failedAt: o.acceptedAt + 1,
      ...how,
    } satisfies FailureRecord);
    return this;
  }

  private order(orderId: string) {
    const o = this.orders.get(orderId);
    if (!o) throw new Error(`fixture: order ${orderId} not accepted`);
    return o;
  }
}

/**
 * A FIFO redelivery: order o1 of customer c applied once on each queue. On FIFO its message was
 * received at #1 (2,000, in invocation i1, applied, ended at 2,100) and handed out again at #2
 * (63,000, in i2, suppressed, ended at 63,100), with nothing in the ledger yet to say why.
 */
export function fifoRedelivery(): LedgerBuilder {
  return new LedgerBuilder()
    .accept('o1', 'c', 1, 1000)
    .deliver('fifo', 'o1', 2000, 'applied', 1, {
      invocationId: 'i1',
      invocationEnd: true,
      outcomeAt: 2100,
      deadlineAt: 12_000,
    })
    .apply('fifo', 'o1', 2050)
    .deliver('fifo', 'o1', 63_000, 'suppressed', 2, {
      invocationId: 'i2',
      invocationEnd: true,
      outcomeAt: 63_100,
      deadlineAt: 73_000,
    })
    .deliver('standard', 'o1', 2000, 'applied', 1)
    .apply('standard', 'o1', 2050);
}

/** The SequenceNumber numberFifoMessages gives the `index`th message SQS took (from 0). */
export const sqsNumber = (index: number) => String(10n ** 19n + BigInt(index) * 1000n);

/**
 * Gives each FIFO receive of the fixture SQS's SequenceNumber for its message, as the consumer
 * records it from the message's attributes: in the order SQS took the messages, `took` (message
 * ids) when a test says it, else the order the producer accepted their orders (acceptedAt, then
 * order id). Receives that already carry one keep it. SQS's numbers are 20-digit strings.
 */
export function numberFifoMessages(b: LedgerBuilder, took?: readonly string[]): LedgerBuilder {
  const fifo = b.ledger.deliveries.filter((d) => d.queue === 'fifo');
  const acceptedAt = new Map(b.ledger.accepted.map((a) => [a.orderId, a.acceptedAt]));
  const messages = new Map<string, { orderId: string; at: number }>();
  for (const d of fifo)
    messages.set(d.messageId, { orderId: d.orderId, at: acceptedAt.get(d.orderId)! });
  const order =
    took ??
    [...messages]
      .sort(([, x], [, y]) => x.at - y.at || (x.orderId < y.orderId ? -1 : 1))
      .map(([id]) => id);
  for (const d of fifo) {
    if (d.sequenceNumber !== undefined && took === undefined) continue;
    const index = order.indexOf(d.messageId);
    if (index >= 0) d.sequenceNumber = sqsNumber(index);
  }
  return b;
}

/**
 * Gives the fixture's ledger a read of each DLQ it has none of, an empty one, as the report
 * reads both DLQs of every run (a ledger with no read of one fails the check).
 */
export function readDlqs(b: LedgerBuilder): LedgerBuilder {
  const dlq = b.ledger.dlq ?? {};
  b.ledger.dlq = dlq;
  for (const q of ['fifo', 'standard'] as const) {
    dlq[q] ??= { depth: 0, orderIds: [], unread: 0, messages: [] };
  }
  return b;
}
