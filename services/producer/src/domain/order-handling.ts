import type { OrderMessage } from '../../../../shared/src/order-message';
import { QUEUE_KINDS, type QueueKind } from '../../../../shared/src/queue-kind';
import { type ProducerFaultConfig, SendAnswerLostError, sendAnswerLost } from './faults';
import { orderMessage } from './message';
import {
  type AcceptedOrder,
  type InvocationPort,
  type LedgerPort,
  type ProducerLogPort,
  type QueueLifetimePort,
  type QueuePort,
  QueueUnavailableError,
  type RecordedSends,
  type SendLease,
} from './ports';
import type { ParsedOrderRequest } from './request';
import {
  leaseHeldFor,
  mayStillBeQueued,
  recordedSentAt,
  type SendReason,
  sendingDeadline,
} from './resend';
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
  | { kind: 'key-reused'; orderId: string }
  /**
   * A client retry that arrived while another request may still be sending the order (the one
   * that claimed it, or a retry that took the send lease to send it again): nothing was sent
   * (sending now could put a second copy on a queue). The record will answer once that request
   * has written what it sent, or, if it died, a retry after `retryAfterMs` sends the order again.
   */
  | { kind: 'in-progress'; orderId: string; retryAfterMs: number };

/** An order as its status query sees it: the accepted record and where each queue's copy is. */
export interface OrderStatus {
  orderId: string;
  customerId: string;
  /** Absent only while the first request of a keyed order without a sequence is keeping one. */
  sequence?: number;
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
  /** A fresh id per request: its claim id, or its send lease's id when it is a client retry. */
  newRequestId: () => string;
  /**
   * How long after its claim a request claimed before send leases existed may still be sending
   * (resend.ts leaseHeldFor): the producer's timeout plus the clock margin.
   */
  inProgressWindowMs: number;
  /** What a send lease's deadline adds to the invocation's remaining time, for two clocks. */
  clockMarginMs: number;
}

export interface OrderHandling {
  /** Places the order for a request run by `invocation` (its remaining time bounds its lease). */
  place(req: ParsedOrderRequest, invocation: InvocationPort): Promise<PlaceOutcome>;
  find(orderId: string): Promise<FindOutcome>;
}

/**
 * How often a retry bids again for a send lease that changed hands and was freed between its read
 * and its bid (each time another request took the lease and ended it): then it answers 409.
 */
const MAX_REBIDS = 2;

/**
 * A client retry's bid for the send lease failed, and so did its withdrawal (LedgerPort.
 * withdrawBid): a try of the bid that committed, or that reaches DynamoDB late, may hold the lease
 * for up to `retryAfterMs` more (to the bid's deadline), and until then the order's next retry is
 * answered 409. After it, a retry can take the lease. The bid's own failure is the cause.
 */
export class SendLeaseBidNotWithdrawnError extends Error {
  constructor(
    readonly orderId: string,
    readonly retryAfterMs: number,
    options?: ErrorOptions,
  ) {
    super(`the failed send lease bid for order ${orderId} was not withdrawn`, options);
    this.name = 'SendLeaseBidNotWithdrawnError';
  }
}

/** Thrown inside the use case when a key names another order; `place` returns it as an outcome. */
class KeyReused extends Error {
  constructor(readonly orderId: string) {
    super(`key ${orderId} names a different order`);
  }
}

export function createOrderHandling(deps: OrderHandlingDeps): OrderHandling {
  const { ledger, queues, lifetimes, log, faults, now, newOrderId, newRequestId } = deps;
  const { inProgressWindowMs, clockMarginMs } = deps;

  /**
   * Takes the accepted record to reuse (a client retry) or claims the order id with a new one
   * (`created`): one conditional write, no read before it. A retry learns it is one from the
   * refusal, then reads the record that holds the id.
   *
   * A sequence the client did not give is taken from the customer's counter. Without an
   * Idempotency-Key the order id is new, so the claim cannot be refused: the sequence is taken
   * first and goes into the claim. With a key the claim can be refused (a retry, or a request
   * racing its own retry), so the sequence is taken only by the request that won the claim
   * (keepSequence), and a refused request never takes one: a racing retry makes no hole in the
   * customer's sequence (a counter update the SDK sent again can: docs/guarantees.md, Ordering).
   *
   * The claim is the first request's send lease too (`sendingBy` its claim id, `sendingUntil`
   * its deadline), so the first request's path costs no write more than the claim.
   */
  async function accept(
    req: ParsedOrderRequest,
    requestId: string,
    deadline: () => number,
  ): Promise<{ record: AcceptedOrder; created: boolean }> {
    const orderId = req.idempotencyKey ?? newOrderId();
    const sequence =
      req.input.sequence ??
      (req.idempotencyKey === undefined
        ? await ledger.nextSequence(req.runId, req.input.customerId)
        : undefined);
    const record: AcceptedOrder = {
      runId: req.runId,
      orderId,
      customerId: req.input.customerId,
      ...(sequence !== undefined ? { sequence } : {}),
      acceptedAt: now(),
      payloadHash: req.payloadHash,
      messageIds: { fifo: '', standard: '' },
      sentAt: {},
      requests: 1,
      claimId: requestId,
      sendingBy: requestId,
      sendingUntil: deadline(),
    };
    const claim = await ledger.claim({ ...record, claimId: requestId });
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

  /**
   * Takes the customer's next sequence for an order claimed without one and keeps it in the
   * order's record before any send carries it, so every copy of the order, a re-send's too,
   * carries the same sequence. Another request may have kept one first (two retries of an order
   * whose first request died before keeping one): the order then has that one.
   */
  async function keepSequence(record: AcceptedOrder): Promise<number> {
    const taken = await ledger.nextSequence(record.runId, record.customerId);
    return ledger.recordSequence(record.orderId, taken);
  }

  /** The queues with no id recorded: a retry sends to each again, its outcome unknown. */
  function unrecordedSends(record: AcceptedOrder): Partial<Record<QueueKind, SendReason>> {
    return Object.fromEntries(
      QUEUE_KINDS.filter((q) => !record.messageIds?.[q]).map((q) => [q, 'outcome-unknown']),
    );
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

  /**
   * The answer of a retry refused the send lease, when the record that refused it needs nothing
   * sent: another request recorded every queue's id since this one read it (and holds the lease
   * only until it writes its end). Such a record answers the retry as it answers any completed
   * retry (retryPlan, the same rule), not 409: nothing is in progress that the client must wait
   * for. Undefined while some send is still missing or due again.
   */
  async function answerFromRecord(record: AcceptedOrder): Promise<PlaceOutcome | undefined> {
    const { orderId, sequence, messageIds } = record;
    if (sequence === undefined || !QUEUE_KINDS.every((q) => messageIds?.[q])) return undefined;
    if (Object.keys(await retryPlan(record)).length > 0) return undefined;
    return { kind: 'answered-from-record', receipt: { orderId, sequence, messageIds } };
  }

  /** One send; on an order's first request, the injected fault may lose SQS's answer. */
  async function sendTo(q: QueueKind, message: OrderMessage, first: boolean): Promise<string> {
    const messageId = await queues.send(q, message);
    if (first && sendAnswerLost(faults, message.orderId, q)) {
      throw new SendAnswerLostError(q);
    }
    return messageId;
  }

  /**
   * Records the sends a request made (their ids and send times) and that its sends ended, as
   * the holder of the lease (LedgerPort.recordSends), and says in the log what became of a record
   * that was refused.
   */
  async function keepSends(
    orderId: string,
    sends: RecordedSends,
    requestId: string,
  ): Promise<void> {
    const written = await ledger.recordSends(orderId, sends, { at: now(), by: requestId });
    const { sent } = sends;
    if (written === 'recorded-by-earlier-try') {
      // Recorded: the first try of the write committed and its answer was lost; the SDK's
      // retry was refused only because another request took the lease this write had freed.
      // The ids are on the record already, so there is nothing more to keep.
      log.warn(
        "sends recorded; the SDK's retry of that write was refused: another request took the send lease since",
        { sent: Object.keys(sent) },
      );
    } else if (written === 'lease-passed') {
      // The lease is another request's now: this one ran past its deadline, and the request
      // that took the lease over sends what the record lacks. What this one sent is in the
      // queues all the same (a copy the consumers' idempotency absorbs): its ids are not the
      // record's latest, but they go on the order's list of ids sent, or the report would
      // take its messages for ones the producer never sent (a DLQ redrive). Best effort: the
      // answer is this request's sends either way.
      log.warn('sends not recorded: the send lease passed to another request', {
        sent: Object.keys(sent),
      });
      const ids = Object.values(sent).flatMap((s) => (s ? [s.messageId] : []));
      try {
        await ledger.recordSentIds(orderId, ids, sends.recordedBefore);
      } catch (err) {
        log.warn('ids of sends not recorded were not kept either', { error: err });
      }
    }
  }

  /**
   * Ends a failed request's sends: frees its lease (sendsEndedBy names it) so the next retry may
   * send at once. A request that failed before it sent records no send; one whose record of its
   * sends failed (`sends`) records them now: the ids SQS answered are kept, so the next retry
   * is answered from the record instead of sending both again, and the report knows those
   * messages for the producer's. Best effort: when this write fails too, the lease runs out at
   * its deadline.
   */
  async function giveBack(
    orderId: string,
    requestId: string,
    sends?: RecordedSends,
  ): Promise<void> {
    try {
      if (sends) await keepSends(orderId, sends, requestId);
      else await ledger.recordSends(orderId, { sent: {} }, { at: now(), by: requestId });
    } catch (err) {
      log.warn('send lease not given back after a failure', { error: err });
    }
  }

  /**
   * After a bid that failed (every try of the SDK answered an error or no answer): the bid may
   * have taken the lease all the same (a try that committed before its answer was lost, or one
   * that reaches the ledger later), and nothing would end it: every retry 409 until this
   * request's deadline. So the lease is taken and ended in one write on the bid's own condition
   * (LedgerPort.withdrawBid). This costs a write only when a bid failed, and one try of it. When
   * this write fails too, the lease a late try may take runs out at its deadline: the request
   * still fails with the bid's error, now wrapped in SendLeaseBidNotWithdrawnError, which says
   * how long the lease may be held, so the client is told when a retry can be served (until
   * then one is answered 409).
   */
  async function withdrawAfter(bidFailure: unknown, orderId: string, lease: SendLease) {
    try {
      await ledger.withdrawBid(orderId, lease, now());
    } catch (err) {
      const heldForMs = Math.max(0, lease.until - now());
      log.warn('failed send lease bid not withdrawn: a late try of it may hold the lease', {
        error: err,
        heldForMs,
      });
      return new SendLeaseBidNotWithdrawnError(orderId, heldForMs, { cause: bidFailure });
    }
    return bidFailure;
  }

  async function place(req: ParsedOrderRequest, invocation: InvocationPort): Promise<PlaceOutcome> {
    const requestId = newRequestId();
    // Read when the claim or the lease is written, not before: the deadline is the invocation's.
    const deadline = () => sendingDeadline(now(), invocation.remainingMs(), clockMarginMs);
    let accepted: AcceptedOrder;
    let created: boolean;
    try {
      ({ record: accepted, created } = await accept(req, requestId, deadline));
    } catch (err) {
      if (err instanceof KeyReused) return { kind: 'key-reused', orderId: err.orderId };
      throw err;
    }
    log.appendKeys({ orderId: accepted.orderId, runId: accepted.runId });
    // The lease this request holds (its claim, or a retry's lease) is given back when it fails
    // before recording that its sends ended (a DynamoDB error on the way): held to its deadline,
    // it would answer every other retry 409 while nothing is sending.
    let holding = created;
    let ended = false;
    // What this request sent, once it has: given back after a failure, the lease records it.
    let sends: RecordedSends | undefined;
    try {
      let plan: Partial<Record<QueueKind, SendReason>> = { fifo: 'first', standard: 'first' };
      if (!created) {
        const heldForMs = leaseHeldFor(accepted, inProgressWindowMs, now());
        // While another request holds the lease, a queue with no id recorded is to be sent
        // again whatever the other queue needs: the record alone says this retry must wait,
        // and no queue's lifetime is read for it.
        const unrecorded = unrecordedSends(accepted);
        plan =
          heldForMs > 0 && Object.keys(unrecorded).length > 0
            ? unrecorded
            : await retryPlan(accepted);
        if (Object.keys(plan).length > 0) {
          // Something to send while another request holds the lease (it may be sending it):
          // 409, and no bid. A bid is made only on a lease read free, from the holder read
          // (`from`): refused, it was because another request took the lease since, and no copy
          // of it can take the lease after that (no holder's id holds it twice). A bid made on a
          // held lease would be refused too, but a late copy of it (the SDK's try it gave up on)
          // would find that holder ended and take the lease for this request, answered long
          // before: 409s until its deadline.
          if (heldForMs > 0) {
            return { kind: 'in-progress', orderId: accepted.orderId, retryAfterMs: heldForMs };
          }
          // About to send again: take the send lease first, so of two retries that both read a
          // free lease only one sends. The record as the lease left it decides what to send:
          // another retry may have sent and recorded ids since this one read it.
          // From the holder in the record as last read.
          const bid = async () => {
            const lease: SendLease = {
              by: requestId,
              from: accepted.sendingBy,
              until: deadline(),
              now: now(),
              legacyWindowMs: inProgressWindowMs,
            };
            try {
              return await ledger.leaseSends(accepted.orderId, lease);
            } catch (err) {
              throw await withdrawAfter(err, accepted.orderId, lease);
            }
          };
          let lease = await bid();
          for (let rebids = 0; !lease.taken; rebids++) {
            const answer = await answerFromRecord(lease.record);
            if (answer) return answer;
            const heldForMs = leaseHeldFor(lease.record, inProgressWindowMs, now());
            // A bid takes the lease only from the holder it read (LedgerPort.leaseSends). Refused
            // by a free lease another holder has, another request took the lease and ended since
            // this one read the record: bid again on the record as it is now (a few times: each
            // needs another request to take and end the lease in between).
            const changedHands = lease.record.sendingBy !== accepted.sendingBy;
            if (heldForMs > 0 || !changedHands || rebids >= MAX_REBIDS) {
              return { kind: 'in-progress', orderId: accepted.orderId, retryAfterMs: heldForMs };
            }
            accepted = lease.record;
            lease = await bid();
          }
          accepted = lease.record;
          holding = true;
          plan = await retryPlan(accepted);
          if (Object.keys(plan).length === 0) {
            // Nothing left to send: the lease is given back at once, not held to its deadline.
            await ledger.recordSends(accepted.orderId, { sent: {} }, { at: now(), by: requestId });
            ended = true;
          }
        }
      }
      // Only the request holding the lease gets here with something to send, so of two retries
      // of an order whose first request died before keeping a sequence, one takes one.
      const sequence = accepted.sequence ?? (await keepSequence(accepted));
      const message = orderMessage(req.input, { ...accepted, sequence });
      const targets = QUEUE_KINDS.filter((q) => plan[q] !== undefined);
      const messageIds: Record<QueueKind, string> = Object.assign(
        { fifo: '', standard: '' },
        accepted.messageIds,
      );
      const orderId = accepted.orderId;
      const recorded = accepted.messageIds;
      const recordedBefore = QUEUE_KINDS.flatMap((q) => (recorded?.[q] ? [recorded[q]] : []));
      const receipt = (): OrderReceipt => ({ orderId, sequence, messageIds });
      if (targets.length === 0) return { kind: 'answered-from-record', receipt: receipt() };
      const results = await Promise.allSettled(targets.map((q) => sendTo(q, message, created)));
      const failures: unknown[] = [];
      const sent: RecordedSends['sent'] = {};
      results.forEach((r, i) => {
        const q = targets[i] as QueueKind;
        if (r.status === 'fulfilled') {
          messageIds[q] = r.value;
          sent[q] = { messageId: r.value, sentAt: now() };
        } else failures.push(r.reason);
      });
      // What was sent is recorded even when another send failed, so a retry sends only to the queue
      // whose outcome is still unknown; and when every send failed, so a retry knows this request
      // has ended and need not wait for it (leaseHeldFor). Only the queues this request reached
      // are written: an id another request recorded meanwhile is kept.
      const legacy =
        accepted.messageIds === undefined || accepted.sentAt === undefined
          ? {
              all: messageIds,
              sentAt: {
                ...(accepted.sentAt ?? {}),
                ...Object.fromEntries(Object.entries(sent).map(([q, s]) => [q, s?.sentAt])),
              },
            }
          : undefined;
      sends = { sent, recordedBefore, ...(legacy ? { legacy } : {}) };
      await keepSends(orderId, sends, requestId);
      ended = true;
      const unexpected = failures.find((f) => !(f instanceof QueueUnavailableError));
      if (unexpected !== undefined) throw unexpected;
      if (failures.length > 0) {
        return {
          kind: 'queue-unavailable',
          orderId,
          failure: failures[0] as QueueUnavailableError,
        };
      }
      return { kind: 'sent', created, receipt: receipt(), sent: plan };
    } catch (err) {
      if (holding && !ended) await giveBack(accepted.orderId, requestId, sends);
      throw err;
    }
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
