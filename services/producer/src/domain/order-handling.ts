import { QUEUE_KINDS, type QueueKind } from '../../../../shared/src/config/pipeline';
import type { OrderMessage } from '../../../../shared/src/order-message';
import { type ProducerFaultConfig, SendAnswerLostError, sendAnswerLost } from './faults';
import { orderMessage } from './message';
import {
  type AcceptedOrder,
  type LedgerPort,
  type ProducerLogPort,
  type QueueLifetimePort,
  type QueuePort,
  QueueUnavailableError,
} from './ports';
import type { ParsedOrderRequest } from './request';
import { mayStillBeQueued, recordedSentAt, type SendReason } from './resend';
import { type QueueView, queueStatus } from './status';

/**
 * Taking an order and answering for it, over the ports: a new order is accepted and sent to both
 * queues; a client retry is sent again only where a send may have been lost; a status query reads
 * what each queue's consumer recorded. Outcomes are the domain's; app.ts says them in HTTP.
 */

/** What the order's placing tells its client: the order, its sequence and each queue's message. */
export interface OrderReceipt {
  orderId: string;
  sequence: number;
  messageIds: Record<QueueKind, string>;
}

export type PlaceOutcome =
  /** A client retry whose sends are all known to have reached their queue: nothing was sent. */
  | { kind: 'answered-from-record'; receipt: OrderReceipt }
  /** Sent to the queues in `sent` (both, for a new order), each for the reason given. */
  | {
      kind: 'sent';
      created: boolean;
      receipt: OrderReceipt;
      sent: Partial<Record<QueueKind, SendReason>>;
    }
  /**
   * Accepted (its record and sequence are kept), but a queue could not be reached: the client
   * retries this order under its id.
   */
  | { kind: 'queue-unavailable'; orderId: string; failure: QueueUnavailableError }
  /** The client's key already names a different order; nothing was written. */
  | { kind: 'key-reused'; orderId: string };

/** An order as its status query sees it: the accepted record and where each queue's copy is. */
export interface OrderStatus {
  orderId: string;
  customerId: string;
  sequence: number;
  runId: string;
  acceptedAt: number;
  fifo: QueueView;
  standard: QueueView;
}

export type FindOutcome = { kind: 'found'; status: OrderStatus } | { kind: 'not-found' };

export interface OrderHandlingDeps {
  ledger: LedgerPort;
  queues: QueuePort;
  lifetimes: QueueLifetimePort;
  log: ProducerLogPort;
  faults: ProducerFaultConfig;
  now: () => number;
  newOrderId: () => string;
}

export interface OrderHandling {
  place(req: ParsedOrderRequest): Promise<PlaceOutcome>;
  find(orderId: string): Promise<FindOutcome>;
}

/** Thrown inside the use case when a key names another order; `place` returns it as an outcome. */
class KeyReused extends Error {
  constructor(readonly orderId: string) {
    super(`key ${orderId} names a different order`);
  }
}

export function createOrderHandling(deps: OrderHandlingDeps): OrderHandling {
  const { ledger, queues, lifetimes, log, faults, now, newOrderId } = deps;

  /**
   * Takes the accepted record to reuse (a client retry) or claims the order id with a new one
   * (`created`): one conditional write, no read before it. A retry learns it is one from the
   * refusal, then reads the record that holds the id.
   */
  async function accept(
    req: ParsedOrderRequest,
  ): Promise<{ record: AcceptedOrder; created: boolean }> {
    const orderId = req.idempotencyKey ?? newOrderId();
    if (req.idempotencyKey !== undefined && req.input.sequence === undefined) {
      // The sequence is taken before the claim, so a retry that carries no sequence looks first:
      // taking one for it would leave a hole in the customer's sequence.
      const existing = await ledger.getAccepted(orderId);
      if (existing) return { record: await asRetry(existing, req.payloadHash), created: false };
    }
    const sequence =
      req.input.sequence ?? (await ledger.nextSequence(req.runId, req.input.customerId));
    const record: AcceptedOrder = {
      runId: req.runId,
      orderId,
      customerId: req.input.customerId,
      sequence,
      acceptedAt: now(),
      payloadHash: req.payloadHash,
      messageIds: { fifo: '', standard: '' },
      sentAt: {},
      requests: 1,
    };
    const claim = await ledger.claim(record);
    if (claim.claimed) return { record, created: true };
    return { record: await asRetry(claim.existing, req.payloadHash), created: false };
  }

  /**
   * The order a key already named, in whatever run it was accepted: the same order (a client
   * retry, counted) or a different one under the same key.
   */
  async function asRetry(accepted: AcceptedOrder, hash: string): Promise<AcceptedOrder> {
    if (accepted.payloadHash !== hash) throw new KeyReused(accepted.orderId);
    await ledger.countRequest(accepted.orderId);
    return accepted;
  }

  /** Which queues a client retry must send to again (see resend.ts); none: the record answers. */
  async function retryPlan(record: AcceptedOrder): Promise<Partial<Record<QueueKind, SendReason>>> {
    const reasons = await Promise.all(
      QUEUE_KINDS.map(async (q): Promise<SendReason | undefined> => {
        if (!record.messageIds?.[q]) return 'outcome-unknown';
        let life: Awaited<ReturnType<QueueLifetimePort['life']>>;
        try {
          life = await lifetimes.life(q);
        } catch (err) {
          // Without the queue's lifetime the recorded send is taken as still queued; a later
          // retry asks again.
          log.warn('queue lifetime unknown', { queue: q, error: err });
          return undefined;
        }
        if (mayStillBeQueued(recordedSentAt(record, q), life, now())) return undefined;
        return (await ledger.hasEffect(record.runId, q, record.orderId))
          ? undefined
          : 'queue-lost-it';
      }),
    );
    const plan: Partial<Record<QueueKind, SendReason>> = {};
    QUEUE_KINDS.forEach((q, i) => {
      const reason = reasons[i];
      if (reason) plan[q] = reason;
    });
    return plan;
  }

  /** One send; on an order's first request, the injected fault may lose SQS's answer. */
  async function sendTo(q: QueueKind, message: OrderMessage, first: boolean): Promise<string> {
    const messageId = await queues.send(q, message);
    if (first && sendAnswerLost(faults, message.orderId, q)) {
      throw new SendAnswerLostError(q);
    }
    return messageId;
  }

  async function place(req: ParsedOrderRequest): Promise<PlaceOutcome> {
    let accepted: AcceptedOrder;
    let created: boolean;
    try {
      ({ record: accepted, created } = await accept(req));
    } catch (err) {
      if (err instanceof KeyReused) return { kind: 'key-reused', orderId: err.orderId };
      throw err;
    }
    log.appendKeys({ orderId: accepted.orderId, runId: accepted.runId });
    const message = orderMessage(req.input, accepted);
    const plan: Partial<Record<QueueKind, SendReason>> = created
      ? { fifo: 'first', standard: 'first' }
      : await retryPlan(accepted);
    const targets = QUEUE_KINDS.filter((q) => plan[q] !== undefined);
    const messageIds: Record<QueueKind, string> = Object.assign(
      { fifo: '', standard: '' },
      accepted.messageIds,
    );
    const receipt = (): OrderReceipt => ({
      orderId: accepted.orderId,
      sequence: accepted.sequence,
      messageIds,
    });
    const sentAt = { ...(accepted.sentAt ?? {}) };
    if (targets.length === 0) return { kind: 'answered-from-record', receipt: receipt() };
    const results = await Promise.allSettled(targets.map((q) => sendTo(q, message, created)));
    const failures: unknown[] = [];
    results.forEach((r, i) => {
      const q = targets[i] as QueueKind;
      if (r.status === 'fulfilled') {
        messageIds[q] = r.value;
        sentAt[q] = now();
      } else failures.push(r.reason);
    });
    // What was sent is recorded even when another send failed: a retry then sends only to the
    // queue whose outcome is still unknown.
    if (failures.length < targets.length) {
      await ledger.recordSends(accepted.orderId, messageIds, sentAt);
    }
    const unexpected = failures.find((f) => !(f instanceof QueueUnavailableError));
    if (unexpected !== undefined) throw unexpected;
    if (failures.length > 0) {
      return {
        kind: 'queue-unavailable',
        orderId: accepted.orderId,
        failure: failures[0] as QueueUnavailableError,
      };
    }
    return { kind: 'sent', created, receipt: receipt(), sent: plan };
  }

  async function find(orderId: string): Promise<FindOutcome> {
    const accepted = await ledger.getAccepted(orderId);
    if (!accepted) return { kind: 'not-found' };
    const [fifo, standard] = await Promise.all(
      QUEUE_KINDS.map(async (q) =>
        queueStatus(await ledger.queueFacts(accepted.runId, q, orderId)),
      ),
    );
    return {
      kind: 'found',
      status: {
        orderId,
        customerId: accepted.customerId,
        sequence: accepted.sequence,
        runId: accepted.runId,
        acceptedAt: accepted.acceptedAt,
        fifo: fifo as QueueView,
        standard: standard as QueueView,
      },
    };
  }

  return { place, find };
}
