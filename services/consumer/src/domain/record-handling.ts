import type { EffectRecord } from '../../../../shared/src/ledger';
import type { OrderEvent } from '../../../../shared/src/metrics';
import type { OrderMessage } from '../../../../shared/src/order-message';
import type { QueueKind } from '../../../../shared/src/queue-kind';
import { quietly, warnQuietly as warnQuietlyTo } from '../../../../shared/src/quietly';
import type { Delivery } from './delivery';
import { decideFaults, type FaultConfig, InjectedFaultError } from './faults';
import type {
  ApplyTurn,
  CallDeadlinePort,
  ConsumerLedgerPort,
  ConsumerLogPort,
  ConsumerMetricsPort,
  DeliveryOutcome,
  Effect,
  EffectGuard,
  Failure,
  HeldWritesPort,
  InvocationEnd,
  Receipt,
} from './ports';

/** What one delivery does: its turn, its effect, its outcome; and what an invocation records. */

/**
 * The idempotent function's payload: the order message as parsed, with the id of the SQS message
 * that carried it (what idempotency keys on when keyed on the message). The key and the payload
 * validation are read from it by name.
 */
export type EffectInput = OrderMessage & Pick<Delivery, 'messageId'>;

/** The result stored with the idempotency record and answered to duplicates. */
export interface EffectResult {
  applyIndex: number;
  committedAt: number;
}

/** Per-call state beside the idempotent payload (not part of the key or the stored result). */
export interface RunMarker {
  /** Set when the effect body ran; false when a stored result answered instead. */
  ran: boolean;
  /** Set when the body ran but the effect's conditional write found the effect already there. */
  refused: boolean;
  /**
   * Injected slowness of the work itself: it runs after the idempotency record was saved
   * IN_PROGRESS, as a slow effect would, so a copy delivered meanwhile meets that record.
   */
  stallMs: number;
  /** Injected crash once the effect committed. */
  crashAfterEffect: boolean;
  /** Set when the body ran: a higher sequence of the customer had already taken its turn. */
  late: boolean;
  /**
   * Set when the late turn's read (lateByReport) ran out of time: a DynamoDB call of the
   * invocation did, which the cut-off on later records counts (startsRecord), though this
   * record's effect committed and it succeeds.
   */
  readRanOut?: boolean;
  /**
   * The receive this call runs for, as its delivery record names it (its invocation and receive
   * count): the effect item carries it, so what applied it is read, not guessed.
   */
  receive?: Pick<EffectRecord, 'invocationId' | 'receiveCount'>;
}

/** The effect, as the idempotency layer wraps it (the function itself when idempotency is off). */
export type ApplyEffect = (input: EffectInput, marker: RunMarker) => Promise<EffectResult>;

export interface RecordHandlingOptions {
  queue: QueueKind;
  maxReceiveCount: number;
  faults: FaultConfig;
  /** What the effect is guarded on: the same field idempotency is keyed on. */
  guardKey: 'orderId' | 'messageId';
  /** The effect's own conditional write; off only to show what it prevents. */
  effectGuard: boolean;
  /**
   * What a record needs left of the invocation to start once a DynamoDB call of the invocation
   * has run out of time (startsRecord); absent, every record starts.
   */
  recordBudgetMs?: number;
  /**
   * How long before the invocation's deadline its DynamoDB calls are given up (deps.callDeadline):
   * a record's calls leave `recordsMs` for the end write and the answer; the end write leaves
   * `endMs` for the answer. Absent, no call is cut.
   */
  callRoom?: { recordsMs: number; endMs: number };
}

export interface RecordHandlingDeps {
  ledger: ConsumerLedgerPort;
  logger: ConsumerLogPort;
  metrics?: ConsumerMetricsPort;
  now: () => number;
  newId: () => string;
  sleep: (ms: number) => Promise<void>;
  /** Ends the execution environment at once (the injected crash). */
  crash: () => Promise<never>;
  /**
   * Writes held for the invocation's end write (the idempotency layer's COMPLETED records):
   * dropped at begin() when an earlier invocation left any, written by end() beside the outcomes.
   */
  held?: HeldWritesPort;
  /** Whether `held` holds its COMPLETED records for the end write (absent: it does). */
  holdCompleted?: boolean;
  /** Where the cut on DynamoDB calls is set (options.callRoom). */
  callDeadline?: CallDeadlinePort;
  traceRecord: <R>(
    annotations: Record<string, string | number>,
    work: () => Promise<R>,
  ) => Promise<R>;
}

/** The effect of one order: the customer's apply turn, then the (guarded) effect write. */
export function createEffect(
  options: Pick<RecordHandlingOptions, 'queue' | 'guardKey' | 'effectGuard'>,
  deps: Pick<RecordHandlingDeps, 'ledger' | 'logger' | 'now' | 'sleep' | 'crash'>,
): ApplyEffect {
  const { queue, effectGuard } = options;
  const { ledger, logger } = deps;

  /** The effect is unique on what idempotency is keyed on, or on nothing with the guard off. */
  const guard: EffectGuard = !effectGuard
    ? 'none'
    : options.guardKey === 'orderId'
      ? 'order'
      : 'message';

  return async (input, marker) => {
    marker.ran = true;
    if (marker.stallMs > 0) await deps.sleep(marker.stallMs);
    // The index is taken before the conditional write, so a refused write (or a crash between the
    // two) leaves a gap in the customer's indexes; the report counts those gaps.
    const turn = await ledger.takeApplyTurn(input.runId, queue, input.customerId, input.sequence, {
      orderId: input.orderId,
      messageId: input.messageId,
    });
    const { applyIndex } = turn;
    marker.late = turn.late;
    const committedAt = deps.now();
    const effect: Effect = {
      guard,
      runId: input.runId,
      queue,
      orderId: input.orderId,
      customerId: input.customerId,
      sequence: input.sequence,
      messageId: input.messageId,
      applyIndex,
      acceptedAt: input.acceptedAt,
      committedAt,
      // The receive that applies it, on the same write (no request of its own).
      ...marker.receive,
    };
    if (effectGuard) {
      const write = await ledger.putEffectIfAbsent(effect);
      if (!write.written) {
        // The idempotency record let this attempt through (it had expired, or a crash left it in
        // progress past its expiry), but the effect exists: answer with the first effect.
        marker.refused = true;
        return write.existing;
      }
    } else {
      await ledger.putEffect(effect);
    }
    if (marker.crashAfterEffect) {
      // A throwing logger must not turn the injected crash into a failed record.
      quietly(logger, 'log line not written', { order: input.orderId, run: input.runId }, () =>
        logger.warn('crashing after the effect (injected)', {
          order: input.orderId,
          run: input.runId,
          applyIndex,
        }),
      );
      await deps.crash();
    }
    if (turn.late) marker.late = await lateByReport(input, turn, marker);
    return { applyIndex, committedAt };
  };

  /**
   * Whether a late turn's apply, its effect committed, is late as the report counts it (its rule:
   * shared/src/apply-order.ts): a higher sequence of the customer APPLIED with a lower index.
   * The turn is late against the highest sequence that took a turn, and a turn can be taken with
   * no effect behind it (an attempt that failed or crashed between its turn and its effect, its
   * retry at a higher index; a copy whose effect the guard refused), which the report never
   * counts. So the turn's flag is kept only when the order that set the highest sequence has its
   * effect committed below this apply's index, with a sequence above this one's (a turn taken
   * without a taker, by an older consumer, raises the highest and leaves an earlier turn's name,
   * which can be a lower sequence): one read, made only by a late turn. It can miss a
   * late apply the report counts (that order's effect not committed yet, or never, while another
   * higher sequence below it did), never count one the report does not. With the guard off no
   * key names that order's effect, and a counter that names no order (written by a consumer
   * before this one) cannot be asked: the turn's flag stands. A read that fails leaves the apply
   * not late: its effect has committed, and a metric is no reason to fail it. The read has one
   * try (the ledger adapter's), so a stalled DynamoDB costs the record one request timeout, not
   * a whole stalled call; one that ran out of time marks `marker.readRanOut`, for the cut-off.
   */
  async function lateByReport(
    input: EffectInput,
    turn: ApplyTurn,
    marker: RunMarker,
  ): Promise<boolean> {
    if (guard === 'none' || !turn.higher) return turn.late;
    try {
      return await ledger.committedBelow(
        input.runId,
        queue,
        turn.higher,
        guard,
        turn.applyIndex,
        input.sequence,
      );
    } catch (err) {
      if (ranOutOfTime(err)) marker.readRanOut = true;
      // The effect has committed: a throwing logger must not fail the record either.
      quietly(logger, 'log line not written', { order: input.orderId, run: input.runId }, () =>
        logger.warn('late apply not confirmed: the read of the higher order failed', {
          order: input.orderId,
          run: input.runId,
          higher: turn.higher?.orderId,
          ranOutOfTime: ranOutOfTime(err),
          error: err instanceof Error ? err.message : String(err),
        }),
      );
      return false;
    }
  }
}

/** The error name of a not-attempted failure (FailureRecord.notAttempted). */
const NOT_ATTEMPTED = 'NotAttempted';

/**
 * Whether the next record of a batch starts. The functions' DynamoDB calls each end by one
 * stalled call's time (every try runs out its request timeout: 4 x 1 s + 175 ms of backoff at
 * the defaults, docs/architecture.md), and a record that meets a stall already under way spends
 * exactly one: its first call (Powertools' IN_PROGRESS put; the apply turn with idempotency off)
 * fails, and its failure makes no other call. Run one after another (FIFO; standard when
 * sequential), records that each wait out a stall outlive the function's timeout, and the
 * whole batch comes back with nothing recorded. So, once a call of this invocation has run out
 * of time, a record starts only while the invocation has `recordBudgetMs` left (one stalled call
 * and room for the invocation's end: its outcomes' write and the answer); otherwise it and
 * every later record are handed back unrun, in the partial batch response.
 *
 * Only after a call ran out: before that there is no stall to wait out, and a batch that is
 * merely long (the sweep's FIFO batches of 10 x 500 ms of work take 5.7-6.4 s,
 * docs/benchmarks.md) would otherwise lose its last records to a rule meant for stalls, each
 * handed back for a receive more and, on FIFO, holding its group for the visibility timeout.
 * A remaining time that is no number (a caller without Lambda's context) starts every record.
 */
export function startsRecord(state: {
  /** Lambda's `getRemainingTimeInMillis()` now. */
  remainingMs: number | undefined;
  recordBudgetMs: number | undefined;
  /** A DynamoDB call of this invocation has run out of time (ranOutOfTime). */
  callRanOut: boolean;
}): boolean {
  const { remainingMs, recordBudgetMs, callRanOut } = state;
  if (!callRanOut || recordBudgetMs === undefined) return true;
  if (typeof remainingMs !== 'number' || Number.isNaN(remainingMs)) return true;
  return remainingMs >= recordBudgetMs;
}

/**
 * Whether a record's failure came from a call that ran out of time: the SDK's TimeoutError (a
 * try's request or connection timeout, after its last try) or the cut the invocation's deadline
 * puts on its calls (InvocationDeadlineError, adapters/call-deadline.ts), as thrown or as the
 * cause Powertools wraps it in (IdempotencyPersistenceLayerError).
 */
export function ranOutOfTime(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    // The SDK's, or the cut the invocation's deadline puts on the calls (adapters/call-deadline.ts).
    if (current.name === 'TimeoutError' || current.name === 'InvocationDeadlineError') return true;
    current = current.cause;
  }
  return false;
}

/** How many causes a failure's text shows at most, and how long each may be. */
const CAUSES_SHOWN = 4;
const CAUSE_CHARS = 200;
/**
 * How long the error's own `name: message` may be. An error can echo a payload of megabytes, and
 * the failure record is one DynamoDB item (400 KB at most, and nothing else bounds its `error`):
 * with the causes, the text is at most 1,000 + 4 x 210 characters, under 8 KB in UTF-8.
 */
const MESSAGE_CHARS = 1_000;

/** `text` cut to at most `max` characters, ending `...`, never between a surrogate pair's halves. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 3;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}...`;
}

/** `name: message` of an error, a string as it is; undefined for anything else. */
function said(value: unknown): string | undefined {
  if (value instanceof Error) return `${String(value.name)}: ${String(value.message)}`;
  return typeof value === 'string' ? value : undefined;
}

/**
 * A failed attempt's error as the ledger's failure record holds it: `name: message`, followed by
 * the chain of causes under it, each as ` (cause: name: message)`. Powertools wraps the error of
 * a failed IN_PROGRESS put (IdempotencyPersistenceLayerError, "Failed to save in progress record
 * to idempotency store"), and the cause is what went wrong (the SDK's TimeoutError, a throttle).
 * Bounded: the error's own text cut to MESSAGE_CHARS, at most CAUSES_SHOWN causes (as
 * ranOutOfTime looks), each cut to CAUSE_CHARS, so a cause chain (or one that loops back on
 * itself) adds at most about 1 KB. A cause that is no Error shows only when it is a string. An
 * error that cannot be made text (a throwing getter, no prototype) does not throw here.
 */
export function failureText(error: unknown): string {
  try {
    let text = cut(said(error) ?? String(error), MESSAGE_CHARS);
    let current: unknown = error instanceof Error ? error.cause : undefined;
    for (let shown = 0; shown < CAUSES_SHOWN; shown++) {
      const cause = said(current);
      if (cause === undefined) break;
      text += ` (cause: ${cut(cause, CAUSE_CHARS)})`;
      current = current instanceof Error ? current.cause : undefined;
    }
    return text;
  } catch {
    return '(an error that cannot be shown)';
  }
}

/**
 * Where an invocation stopped starting records: the time it had left, and why. `budgetMs`: a
 * DynamoDB call had run out of time and less was left than a record needs (startsRecord).
 * `cutRoomMs`: the cut on a record's DynamoDB calls, that long before the deadline, had passed,
 * so no call of a record could be sent (adapters/call-deadline.ts: a try at or past the cut is
 * not sent).
 */
type CutOff = { leftMs: number; budgetMs: number } | { leftMs: number; cutRoomMs: number };

/** Why a record went back unrun, in words, after `not started, `. */
function notStartedWhy(cut: CutOff): string {
  return 'cutRoomMs' in cut
    ? `${cut.leftMs} ms left of the invocation, past the cut on a record's DynamoDB calls (${cut.cutRoomMs} ms before its deadline): no call of it could be sent`
    : `${cut.leftMs} ms left of the invocation after a DynamoDB call ran out of time (a record needs ${cut.budgetMs} ms)`;
}

/** Thrown for a record handed back unrun because too little of the invocation was left. */
export class RecordNotStartedError extends Error {
  constructor(cut: CutOff) {
    super(`not started: ${notStartedWhy(cut)}`);
    this.name = 'RecordNotStarted';
  }
}

/** One received record: its delivery, or why it is not one (it fails when its turn comes). */
export interface Received<R> {
  record: R;
  delivery: Delivery | Error;
}

/**
 * One invocation's records, from their receipt to how each ended. `R` is whatever object the
 * batch processor hands back per record: receives are told apart by identity, so two copies of
 * one message in a batch are two receives.
 */
export interface RecordHandling<R> {
  /**
   * Records every receive of the batch, before any of it runs (one ledger write), each stamped
   * with the invocation's deadline: `remainingMs()` (Lambda's context
   * `getRemainingTimeInMillis()`), read at the receive time, added to it. Without it, or where
   * it answers no time, the receipts carry no deadline.
   */
  begin(
    received: Received<R>[],
    invocationId: string,
    remainingMs?: () => number | undefined,
  ): Promise<void>;
  /** Handles one record of the batch begun; throws when the delivery failed. */
  handle(record: R): Promise<EffectResult>;
  /**
   * Writes how every delivery of the invocation ended, and the idempotency records held
   * COMPLETED (`deps.held`), in one batch write (more when over 25 items).
   */
  end(): Promise<void>;
}

export function createRecordHandling<R>(
  options: RecordHandlingOptions,
  deps: RecordHandlingDeps,
  apply: ApplyEffect,
): RecordHandling<R> {
  const { queue } = options;
  const { ledger, logger, metrics, now, newId } = deps;

  /**
   * A log line where a throwing logger must not change what happens next: the end write's
   * error path, whose mark (markEndGivenUp) and error go on whatever the log does; the records
   * not started, handed back as such; the end write, which a line before it must not keep from
   * being sent.
   */
  function warnQuietly(message: string, data: Record<string, unknown>): void {
    warnQuietlyTo(logger, message, data);
  }

  /** What the receipt and failure of one receive share. */
  function ledgerFields(delivery: Delivery) {
    const { message } = delivery;
    return {
      runId: message.runId,
      queue,
      orderId: message.orderId,
      customerId: message.customerId,
      sequence: message.sequence,
      messageId: delivery.messageId,
      receiveCount: delivery.receiveCount,
    };
  }

  function failureOf(delivery: Delivery, error: unknown): Failure {
    return {
      ...ledgerFields(delivery),
      failureId: newId(),
      final: delivery.receiveCount >= options.maxReceiveCount,
      ...(ranOutOfTime(error) ? { ranOutOfTime: true as const } : {}),
      error: failureText(error),
      failedAt: now(),
    };
  }

  /**
   * The not-attempted failure of a receive handed back unrun, the only trace of it the ledger
   * gets: final at its last allowed receive (SQS moves it to the DLQ on its next receive), or not
   * final beside another receive of its message in the batch that ran (end()).
   */
  function notAttemptedFailure(delivery: Delivery, receipt: Receipt, cut?: CutOff): Failure {
    return {
      ...ledgerFields(delivery),
      failureId: newId(),
      final: delivery.receiveCount >= options.maxReceiveCount,
      notAttempted: true,
      ...(receipt.invocationId ? { invocationId: receipt.invocationId } : {}),
      ...(delivery.sequenceNumber ? { sequenceNumber: delivery.sequenceNumber } : {}),
      ...(cut ? { notStarted: { ...cut } } : {}),
      // The receipt's own stamps (its item is deleted): when the invocation began and the deadline
      // the runtime gave it, which the soak check judges the time left by, not by `notStarted`.
      receivedAt: receipt.receivedAt,
      ...(receipt.deadlineAt !== undefined ? { deadlineAt: receipt.deadlineAt } : {}),
      error: cut
        ? `${NOT_ATTEMPTED}: not started, ${notStartedWhy(cut)}, at its receive #${delivery.receiveCount} (maxReceiveCount ${options.maxReceiveCount})`
        : `${NOT_ATTEMPTED}: an earlier message of its group failed in the same batch, at its receive #${delivery.receiveCount} (maxReceiveCount ${options.maxReceiveCount})`,
      failedAt: now(),
    };
  }

  /**
   * One receive of the current invocation: its receipt (written when the batch arrives) and,
   * once it ran, how it ended (written with the whole batch's when the invocation returns).
   */
  interface Slot {
    /** Its place in the batch. */
    index: number;
    delivery: Delivery;
    receipt: Receipt;
    outcome?: DeliveryOutcome;
    failure?: Failure;
    /** Handed back unrun: by the cut-off (startsRecord), or past the cut on its calls. */
    notStarted?: CutOff;
  }

  /** The current invocation's receives; an environment runs one invocation at a time. */
  let slots = new Map<R, Slot>();
  let notOrders = new Map<R, Error>();
  /** The invocation's time left (Lambda's context), as begin() was given it. */
  let remainingOf: (() => number | undefined) | undefined;
  /** A DynamoDB call of the current invocation has run out of time. */
  let callRanOut = false;
  /** Set when the invocation stopped starting records. */
  let cutOff: CutOff | undefined;
  /**
   * Sets the cut on DynamoDB calls `roomMs` before the invocation's deadline, read from Lambda's
   * remaining time now (none without it, or without a room), and that of a write completing a
   * record whose effect committed `completingRoomMs` before it.
   */
  function cutCalls(roomMs: number | undefined, completingRoomMs?: number): void {
    if (!deps.callDeadline) return;
    const remaining = roomMs === undefined ? undefined : remainingOf?.();
    if (roomMs === undefined || typeof remaining !== 'number' || !Number.isFinite(remaining)) {
      deps.callDeadline.cutIn(undefined);
      return;
    }
    deps.callDeadline.cutIn(
      remaining - roomMs,
      completingRoomMs === undefined ? undefined : remaining - completingRoomMs,
    );
  }

  /**
   * The records' cut on the calls, when it has passed: the time left of the invocation as the
   * cut counts it (its monotonic clock), at most the records' room. Undefined before it, or
   * without a cut.
   */
  function pastCut(): CutOff | undefined {
    const roomMs = options.callRoom?.recordsMs;
    const untilCut = deps.callDeadline?.untilCut();
    if (roomMs === undefined || untilCut === undefined || untilCut > 0) return undefined;
    return { leftMs: Math.max(0, Math.floor(untilCut + roomMs)), cutRoomMs: roomMs };
  }

  /** The idempotent effect's payload for a delivery: what Powertools keys and validates. */
  function payloadOf(delivery: Delivery): EffectInput {
    return { ...delivery.message, messageId: delivery.messageId };
  }

  /**
   * Whether the record is answered from what this invocation holds, with no DynamoDB call: its
   * order's idempotency record completed earlier in this invocation and is held for the end
   * write (a copy of the message later in the same batch). Such a record runs after the
   * invocation stopped starting records: the cut-offs stop records that would send a call
   * (one past the cut could send none; one after a stall would wait it out), and answering it
   * sends none. Handed back instead, it came back for a receive more, and at its last allowed
   * receive was dead-lettered as not attempted though its order was applied.
   */
  function answeredHeld(slot: Slot): boolean {
    return deps.held?.answersHeld(payloadOf(slot.delivery)) ?? false;
  }

  /**
   * Stops starting records at `from`: it and every later record of the batch without an outcome
   * go back unrun (the batch processor reports each as failed: on FIFO the record's group is
   * skipped as after any failure, and its records behind carry the same reason), but for those
   * answered from a held record (answeredHeld), which still run.
   */
  function stopStarting(from: Slot, cut: CutOff): void {
    cutOff = cut;
    const rest = [...slots.values()].filter(
      (s) => s.index >= from.index && !s.outcome && !answeredHeld(s),
    );
    for (const later of rest) later.notStarted = cut;
    warnQuietly(
      'cutRoomMs' in cut
        ? "records not started: past the cut on a record's DynamoDB calls"
        : 'records not started: too little time left after a DynamoDB call ran out',
      {
        leftMs: cut.leftMs,
        ...('cutRoomMs' in cut ? { cutRoomMs: cut.cutRoomMs } : { recordBudgetMs: cut.budgetMs }),
        notStarted: rest.length,
      },
    );
  }

  function event(
    delivery: Delivery,
    kind: OrderEvent['event'],
    extra: Pick<OrderEvent, 'late' | 'applyIndex' | 'latencyMs'> = {},
  ): OrderEvent {
    const { message } = delivery;
    return {
      event: kind,
      runId: message.runId,
      orderId: message.orderId,
      customerId: message.customerId,
      sequence: message.sequence,
      receiveCount: delivery.receiveCount,
      ...extra,
    };
  }

  async function handleDelivery(slot: Slot, tally?: { sent: number }): Promise<EffectResult> {
    const { delivery } = slot;
    const { message } = delivery;
    // No logger-wide keys (appendKeys): with parallel processing another record's lines would
    // carry them, so each line names its order and run in its own data.
    try {
      const fault = decideFaults(options.faults, message.orderId, delivery.receiveCount);
      if (fault.failure) throw new InjectedFaultError(fault.failure, message.orderId);
      const marker: RunMarker = {
        ran: false,
        refused: false,
        stallMs: fault.delayMs,
        crashAfterEffect: fault.crashAfterEffect,
        late: false,
        receive: {
          ...(slot.receipt.invocationId ? { invocationId: slot.receipt.invocationId } : {}),
          receiveCount: slot.receipt.receiveCount,
        },
      };
      const result = await apply(payloadOf(delivery), marker);
      // The late turn's read ran out of time: the record succeeds, but the next one starts only
      // with the time a record needs after a stall (startsRecord).
      if (marker.readRanOut) callRanOut = true;
      const applied = marker.ran && !marker.refused;
      // From here on the effect has committed (or was answered without applying): its metric and
      // its log line run quietly, as neither may change how the delivery ended.
      const named = { order: message.orderId, run: message.runId };
      if (applied) {
        // The effect committed: it counts now, whatever happens to this delivery afterwards (a
        // later failure is recorded as well, and its retry is answered without applying).
        quietly(logger, 'delivery not counted in the metrics', named, () =>
          metrics?.record(
            event(delivery, 'applied', {
              ...(marker.late ? { late: true } : {}),
              applyIndex: result.applyIndex,
              latencyMs: result.committedAt - message.acceptedAt,
            }),
          ),
        );
      }
      if (fault.failAfterEffect) throw new InjectedFaultError('after-effect', message.orderId);
      const outcome: DeliveryOutcome = applied
        ? { outcome: 'applied', at: now() }
        : { outcome: 'suppressed', suppressedBy: marker.ran ? 'effect' : 'record', at: now() };
      slot.outcome = outcome;
      if (!applied) {
        quietly(logger, 'delivery not counted in the metrics', named, () =>
          metrics?.record(event(delivery, 'suppressed')),
        );
      }
      quietly(logger, 'log line not written', named, () =>
        logger.info('delivery handled', {
          ...named,
          outcome: outcome.outcome,
          ...(outcome.suppressedBy ? { suppressedBy: outcome.suppressedBy } : {}),
          applyIndex: result.applyIndex,
        }),
      );
      return result;
    } catch (err) {
      // A record whose calls were all refused at the cut sent nothing to DynamoDB (its first
      // call, Powertools' IN_PROGRESS put or, idempotency off, the apply turn, came at or past
      // the cut): it never started, whatever ran before that call. It goes back unrun as a
      // record not started does, no attempt and no failed delivery, and so does every later
      // record. One that sent a call and was then cut is a failed attempt, below.
      const cut = tally && tally.sent === 0 && ranOutOfTime(err) ? pastCut() : undefined;
      if (cut) {
        stopStarting(slot, cut);
        slot.notStarted ??= cut;
        throw new RecordNotStartedError(cut);
      }
      if (ranOutOfTime(err)) callRanOut = true;
      // The outcome first: a log line or a metric that throws must not leave the delivery with
      // none (end() would take it for a receive that never ran and drop its receipt) nor replace
      // its error.
      slot.outcome = { outcome: 'failed', at: now() };
      slot.failure = failureOf(delivery, err);
      const named = { order: message.orderId, run: message.runId };
      quietly(logger, 'log line not written', named, () =>
        logger.warn('delivery failed', {
          ...named,
          receiveCount: delivery.receiveCount,
          error: err instanceof Error ? err.message : String(err),
        }),
      );
      quietly(logger, 'delivery not counted in the metrics', named, () =>
        metrics?.record(event(delivery, 'failed')),
      );
      throw err;
    }
  }

  /**
   * After the end write failed: a try of it may still commit (a try given up at the cut, or one
   * that ran out its request timeout, is not aborted), and then the deliveries read as ended
   * though the invocation failed and SQS hands every record back. So each receive that ended
   * other than failed gets a failure of its own saying so (`endGivenUp`, the invocation named),
   * in a write of its own items that a late commit of the end write cannot overwrite: the report
   * takes its redeliveries for retries after a failure, not copies. Cut half way into the end
   * write's room, so the invocation still fails before its deadline; its own failure is only
   * logged (a try given up may commit as well).
   */
  async function markEndGivenUp(error: unknown): Promise<void> {
    const failures: Failure[] = [];
    for (const { delivery, receipt, outcome } of slots.values()) {
      if (!outcome || outcome.outcome === 'failed') continue;
      failures.push({
        ...ledgerFields(delivery),
        failureId: newId(),
        final: delivery.receiveCount >= options.maxReceiveCount,
        ...(receipt.invocationId ? { invocationId: receipt.invocationId } : {}),
        endGivenUp: true,
        error: `EndWriteFailed: the invocation's end write failed, so SQS hands every record of the batch back; a try of it may still commit (${failureText(error)})`,
        failedAt: now(),
      });
    }
    if (failures.length === 0) return;
    const endMs = options.callRoom?.endMs;
    cutCalls(endMs === undefined ? undefined : Math.floor(endMs / 2));
    try {
      await ledger.recordInvocationEnd({ ended: [], unrun: [], failures });
    } catch (markErr) {
      warnQuietly('end write failed, and so did the mark of it', {
        error: markErr instanceof Error ? markErr.message : String(markErr),
      });
    }
  }

  return {
    async begin(received, invocationId, remainingMs) {
      deps.held?.beginInvocation({ hold: deps.holdCompleted ?? true });
      slots = new Map();
      notOrders = new Map();
      remainingOf = remainingMs;
      callRanOut = false;
      cutOff = undefined;
      const receivedAt = now();
      // The deadline the runtime gives this invocation, on the same clock as receivedAt: the
      // report judges a receive that never ended by it, not by the timeout in the repository.
      const remaining = remainingMs?.();
      const deadlineAt =
        typeof remaining === 'number' && Number.isFinite(remaining) && remaining >= 0
          ? receivedAt + Math.round(remaining)
          : undefined;
      // The records' calls (the receipts' write below included) end `recordsMs` before it. The
      // write that completes a record whose effect committed (Powertools' COMPLETED update, sent
      // per record with the effect guard off) ends `endMs` before it, as the end write does:
      // cutting it at `recordsMs` left a committed effect's record IN_PROGRESS, for its
      // redelivery to apply again (adapters/call-deadline.ts).
      cutCalls(options.callRoom?.recordsMs, options.callRoom?.endMs);
      for (const [index, { record, delivery }] of received.entries()) {
        if (delivery instanceof Error) {
          // Not an order: it fails when its turn comes and leaves nothing in the ledger, which
          // has no run to put it in.
          notOrders.set(record, delivery);
          continue;
        }
        slots.set(record, {
          index,
          delivery,
          receipt: {
            ...ledgerFields(delivery),
            receiptId: newId(),
            ...(delivery.sequenceNumber ? { sequenceNumber: delivery.sequenceNumber } : {}),
            sentAt: delivery.sentAt,
            firstReceivedAt: delivery.firstReceivedAt,
            receivedAt,
            ...(deadlineAt !== undefined ? { deadlineAt } : {}),
            ...(invocationId ? { invocationId } : {}),
          },
        });
      }
      // Every receive is in the ledger before any record of the batch runs, so the report sees
      // the duplicates that idempotency hides; one write for the batch.
      await ledger.recordReceipts([...slots.values()].map((slot) => slot.receipt));
    },

    async handle(record) {
      const slot = slots.get(record);
      if (!slot) throw notOrders.get(record) ?? new Error('record was not received in this batch');
      if (!cutOff) {
        const remainingMs = remainingOf?.();
        const budgetMs = options.recordBudgetMs;
        // Past the records' cut no call of a record can be sent: it would only fail, a failed
        // attempt that never reached DynamoDB.
        const past = pastCut();
        if (past) stopStarting(slot, past);
        else if (
          budgetMs !== undefined &&
          remainingMs !== undefined &&
          !startsRecord({ remainingMs, recordBudgetMs: budgetMs, callRanOut })
        ) {
          stopStarting(slot, { leftMs: Math.max(0, Math.round(remainingMs)), budgetMs });
        }
      }
      // A record answered from a held record sends no call: it runs whatever the cut-off.
      if (cutOff && !answeredHeld(slot)) {
        slot.notStarted ??= cutOff;
        throw new RecordNotStartedError(cutOff);
      }
      const { message } = slot.delivery;
      const { callDeadline } = deps;
      // The tries the record's calls send, counted under the cut: one that sent none never
      // started (handleDelivery).
      const tally = { sent: 0 };
      return deps.traceRecord(
        {
          orderId: message.orderId,
          customerId: message.customerId,
          queue,
          receiveCount: slot.delivery.receiveCount,
        },
        () =>
          callDeadline
            ? callDeadline.counting(tally, () => handleDelivery(slot, tally))
            : handleDelivery(slot),
      );
    },

    /**
     * Each delivery's outcome, marked as the end of its invocation. Receives the FIFO processor
     * handed back without running them (an earlier message of their group failed in this batch),
     * and those the invocation did not start (too little time left once a call had run out:
     * startsRecord; or past the records' cut on the calls, where none of theirs could be sent),
     * lose their receipt: the handler never attempted them, so they are no delivery the report
     * counts. SQS counted the receive all the same: each comes back with its
     * ApproximateReceiveCount one higher, and one handed back at its last allowed receive is
     * moved to the DLQ on its next receive without ever having run. That one gets a final
     * failure, marked not attempted, so the ledger says why it is in the DLQ.
     */
    async end() {
      const held = deps.held?.takeHeld() ?? [];
      const end: InvocationEnd = {
        ended: [],
        unrun: [],
        failures: [],
        ...(held.length > 0 ? { held } : {}),
      };
      // The messages of which a receive ran (it is a delivery the ledger keeps).
      const ran = new Set(
        [...slots.values()].filter((s) => s.outcome).map((s) => s.delivery.messageId),
      );
      for (const { delivery, receipt, outcome, failure, notStarted } of slots.values()) {
        if (!outcome) {
          end.unrun.push(receipt);
          if (delivery.receiveCount >= options.maxReceiveCount) {
            // Before the end write: a throwing logger must not keep the outcomes unwritten.
            warnQuietly('delivery not attempted at its last receive', {
              order: delivery.message.orderId,
              run: delivery.message.runId,
              receiveCount: delivery.receiveCount,
            });
            end.failures.push(notAttemptedFailure(delivery, receipt, notStarted));
          } else if (ran.has(delivery.messageId)) {
            // A copy of a message another receive of which ran in this batch (a standard queue
            // may hand one message into one batch twice). The batch response names it failed by
            // its message id (Lambda's itemIdentifier), which both carry, so Lambda deletes
            // neither and both come back: the one that ran too, though it succeeded. Without a
            // trace of this one, the report read that one's next receive as a copy SQS made on
            // its own (queueCopy), where it is a retry of a receive left undeleted.
            end.failures.push(notAttemptedFailure(delivery, receipt, notStarted));
          }
          continue;
        }
        end.ended.push({ receipt, outcome });
        if (failure) end.failures.push(failure);
      }
      // The end write may run until `endMs` before the deadline: a stalled one fails the
      // invocation (every record comes back) before Lambda ends it at its timeout.
      cutCalls(options.callRoom?.endMs);
      try {
        await ledger.recordInvocationEnd(end);
      } catch (err) {
        // The invocation fails, so SQS deletes nothing of the batch and every record comes back;
        // the deliveries stay pending, which the report reads as an invocation that died. The
        // idempotency records held COMPLETED that the write did not take stay IN_PROGRESS until
        // their in-progress expiry (this invocation's deadline): a copy before it is told
        // "already in progress", one after it reruns the function and its effect write is refused.
        // A metrics port that throws leaves neither the mark below unwritten nor the end write's
        // error replaced.
        try {
          for (const { delivery, outcome } of slots.values()) {
            if (outcome && outcome.outcome !== 'failed') metrics?.record(event(delivery, 'failed'));
          }
        } catch (metricsErr) {
          warnQuietly('failed deliveries not counted in the metrics', {
            error: metricsErr instanceof Error ? metricsErr.message : String(metricsErr),
          });
        }
        await markEndGivenUp(err);
        throw err;
      } finally {
        cutCalls(undefined);
      }
    },
  };
}
