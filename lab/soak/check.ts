import { CALL_ROOM, recordBudgetMsFromEnv } from '../../services/consumer/src/config';
import type { RunLedger } from '../../services/report/src/domain/metrics';
import type { Report } from '../../services/report/src/domain/report';
import { pipelineConfig } from '../../shared/src/config/pipeline';
// CLOCK_STEP_MS: how far the check allows the consumer's clock to step back between two of its
// stamps. Here only appliedFrom compares a receive's stamp with a commit's by it; leftBehind
// needs no allowance (its comment says why). The FIFO rule holds an outcome to its deadline by it.
import {
  CLOCK_STEP_MS,
  type ClockSkip,
  type FifoRedeliveryJudgement,
  judgeFifoRedeliveries,
} from '../../shared/src/fifo-redelivery';
import type { DeliveryRecord, EffectRecord, FailureRecord } from '../../shared/src/ledger';
import { QUEUE_KINDS, type QueueKind } from '../../shared/src/queue-kind';

/**
 * The exactly-once check the soak and every fault scenario end with. It trusts the client, not
 * the pipeline: the order ids that got a 202 are the truth, and the ledger's effects are checked
 * against them one by one (each applied exactly once on each queue, FIFO in the order SQS took
 * each customer's messages), independently of the report's metrics, which are then checked
 * against the same truth. Every problem is one line that names the queue, the order and what is wrong.
 */
export interface RunEvidence {
  /** Order ids the client got a 202 for (its own list, not read back from the ledger). */
  acceptedIds: readonly string[];
  report: Report;
  /** The ledger and what the report read from each DLQ. */
  ledger: RunLedger;
  /**
   * Orders the run means to leave in each DLQ (its poison orders); none by default. Each DLQ's
   * depth as SQS reports it must equal that count.
   */
  expectedInDlq?: Partial<Record<QueueKind, readonly string[]>>;
  /**
   * Per queue, the deletes the emulator's surviving-copy fault lost, each with the receive count
   * of the receive whose delete it was (lab/local-run.ts reads them from the emulator); absent:
   * none known, so no copy is explained by a lost delete.
   */
  lostDeletes?: Partial<Record<QueueKind, readonly { messageId: string; receiveCount: number }[]>>;
  /**
   * Per queue, the function timeout (ms) the run deployed the consumer with, which a hand-back's
   * deadline is held to; absent: the repository's config (pipelineConfig). Never read from the
   * ledger: its deadline stamps are what is checked against it.
   */
  functionTimeoutMs?: Partial<Record<QueueKind, number>>;
  /**
   * Per queue, the time a record needs before it starts once a DynamoDB call of its invocation
   * ran out, as the run deployed the consumer (services/consumer/src/config.ts,
   * recordBudgetMsFromEnv of the consumer's environment); absent: the repository's
   * (recordBudgetMsFromEnv of no environment, 5,175 ms). A hand-back after a stall is held to it,
   * not to the figure its own failure gives (`notStarted.budgetMs`).
   */
  recordBudgetMs?: Partial<Record<QueueKind, number>>;
  /**
   * Every advance of the functions' clock the run made, on that clock (lab/local-run.ts's skips,
   * a test target's advanceClock); absent: none. A FIFO receive's outcome is held to its
   * invocation's deadline, less the skips between its receive and its outcome (an advance while
   * an invocation runs moves its outcome stamp, not its deadline).
   */
  clockSkips?: readonly ClockSkip[];
}

/** Lines per kind of problem before the rest is summed up, so a broken soak stays readable. */
const NAMED = 10;

function collect(out: string[], lines: string[], rest: (n: number) => string): void {
  out.push(...lines.slice(0, NAMED));
  if (lines.length > NAMED) out.push(rest(lines.length - NAMED));
}

function effectsByOrder(effects: readonly EffectRecord[], queue: QueueKind) {
  const byOrder = new Map<string, EffectRecord[]>();
  for (const e of effects) {
    if (e.queue !== queue) continue;
    const list = byOrder.get(e.orderId);
    if (list) list.push(e);
    else byOrder.set(e.orderId, [e]);
  }
  return byOrder;
}

/**
 * SQS's own order of a FIFO message: the `SequenceNumber` it assigned when it took the message
 * ("The large, non-consecutive number that Amazon SQS assigns to each message. The length of
 * SequenceNumber is 128 bits. SequenceNumber continues to increase for a particular
 * MessageGroupId", SendMessage, SQS API Reference). Compared as an integer: a decimal string of up
 * to 39 digits is past what a double holds exactly, and two strings of different lengths do not
 * compare as text.
 */
function sqsOrder(sequenceNumber: string | undefined): bigint | undefined {
  return sequenceNumber !== undefined && /^\d{1,40}$/.test(sequenceNumber)
    ? BigInt(sequenceNumber)
    : undefined;
}

/** One message as the ledger's receives of it on one queue show it. */
interface ReceivedMessage {
  /** The order and customer of the receive of it the ledger lists first. */
  orderId: string;
  customerId: string;
  /**
   * Every other order and customer its receives name, each once: none, as a message belongs to
   * one order. Any is a ledger that recorded or forged it wrong, and the check judges nothing by it.
   */
  alsoAs: Array<{ orderId: string; customerId: string }>;
  /** Every SequenceNumber its receives carried (FIFO; SQS gives a message one). */
  numbers: Set<string>;
  /** Its receives, in the order the ledger lists them. */
  receives: DeliveryRecord[];
  /** Its receives with the highest receive count, in the order the ledger lists them. */
  last: DeliveryRecord[];
}

/** One queue's receives, indexed once: the check's rules look them up by message and invocation. */
interface QueueReceives {
  messages: Map<string, ReceivedMessage>;
  /** Per invocation id, its receives in the order the ledger lists them. */
  invocations: Map<string, DeliveryRecord[]>;
}

/**
 * Reads the ledger's receives of one queue in one pass. A soak holds tens of thousands of them,
 * and the DLQ rules look up a message's or an invocation's receives once per message in a DLQ:
 * scanning the whole ledger each time grows with the product of the two.
 */
function indexReceives(deliveries: readonly DeliveryRecord[], queue: QueueKind): QueueReceives {
  const messages = new Map<string, ReceivedMessage>();
  const invocations = new Map<string, DeliveryRecord[]>();
  for (const d of deliveries) {
    if (d.queue !== queue) continue;
    let m = messages.get(d.messageId);
    if (!m) {
      m = {
        orderId: d.orderId,
        customerId: d.customerId,
        alsoAs: [],
        numbers: new Set(),
        receives: [],
        last: [],
      };
      messages.set(d.messageId, m);
    }
    m.receives.push(d);
    const as = (o: { orderId: string; customerId: string }) =>
      o.orderId === d.orderId && o.customerId === d.customerId;
    if (!as(m) && !m.alsoAs.some(as)) {
      m.alsoAs.push({ orderId: d.orderId, customerId: d.customerId });
    }
    if (d.sequenceNumber !== undefined) m.numbers.add(d.sequenceNumber);
    const top = m.last[0];
    if (!top || d.receiveCount > top.receiveCount) m.last = [d];
    else if (d.receiveCount === top.receiveCount) m.last.push(d);
    if (d.invocationId !== undefined) {
      const batch = invocations.get(d.invocationId);
      if (batch) batch.push(d);
      else invocations.set(d.invocationId, [d]);
    }
  }
  return { messages, invocations };
}

/**
 * One line per message the ledger received as more than one order or customer. The consumer writes
 * each receive's order and customer from the message's own body, and a message belongs to one
 * order: receives that differ are a ledger recorded wrong or forged. Read by whichever receive the
 * ledger lists first, such a message would place an apply in the send order as that order's (a
 * forged receive listed first could pass an inversion), or make the apply of its true order read
 * as naming another order's message. On FIFO, no apply is placed by it, and no other line is made
 * of an apply from it: which order it was of cannot be told.
 */
function receivedAsMore(
  queue: QueueKind,
  messages: ReadonlyMap<string, ReceivedMessage>,
): string[] {
  const lines: string[] = [];
  for (const [id, m] of messages) {
    if (m.alsoAs.length === 0) continue;
    const also = m.alsoAs.map((o) => `order ${o.orderId} of customer ${o.customerId}`);
    const placed = queue === 'fifo' ? ', and no apply is placed in the send order by them' : '';
    lines.push(
      `${queue}: order ${m.orderId} of customer ${m.customerId} was received from message ${id}, which the ledger also received as ${also.join(' and as ')}: a message belongs to one order, so the ledger's receives of it are corrupt or forged${placed}`,
    );
  }
  return lines;
}

/**
 * One line per SQS SequenceNumber the ledger received two or more messages of one customer with,
 * and the ids of those messages. SQS "assigns to each message" its number, which "continues to
 * increase for a particular MessageGroupId" (SendMessage, SQS API Reference): of a group's
 * messages, the one SQS took later has the higher number, so no two share one. The message group
 * is the customer; AWS says nothing of numbers across groups, so two customers' messages with one
 * number are not named. Two messages of a group with one number are a ledger recorded wrong or
 * forged: which SQS took first cannot be told, so neither places an apply in the send order, and
 * no apply is held to them (orderViolations). Read by the number alone, a message SQS took earlier
 * and left behind by an apply would pass when it carried the apply's own number. Numbers are
 * compared as integers (sqsOrder), as the order rule compares them; a message received as more
 * than one order, or with two numbers, is named on its own and not read here.
 */
function sharedNumbers(
  queue: QueueKind,
  messages: ReadonlyMap<string, ReceivedMessage>,
): { lines: string[]; shared: Set<string> } {
  const byNumber = new Map<string, Array<[string, ReceivedMessage]>>();
  for (const [id, m] of messages) {
    if (m.alsoAs.length > 0 || m.numbers.size !== 1) continue;
    const order = sqsOrder([...m.numbers][0]);
    if (order === undefined) continue;
    const key = `${m.customerId}\n${order}`;
    const list = byNumber.get(key);
    if (list) list.push([id, m]);
    else byNumber.set(key, [[id, m]]);
  }
  const lines: string[] = [];
  const shared = new Set<string>();
  for (const [key, list] of byNumber) {
    if (list.length < 2) continue;
    const number = key.slice(key.indexOf('\n') + 1);
    const [id, m] = list[0]!;
    const also = list.slice(1);
    for (const [other] of list) shared.add(other);
    const named = also.map(([o, om]) => `${o} of order ${om.orderId}`).join(' and ');
    lines.push(
      `${queue}: order ${m.orderId} was received from message ${id} with SQS SequenceNumber ${number}, and so ${also.length > 1 ? 'were messages' : 'was message'} ${named}: SQS numbers each later message of a group (customer ${m.customerId}) higher, so the ledger's receives of them are corrupt or forged, and no apply is placed in the send order by them`,
    );
  }
  return { lines, shared };
}

/**
 * FIFO's promise: each customer's orders applied in the order SQS took their messages, which is
 * the order the producer sent them (the message group is the customer). Not their `sequence`: a
 * customer's orders sent in another order than their sequence (a client retry that re-sends an
 * earlier order after a later one went out, two overlapping requests of a server-sequenced
 * customer) are applied in send order, and that is FIFO keeping its promise.
 *
 * The send order is read from SQS itself: every receive the consumer records carries the
 * `SequenceNumber` of its FIFO message (the record is written before any record of the batch runs),
 * and an effect names the message it was applied from: the ledger's receives of that message must
 * be of the effect's order and customer, or the apply is named, not placed by the message (a
 * consumer that wrote another record's message id would pass an inversion as send order). A message
 * whose receives name more than one order or customer is named on its own (receivedAsMore) and
 * places nothing. For each customer, the first effect of each order, in apply order (apply index),
 * must come from a message SQS took after the message of every order applied before it. The
 * producer's own record does not hold the SequenceNumber SendMessage answers (only message ids and
 * send times), so the receives are the only record of it, and nothing else proves the order (the
 * client's sequence is not it, and send times are no order within a millisecond). A message none of
 * whose receives gives a SequenceNumber (a ledger from an older consumer, or a transport that does
 * not return the attribute) cannot be placed: an apply from it cannot be judged, nor can an apply
 * that left it behind. The check neither passes that nor calls it an order broken: one line says
 * for how many messages FIFO order cannot be checked, and the messages it can place are still held
 * to the rule. SQS gives a message one number, which every receive of it repeats: a message
 * received with two is named, and places nothing; so do two messages of a customer received with
 * one number (`shared`: sharedNumbers names them). The consumer records every receive before any
 * record of its batch runs, so an apply whose effect names a receive of its message the ledger does
 * not hold (stampedReceive), or, on an effect without that stamp, with no receive of its message
 * that can have applied it (appliedFrom), is a ledger that lost records or an effect that names the
 * wrong receive: named, as what the apply was made past cannot be checked.
 *
 * An order has several messages when the producer sent it again (a new message after FIFO's
 * 5-minute deduplication) or a DLQ redrive brought it back (a new message id and, taken in again,
 * a later SequenceNumber). An order applied from such a later message after orders SQS took in
 * between is FIFO as SQS keeps it, provided its earlier message was done with (deleted or dead-
 * lettered) before those orders were received: SQS hands out none of a group's later messages
 * while an earlier one is in flight or waiting, and a DLQ breaks a group's order only so. So an
 * apply is also held to every earlier message of its customer whose order had not been applied
 * before it: none may be received in the same batch (the consumer had to hand the rest of the
 * group back behind it), in the millisecond of its receive or after it. Without this, a consumer
 * that applies past a failure in its batch passes as soon as the failed order is redriven and
 * applied.
 */
function orderViolations(
  queue: QueueKind,
  byOrder: Map<string, EffectRecord[]>,
  messages: ReadonlyMap<string, ReceivedMessage>,
  invocations: ReadonlyMap<string, DeliveryRecord[]>,
  shared: ReadonlySet<string>,
): string[] {
  const lines: string[] = [];
  const sent = new Map<string, bigint>();
  const placedByCustomer = new Map<string, PlacedMessage[]>();
  const unplaced: Array<[string, ReceivedMessage]> = [];
  for (const [messageId, m] of messages) {
    // Received as more than one order: named by receivedAsMore, and it places nothing.
    if (m.alsoAs.length > 0) continue;
    if (m.numbers.size > 1) {
      lines.push(
        `${queue}: order ${m.orderId} was received from message ${messageId} with SQS SequenceNumbers ${[...m.numbers].join(' and ')}; SQS gives a message one`,
      );
      continue;
    }
    // One number of its customer's on two messages: named by sharedNumbers, and it places nothing.
    if (shared.has(messageId)) continue;
    const [number] = m.numbers;
    const order = sqsOrder(number);
    if (order === undefined) {
      unplaced.push([messageId, m]);
      continue;
    }
    sent.set(messageId, order);
    const placed = { id: messageId, number: order, message: m };
    const theirs = placedByCustomer.get(m.customerId);
    if (theirs) theirs.push(placed);
    else placedByCustomer.set(m.customerId, [placed]);
  }
  // Per message, how many effects of the queue name it: appliedFrom takes an effect from a receive
  // that ended applied where as many of the message's did. Counted at the first effect without a
  // stamp (only those are read by appliedFrom), so a ledger whose effects all carry it costs none.
  let effectsOf: Map<string, number> | undefined;
  const effectsOfMessage = (messageId: string): number => {
    if (!effectsOf) {
      effectsOf = new Map();
      for (const list of byOrder.values()) {
        for (const e of list) effectsOf.set(e.messageId, (effectsOf.get(e.messageId) ?? 0) + 1);
      }
    }
    return effectsOf.get(messageId) ?? 0;
  };
  // Per first effect judged, the receive it was applied from (appliedFrom), for appliedPastEarlier.
  const from = new Map<EffectRecord, DeliveryRecord>();
  const byCustomer = new Map<string, EffectRecord[]>();
  for (const list of byOrder.values()) {
    const first = list.reduce((a, b) => (b.applyIndex < a.applyIndex ? b : a));
    const c = byCustomer.get(first.customerId);
    if (c) c.push(first);
    else byCustomer.set(first.customerId, [first]);
  }
  for (const [customer, list] of [...byCustomer].sort(([a], [b]) => (a < b ? -1 : 1))) {
    list.sort((a, b) => a.applyIndex - b.applyIndex);
    // The apply order is the apply index's: two at one index (which the customer's atomic counter
    // never hands out twice) would be ordered by the ledger's listing of effects instead.
    list.forEach((e, i) => {
      const before = list[i - 1];
      if (before && before.applyIndex === e.applyIndex) {
        lines.push(
          `${queue}: customer ${customer} applied order ${e.orderId} at apply index ${e.applyIndex}, the index order ${before.orderId} was applied at: the counter hands each index of a customer out once, so which of them came first cannot be told`,
        );
      }
    });
    let latest: { order: bigint; effect: EffectRecord } | undefined;
    for (const e of list) {
      const message = messages.get(e.messageId);
      // Which order its message is of cannot be told: receivedAsMore names it, and nothing more.
      if (message && message.alsoAs.length > 0) continue;
      if (!ofItsOrder(e, message)) {
        lines.push(
          `${queue}: customer ${customer} applied order ${e.orderId} from message ${e.messageId}, yet the ledger received that message as order ${message!.orderId} of customer ${message!.customerId}: the effect does not name the message it was applied from, so its place in the send order cannot be told`,
        );
        continue;
      }
      // An effect that names its receive (a consumer that stamps it) is judged by that receive, or
      // named when the ledger holds no such receive of its message, or holds it as suppressed (a
      // receive that wrote no effect); only an older one is guessed.
      const stamped = e.receiveCount !== undefined;
      const applied = stamped
        ? stampedReceive(e, message)
        : appliedFrom(e, message, effectsOfMessage(e.messageId));
      if (applied && !(stamped && applied.outcome === 'suppressed')) from.set(e, applied);
      else if (stamped) {
        lines.push(unmatchedStampLine(queue, customer, e, invocations, applied));
      } else {
        lines.push(
          `${queue}: customer ${customer} applied order ${e.orderId} from message ${e.messageId}, yet no receive of that message in the ledger can have applied it (none ended applied, and none that was not suppressed came before its commit or within a second after it): the ledger lacks the receive it was applied from, so what it was applied past cannot be checked`,
        );
      }
      // A message received with two numbers is named above, one received with none below, and one
      // whose number another message of its customer's carries by sharedNumbers.
      const order = sent.get(e.messageId);
      if (order === undefined) continue;
      // Two orders' placed messages of one customer never share a number (sharedNumbers places
      // neither), so `<=` and `<` agree here; `<=` states the rule.
      if (latest && order <= latest.order) {
        lines.push(
          `${queue}: customer ${customer} applied order ${e.orderId} (sequence ${e.sequence}, SQS SequenceNumber ${order}) after order ${latest.effect.orderId} (sequence ${latest.effect.sequence}, SequenceNumber ${latest.order}), which SQS took later`,
        );
        continue;
      }
      latest = { order, effect: e };
    }
    lines.push(
      ...appliedPastEarlier(
        queue,
        customer,
        list,
        placedByCustomer.get(customer) ?? [],
        from,
        sent,
      ),
    );
  }
  if (unplaced.length > 0) {
    const [id, m] = unplaced[0]!;
    const receives = unplaced.reduce((n, [, u]) => n + u.receives.length, 0);
    lines.unshift(
      `${queue}: FIFO order cannot be checked for ${unplaced.length} messages (${receives} receives; the first, ${id} of order ${m.orderId}): none of their receives carries an SQS SequenceNumber (a decimal integer), as a ledger from an older consumer or a transport that does not return it lacks; this is no order violation, but a run the check cannot judge does not pass`,
    );
  }
  return lines;
}

/**
 * One line per FIFO receive the FIFO redelivery rule (shared/src/fifo-redelivery.ts, the rule the
 * report counts its FIFO retries and copies by) does not pass, and per FIFO record it cannot
 * judge by. A FIFO queue makes no copies: SQS hands a message out again, one receive count
 * higher, only when the receive before was not deleted, so the ledger's records at the count
 * below must show that (see the rule for what counts). The report counts a receive nothing
 * explains a retry after failure on the queue type's rule alone (`fifoRetriesByQueueType`, and a
 * note), and a second receive at one count a queue copy; the check passes neither, as nothing
 * proves the receive before ran once. A record the rule cannot judge by (a field of the wrong
 * kind, a message received more than once without usable receive counts) is named, as the report
 * refuses it; a message received as more than one order is named by receivedAsMore.
 */
function fifoRedeliveries(
  judgement: FifoRedeliveryJudgement,
  messages: ReadonlyMap<string, ReceivedMessage>,
): FifoRedeliveryLines {
  const lines: FifoRedeliveryLines = {
    problems: [],
    pastDeadline: [],
    pastTimeout: [],
    unexplained: [],
    copies: [],
  };
  for (const p of judgement.problems) {
    if (p.kind === 'orders') continue;
    const key = typeof p.item.sk === 'string' ? p.item.sk : '(an item with no sk)';
    if (p.kind === 'timeout') {
      lines.pastTimeout.push(
        `fifo: ledger item ${key} ${p.problem}: the FIFO redelivery rule takes no visibility timeout run out under it from its outcome (the report, which reads the function timeout from these stamps, reads it as written)`,
      );
    } else if (p.kind === 'deadline') {
      lines.pastDeadline.push(
        `fifo: ledger item ${key} ${p.problem}: the FIFO redelivery rule takes no visibility timeout run out under it from that time (the report reads it as written)`,
      );
    } else {
      lines.problems.push(
        `fifo: ledger item ${key} ${p.problem}: the FIFO redelivery rule cannot judge by it, and the report refuses it`,
      );
    }
  }
  for (const r of judgement.redeliveries) {
    const id = r.receive.messageId;
    const orderId = messages.get(id)?.orderId ?? r.receive.orderId;
    if (r.verdict.kind === 'unexplained') {
      lines.unexplained.push(
        `fifo: order ${orderId} was received again from message ${id} at receive #${r.count}, yet nothing in the ledger says its receive #${r.below} ended without a delete (no failure, no end write given up, no invocation that never ended, no visibility timeout run out under it, no copy named failed in its batch, no lost delete): a FIFO queue makes no copies, so this redelivery is unexplained`,
      );
    } else if (r.verdict.kind === 'copy') {
      lines.copies.push(
        `fifo: order ${orderId} was received from message ${id} twice at receive #${r.count}: a FIFO queue makes no copies, and SQS counts each receive of a message one higher`,
      );
    }
  }
  return lines;
}

/**
 * fifoRedeliveries' lines by kind, each summed up on its own past the first NAMED: FIFO records
 * the rule cannot judge by, outcomes stamped past their invocation's deadline, deadlines
 * stamped past the function's timeout, redeliveries
 * nothing explains, and second receives at one count.
 */
interface FifoRedeliveryLines {
  problems: string[];
  pastDeadline: string[];
  pastTimeout: string[];
  unexplained: string[];
  copies: string[];
}

/** A FIFO message SQS's number places: its id, that number, and what its receives show. */
interface PlacedMessage {
  id: string;
  number: bigint;
  message: ReceivedMessage;
}

/**
 * A customer's applies (first effect of each order, in apply order) made while an earlier message
 * of the customer (SQS took it before the applied one), whose order had not been applied yet, was
 * not done with: received in the same batch as the apply's own receive, in its millisecond or
 * after it. One line per apply. An earlier message whose order's first effect came from that very
 * message is left to the rule above, which names that apply. `placed`: the customer's messages
 * SQS's number places.
 */
function appliedPastEarlier(
  queue: QueueKind,
  customer: string,
  applies: readonly EffectRecord[],
  placed: readonly PlacedMessage[],
  from: ReadonlyMap<EffectRecord, DeliveryRecord>,
  sent: ReadonlyMap<string, bigint>,
): string[] {
  const firstOf = new Map(applies.map((e) => [e.orderId, e]));
  // Only messages no first effect came from can be left behind: of most orders there is one.
  const others = placed.filter((p) => firstOf.get(p.message.orderId)?.messageId !== p.id);
  if (others.length === 0) return [];
  const lines: string[] = [];
  for (const e of applies) {
    // Only an apply of its own order's message has a receive in `from`, and only one SequenceNumber
    // places has a number in `sent`.
    const number = sent.get(e.messageId);
    const applied = from.get(e);
    if (number === undefined || !applied) continue;
    const behind = leftBehind(e, number, applied, others, firstOf);
    if (!behind) continue;
    const { placed: p, pending } = behind;
    const when = sameBatch(pending, applied)
      ? 'was in the same batch'
      : pending.receivedAt === applied.receivedAt
        ? 'came in the same millisecond, in another batch'
        : 'came after';
    const sequence = p.message.receives[0]!.sequence;
    lines.push(
      `${queue}: customer ${customer} applied order ${e.orderId} (sequence ${e.sequence}, SQS SequenceNumber ${number}) while message ${p.id} of order ${p.message.orderId} (sequence ${sequence}, SequenceNumber ${p.number}), which SQS took earlier, was not done with: its receive #${pending.receiveCount} ${when}, and order ${p.message.orderId} had not been applied`,
    );
  }
  return lines;
}

/**
 * Whether the ledger received an effect's message as the effect's own order and customer (the
 * consumer writes both from the one message it applied), or holds no receive of it. An effect
 * that names another order's message would otherwise be placed by that message's number.
 */
const ofItsOrder = (e: EffectRecord, message: ReceivedMessage | undefined): boolean =>
  !message || (message.orderId === e.orderId && message.customerId === e.customerId);

/**
 * What a hand-back past the cut may show above the cut's room, read from the wall clock: the
 * deadline's stamp rounded to the ms, and the wall clock against the monotonic one the cut is
 * counted on over one invocation (a slew of the clock; a step back of the wall clock larger than
 * this reads as a violation).
 */
const CUT_SLACK_MS = 100;

/** A number that can be an epoch-ms time (a foreign ledger may hold anything). */
function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * The receive an effect that does not name it (an effect record from a consumer older than the
 * stamp: stampedReceive reads the others) was applied from, read first by what the ledger says
 * each receive did. Such a record names the message, not the invocation or the receive count; the receive that ran
 * the effect is the one its consumer wrote `applied` (the effect ran and its write was not
 * refused), and with the guard on (one effect per order or per message) a message has one such
 * receive at most. So where as many receives of the message ended applied as effects of the queue
 * name it, the effect came from one of those: with one effect, that receive (unless stamped more
 * than CLOCK_STEP_MS after the commit, below). A copy of the message received while that
 * invocation still ran (a receive after its visibility timeout, before the commit) ended failed
 * (the idempotency record in progress) or suppressed, never applied; read by time alone, the copy
 * was the latest receive before the commit and stood in for the apply's own, so a message left
 * behind in the apply's batch, or received between the two, passed.
 *
 * Where fewer ended applied (the effect committed and its receive then failed or never ended; or,
 * with the guard off, a message applied more than once, one of them so), the effect came from one
 * of the receives that can have run an effect: those not suppressed (idempotency answered, or the
 * guard refused the write, and no effect was written by it).
 *
 * A receive whose invocation's deadline (`deadlineAt`, on the same clock) came more than
 * CLOCK_STEP_MS before the commit is no candidate: Lambda had ended that invocation, so it wrote
 * no effect then. Without this, a receive of an invocation that died, stamped before the receive
 * that ran the effect, stood in for it whenever a clock step put the commit before that receive's
 * stamp, and held the apply to a batch it was not in (a message dead-lettered from that batch
 * read as left behind by it).
 *
 * Of those candidates, the latest stamped at or before the commit; none so, the earliest stamped at
 * most CLOCK_STEP_MS after it. The consumer stamps a receive when its invocation begins and the
 * commit later in that invocation, on one clock: a receive stamped after the commit is the one only
 * by a clock step back, which makes no candidate of a receive stamped later than that. None within
 * it: the ledger lacks the receive the effect was applied from (undefined).
 *
 * What the ledger cannot tell: when two receives of the message in different invocations could
 * each have run the effect (it committed and its receive then failed or never ended, and a copy
 * received before the commit failed or never ended too), the later is taken, as nothing in the
 * ledger says which ran it. Taking the later can only pass what the earlier would name (leftBehind
 * holds an apply to what was received in its batch, which has one stamp, or in its receive's
 * millisecond or after it), never name what the earlier would pass; an effect record that carries
 * its receive (stampedReceive) tells them apart.
 */
function appliedFrom(
  e: EffectRecord,
  message: ReceivedMessage | undefined,
  effectsOfMessage: number,
): DeliveryRecord | undefined {
  // One pass, no arrays: the pick among the receives that ended applied, and among those not
  // suppressed, each the latest at or before the commit and the earliest within a step after it.
  const inApplied: ReceivePick = {};
  const notSuppressed: ReceivePick = {};
  let applied = 0;
  for (const r of message?.receives ?? []) {
    if (r.outcome === 'suppressed') continue;
    // Its invocation had run out its function timeout before the commit: not the one.
    if (r.deadlineAt !== undefined && r.deadlineAt + CLOCK_STEP_MS < e.committedAt) continue;
    consider(notSuppressed, r, e.committedAt);
    if (r.outcome !== 'applied') continue;
    applied++;
    consider(inApplied, r, e.committedAt);
  }
  const pick = applied > 0 && applied >= effectsOfMessage ? inApplied : notSuppressed;
  return pick.before ?? pick.stepped;
}

/**
 * The receive an effect names as the one that applied it (its invocation id and receive count,
 * which the consumer writes on the effect item), among the receives of its message: with the
 * message id they name one delivery record, as one invocation receives a FIFO message once and
 * each receive of it counts one higher. An effect with no invocation id names a receive with
 * none (a runtime that gave no request id). None such: undefined, a ledger that lost or forged
 * the receive, or an effect that names another's.
 */
function stampedReceive(
  e: EffectRecord,
  message: ReceivedMessage | undefined,
): DeliveryRecord | undefined {
  return message?.receives.find(
    (r) => r.receiveCount === e.receiveCount && r.invocationId === e.invocationId,
  );
}

/**
 * The line for an effect whose stamp names no receive of its message the ledger holds, or names
 * `suppressed`, one the ledger holds as suppressed: idempotency answered it, or the effect guard
 * refused its write, so it wrote no effect.
 */
function unmatchedStampLine(
  queue: QueueKind,
  customer: string,
  e: EffectRecord,
  invocations: ReadonlyMap<string, DeliveryRecord[]>,
  suppressed?: DeliveryRecord,
): string {
  const invocation =
    e.invocationId === undefined ? 'no invocation' : `invocation ${e.invocationId}`;
  const head = `${queue}: customer ${customer} applied order ${e.orderId} from message ${e.messageId}, and its effect names receive #${e.receiveCount} in ${invocation} as the one that applied it`;
  const tail = 'so what it was applied past cannot be checked';
  if (suppressed) {
    return `${head}, yet the ledger holds that receive as suppressed, which writes no effect (idempotency answered it, or the effect guard refused its write): the effect or the ledger is broken, ${tail}`;
  }
  const other =
    e.invocationId === undefined
      ? undefined
      : invocations.get(e.invocationId)?.find((r) => r.receiveCount === e.receiveCount);
  return other
    ? `${head}, yet the ledger holds that receive as one of message ${other.messageId} (order ${other.orderId} of customer ${other.customerId}) and none of message ${e.messageId} so: the effect or the ledger is broken, ${tail}`
    : `${head}, yet the ledger holds no such receive of that message: the ledger lacks the receive it was applied from, or the effect names one that never was, ${tail}`;
}

/** appliedFrom's pick among some receives of a message, as it considers them one by one. */
interface ReceivePick {
  /** The latest stamped at or before the commit. */
  before?: DeliveryRecord;
  /** The earliest stamped after the commit, by CLOCK_STEP_MS at most. */
  stepped?: DeliveryRecord;
}

function consider(pick: ReceivePick, r: DeliveryRecord, committedAt: number): void {
  if (r.receivedAt <= committedAt) {
    if (!pick.before || r.receivedAt >= pick.before.receivedAt) pick.before = r;
  } else if (r.receivedAt - committedAt <= CLOCK_STEP_MS) {
    if (!pick.stepped || r.receivedAt < pick.stepped.receivedAt) pick.stepped = r;
  }
}

/** Two receives in one batch: the same invocation, which only a receive that names one can share. */
const sameBatch = (r: DeliveryRecord, applied: DeliveryRecord): boolean =>
  applied.invocationId !== undefined && r.invocationId === applied.invocationId;

/**
 * The first of `others` an apply (of SequenceNumber `number`, from receive `applied`) left behind:
 * SQS took it earlier, its order is another not applied before this one, and a receive of it
 * (`pending`) was in the apply's batch, or came in its millisecond or after it. A receive's time
 * is the consumer's clock when its invocation began (one stamp per batch), not SQS's receive, which
 * comes a little before it. Its order not applied, the message was not deleted, so SQS handed out
 * the later message of its group only after moving it to the DLQ, on a receive at least a
 * visibility timeout (the config sets 6x the function timeout) after its last one. So its last
 * receive is stamped in the apply's millisecond or after it only when its invocation began about a
 * visibility timeout after SQS's receive: a receive stamped so is read as not done with, in the
 * same millisecond as after it. Only a receive of it in an earlier millisecond may have been its
 * last before it was dead-lettered.
 *
 * The one comparison of stamps across invocations, and a clock that steps back between them cannot
 * make it name an apply that kept FIFO's order. Which message is earlier and which apply came
 * first are SQS's SequenceNumbers and the customer's apply indexes, and the batch is the
 * invocation id; only "in its millisecond or after it" reads stamps. For a receive of a message
 * done with (dead-lettered) to be stamped at or after the apply's, the consumer's clock would have
 * had to lose, between the two stamps, the visibility timeout (60 s: 6x the 10 s function timeout)
 * less how late the earlier message's invocation began after SQS's receive. A step back of
 * CLOCK_STEP_MS (a second) moves that only to an invocation begun 59 s or more late instead of
 * about 60 s: the case the paragraph above already reads as not done with, as its batch began
 * about when SQS could hand its messages out again. A step back can otherwise only hide a receive
 * made in the second after the apply's and stamped before it.
 */
function leftBehind(
  e: EffectRecord,
  number: bigint,
  applied: DeliveryRecord,
  others: readonly PlacedMessage[],
  firstOf: ReadonlyMap<string, EffectRecord>,
): { placed: PlacedMessage; pending: DeliveryRecord } | undefined {
  for (const p of others) {
    // No other placed message of the customer carries the apply's own number (sharedNumbers places
    // neither of two that do), so `>=` and `>` agree here; `>=` states the rule.
    if (p.number >= number || p.message.orderId === e.orderId) continue;
    const first = firstOf.get(p.message.orderId);
    if (first && first.applyIndex < e.applyIndex) continue;
    const pending = p.message.receives.find(
      (r) => sameBatch(r, applied) || r.receivedAt >= applied.receivedAt,
    );
    if (pending) return { placed: p, pending };
  }
  return undefined;
}

/** What the check found: the problems, and what it accepted only because SQS's rule explains it. */
export interface RunFindings {
  violations: string[];
  /**
   * Applied orders of which a copy is in the DLQ where SQS's redrive rule puts it: the ledger
   * holds a receive of that very message at the last receive the queue allows, and that receive
   * ended without a delete (it failed, its invocation never ended, a copy of the same message
   * failed or never ended in its batch, which names the message failed (a standard queue's; FIFO
   * hands a message into a batch once), or the emulator lost its
   * delete, as AWS warns a delete can be), so SQS moved the copy on its next receive. The effect
   * happened once; an operator's redrive would be answered by the idempotency record or refused
   * by the effect guard. One line per copy.
   */
  explainedDlqCopies: string[];
  /**
   * Orders never applied that are in a DLQ because they were never attempted: at their last
   * allowed receive the consumer handed them back unrun and SQS, having counted that receive,
   * moved them on the next. The ledger holds a final not-attempted failure of that very message
   * and, in the invocation it names, why: a failed delivery of the same customer (FIFO, an
   * earlier message of its group failed in the same batch), or, the failure saying the
   * invocation stopped starting records with less time left than a record needs, a failed
   * delivery whose DynamoDB call ran out of time (either queue), or the failure saying it was
   * past the cut on a record's calls, with no more time left than that cut's room. One line per
   * message.
   */
  notAttemptedInDlq: string[];
}

export function runViolations(evidence: RunEvidence): string[] {
  return runFindings(evidence).violations;
}

export function runFindings(evidence: RunEvidence): RunFindings {
  const { report, ledger } = evidence;
  const accepted = new Set(evidence.acceptedIds);
  const out: string[] = [];
  const explained: string[] = [];
  const notAttempted: string[] = [];
  if (accepted.size === 0) {
    out.push('the client got no 202: a run that accepted nothing proves nothing');
  }
  if (report.accepted !== accepted.size) {
    out.push(
      `the report counts ${report.accepted} accepted, the client got 202 for ${accepted.size}`,
    );
  }
  for (const queue of QUEUE_KINDS) {
    const byOrder = effectsByOrder(ledger.effects, queue);
    // The report reads both DLQs of every run; without a read, an empty DLQ of depth 0 would
    // stand in for one nobody looked at, and the DLQ rules below would pass unjudged.
    const read = ledger.dlq?.[queue];
    if (!read) {
      out.push(
        `${queue}: the ledger holds no read of the DLQ: what sits in it, and its depth, cannot be checked`,
      );
    }
    const dlq = read ?? { depth: 0, orderIds: [], unread: 0 };
    const dead = new Set(dlq.orderIds);
    // Per order, its messages the DLQ read gave, in the order read: looked up once per order in
    // the DLQ, so a DLQ of many messages is not filtered whole for each.
    const copiesOf = new Map<string, Array<{ orderId: string; messageId: string }>>();
    for (const m of dlq.messages ?? []) {
      const list = copiesOf.get(m.orderId);
      if (list) list.push(m);
      else copiesOf.set(m.orderId, [m]);
    }
    const expectedDead = new Set(evidence.expectedInDlq?.[queue] ?? []);
    const missing: string[] = [];
    const doubled: string[] = [];
    const unknown: string[] = [];
    const deadLines: string[] = [];
    const lastReceive = report.config.queues[queue].maxReceiveCount;
    const lostDeletes = new Set(
      (evidence.lostDeletes?.[queue] ?? []).map((l) => `${l.receiveCount}#${l.messageId}`),
    );
    const { messages, invocations } = indexReceives(ledger.deliveries, queue);
    /** Whether the queue may hand one message into one batch twice: a standard queue, not FIFO. */
    const copiesInBatch = queue === 'standard';
    /**
     * Why SQS moved this applied order's message to the DLQ, or undefined when nothing explains
     * it. SQS moves a message on the receive after its last allowed one, so that receive must be
     * in the ledger, and it must have ended without a delete: it failed or its invocation never
     * ended, or its invocation's end write was given up (an `endGivenUp` failure names the
     * invocation), or it succeeded beside a copy of the same message that failed, never ended or
     * was handed back unrun (its not-attempted failure names the invocation) in its batch, or it
     * succeeded and the emulator lost its delete (the surviving-copy fault). A copy handed back
     * unrun may itself be that last receive, one above the receives of it that ran: its
     * not-attempted failure at that count, in a batch that holds a receive of the message. A
     * success that was simply never deleted is a consumer or mapping bug, not SQS's rule.
     *
     * The two hand-back causes, and a success beside a copy that failed or never ended, are a
     * standard queue's only (`copiesInBatch`): each is a second receive of one message in one
     * batch (a hand-back naming an invocation that holds a receive of the same message that ran,
     * or two receives of the message in one invocation). A standard queue may hand a message into a batch twice, and
     * the consumer then runs one copy and hands the other back by its message id (record-handling
     * end()). On FIFO the consumer hands back only a receive it did not run, removing that
     * receive's receipt in the end write that adds the hand-back, and FIFO hands one message into
     * one batch once: a hand-back beside a receive of its own invocation is not what the consumer
     * writes there, and explains nothing (as for a FIFO redelivery, shared/src/fifo-redelivery.ts);
     * nor do two receives of one message in one invocation, which FIFO never hands out.
     */
    const dlqCause = (messageId: string): { cause?: string; problem?: string } => {
      const received = messages.get(messageId);
      if (!received) return { problem: `${messageId} (never received)` };
      const top = received.last;
      const count = top[0]!.receiveCount;
      // A copy of it handed back unrun at the last allowed receive, above every receive of it
      // that ran, beside one that ran in the same batch: SQS counted that receive, and the batch
      // response named the message failed, so neither copy was deleted. It leaves no delivery,
      // only its not-attempted failure, so the receives alone read one short of the last.
      for (const f of copiesInBatch ? (unrunOf.get(messageId) ?? []) : []) {
        if (f.receiveCount < lastReceive || f.receiveCount <= count) continue;
        const ran = received.receives.find((d) => d.invocationId === f.invocationId);
        if (ran) {
          return {
            cause: `after a copy of it at receive #${f.receiveCount} was handed back unrun beside its receive #${ran.receiveCount} in the same batch (invocation ${f.invocationId})`,
          };
        }
      }
      if (count < lastReceive) {
        // Its last allowed receive handed back unrun, above every receive of it that ran (an
        // applied order left undeleted, its end write given up or its invocation dead, whose later
        // receives went back unrun: behind a failed message of its group, or cut off by a stall
        // or the records' cut): the consumer removes those receipts and writes only the final
        // not-attempted failure at the last, which is judged as for an order never applied.
        // Only when its highest receive that ran was itself left undeleted (it failed or never
        // ended, its invocation never ended or gave its end write up, or its delete was lost):
        // one deleted brought nothing back, and a hand-back above it says nothing of that.
        const undeleted =
          top.some(
            (d) =>
              d.outcome === 'failed' ||
              d.outcome === 'pending' ||
              d.invocationEnd !== true ||
              (d.invocationId !== undefined && givenUp.has(d.invocationId)),
          ) || lostDeletes.has(`${count}#${messageId}`);
        const unrun = undeleted ? unrunCause(messageId) : {};
        if (unrun.cause) {
          return {
            cause: `after its last allowed receive, above its receive #${count} that ran, was handed back unrun (${unrun.cause})`,
          };
        }
        return { problem: `${messageId} (highest receive #${count})` };
      }
      const unfinished = top.find((d) => d.outcome === 'failed' || d.outcome === 'pending');
      if (unfinished) {
        const how = unfinished.outcome === 'failed' ? 'failed' : 'never ended';
        return { cause: `after its receive #${count} ${how}` };
      }
      // A success at that last receive beside a copy of the same message (a standard queue may
      // hand one message into one batch twice) that failed or never ended in the same
      // invocation: the batch response names failures by message id ("itemIdentifier": the
      // message ID, Lambda's ReportBatchItemFailures), so that failure names this message too,
      // neither copy is deleted, and SQS moves it on its next receive.
      for (const d of top) {
        if (d.invocationId === undefined) continue;
        // Its invocation's end write failed and the consumer gave it up (an `endGivenUp` failure
        // names the invocation): the invocation failed, so SQS deleted nothing of its batch,
        // though a try of that write that committed late shows the receive ended.
        const gaveUp = givenUp.get(d.invocationId);
        if (gaveUp) {
          return {
            cause: `after its receive #${count} ran in invocation ${d.invocationId}, whose end write the consumer gave up (its failure of receive #${gaveUp.receiveCount}), so SQS deleted nothing of that batch`,
          };
        }
        const beside = received.receives.find(
          (o) =>
            copiesInBatch &&
            o !== d &&
            o.invocationId === d.invocationId &&
            (o.outcome === 'failed' || o.outcome === 'pending'),
        );
        if (beside) {
          const how = beside.outcome === 'failed' ? 'failed' : 'never ended';
          return {
            cause: `after its receive #${count} succeeded beside a copy of it at receive #${beside.receiveCount} that ${how} in the same batch (invocation ${d.invocationId})`,
          };
        }
        // A copy handed back unrun beside it leaves no delivery, only its not-attempted failure.
        const unrun = copiesInBatch ? handedBack.get(`${d.invocationId}#${messageId}`) : undefined;
        if (unrun) {
          return {
            cause: `after its receive #${count} succeeded beside a copy of it at receive #${unrun.receiveCount} handed back unrun in the same batch (invocation ${d.invocationId})`,
          };
        }
      }
      // Only the delete lost at that last receive: one lost earlier brought the message back
      // once, on the next receive, which must then end without a delete of its own.
      if (lostDeletes.has(`${count}#${messageId}`)) {
        return { cause: `after its receive #${count} succeeded and SQS lost its delete` };
      }
      return {
        problem: `${messageId} (receive #${count} ended ${top[0]!.outcome} and nothing lost its delete)`,
      };
    };
    // The receives handed back unrun on this queue, by invocation and message id (their
    // not-attempted failures, final or not): their batch response named the message failed.
    // The same by message id alone.
    const handedBack = new Map<string, FailureRecord>();
    const unrunOf = new Map<string, FailureRecord[]>();
    for (const f of ledger.failures) {
      if (f.queue !== queue || !f.notAttempted || f.invocationId === undefined) continue;
      handedBack.set(`${f.invocationId}#${f.messageId}`, f);
      const list = unrunOf.get(f.messageId);
      if (list) list.push(f);
      else unrunOf.set(f.messageId, [f]);
    }
    // The invocations on this queue whose end write the consumer gave up (its `endGivenUp`
    // failures, one per receive that had ended other than failed): each failed, so SQS deleted
    // nothing of its batch, whatever a late commit of that write says of its receives.
    const givenUp = new Map<string, FailureRecord>();
    for (const f of ledger.failures) {
      if (f.queue !== queue || f.endGivenUp !== true || f.invocationId === undefined) continue;
      if (!givenUp.has(f.invocationId)) givenUp.set(f.invocationId, f);
    }
    // Per message id, its final not-attempted failures on this queue.
    const unrunAtLast = new Map<string, FailureRecord[]>();
    for (const f of ledger.failures) {
      if (f.queue !== queue || !f.notAttempted || !f.final) continue;
      const list = unrunAtLast.get(f.messageId);
      if (list) list.push(f);
      else unrunAtLast.set(f.messageId, [f]);
    }
    // Per message id and receive, its failed attempts on this queue that ran out of time; and
    // every failed attempt's (an invocation that died between its failures request and its
    // outcomes request leaves one beside a delivery that reads pending).
    const timedOut = new Set<string>();
    const failedAttempts = new Set<string>();
    for (const f of ledger.failures) {
      if (f.queue !== queue || f.notAttempted || f.endGivenUp) continue;
      failedAttempts.add(`${f.receiveCount}#${f.messageId}`);
      if (f.ranOutOfTime) timedOut.add(`${f.receiveCount}#${f.messageId}`);
    }
    // The function timeout the run deployed the consumer with: the runner's word, or the
    // repository's config. Not the report's functionTimeoutSeconds, which it reads from the
    // ledger's own deadline stamps (the longest any invocation had), the very stamps held to it
    // below: a deadline forged as far out as wished raised the bound with it.
    const timeoutMs =
      evidence.functionTimeoutMs?.[queue] ?? pipelineConfig.consumers[queue].timeoutSeconds * 1000;
    // The record budget the run deployed the consumer with, the runner's word or the repository's
    // defaults; never the failure's own figure, which is what is held to it.
    const configuredBudgetMs = evidence.recordBudgetMs?.[queue] ?? recordBudgetMsFromEnv({});
    /**
     * Whether the ledger's times bear out a not-attempted failure that says its record was handed
     * back past the cut on a record's calls (CALL_ROOM.recordsMs before the invocation's deadline).
     * Its `notStarted.leftMs` is the consumer's own reading of its cut, at most the room by
     * construction, so it proves nothing. The evidence here is what the runtime and the clock
     * said: the deadline the runtime gave the invocation (the stamp of the invocation's receives
     * in the ledger; the failure's own copy of it only when they carry none, and a violation
     * when the two differ), held to the function's timeout from the receive and to come after
     * it (the function timeout as deployed: RunEvidence.functionTimeoutMs or the config, never
     * the report's, which it reads from these very stamps), and the failure's `failedAt`,
     * written when the invocation ended, after the hand-back and before the deadline (less
     * CUT_SLACK_MS). handBackTimes reads them, for the stall's hand-back too. Time left only shrinks, so the hand-back had at
     * least as much left as the deadline less `failedAt`: more than the room (and CUT_SLACK_MS)
     * and it was no hand-back past the cut. A check one way only: a hand-back before the cut
     * followed by records that ran on past it is not caught (nothing in the ledger dates the
     * hand-back itself).
     */
    const handBackTimes = (
      f: FailureRecord,
      at: string,
    ): { deadline: number; leftAtEnd: number } | { problem: string } => {
      const batch = f.invocationId === undefined ? [] : (invocations.get(f.invocationId) ?? []);
      const stamps = batch.flatMap((d) => (isTime(d.deadlineAt) ? [d.deadlineAt] : []));
      // The invocation's receives carry the deadline the runtime gave it, one stamp for the
      // batch; the failure repeats it from its receipt. Both written by the consumer from one
      // reading, they agree: a failure that says otherwise is not taken at its own word.
      const stamped = stamps.length > 0 ? Math.min(...stamps) : undefined;
      if (stamped !== undefined && isTime(f.deadlineAt) && f.deadlineAt !== stamped) {
        return {
          problem: `${at}, yet its own deadline (${f.deadlineAt}) is not the one its invocation's receives carry (${stamped})`,
        };
      }
      const deadline = stamped ?? (isTime(f.deadlineAt) ? f.deadlineAt : undefined);
      if (deadline === undefined) {
        return {
          problem: `${at}, yet the ledger holds no deadline of invocation ${f.invocationId ?? '(none named)'} to judge it by`,
        };
      }
      const received = isTime(f.receivedAt)
        ? f.receivedAt
        : batch.length > 0
          ? Math.min(...batch.map((d) => d.receivedAt))
          : undefined;
      if (received !== undefined && deadline - received > timeoutMs + CUT_SLACK_MS) {
        return {
          problem: `${at}, yet its invocation's deadline came ${Math.round(deadline - received)} ms after its receive, more than the function's ${timeoutMs} ms timeout`,
        };
      }
      // The consumer stamps the deadline as its receive's time plus what the runtime says is
      // left, never less than nothing: a deadline before the receive is none of this invocation.
      if (received !== undefined && deadline < received) {
        return {
          problem: `${at}, yet its invocation's deadline came ${Math.round(received - deadline)} ms before its receive`,
        };
      }
      const leftAtEnd = Math.round(deadline - f.failedAt);
      // Lambda ends the invocation at its deadline: nothing of it is written after, bar the wall
      // clock's slew (CUT_SLACK_MS).
      if (leftAtEnd < -CUT_SLACK_MS) {
        return {
          problem: `${at}, yet its invocation wrote it ${-leftAtEnd} ms after its deadline, when Lambda had ended it`,
        };
      }
      return { deadline, leftAtEnd };
    };
    const pastCut = (f: FailureRecord): { cause?: string; problem?: string } => {
      const at = `not started past the cut at receive #${f.receiveCount}`;
      const times = handBackTimes(f, at);
      if ('problem' in times) return times;
      const { leftAtEnd } = times;
      const room = CALL_ROOM.recordsMs;
      if (leftAtEnd > room + CUT_SLACK_MS) {
        return {
          problem: `${at}, yet its invocation wrote it ${leftAtEnd} ms before its deadline, more than the cut's ${room} ms`,
        };
      }
      return {
        cause: `never attempted: at its receive #${f.receiveCount} its invocation was past the cut on a record's DynamoDB calls (${room} ms before its deadline; it wrote the hand-back ${leftAtEnd} ms before it)`,
      };
    };
    /**
     * Why SQS moved this never-applied order's message to the DLQ without an attempt, or why
     * that explanation does not hold. The consumer handed it back unrun at its last allowed
     * receive, and the ledger holds the not-attempted failure of that very message at that
     * receive, for one of three reasons. An earlier message of its group failed in the same
     * batch (FIFO): the invocation the failure names holds the failed delivery of an earlier
     * message of its customer (SQS took it first). Or the invocation stopped starting records
     * (either queue; the failure's `notStarted`): too little time left, less than a record
     * needs, once a DynamoDB call had run out of time, so that invocation holds a failed delivery
     * whose failure says its call ran out of time; or past the cut on a record's calls
     * (`notStarted.cutRoomMs`), where no call of it could be sent (pastCut judges that by the
     * ledger's times, not by the failure's own figures).
     */
    const unrunCause = (
      messageId: string,
    ): { cause?: string; problem?: string; notStarted?: 'stall' | 'cut' } => {
      const failures = unrunAtLast.get(messageId) ?? [];
      if (failures.length === 0) return { problem: `${messageId} (no not-attempted failure)` };
      const atLast = failures.filter((f) => f.receiveCount >= lastReceive);
      if (atLast.length === 0) {
        const highest = Math.max(...failures.map((f) => f.receiveCount));
        return { problem: `${messageId} (not attempted at receive #${highest} only)` };
      }
      const notStartedProblems: string[] = [];
      // An earlier message of its group whose failure at that receive is recorded while its
      // delivery reads pending: the invocation wrote its failures and died (crashed, timed out,
      // gave its end write up) before its outcomes. Still a violation (the invocation did not
      // end, docs/guarantees.md), named as such, not as no failure of its group.
      let recordedPending: { f: FailureRecord; d: DeliveryRecord } | undefined;
      for (const f of atLast) {
        if (f.notStarted && 'cutRoomMs' in f.notStarted) {
          const judged = pastCut(f);
          if (judged.cause) return { cause: judged.cause, notStarted: 'cut' };
          notStartedProblems.push(`${messageId} (${judged.problem})`);
          continue;
        }
        if (f.notStarted) {
          // The consumer's own figures (`leftMs`, read from its own clock) prove nothing; the
          // ledger's times do, as for the cut (handBackTimes): the hand-back had at least the
          // deadline less the failure's write left, so that must be less than a record needs
          // (`budgetMs`, the consumer's setting, which no function timeout can be below). That
          // setting is the consumer's word too: held to the one the run configured
          // (configuredBudgetMs), or a budget written as large as the timeout passed a hand-back
          // with nearly all of its invocation left.
          const { leftMs, budgetMs } = f.notStarted;
          const at = `not started at receive #${f.receiveCount}`;
          const batch = f.invocationId === undefined ? [] : (invocations.get(f.invocationId) ?? []);
          const stalled = batch.find(
            (d) => d.outcome === 'failed' && timedOut.has(`${d.receiveCount}#${d.messageId}`),
          );
          const times = handBackTimes(f, at);
          if (!(leftMs < budgetMs)) {
            notStartedProblems.push(
              `${messageId} (${at} with ${leftMs} ms left, no less than the ${budgetMs} ms a record needs)`,
            );
          } else if (!(budgetMs <= timeoutMs)) {
            notStartedProblems.push(
              `${messageId} (${at}, yet the ${budgetMs} ms it says a record needs is more than the function's ${timeoutMs} ms timeout)`,
            );
          } else if (budgetMs > configuredBudgetMs) {
            notStartedProblems.push(
              `${messageId} (${at}, yet the ${budgetMs} ms it says a record needs is more than the ${configuredBudgetMs} ms the consumer is configured with)`,
            );
          } else if ('problem' in times) {
            notStartedProblems.push(`${messageId} (${times.problem})`);
          } else if (times.leftAtEnd >= budgetMs + CUT_SLACK_MS) {
            notStartedProblems.push(
              `${messageId} (${at}, yet its invocation wrote it ${times.leftAtEnd} ms before its deadline, no less than the ${budgetMs} ms a record needs)`,
            );
          } else if (!stalled) {
            notStartedProblems.push(
              `${messageId} (${at}, yet no delivery ran out of time in invocation ${f.invocationId ?? '(none named)'})`,
            );
          } else {
            return {
              cause: `never attempted: at its receive #${f.receiveCount} its invocation had less than the ${budgetMs} ms a record needs left (it wrote the hand-back ${times.leftAtEnd} ms before its deadline), after order ${stalled.orderId}'s DynamoDB call ran out of time (receive #${stalled.receiveCount})`,
              notStarted: 'stall',
            };
          }
          continue;
        }
        // Earlier in its group by FIFO's order, the SequenceNumber SQS gave each message (a
        // customer may send a later sequence first: docs/guarantees.md, "Ordering"), compared
        // as integers as the order rule does. A failure record without one (a ledger from
        // before the consumer kept it) falls back to the client's sequence.
        const own = sqsOrder(f.sequenceNumber);
        const earlier = (d: DeliveryRecord): boolean => {
          if (f.sequenceNumber === undefined) return d.sequence < f.sequence;
          const theirs = sqsOrder(d.sequenceNumber);
          return own !== undefined && theirs !== undefined && theirs < own;
        };
        const batch = f.invocationId === undefined ? [] : (invocations.get(f.invocationId) ?? []);
        const blocker = batch.find(
          (d) => d.customerId === f.customerId && earlier(d) && d.outcome === 'failed',
        );
        if (blocker) {
          return {
            cause: `never attempted: at its receive #${f.receiveCount} order ${blocker.orderId} of its group failed in the same batch (receive #${blocker.receiveCount})`,
          };
        }
        const pending = batch.find(
          (d) =>
            d.customerId === f.customerId &&
            earlier(d) &&
            d.outcome === 'pending' &&
            failedAttempts.has(`${d.receiveCount}#${d.messageId}`),
        );
        if (pending && !recordedPending) recordedPending = { f, d: pending };
      }
      const behindGroup = atLast.find((f) => !f.notStarted);
      const behindLine = recordedPending
        ? `${messageId} (not attempted at receive #${recordedPending.f.receiveCount}, yet no delivery of its group reads failed in invocation ${recordedPending.f.invocationId}: order ${recordedPending.d.orderId}'s failure at receive #${recordedPending.d.receiveCount} is recorded and its delivery reads pending: that invocation wrote its failures and never its outcomes, it did not end)`
        : behindGroup
          ? `${messageId} (not attempted at receive #${behindGroup.receiveCount}, yet no delivery of its group failed in invocation ${behindGroup.invocationId ?? '(none named)'})`
          : undefined;
      return {
        problem: [...notStartedProblems, ...(behindLine ? [behindLine] : [])].join(', '),
      };
    };
    let explainedHere = 0;
    let unrunHere = 0;
    let notStartedHere = 0;
    let pastCutHere = 0;
    for (const id of accepted) {
      const n = byOrder.get(id)?.length ?? 0;
      if (n === 0 && !dead.has(id)) missing.push(`${queue}: order ${id} was never applied`);
      if (n === 0 && dead.has(id) && !expectedDead.has(id)) {
        const copies = copiesOf.get(id) ?? [];
        const found = copies.map(({ messageId }) => ({ messageId, ...unrunCause(messageId) }));
        const explainedCopies = found.filter((c) => c.cause);
        if (copies.length > 0 && explainedCopies.length === copies.length) {
          for (const c of explainedCopies) {
            if (c.notStarted === 'stall') notStartedHere++;
            else if (c.notStarted === 'cut') pastCutHere++;
            else unrunHere++;
          }
          for (const c of explainedCopies) {
            notAttempted.push(
              `${queue}: order ${id} is in the DLQ ${c.cause}; its message ${c.messageId} (maxReceiveCount ${lastReceive})`,
            );
          }
        } else if (found.some((c) => unrunAtLast.has(c.messageId))) {
          const problems = found.flatMap((c) => (c.problem ? [c.problem] : []));
          deadLines.push(`${queue}: order ${id} is in the DLQ: ${problems.join(', ')}`);
        } else {
          deadLines.push(`${queue}: order ${id} is in the DLQ`);
        }
      }
      if (n > 0 && expectedDead.has(id)) {
        deadLines.push(
          `${queue}: order ${id} was applied, yet the run expected it only in the DLQ`,
        );
      }
      if (n > 0 && dead.has(id) && !expectedDead.has(id)) {
        const copies = copiesOf.get(id) ?? [];
        const unexplained = copies.length === 0 ? ['(message id not read)'] : [];
        for (const { messageId } of copies) {
          const { cause, problem } = dlqCause(messageId);
          if (cause) {
            explainedHere++;
            explained.push(
              `${queue}: order ${id} was applied; its message ${messageId} is in the DLQ ${cause} (maxReceiveCount ${lastReceive})`,
            );
          } else if (problem) {
            unexplained.push(problem);
          }
        }
        if (unexplained.length > 0) {
          deadLines.push(
            `${queue}: order ${id} was applied, yet a copy of it is in the DLQ that SQS's redrive rule does not explain (maxReceiveCount ${lastReceive}): ${unexplained.join(', ')}`,
          );
        }
      }
      if (n > 1) doubled.push(`${queue}: order ${id} was applied ${n} times`);
    }
    for (const id of expectedDead) {
      if (!dead.has(id)) deadLines.push(`${queue}: order ${id} should be in the DLQ and is not`);
    }
    for (const id of byOrder.keys()) {
      if (!accepted.has(id))
        unknown.push(`${queue}: order ${id} was applied, yet the client never got a 202 for it`);
    }
    collect(out, missing, (n) => `${queue}: ${n} more orders were never applied`);
    collect(out, deadLines, (n) => `${queue}: ${n} more DLQ problems`);
    const accounted = expectedDead.size + explainedHere + unrunHere + notStartedHere + pastCutHere;
    if (dlq.depth !== accounted) {
      const parts = [
        explainedHere > 0 ? `${explainedHere} of them applied orders' copies` : '',
        unrunHere > 0 ? `${unrunHere} never attempted behind a failure of their group` : '',
        notStartedHere > 0
          ? `${notStartedHere} not started after a DynamoDB call ran out of time`
          : '',
        pastCutHere > 0 ? `${pastCutHere} not started past the cut on their calls` : '',
      ].filter(Boolean);
      const why = parts.length > 0 ? ` (${parts.join(', ')})` : '';
      out.push(
        `${queue}: the DLQ holds ${dlq.depth} messages as SQS reports it, expected ${accounted}${why}`,
      );
    }
    collect(out, doubled, (n) => `${queue}: ${n} more orders were applied more than once`);
    collect(out, unknown, (n) => `${queue}: ${n} more orders were applied without a 202`);
    collect(
      out,
      receivedAsMore(queue, messages),
      (n) => `${queue}: ${n} more messages were received as more than one order or customer`,
    );
    if (queue === 'standard') {
      // The consumer records every receive before any record of its batch runs, so an effect of
      // a message the ledger holds no receive of is a ledger that lost records, or an effect that
      // names another message (FIFO's order rule names those on that queue). Without this, a
      // standard ledger with its receives gone passed. It writes the effect's order and message
      // from the one message it applied, so an effect of a message the ledger received only as
      // other orders names another order's message: that passed too, as long as the message was
      // received (a message received as more than one order, its effect's among them, is named
      // by receivedAsMore above).
      const unreceived: string[] = [];
      const otherOrders: string[] = [];
      for (const [id, list] of byOrder) {
        for (const e of list) {
          const message = messages.get(e.messageId);
          if (!message) {
            unreceived.push(
              `${queue}: order ${id} was applied from message ${e.messageId}, yet the ledger holds no receive of that message: the consumer records every receive before it runs a record, so the ledger lost records or the effect names another message`,
            );
          } else if (
            !message.receives.some((r) => r.orderId === e.orderId && r.customerId === e.customerId)
          ) {
            otherOrders.push(
              `${queue}: order ${id} of customer ${e.customerId} was applied from message ${e.messageId}, yet the ledger received that message as order ${message.orderId} of customer ${message.customerId}: the consumer writes an effect's order from the message it applied, so the effect names another order's message`,
            );
          }
        }
      }
      collect(
        out,
        unreceived,
        (n) => `${queue}: ${n} more effects of messages the ledger holds no receive of`,
      );
      collect(
        out,
        otherOrders,
        (n) => `${queue}: ${n} more effects of messages the ledger received as other orders`,
      );
    }
    if (queue === 'fifo') {
      const { lines: sharedLines, shared } = sharedNumbers(queue, messages);
      collect(
        out,
        sharedLines,
        (n) =>
          `${queue}: ${n} more SequenceNumbers were each received with more than one message of a customer`,
      );
      collect(
        out,
        orderViolations(queue, byOrder, messages, invocations, shared),
        (n) => `${queue}: ${n} more FIFO order problems`,
      );
      const redelivered = fifoRedeliveries(
        judgeFifoRedeliveries(ledger.deliveries, ledger.failures, {
          visibilityMs: report.config.queues[queue].visibilityTimeoutSeconds * 1000,
          lostDeletes: evidence.lostDeletes?.[queue] ?? [],
          clockSkips: evidence.clockSkips ?? [],
          // As deployed (the runner's word, or the config), never the report's, read from the
          // very deadline stamps this holds.
          functionTimeoutMs:
            evidence.functionTimeoutMs?.[queue] ??
            pipelineConfig.consumers[queue].timeoutSeconds * 1000,
        }),
        messages,
      );
      collect(
        out,
        redelivered.problems,
        (n) => `${queue}: ${n} more FIFO ledger items the FIFO redelivery rule cannot judge by`,
      );
      collect(
        out,
        redelivered.pastDeadline,
        (n) => `${queue}: ${n} more FIFO outcomes stamped past their invocation's deadline`,
      );
      collect(
        out,
        redelivered.pastTimeout,
        (n) => `${queue}: ${n} more FIFO receives with a deadline past the function's timeout`,
      );
      collect(
        out,
        redelivered.unexplained,
        (n) => `${queue}: ${n} more FIFO redeliveries nothing in the ledger explains`,
      );
      collect(
        out,
        redelivered.copies,
        (n) => `${queue}: ${n} more FIFO messages received twice at one receive count`,
      );
    }

    // The report's own numbers must tell the same story as the ledger did above.
    const m = report.queues[queue];
    let applied = 0;
    let extra = 0;
    for (const [id, list] of byOrder) {
      if (!accepted.has(id)) continue;
      applied++;
      extra += list.length - 1;
    }
    if (m.processed !== applied) {
      out.push(
        `${queue}: the report counts ${m.processed} processed, the ledger holds effects of ${applied} accepted orders`,
      );
    }
    if (m.duplicateEffects !== extra) {
      out.push(
        `${queue}: the report counts ${m.duplicateEffects} duplicate effects, the ledger holds ${extra}`,
      );
    }
    if (m.lost !== missing.length) {
      out.push(
        `${queue}: the report counts ${m.lost} lost, ${missing.length} accepted orders have no effect and are not in the DLQ`,
      );
    }
    const deadUnapplied = [...accepted].filter((id) => dead.has(id) && !byOrder.has(id)).length;
    if (m.inDlq !== deadUnapplied) {
      out.push(`${queue}: the report counts ${m.inDlq} in the DLQ, the DLQ holds ${deadUnapplied}`);
    }
    const deadApplied = [...accepted].filter((id) => dead.has(id) && byOrder.has(id)).length;
    if (m.appliedInDlq !== deadApplied) {
      out.push(
        `${queue}: the report counts ${m.appliedInDlq} applied orders with a copy in the DLQ, the DLQ holds ${deadApplied}`,
      );
    }
  }
  return { violations: out, explainedDlqCopies: explained, notAttemptedInDlq: notAttempted };
}

/**
 * Everything the ledger holds of one order on one queue, one line per record in time order:
 * each receive (message id, receive count, outcome, invocation and whether it ended), each
 * failure with its error, and each effect. What a failed soak prints for the orders it names, so
 * a failure that shows once in many runs can be read without running it again.
 */
export function orderHistory(ledger: RunLedger, queue: QueueKind, orderId: string): string[] {
  const rows: Array<{ at: number; line: string }> = [];
  const iso = (ms: number) => new Date(ms).toISOString().slice(11, 23);
  for (const d of ledger.deliveries) {
    if (d.queue !== queue || d.orderId !== orderId) continue;
    const ended = d.outcomeAt === undefined ? '' : ` at ${iso(d.outcomeAt)}`;
    const by = d.suppressedBy ? ` by ${d.suppressedBy}` : '';
    const inv = d.invocationId
      ? ` invocation ${d.invocationId}${d.invocationEnd ? '' : ' (did not end)'}`
      : '';
    rows.push({
      at: d.receivedAt,
      line: `${iso(d.receivedAt)} receive #${d.receiveCount} of ${d.messageId}: ${d.outcome}${by}${ended}${inv}`,
    });
  }
  for (const f of ledger.failures) {
    if (f.queue !== queue || f.orderId !== orderId) continue;
    rows.push({
      at: f.failedAt,
      line: f.notAttempted
        ? `${iso(f.failedAt)} receive #${f.receiveCount} of ${f.messageId} not attempted${f.final ? ' (final)' : ''} invocation ${f.invocationId ?? '?'}: ${f.error}`
        : `${iso(f.failedAt)} failure of ${f.messageId} receive #${f.receiveCount}${f.final ? ' (final)' : ''}: ${f.error}`,
    });
  }
  for (const e of ledger.effects) {
    if (e.queue !== queue || e.orderId !== orderId) continue;
    rows.push({
      at: e.committedAt,
      line: `${iso(e.committedAt)} effect from ${e.messageId}, apply index ${e.applyIndex}`,
    });
  }
  return rows.sort((a, b) => a.at - b.at).map((r) => r.line);
}

/**
 * The first `max` distinct orders the check's lines name (each line starts with its queue and
 * names one order, as runFindings writes them), for printing their histories.
 */
export function ordersNamed(
  lines: readonly string[],
  max: number,
): Array<{ queue: QueueKind; orderId: string }> {
  const named = new Map<string, { queue: QueueKind; orderId: string }>();
  for (const line of lines) {
    const m = /^(fifo|standard): (?:customer \S+ applied )?order (\S+?)[ ;]/.exec(line);
    if (!m || named.size >= max) continue;
    const queue = m[1] as QueueKind;
    named.set(`${queue} ${m[2]}`, { queue, orderId: m[2]! });
  }
  return [...named.values()];
}
