import type {
  AcceptedOrder,
  LedgerPort,
  QueueLife,
  QueueLifetimePort,
  QueuePort,
  RecordedSends,
  SendLease,
  SendsEnd,
  SendsRecord,
} from '../../../services/producer/src/domain/ports';
import { leaseHeldFor, showsRecordOf } from '../../../services/producer/src/domain/resend';
import type { QueueFacts } from '../../../services/producer/src/domain/status';
import type { OrderMessage } from '../../../shared/src/order-message';
import type { QueueKind } from '../../../shared/src/queue-kind';

/**
 * In-memory fakes of the producer's ports, for the handler's unit tests: they keep what the
 * real adapters would store, in the domain's words, and log which port operations ran. How
 * DynamoDB and SQS are spoken is tested with the adapters (ledger-adapter, queues-adapter).
 */

type LedgerOperation = keyof LedgerPort;

const copy = <T>(value: T): T => structuredClone(value);

export class FakeLedger implements LedgerPort {
  /** Accepted orders by id. */
  readonly orders = new Map<string, AcceptedOrder>();
  /** The last sequence taken, per run and customer (`run/customer`). */
  readonly sequences = new Map<string, number>();
  /** Committed effects, as `run/queue/order`. */
  readonly effects = new Set<string>();
  /** What GET /orders/{orderId} counts, per `run/queue/order`; absent: nothing yet. */
  readonly facts = new Map<string, QueueFacts>();
  /** The operations called, in order. */
  readonly calls: LedgerOperation[] = [];
  /**
   * An operation that throws this value, every time it is called: any value, as a port
   * implementation may reject with anything (null and undefined included).
   */
  readonly failures = new Map<LedgerOperation, unknown>();
  /** Runs just before a claim: another request may take the id between a look and a claim. */
  beforeClaim: () => void = () => undefined;
  /** Runs just before a lease: another request may send and record between a read and a lease. */
  beforeLease: () => void = () => undefined;

  private call(operation: LedgerOperation): void {
    this.calls.push(operation);
    if (this.failures.has(operation)) throw this.failures.get(operation);
  }

  async getAccepted(orderId: string): Promise<AcceptedOrder | undefined> {
    this.call('getAccepted');
    const order = this.orders.get(orderId);
    return order && copy(order);
  }

  async nextSequence(runId: string, customerId: string): Promise<number> {
    this.call('nextSequence');
    const key = `${runId}/${customerId}`;
    const next = (this.sequences.get(key) ?? 0) + 1;
    this.sequences.set(key, next);
    return next;
  }

  async claim(
    order: AcceptedOrder,
  ): Promise<{ claimed: true } | { claimed: false; existing: AcceptedOrder }> {
    this.call('claim');
    this.beforeClaim();
    const existing = this.orders.get(order.orderId);
    if (existing) return { claimed: false, existing: copy(existing) };
    this.orders.set(order.orderId, copy(order));
    return { claimed: true };
  }

  /**
   * As the adapter's conditional update: taken when leaseHeldFor says the lease is free at
   * `lease.now` and `lease.from` still holds it, or when it is `lease.by`'s own. (The condition
   * itself is the adapter's test's subject, ledger-lease-dynalite.test.ts and the local cloud's
   * DynamoDB in concurrent-requests.)
   */
  async leaseSends(
    orderId: string,
    lease: SendLease,
  ): Promise<{ taken: boolean; record: AcceptedOrder }> {
    this.call('leaseSends');
    this.beforeLease();
    const order = this.orders.get(orderId);
    if (!order) throw new Error(`no accepted order ${orderId}`);
    const free =
      order.sendingBy === lease.by ||
      (order.sendingBy === lease.from &&
        leaseHeldFor(order, lease.legacyWindowMs, lease.now) === 0);
    if (!free) return { taken: false, record: copy(order) };
    order.sendingBy = lease.by;
    order.sendingUntil = lease.until;
    return { taken: true, record: copy(order) };
  }

  /** As the adapter's: the bid's condition, then the lease taken and ended in one write. */
  async withdrawBid(orderId: string, lease: SendLease, endedAt: number): Promise<void> {
    this.call('withdrawBid');
    const order = this.orders.get(orderId);
    if (!order) return;
    const free =
      order.sendingBy === lease.by ||
      (order.sendingBy === lease.from &&
        leaseHeldFor(order, lease.legacyWindowMs, lease.now) === 0);
    if (!free) return;
    Object.assign(order, {
      sendingBy: lease.by,
      sendingUntil: lease.until,
      sendsEndedBy: lease.by,
      sendsEndedAt: endedAt,
    });
  }

  async countRequest(orderId: string): Promise<void> {
    this.call('countRequest');
    const order = this.orders.get(orderId);
    if (order) order.requests = (order.requests ?? 1) + 1;
  }

  async recordSequence(orderId: string, sequence: number): Promise<number> {
    this.call('recordSequence');
    const order = this.orders.get(orderId);
    if (!order) throw new Error(`no accepted order ${orderId}`);
    order.sequence ??= sequence;
    return order.sequence;
  }

  /**
   * Runs once, right after the next record of sends is written and before it is answered: its
   * answer is lost there, and the SDK sends the write again (as the adapter's DynamoDB client
   * does), so another request may take the lease in between.
   */
  answerOfRecordLost?: () => void;

  /**
   * As the adapter's conditional update: written only while `end.by` holds the lease; refused,
   * it tells a refusal by its own earlier try (resend.ts showsRecordOf) from a lease passed on.
   */
  async recordSends(orderId: string, sends: RecordedSends, end: SendsEnd): Promise<SendsRecord> {
    this.call('recordSends');
    const lost = this.answerOfRecordLost;
    if (!lost) return this.writeSends(orderId, sends, end);
    this.answerOfRecordLost = undefined;
    await this.writeSends(orderId, sends, end);
    lost();
    const retried = await this.writeSends(orderId, sends, end);
    if (retried !== 'lease-passed') return retried;
    const order = this.orders.get(orderId);
    const ids = Object.values(sends.sent).flatMap((s) => (s ? [s.messageId] : []));
    return order && showsRecordOf(order, ids, end.by) ? 'recorded-by-earlier-try' : 'lease-passed';
  }

  private async writeSends(
    orderId: string,
    sends: RecordedSends,
    end: SendsEnd,
  ): Promise<SendsRecord> {
    const order = this.orders.get(orderId);
    if (!order || order.sendingBy !== end.by) return 'lease-passed';
    order.sendsEndedAt = end.at;
    order.sendsEndedBy = end.by;
    if (sends.legacy) {
      Object.assign(order, {
        messageIds: copy(sends.legacy.all),
        sentAt: copy(sends.legacy.sentAt),
      });
      return 'recorded';
    }
    // As the adapter's per-entry SET: only the queues sent to.
    for (const [queue, send] of Object.entries(sends.sent)) {
      if (!send) continue;
      order.messageIds[queue as QueueKind] = send.messageId;
      order.sentAt = { ...order.sentAt, [queue]: send.sentAt };
    }
    this.appendSentIds(
      order,
      Object.values(sends.sent).flatMap((s) => (s ? [s.messageId] : [])),
      sends.recordedBefore,
    );
    return 'recorded';
  }

  /** As the adapter's append: the list alone, whoever holds the lease. */
  async recordSentIds(orderId: string, messageIds: string[], before?: string[]): Promise<void> {
    this.call('recordSentIds');
    const order = this.orders.get(orderId);
    if (!order) throw new Error(`no accepted order ${orderId}`);
    this.appendSentIds(order, messageIds, before);
  }

  /** list_append(if_not_exists(sentMessageIds, before), ids), as the adapter writes it. */
  private appendSentIds(order: AcceptedOrder, ids: string[], before: string[] = []): void {
    if (ids.length === 0) return;
    order.sentMessageIds = [...(order.sentMessageIds ?? before), ...ids];
  }

  async hasEffect(runId: string, queue: QueueKind, orderId: string): Promise<boolean> {
    this.call('hasEffect');
    return this.effects.has(`${runId}/${queue}/${orderId}`);
  }

  async queueFacts(runId: string, queue: QueueKind, orderId: string): Promise<QueueFacts> {
    this.call('queueFacts');
    return (
      this.facts.get(`${runId}/${queue}/${orderId}`) ?? {
        deliveries: 0,
        effects: 0,
        finalFailures: 0,
      }
    );
  }

  /** Operations that change the ledger (a refused claim changes nothing but is still a call). */
  writes(): LedgerOperation[] {
    return this.calls.filter(
      (c) =>
        c === 'claim' ||
        c === 'leaseSends' ||
        c === 'countRequest' ||
        c === 'recordSends' ||
        c === 'recordSentIds' ||
        c === 'nextSequence' ||
        c === 'recordSequence',
    );
  }
}

export class FakeQueues implements QueuePort {
  /** Every message sent, with its queue, in order. */
  readonly sent: { queue: QueueKind; message: OrderMessage }[] = [];
  /** What a send answers; throw from it to make a queue fail. */
  answer: (queue: QueueKind, message: OrderMessage) => string = (queue) => `${queue}-msg`;

  async send(queue: QueueKind, message: OrderMessage): Promise<string> {
    this.sent.push({ queue, message: copy(message) });
    return this.answer(queue, message);
  }

  queues(): QueueKind[] {
    return this.sent.map((s) => s.queue);
  }
}

/** The tests' clock: every fake lifetime and handler reads this instant as now. */
export const NOW = 1_764_050_000_000;
export const DAY = 24 * 3600 * 1000;

/** Both queues created a day before NOW, keeping messages 4 days (SQS's default retention). */
export function dayOldQueues(): FakeLifetimes {
  return new FakeLifetimes({
    fifo: { createdAt: NOW - DAY, retentionMs: 4 * DAY },
    standard: { createdAt: NOW - DAY, retentionMs: 4 * DAY },
  });
}

export class FakeLifetimes implements QueueLifetimePort {
  constructor(readonly lives: Record<QueueKind, QueueLife>) {}
  /** Set to make reading a queue's lifetime fail. */
  failure?: Error;

  async life(queue: QueueKind): Promise<QueueLife> {
    if (this.failure) throw this.failure;
    return { ...this.lives[queue] };
  }
}
