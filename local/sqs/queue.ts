import { createHash, hash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { parseJson } from '../../shared/src/json-keys';
import type { Clock } from './clock';
import { errors } from './errors';
import type { FaultConfig, FaultDice } from './faults';
import { MinHeap } from './heap';
import { type MessageAttributeValue, md5Hex, md5OfMessageAttributes } from './md5';

/** AWS limits, from the SQS developer guide's quotas pages. */
export const LIMITS = {
  maxMessageBytes: 1_048_576,
  maxVisibilitySeconds: 43_200,
  maxDelaySeconds: 900,
  maxWaitSeconds: 20,
  maxReceive: 10,
  maxBatchEntries: 10,
  fifoDedupWindowMs: 5 * 60 * 1000,
  receiveAttemptWindowMs: 5 * 60 * 1000,
  purgeIntervalMs: 60 * 1000,
  recreateAfterDeleteMs: 60 * 1000,
  maxMessageAttributes: 10,
  /**
   * Messages a queue holds in flight (received, not deleted, visibility timeout running) before
   * a receive takes no more: "a maximum of approximately 120,000" for a standard queue, where a
   * short poll is answered OverLimit and a long poll no error; "a maximum of 120,000" for a
   * FIFO queue, with no error (SQS Developer Guide, standard and FIFO queue quotas).
   */
  maxInFlightStandard: 120_000,
  maxInFlightFifo: 120_000,
};

export interface StoredMessage {
  /** Internal identity of this copy; a duplicate copy shares messageId but not this. */
  key: number;
  messageId: string;
  body: string;
  md5OfBody: string;
  attributes: Record<string, MessageAttributeValue>;
  md5OfAttributes?: string;
  sentAt: number;
  /**
   * When this queue took it: retention counts from here. The send, and it stays so when a
   * standard queue dead-letters it; a FIFO DLQ and a message move task reset it (see adopt).
   */
  enqueuedAt: number;
  /** Clock time from which the message can be received (delay, then visibility timeout). */
  availableAt: number;
  receiveCount: number;
  firstReceivedAt?: number;
  /** The receipt handle of the latest receive, while that receive holds the message. */
  receipt?: string;
  groupId?: string;
  dedupId?: string;
  sequenceNumber?: string;
  senderId: string;
  deleted: boolean;
  traceHeader?: string;
  /** When the latest receive took it: visibility can reach at most 12 hours past this. */
  receivedAt?: number;
  /** The queue SQS dead-lettered it from (DeadLetterQueueSourceArn). */
  deadLetterSourceArn?: string;
  /** A ChangeMessageVisibility changed the visibility of the latest receive. */
  visibilityChanged?: boolean;
  /**
   * Standard only: every stored copy of this message the duplicate fault made (see receive),
   * this one included, one array shared by all of them; absent while there is one copy. They
   * are one message: counted once (see counts), and merged into one whenever a receive or a move
   * meets one of them while another is receivable too (see mergeCopies).
   */
  copies?: StoredMessage[];
  /**
   * Which of its queue's kept counts (see Queue.tally) this copy is counted in now, if any: of a
   * message's copies one carries the message's count. The queue's own bookkeeping: a message
   * taken in by another queue (adopt) or copied (the duplicate fault) starts uncounted there.
   */
  countedAs?: Counted;
  /**
   * Whether this copy carries its message in the kept number of messages a receive holds (see
   * Queue.heldCount): of a message's copies, the one that carries its count, while any copy is
   * in flight. The queue's own bookkeeping, as countedAs.
   */
  heldCounted?: boolean;
}

/** A kept count (see Queue.tally): none, visible, in flight (NotVisible), delayed. */
type Counted = 0 | 1 | 2 | 3;
const NONE: Counted = 0;
const VISIBLE: Counted = 1;
const NOT_VISIBLE: Counted = 2;
const DELAYED: Counted = 3;

export const QUEUE_ATTRIBUTE_DEFAULTS: Record<string, string> = {
  DelaySeconds: '0',
  MaximumMessageSize: '1048576',
  MessageRetentionPeriod: '345600',
  ReceiveMessageWaitTimeSeconds: '0',
  VisibilityTimeout: '30',
  SqsManagedSseEnabled: 'true',
};

export interface ReceivedCopy {
  message: StoredMessage;
  receipt: string;
}

let nextKey = 1;

/** A bound on the lost deletes a queue remembers: the fault's record must not grow without end. */
const MAX_LOST_DELETES_KEPT = 100_000;

/**
 * A bound on the handles of gone FIFO messages a queue remembers (see `goneHandles`): about 200
 * bytes each, so at most some 2 MB a queue.
 */
const MAX_GONE_HANDLES_KEPT = 10_000;

/**
 * A bound on the ReceiveRequestAttemptIds a FIFO queue remembers (see `attempts`): each holds up
 * to 10 receipt handles, about 1.5 KB, so at most some 30 MB a queue. Within the 5-minute window
 * that is 66 receives a second with an attempt id, for 5 minutes; past it the oldest attempt is
 * forgotten early, and a retry of it is answered as a new receive (as one after its 5 minutes):
 * the messages the first receive took stay in flight until their visibility timeout ends.
 */
export const MAX_RECEIVE_ATTEMPTS_KEPT = 20_000;

/**
 * A delete the surviving-copy fault lost: the message, and the receive whose delete it was (its
 * receive count then). That copy comes back on receive #receiveCount + 1.
 */
export interface LostDelete {
  messageId: string;
  receiveCount: number;
}

/**
 * FIFO: one message group. `list` holds its messages in send order from `start` (those before
 * it are gone); `held` counts its messages in flight (a receive holds them, their visibility
 * timeout runs), which keep the whole group from receives; `queued`: in `availableGroups`.
 */
interface Group {
  readonly id: string;
  /** Order of creation: receives take available groups in it, oldest first. */
  readonly ord: number;
  list: StoredMessage[];
  start: number;
  held: number;
  queued: boolean;
}

/** A message not receivable before `at` (delayed, or in flight), as `timed` holds it. */
interface Timed {
  at: number;
  m: StoredMessage;
}

/**
 * The work a queue did, for tests that count it rather than time it: `visited`, the messages
 * and groups receives, the promotion of due messages and drains looked at; `woken`, the long
 * polls woken.
 */
export interface QueueWork {
  visited: number;
  woken: number;
}

/**
 * One queue: messages in send order, receipts, FIFO dedup and receive-attempt windows.
 *
 * What a receive may take is indexed, so that neither a receive nor a send walks the queue:
 * - `timed`: the messages not receivable before a time (delayed, or in flight), by that time,
 *   in a min-heap. One timer a queue, armed only while a long poll waits, fires at the earliest
 *   and moves the due ones on (`promote`); a receive moves them on first too. An entry whose
 *   message has since changed (deleted, its visibility changed, received again) is stale, and
 *   dropped when it comes up: the message's own `availableAt` is what counts.
 * - standard: `ready`, the receivable messages by key (send order, as the list had them).
 * - FIFO: each group's messages, the count of them in flight, and `availableGroups`, the groups
 *   a receive can take from now (none of theirs in flight, the first one receivable), in order
 *   of the groups' creation.
 * A message that becomes receivable (standard), or a group that becomes available (FIFO), wakes
 * one long poll; a delayed send wakes none. DeleteQueue and close still wake all (`wake()`).
 *
 * Nor do GetQueueAttributes' counts, the in-flight quota or a move task's drain walk it:
 * - `tally`: the messages visible, in flight and delayed, each message (not copy) in one of
 *   them, moved from one to another as it changes state (see `reclassify`; `recount` walks the
 *   messages, for tests); a time that passes
 *   moves it through `timed`, which `counts` and a receive move on first.
 * - `byEnqueue`: the messages by enqueue time, so that those past the retention period go
 *   without a walk (`expireDue`).
 * - `ready`/`inReady` hold FIFO messages too (FIFO receives take from `availableGroups`, not
 *   from it): a move task's drain takes the receivable messages from it, in send order.
 */
export class Queue {
  readonly fifo: boolean;
  readonly arn: string;
  attributes: Record<string, string>;
  readonly tags: Record<string, string> = Object.create(null);
  readonly createdAt: number;
  lastModifiedAt: number;
  private messages: StoredMessage[] = [];
  /** FIFO only: each group's messages in send order (see Group), by group id. */
  private readonly groups = new Map<string, Group>();
  private nextGroupOrd = 0;
  /** FIFO only: groups a receive can take from, by creation order (see Group.queued). */
  private readonly availableGroups = new MinHeap<Group>((a, b) => a.ord < b.ord);
  /** FIFO only: the messages counted in their group's `held`. */
  private readonly heldMessages = new Set<StoredMessage>();
  /** Messages not receivable before a time, by that time (see the class comment). */
  private readonly timed = new MinHeap<Timed>((a, b) => a.at < b.at);
  /**
   * The receivable messages, by key, each at most once (it is in `inReady`). A standard receive
   * takes from it; on a FIFO queue only a drain does (see drainAvailable).
   */
  private readonly ready = new MinHeap<StoredMessage>((a, b) => a.key < b.key);
  private readonly inReady = new Set<StoredMessage>();
  /**
   * Standard only: receivable messages a receive passed over (the reorder or short-poll dice) and
   * woke another long poll for, until one takes them: each does so once, so that two polls whose
   * dice keep passing a message do not wake each other in turn (see receive).
   */
  private readonly passedOn = new WeakSet<StoredMessage>();
  /** The timer that moves on the earliest of `timed` while a long poll waits, and its time. */
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;
  /** While adopt(..., wake = false) runs: what becomes receivable wakes no long poll. */
  private quiet = false;
  /**
   * While a FIFO receive runs: the groups whose availability changed, offered once it is done
   * (a group is visited once a receive, and one it took from is not available yet).
   */
  private deferredOffers: Set<Group> | undefined;
  /** Work counters, for tests (see QueueWork). */
  readonly work: QueueWork = { visited: 0, woken: 0 };
  /** Where the queue reports what a client may want to know (the emulator's log), if anywhere. */
  log: ((msg: string, data?: object) => void) | undefined;
  /**
   * Receive attempt ids forgotten before their window ended (past MAX_RECEIVE_ATTEMPTS_KEPT)
   * since the last line logged about them, and when (queue time) that line was logged.
   */
  private attemptsForgotten = 0;
  private attemptsForgottenLoggedAt = -Infinity;
  private deletedCount = 0;
  /**
   * While a standard receive that may dead-letter runs: the copies moved to this queue's own
   * tail by it (a queue that is its own DLQ), which it does not visit again (see receive).
   */
  private movedHereByReceive: Set<StoredMessage> | undefined;
  private readonly byReceipt = new Map<string, StoredMessage>();
  /**
   * The messages visible, in flight (ApproximateNumberOfMessagesNotVisible, which the in-flight
   * quota reads too) and delayed, by Counted; index 0 unused.
   */
  private readonly tally: [number, number, number, number] = [0, 0, 0, 0];
  /**
   * The messages a receive holds (one of their copies in flight), which the in-flight quota
   * reads. The tally's in-flight count is not it: a message with one copy in flight and another
   * receivable is visible there (as ApproximateNumberOfMessages counts it), and under the
   * duplicate fault every message received leaves such a copy, so a quota read from the tally
   * held none of them: receives at a quota of 2 held 10 messages in flight (found in review).
   */
  private heldCount = 0;
  /** The messages by enqueue time (deleted ones go when met): retention ends in this order. */
  private readonly byEnqueue = new MinHeap<StoredMessage>((a, b) => a.enqueuedAt < b.enqueuedAt);
  /**
   * FIFO only: the messages not deleted, by key (a receipt handle names its message's key), so a
   * handle of an earlier receive of a message still in the queue is told from one of a message
   * that is gone. Bounded by the messages the queue holds.
   */
  private readonly liveByKey = new Map<number, StoredMessage>();
  /**
   * FIFO only: for a message gone from the queue (deleted, dead-lettered, moved, past its
   * retention; not purged, see purge) after a receive, by key: the handle of its latest receive
   * and the end of that receive's visibility timeout, so a delete through an older handle, or
   * through that one once its timeout has passed, is refused as expired, as when the message is
   * still here. Kept in order of going, until the message's retention would have ended or for
   * the latest MAX_GONE_HANDLES_KEPT; a handle of one forgotten is answered success, as before.
   */
  private readonly goneHandles = new Map<
    number,
    { receipt: string; heldUntil: number; forgetAt: number }
  >();
  /**
   * Deletes the surviving-copy fault lost (a test's evidence that a copy came back by the fault,
   * not by a consumer that never deleted), oldest first, at most MAX_LOST_DELETES_KEPT.
   */
  private readonly lostDeleteList: LostDelete[] = [];
  private readonly dedup = new Map<
    string,
    { messageId: string; sequenceNumber?: string; expiresAt: number }
  >();
  /**
   * FIFO ReceiveRequestAttemptId: the receipt handles each attempt returned, for its 5-minute
   * window. Handles only, not the messages: the messages are found again through `byReceipt`,
   * which lets go of them once they are deleted or received again, so an attempt holds no body.
   */
  private readonly attempts = new Map<string, { receipts: string[]; expiresAt: number }>();
  /** The sequence number's high part (set from the creation time) and its low part (a counter). */
  private sequenceHigh = 0;
  private sequenceLow = 0;
  lastPurgeAt = -Infinity;
  /** Long polls waiting for a message on this queue. */
  readonly waiters = new Set<() => void>();
  /** The key that signs the receipt handles this queue issues: 256 bits of the CSPRNG (see sign). */
  private readonly handleSecret = randomBytes(32).toString('base64url');

  constructor(
    readonly name: string,
    attributes: Record<string, string>,
    readonly accountId: string,
    readonly region: string,
    private readonly clock: Clock,
  ) {
    this.fifo = name.endsWith('.fifo');
    this.arn = `arn:aws:sqs:${region}:${accountId}:${name}`;
    this.attributes = {
      ...QUEUE_ATTRIBUTE_DEFAULTS,
      ...(this.fifo
        ? {
            FifoQueue: 'true',
            ContentBasedDeduplication: 'false',
            DeduplicationScope: 'queue',
            FifoThroughputLimit: 'perQueue',
          }
        : {}),
      ...attributes,
    };
    if (!this.fifo) delete this.attributes.FifoQueue;
    this.createdAt = clock.now();
    this.lastModifiedAt = this.createdAt;
    this.sequenceHigh = Math.min(9_999_999_999_999, Math.max(0, Math.floor(this.createdAt)));
  }

  num(name: string): number {
    return Number(this.attributes[name] ?? QUEUE_ATTRIBUTE_DEFAULTS[name] ?? 0);
  }

  private parsedRedrive?: {
    raw: string;
    policy: { deadLetterTargetArn: string; maxReceiveCount: number };
  };

  redrivePolicy(): { deadLetterTargetArn: string; maxReceiveCount: number } | undefined {
    const raw = this.attributes.RedrivePolicy;
    if (!raw) return undefined;
    // Every receive asks; parsed again only when SetQueueAttributes changed the text.
    if (this.parsedRedrive?.raw !== raw) {
      // Read as SetQueueAttributes read it when it took the text (parseJson: attributes.ts).
      const p = parseJson(raw) as {
        deadLetterTargetArn: string;
        maxReceiveCount: number | string;
      };
      this.parsedRedrive = {
        raw,
        policy: {
          deadLetterTargetArn: p.deadLetterTargetArn,
          maxReceiveCount: Number(p.maxReceiveCount),
        },
      };
    }
    return this.parsedRedrive.policy;
  }

  /**
   * Wakes up to `count` long polls, the longest waiting first (all by default: DeleteQueue,
   * close). A woken one leaves `waiters`; it adds itself again if it waits again.
   */
  wake(count = Infinity): void {
    if (this.waiters.size === 0) return;
    // Not a copy of the set for one (a send with 400 polls waiting copied all 400): a Set's
    // iteration allows deleting the entry it is at.
    for (const w of count === Infinity ? [...this.waiters] : this.waiters) {
      if (count-- <= 0) break;
      this.removeWaiter(w);
      this.work.woken++;
      w();
    }
  }

  /** A long poll waits on this queue: `wake` calls `w` once something may be receivable. */
  addWaiter(w: () => void): void {
    this.waiters.add(w);
    this.armTimer();
  }

  removeWaiter(w: () => void): void {
    this.waiters.delete(w);
    if (this.waiters.size === 0 && this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Infinity;
    }
  }

  /** One long poll, unless adopt was told not to (see `quiet`). */
  private signal(): void {
    if (!this.quiet) this.wake(1);
  }

  /**
   * Sets the queue's one timer for the earliest message not yet receivable, while a long poll
   * waits (without one, the next receive moves the due ones on itself). `timerAt` is in real
   * time, so a clock.advance since (the queue's time jumped, the timer's did not) sets it again.
   */
  private armTimer(): void {
    if (this.waiters.size === 0) return;
    const next = this.timed.peek();
    if (!next) return;
    const delay = Math.max(0, next.at - this.clock.now());
    const at = Date.now() + delay;
    if (this.timer !== undefined && this.timerAt <= at) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.promote(this.clock.now());
      this.armTimer();
    }, delay);
    this.timer.unref?.();
  }

  /** Moves on every message whose time in `timed` has come. */
  private promote(now: number): void {
    for (let next = this.timed.peek(); next && next.at <= now; next = this.timed.peek()) {
      this.timed.pop();
      this.work.visited++;
      if (!next.m.deleted && next.m.availableAt === next.at) this.place(next.m, now);
    }
  }

  /**
   * Indexes a message after its availableAt was set (send, adopt, receive, visibility change,
   * a replayed attempt): not yet receivable, into `timed`; receivable, into `ready` or its
   * group's availability, waking one long poll.
   */
  private place(m: StoredMessage, now: number): void {
    this.reclassify(m, now);
    if (m.availableAt > now) {
      this.timed.push({ at: m.availableAt, m });
      // Stale entries (visibility changed, deleted in flight) go once they are half the heap.
      if (
        this.timed.size > 4096 &&
        this.timed.size > 2 * (this.messages.length - this.deletedCount)
      )
        this.timed.retain((t) => !t.m.deleted && t.m.availableAt === t.at);
      const g = this.fifo && m.receiveCount > 0 ? this.groups.get(m.groupId ?? '') : undefined;
      // Every FIFO message not deleted has its group's record (a record goes only with its last
      // message). Without one, the message would hold nothing and its group's next message go
      // out of order: an internal error (a 500 InternalError and a log line), not a silent one.
      if (this.fifo && m.receiveCount > 0 && !g)
        throw new Error(`FIFO message ${m.messageId} in flight without a record of its group`);
      if (g && !this.heldMessages.has(m)) {
        this.heldMessages.add(m);
        g.held++;
      }
      this.armTimer();
      return;
    }
    if (this.fifo) {
      const g = this.groups.get(m.groupId ?? '');
      if (!g) return;
      if (this.heldMessages.delete(m)) g.held--;
      if (!this.inReady.has(m)) {
        this.inReady.add(m);
        this.ready.push(m);
      }
      this.offerGroup(g, now);
      return;
    }
    if (this.inReady.has(m)) return;
    this.inReady.add(m);
    this.ready.push(m);
    this.signal();
  }

  /**
   * Takes a receivable message out of `ready` (a receive took it, or it is gone): its entry
   * there goes when popped, or with the others once they are half the heap.
   */
  private leaveReady(m: StoredMessage): void {
    if (this.inReady.delete(m) && this.ready.size > 4096 && this.ready.size > 2 * this.inReady.size)
      this.ready.retain((x) => this.inReady.has(x));
  }

  /**
   * Moves `m` (all its copies, if it has any) into the kept count its state says now. Called
   * whenever that may have changed: place (every change of availableAt, and a time passed) and
   * markDeleted.
   */
  private reclassify(m: StoredMessage, now: number): void {
    if (m.copies) {
      // One message: counted at its first copy still here, visible while any copy is, else in
      // flight (a copy exists only once the message was received).
      let holder: StoredMessage | undefined;
      let visible = false;
      for (const c of m.copies) {
        if (c.deleted) continue;
        holder ??= c;
        if (c.availableAt <= now) visible = true;
      }
      let held = false;
      for (const c of m.copies) if (!c.deleted && c.availableAt > now) held = true;
      for (const c of m.copies) {
        if (c === holder) continue;
        this.setCounted(c, NONE);
        this.setHeld(c, false);
      }
      if (holder) {
        this.setCounted(holder, visible ? VISIBLE : NOT_VISIBLE);
        this.setHeld(holder, held);
      }
      return;
    }
    this.setHeld(m, !m.deleted && m.availableAt > now && m.receiveCount > 0);
    this.setCounted(
      m,
      m.deleted
        ? NONE
        : m.availableAt <= now
          ? VISIBLE
          : m.receiveCount > 0
            ? NOT_VISIBLE
            : DELAYED,
    );
  }

  private setHeld(m: StoredMessage, held: boolean): void {
    if ((m.heldCounted ?? false) === held) return;
    this.heldCount += held ? 1 : -1;
    m.heldCounted = held;
  }

  private setCounted(m: StoredMessage, to: Counted): void {
    const from = m.countedAs ?? NONE;
    if (from === to) return;
    this.tally[from]--;
    this.tally[to]++;
    m.countedAs = to;
  }

  /**
   * FIFO: puts a group in `availableGroups` if a receive can take from it now (none of its
   * messages in flight, its first one receivable), and wakes one long poll for it.
   */
  private offerGroup(g: Group, now: number): void {
    if (this.deferredOffers) {
      this.deferredOffers.add(g);
      return;
    }
    if (g.queued || this.groups.get(g.id) !== g || !this.trimGroup(g) || g.held > 0) return;
    if (g.list[g.start]!.availableAt > now) return;
    g.queued = true;
    this.availableGroups.push(g);
    this.signal();
  }

  /**
   * FIFO: moves a group's start past its gone messages; a group with none left is removed
   * (false). Its list is cut once more than half of it is gone.
   */
  private trimGroup(g: Group): boolean {
    const list = g.list;
    while (g.start < list.length && list[g.start]!.deleted) g.start++;
    if (g.start === list.length) {
      if (this.groups.get(g.id) === g) this.groups.delete(g.id);
      g.list = [];
      g.start = 0;
      return false;
    }
    if (g.start > 1024 && g.start * 2 > list.length) {
      g.list = list.slice(g.start);
      g.start = 0;
    }
    return true;
  }

  /** Enqueues; for FIFO returns the original message id when the dedup window holds the id. */
  send(input: {
    body: string;
    attributes: Record<string, MessageAttributeValue>;
    delaySeconds?: number;
    groupId?: string;
    dedupId?: string;
    senderId: string;
    traceHeader?: string;
  }): { messageId: string; md5OfBody: string; md5OfAttributes?: string; sequenceNumber?: string } {
    const now = this.clock.now();
    const md5OfBody = md5Hex(input.body);
    const md5OfAttributes = Object.keys(input.attributes).length
      ? md5OfMessageAttributes(input.attributes)
      : undefined;
    let dedupId = input.dedupId;
    let sequenceNumber: string | undefined;
    if (this.fifo) {
      if (!dedupId) {
        if (this.attributes.ContentBasedDeduplication !== 'true') {
          throw errors.invalidParameter(
            'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
          );
        }
        dedupId = createHash('sha256').update(input.body).digest('hex');
      }
      const scopeKey =
        this.attributes.DeduplicationScope === 'messageGroup'
          ? `${input.groupId}\u0000${dedupId}`
          : dedupId;
      const seen = this.dedup.get(scopeKey);
      if (seen && seen.expiresAt > now) {
        // AWS accepts the duplicate send and answers with the original message's id, but does not
        // enqueue it again: the 5-minute window holds even after the first copy was deleted.
        return {
          messageId: seen.messageId,
          md5OfBody,
          ...(md5OfAttributes ? { md5OfAttributes } : {}),
          ...(seen.sequenceNumber ? { sequenceNumber: seen.sequenceNumber } : {}),
        };
      }
      sequenceNumber = this.nextSequenceNumber();
      const messageId = randomUUID();
      this.dedup.set(scopeKey, {
        messageId,
        sequenceNumber,
        expiresAt: now + LIMITS.fifoDedupWindowMs,
      });
      if (this.dedup.size > 10_000 && this.dedup.size % 1000 === 0) this.sweepDedup(now);
      this.push(input, messageId, md5OfBody, md5OfAttributes, now, dedupId, sequenceNumber);
      return {
        messageId,
        md5OfBody,
        ...(md5OfAttributes ? { md5OfAttributes } : {}),
        sequenceNumber,
      };
    }
    const messageId = randomUUID();
    this.push(input, messageId, md5OfBody, md5OfAttributes, now);
    return { messageId, md5OfBody, ...(md5OfAttributes ? { md5OfAttributes } : {}) };
  }

  /**
   * SQS sequence numbers are 20-digit decimal strings that "continue to increase for a particular
   * MessageGroupId" (SendMessage, API reference). Ours are 10^19 + the queue's creation time in ms
   * x 10^6 + a per-queue counter, built as a string (no BigInt per send). The creation time is
   * there so that a queue created again under the same name (the local cloud restarted on its
   * data directory: the emulator keeps queues in memory) numbers above the one it replaces, and
   * one customer's sends stay in order across it. After 10^6 sends the counter carries into the
   * time part, which still only grows.
   */
  private nextSequenceNumber(): string {
    this.sequenceLow += 1;
    if (this.sequenceLow >= 1_000_000) {
      this.sequenceHigh += 1;
      this.sequenceLow = 0;
    }
    return `1${String(this.sequenceHigh).padStart(13, '0')}${String(this.sequenceLow).padStart(6, '0')}`;
  }

  private sweepDedup(now: number): void {
    for (const [k, v] of this.dedup) if (v.expiresAt <= now) this.dedup.delete(k);
  }

  private push(
    m: {
      body: string;
      attributes: Record<string, MessageAttributeValue>;
      delaySeconds?: number;
      groupId?: string;
      senderId: string;
      traceHeader?: string;
    },
    messageId: string,
    md5OfBody: string,
    md5OfAttributes: string | undefined,
    now: number,
    dedupId?: string,
    sequenceNumber?: string,
  ): void {
    const delay = m.delaySeconds ?? this.num('DelaySeconds');
    const stored: StoredMessage = {
      key: nextKey++,
      messageId,
      body: m.body,
      md5OfBody,
      attributes: m.attributes,
      sentAt: now,
      enqueuedAt: now,
      availableAt: now + delay * 1000,
      receiveCount: 0,
      senderId: m.senderId,
      deleted: false,
    };
    // Optional fields are set only when present (not spread in), as the stored shape has always
    // had them: absent rather than undefined.
    if (md5OfAttributes) stored.md5OfAttributes = md5OfAttributes;
    if (m.groupId !== undefined) stored.groupId = m.groupId;
    if (dedupId !== undefined) stored.dedupId = dedupId;
    if (sequenceNumber !== undefined) stored.sequenceNumber = sequenceNumber;
    if (m.traceHeader !== undefined) stored.traceHeader = m.traceHeader;
    this.messages.push(stored);
    this.byEnqueue.push(stored);
    if (this.fifo) {
      this.groupOf(stored).list.push(stored);
      this.liveByKey.set(stored.key, stored);
    }
    this.place(stored, now);
  }

  private groupOf(m: StoredMessage): Group {
    const id = m.groupId ?? '';
    let g = this.groups.get(id);
    if (!g) {
      g = { id, ord: this.nextGroupOrd++, list: [], start: 0, held: 0, queued: false };
      this.groups.set(id, g);
    }
    return g;
  }

  /**
   * Puts an existing message at the tail of this queue, as SQS moves one:
   * - `dead-letter`: past maxReceiveCount. It keeps its id and receive count. A standard DLQ keeps
   *   its enqueue time, so its retention still counts from the send; a FIFO DLQ resets it and
   *   replaces its deduplication id with its message id ("For FIFO queues, the enqueue timestamp
   *   resets when the message is moved to a dead-letter queue"; "the original message's
   *   deduplication ID will be replaced with the original message's ID", SQS Developer Guide).
   * - `redrive`: a message move task. A new message: "All redriven messages are considered new
   *   messages with a new messageID and enqueueTime" and "The redrive task resets the retention
   *   period" (SQS Developer Guide, dead-letter queue redrive); its receive count starts again.
   * - `return`: a move that could not finish puts it back as it was.
   * A FIFO queue gives a message it takes in (not one returned) a sequence number of its own, after
   * what it already holds.
   * `wake`: wake this queue's long polls, as a send does; not for a message no receive here would
   * deliver (see moveToDlq in actions/receive.ts).
   */
  adopt(message: StoredMessage, how: 'dead-letter' | 'redrive' | 'return', wake = true): void {
    const now = this.clock.now();
    const copy: StoredMessage = { ...message, key: nextKey++, availableAt: now, deleted: false };
    delete copy.receipt;
    // One message in its new queue: copies left behind in flight are the old queue's.
    delete copy.copies;
    delete copy.countedAs;
    delete copy.heldCounted;
    if (how === 'redrive') {
      copy.messageId = randomUUID();
      copy.enqueuedAt = now;
      copy.receiveCount = 0;
      delete copy.firstReceivedAt;
    }
    if (how === 'dead-letter' && this.fifo) {
      copy.enqueuedAt = now;
      copy.dedupId = copy.messageId;
    }
    if (this.fifo && (how !== 'return' || copy.sequenceNumber === undefined)) {
      copy.sequenceNumber = this.nextSequenceNumber();
    }
    this.movedHereByReceive?.add(copy);
    this.messages.push(copy);
    this.byEnqueue.push(copy);
    if (this.fifo) {
      this.groupOf(copy).list.push(copy);
      this.liveByKey.set(copy.key, copy);
    }
    this.quiet = !wake;
    try {
      this.place(copy, now);
    } finally {
      this.quiet = false;
    }
  }

  /**
   * `release`: let go of the body and attributes now, rather than when the queue next compacts
   * (after 1,024 deletes and half the queue). Only a move keeps them: it hands the message on.
   * `remember`: keep the latest handle of a FIFO message that was received (see goneHandles);
   * not for a purge.
   */
  private markDeleted(m: StoredMessage, release = true, remember = true): void {
    if (m.deleted) return;
    m.deleted = true;
    if (release) {
      m.body = '';
      m.attributes = {};
    }
    if (m.receipt) this.byReceipt.delete(m.receipt);
    const now = this.clock.now();
    this.reclassify(m, now);
    this.leaveReady(m);
    if (this.fifo) {
      this.liveByKey.delete(m.key);
      if (m.receipt && remember) this.rememberGone(m, m.receipt);
      // Its group may be available now: it was in flight, or the group's first message.
      const g = this.groups.get(m.groupId ?? '');
      if (g) {
        if (this.heldMessages.delete(m)) g.held--;
        this.offerGroup(g, now);
      }
    }
    this.deletedCount++;
    if (
      this.byEnqueue.size > 4096 &&
      this.byEnqueue.size > 2 * (this.messages.length - this.deletedCount)
    )
      this.byEnqueue.retain((x) => !x.deleted);
    if (this.deletedCount > 1024 && this.deletedCount * 2 > this.messages.length) {
      this.messages = this.messages.filter((x) => !x.deleted);
      this.deletedCount = 0;
    }
  }

  private rememberGone(m: StoredMessage, receipt: string): void {
    const now = this.clock.now();
    for (const [key, gone] of this.goneHandles) {
      if (this.goneHandles.size < MAX_GONE_HANDLES_KEPT && gone.forgetAt > now) break;
      this.goneHandles.delete(key);
    }
    this.goneHandles.set(m.key, {
      receipt,
      heldUntil: m.availableAt,
      forgetAt: m.enqueuedAt + this.num('MessageRetentionPeriod') * 1000,
    });
  }

  private expireRetention(m: StoredMessage, now: number): boolean {
    if (now - m.enqueuedAt >= this.num('MessageRetentionPeriod') * 1000) {
      this.markDeleted(m);
      return true;
    }
    return false;
  }

  /**
   * ApproximateNumberOfMessages, ...NotVisible and ...Delayed: the kept counts, once the times
   * that have come are moved on and the messages past the retention period gone. Messages, not
   * copies (see StoredMessage.copies). O(what changed since), not a walk of the queue.
   */
  counts(): { visible: number; notVisible: number; delayed: number } {
    const now = this.clock.now();
    this.promote(now);
    this.expireDue(now);
    return {
      visible: this.tally[VISIBLE],
      notVisible: this.tally[NOT_VISIBLE],
      delayed: this.tally[DELAYED],
    };
  }

  /**
   * The counts by a walk of the queue's messages, with what `counts` keeps: for tests, which
   * check the kept ones against it. Changes nothing (a message past the retention period is not
   * counted, and stays until `counts` or a receive lets it go).
   */
  recount(): { visible: number; notVisible: number; delayed: number } {
    const now = this.clock.now();
    const retentionMs = this.num('MessageRetentionPeriod') * 1000;
    const gone = (m: StoredMessage) => m.deleted || now - m.enqueuedAt >= retentionMs;
    let visible = 0;
    let notVisible = 0;
    let delayed = 0;
    for (const m of this.messages) {
      if (gone(m)) continue;
      if (m.copies) {
        if (m.copies.find((c) => !gone(c)) !== m) continue;
        if (m.copies.some((c) => !gone(c) && c.availableAt <= now)) visible++;
        else notVisible++;
        continue;
      }
      if (m.availableAt <= now) visible++;
      else if (m.receiveCount > 0) notVisible++;
      else delayed++;
    }
    return { visible, notVisible, delayed };
  }

  /**
   * How many messages receives hold now (one of their copies in flight), as the in-flight quota
   * counts them (see heldCount); for tests, with `recountHeld`, the same by a walk.
   */
  held(): number {
    const now = this.clock.now();
    this.promote(now);
    this.expireDue(now);
    return this.heldCount;
  }

  recountHeld(): number {
    const now = this.clock.now();
    const retentionMs = this.num('MessageRetentionPeriod') * 1000;
    const gone = (m: StoredMessage) => m.deleted || now - m.enqueuedAt >= retentionMs;
    let held = 0;
    for (const m of this.messages) {
      if (gone(m)) continue;
      if (m.copies) {
        if (m.copies.find((c) => !gone(c)) !== m) continue;
        if (m.copies.some((c) => !gone(c) && c.availableAt > now)) held++;
        continue;
      }
      if (m.availableAt > now && m.receiveCount > 0) held++;
    }
    return held;
  }

  /**
   * Lets go of every message past the retention period ("Amazon SQS automatically deletes
   * messages left in a queue longer than the retention period", DeleteMessage, API reference),
   * oldest first, through `byEnqueue`: O(those, and the deleted entries met).
   */
  private expireDue(now: number): void {
    const cutoff = now - this.num('MessageRetentionPeriod') * 1000;
    for (let m = this.byEnqueue.peek(); m && m.enqueuedAt <= cutoff; m = this.byEnqueue.peek()) {
      this.byEnqueue.pop();
      this.work.visited++;
      if (!m.deleted) this.markDeleted(m);
    }
  }

  /** Earliest future availableAt (the queue's own timer wakes a long poll then). */
  nextAvailableAt(): number | undefined {
    this.promote(this.clock.now());
    for (let next = this.timed.peek(); next; next = this.timed.peek()) {
      if (!next.m.deleted && next.m.availableAt === next.at) return next.at;
      this.timed.pop();
    }
    return undefined;
  }

  /**
   * How many more messages receives may hold in flight before `limit`: messages, not copies, so
   * a message whose copy (the duplicate fault) is in flight too takes one place, not two: AWS's
   * quota is of "in-flight messages" (SQS Developer Guide, quotas). A message a receive holds
   * counts while another copy of it is receivable too (see heldCount). A copy whose delete the
   * surviving-copy fault lost stays in flight until its timeout, and counts. A message past the
   * retention period is gone, in flight or not (see expireDue). The kept count, once due times
   * are moved on: no walk of the handles in flight, which a receive near the quota had done.
   */
  private inFlightRoom(limit: number, now: number): number {
    if (limit === Infinity) return Infinity;
    this.promote(now);
    this.expireDue(now);
    return limit - this.heldCount;
  }

  /**
   * Takes up to `max` messages. `moveToDlq` is called for a message that has already been
   * received maxReceiveCount times: SQS moves it to the DLQ instead of returning it.
   */
  receive(opts: {
    max: number;
    visibilityTimeout: number;
    shortPoll: boolean;
    attemptId?: string;
    faults: FaultConfig;
    dice: FaultDice;
    moveToDlq?: (m: StoredMessage) => boolean;
    /** In-flight messages past which this receive takes none (see LIMITS.maxInFlightStandard). */
    maxInFlight?: number;
  }): ReceivedCopy[] {
    const now = this.clock.now();
    if (this.fifo) this.expireAttempts(now);
    if (this.fifo && opts.attemptId) {
      const prior = this.attempts.get(opts.attemptId);
      if (prior && prior.expiresAt > now) {
        // ReceiveRequestAttemptId: a retried receive within 5 minutes gets the same messages and
        // handles. "If a retry occurs within the deduplication interval, it resets the visibility
        // timeout", and "It is possible to retry the ReceiveMessage action with the same
        // ReceiveRequestAttemptId if none of the messages have been modified (deleted or had
        // their visibility changes)" (ReceiveMessage, API reference). Otherwise AWS refuses the
        // retry: "Value <id> for parameter ReceiveRequestAttemptId is invalid. Reason: The
        // receiveRequestAttemptId is not valid anymore since the receive call is not retryable."
        // (quoted by an AWS SDK maintainer, aws/aws-sdk-java#2613). A message received again
        // (its visibility ran out) or whose visibility ran out is not documented either way: a
        // new receive follows, as before.
        const copies: ReceivedCopy[] = [];
        let modified = false;
        for (const receipt of prior.receipts) {
          const m = this.byReceipt.get(receipt);
          // One past the queue's retention period is gone (deleted: expireRetention takes it out
          // of liveByKey, so below it counts as modified); it had been answered again.
          if (m && !m.deleted && !this.expireRetention(m, now) && m.receipt === receipt) {
            if (m.visibilityChanged) modified = true;
            else if (m.availableAt > now) copies.push({ message: m, receipt });
          } else if (!this.liveByKey.has(this.keyOf(receipt))) {
            modified = true; // deleted (or gone to the DLQ, with its retention, by a purge)
          }
        }
        if (modified) {
          throw errors.invalidValue(
            'ReceiveRequestAttemptId',
            opts.attemptId,
            'The receiveRequestAttemptId is not valid anymore since the receive call is not retryable.',
          );
        }
        if (copies.length === prior.receipts.length) {
          for (const { message } of copies) {
            message.availableAt = now + opts.visibilityTimeout * 1000;
            this.place(message, now);
          }
          return copies;
        }
      }
    }
    const max = Math.min(opts.max, this.inFlightRoom(opts.maxInFlight ?? Infinity, now));
    if (max <= 0) {
      // At the quota: "If you reach this quota while using short polling, Amazon SQS returns the
      // OverLimit error message. If you use long polling, Amazon SQS returns no error messages"
      // (standard queue quotas); a FIFO queue "does not return an error" (FIFO queue quotas).
      if (!this.fifo && opts.shortPoll) throw errors.inFlightOverLimit();
      return [];
    }
    this.promote(now);
    const policy = this.redrivePolicy();
    const taken: ReceivedCopy[] = [];
    // Each message taken is indexed again (place) once the receive is done, not while it runs:
    // one with visibility timeout 0 is receivable at once, and the receive would meet it again.
    const take = (m: StoredMessage): boolean => {
      if (m.copies) this.mergeCopies(m, now);
      if (policy && opts.moveToDlq && m.receiveCount >= policy.maxReceiveCount) {
        if (opts.moveToDlq(m)) {
          // The message moves, once: its copies still here (in flight with other receives, or
          // made since) go with it rather than reach maxReceiveCount in turn and be moved
          // again. A receive count is the message's ("the number of times a message has been
          // received across all queues but not deleted", ApproximateReceiveCount, ReceiveMessage
          // API reference), and SQS "moves the message" when it exceeds maxReceiveCount (SQS
          // Developer Guide, dead-letter queues). A delete through a copy's handle is then
          // success, as for any message gone from a standard queue.
          const copies = m.copies;
          this.markDeleted(m);
          if (copies) for (const c of copies) this.markDeleted(c);
          return false;
        }
      }
      if (m.receipt) this.byReceipt.delete(m.receipt);
      this.leaveReady(m);
      m.receiveCount++;
      if (m.firstReceivedAt === undefined) m.firstReceivedAt = now;
      m.receivedAt = now;
      delete m.visibilityChanged;
      m.receipt = this.issueHandle(m.key);
      m.availableAt = now + opts.visibilityTimeout * 1000;
      this.byReceipt.set(m.receipt, m);
      taken.push({ message: m, receipt: m.receipt });
      return true;
    };

    if (this.fifo) {
      // A group is blocked while any of its messages is in flight; a receive fills its batch from
      // one group, oldest first, before moving to the next group. Only the available groups are
      // visited (see offerGroup), each once: a receive costs O(groups taken from + batch).
      const visited = new Set<Group>();
      this.deferredOffers = visited;
      try {
        while (taken.length < max) {
          const g = this.availableGroups.pop();
          if (!g) break;
          this.work.visited++;
          g.queued = false;
          if (this.groups.get(g.id) !== g) continue;
          visited.add(g);
          // Past the gone messages and those past the retention period at the group's front.
          let live = this.trimGroup(g);
          while (live && this.expireRetention(g.list[g.start]!, now)) live = this.trimGroup(g);
          if (this.groups.get(g.id) !== g || g.held > 0) continue;
          // The messages of the group's list now: a copy this receive dead-letters into this
          // very queue (its own DLQ) goes to the list's tail, and is not met again.
          const list = g.list;
          const end = list.length;
          for (let i = g.start; i < end && taken.length < max; i++) {
            const m = list[i]!;
            this.work.visited++;
            if (m.deleted) continue;
            // Not yet receivable (delayed): it and the messages after it wait.
            if (m.availableAt > now) break;
            // A message past maxReceiveCount goes to the DLQ instead of to this receive; the
            // next one is the group's first now, and this receive may take it: "Amazon SQS
            // moves the message to the dead-letter queue" once its receive count "exceeds the
            // maxReceiveCount" (SQS Developer Guide, dead-letter queues), and a FIFO receive
            // "returns as many messages with the same message group ID as possible" (AWS
            // Knowledge Center, "Why are some messages in my FIFO queue not returned"). The
            // receive had ended the group there, and its next message waited for a later one.
            take(m);
          }
        }
      } finally {
        this.deferredOffers = undefined;
      }
      for (const c of taken) this.place(c.message, now);
      for (const g of visited) this.offerGroup(g, now);
      // An empty answer is not an attempt to replay: the id lets a retry after a networking issue
      // get "the same set of messages" (ReceiveMessage, API reference), and an empty receive has
      // none. Recorded, it answered every later pass of a long poll with that id (each wake-up
      // receives again with it) and every retry for 5 minutes with that empty set, while the
      // messages that came stayed in the queue (found in review).
      if (opts.attemptId && taken.length > 0) this.rememberAttempt(opts.attemptId, taken, now);
      return taken;
    }

    if (opts.shortPoll && opts.dice.roll('falseEmptyRate', opts.faults.falseEmptyRate))
      return taken;
    // On a queue that is its own DLQ, a message past maxReceiveCount moves to this queue's own
    // tail: the receive met the copy again and moved it again, in the same millisecond (later
    // ones are past `now`), or until the list compacted (found in review). Once a receive.
    const movedHere = opts.moveToDlq ? new Set<StoredMessage>() : undefined;
    this.movedHereByReceive = movedHere;
    // Receivable messages this receive passed over (the dice, a copy it moved here): they stay
    // receivable, and go back into `ready` once it is done.
    const passed: StoredMessage[] = [];
    // Long polls to wake for the messages the dice passed over: the wake a message's placing spent
    // may be this very receive's, and the other polls looked again only within a second (p90 of
    // a receive with the demo preset 118 ms, max 944 ms, against 19 and 47 ms when a send woke
    // all; found in review).
    let wakeFor = 0;
    try {
      // In key order, which is the order of the queue's list: the dice roll for the same
      // messages in the same order as when the receive walked the list.
      while (taken.length < max) {
        const m = this.ready.pop();
        if (!m) break;
        this.work.visited++;
        if (!this.inReady.has(m)) continue; // deleted while receivable
        if (m.deleted || m.availableAt > now) {
          this.inReady.delete(m);
          continue;
        }
        if (movedHere?.has(m) || this.expireRetention(m, now)) {
          if (!m.deleted) passed.push(m);
          continue;
        }
        if (
          opts.dice.roll('reorderRate', opts.faults.reorderRate) ||
          (opts.shortPoll && opts.dice.roll('shortPollSkipRate', opts.faults.shortPollSkipRate))
        ) {
          passed.push(m);
          if (!this.passedOn.has(m)) {
            this.passedOn.add(m);
            wakeFor++;
          }
          continue;
        }
        this.inReady.delete(m);
        this.passedOn.delete(m);
        if (!take(m)) continue;
        if (opts.dice.roll('duplicateRate', opts.faults.duplicateRate)) {
          // Another host's copy did not get the in-flight mark: it stays receivable now. That
          // host never saw this receive, so its copy counts its own receives from 0 (received
          // next with ApproximateReceiveCount 1, a count that is approximate on AWS for this
          // very reason): inheriting the count would make a copy look like a retry and let
          // copies spend an applied order's maxReceiveCount until one is dead-lettered. It is
          // the same message (see StoredMessage.copies): a duplicate delivery when received
          // while this receive holds the message or after its delete, none once merged back.
          m.copies ??= [m];
          const ghost: StoredMessage = { ...m, key: nextKey++, availableAt: now, receiveCount: 0 };
          delete ghost.receipt;
          delete ghost.firstReceivedAt;
          delete ghost.countedAs;
          delete ghost.heldCounted;
          m.copies.push(ghost);
          this.messages.push(ghost);
          this.byEnqueue.push(ghost);
          this.place(ghost, now);
        }
      }
    } finally {
      this.movedHereByReceive = undefined;
    }
    for (const m of passed) this.ready.push(m);
    for (const c of taken) this.place(c.message, now);
    if (wakeFor > 0) this.wake(wakeFor);
    return taken;
  }

  /**
   * The duplicate fault's other copies of `m` that are receivable now, as `m` is, go into it: no
   * receive holds any of them, so the host that missed a receive's in-flight mark agrees with the
   * others again. The copy received while a receive held the message (a duplicate delivery) and
   * the copy left after the message's delete (the host missed the delete too: "the copy of the
   * message isn't deleted on the server that is unavailable", SQS Developer Guide, at-least-once
   * delivery) stay what AWS documents; a read that receives and releases (ChangeMessageVisibility
   * 0, or its visibility timeout ends) leaves one message, as it found it. `m` keeps the highest
   * receive count of them and the earliest first receive. Copies in flight stay with their
   * receives, and merge once receivable.
   */
  private mergeCopies(m: StoredMessage, now: number): void {
    const copies = m.copies!;
    for (const c of copies) {
      if (c === m || c.deleted || c.availableAt > now) continue;
      m.receiveCount = Math.max(m.receiveCount, c.receiveCount);
      if (
        c.firstReceivedAt !== undefined &&
        (m.firstReceivedAt === undefined || c.firstReceivedAt < m.firstReceivedAt)
      )
        m.firstReceivedAt = c.firstReceivedAt;
      this.markDeleted(c);
    }
    const here = copies.filter((c) => !c.deleted);
    if (here.length <= 1) {
      for (const c of copies) delete c.copies;
      // One copy left: counted as a message of its own now.
      for (const c of copies) this.reclassify(c, now);
    } else {
      copies.splice(0, copies.length, ...here);
    }
  }

  /**
   * Records the handles a receive with a ReceiveRequestAttemptId returned, for its 5-minute
   * window. The map stays in order of expiry (an id recorded again is moved to the end), so the
   * expired ones are always at its front: `expireAttempts` lets each go at the first receive
   * after its window, in O(1) a receive, rather than a sweep of the whole map every 5 minutes,
   * which kept up to two windows' worth. Past MAX_RECEIVE_ATTEMPTS_KEPT the oldest goes early.
   */
  private rememberAttempt(id: string, taken: ReceivedCopy[], now: number): void {
    this.attempts.delete(id);
    this.attempts.set(id, {
      receipts: taken.map((c) => c.receipt),
      expiresAt: now + LIMITS.receiveAttemptWindowMs,
    });
    if (this.attempts.size > MAX_RECEIVE_ATTEMPTS_KEPT) {
      for (const oldest of this.attempts.keys()) {
        this.attempts.delete(oldest);
        break;
      }
      // A retry with a forgotten id gets new messages, not the set it asked for again: said in
      // the log, at most one line a minute, with the count since the last one.
      this.attemptsForgotten++;
      if (now - this.attemptsForgottenLoggedAt >= 60_000) {
        this.log?.('sqs: receive attempt ids forgotten before their 5 minutes (cap reached)', {
          queue: this.name,
          kept: MAX_RECEIVE_ATTEMPTS_KEPT,
          forgotten: this.attemptsForgotten,
        });
        this.attemptsForgottenLoggedAt = now;
        this.attemptsForgotten = 0;
      }
    }
  }

  private expireAttempts(now: number): void {
    for (const [id, a] of this.attempts) {
      if (a.expiresAt > now) break;
      this.attempts.delete(id);
    }
  }

  /**
   * The message a handle of this queue was issued for, while the queue keeps it by that handle,
   * and the key the handle names; ReceiptHandleIsInvalid for a value this queue never issued. A
   * handle it keeps is its own and names its message's key, so only one it no longer keeps is
   * parsed and its signature checked, once a request.
   */
  private byHandle(handle: string): { m: StoredMessage | undefined; key: number } {
    const m = this.byReceipt.get(handle);
    return m ? { m, key: m.key } : { m: undefined, key: this.keyOf(handle) };
  }

  /** The key of the message a handle of this queue names; ReceiptHandleIsInvalid if none. */
  private keyOf(handle: string): number {
    const key = this.parseHandle(handle);
    if (key === undefined) throw errors.receiptHandleIsInvalid(handle);
    return key;
  }

  /**
   * A receipt handle for a receive of the message `key`: the queue's name, the key, a random part,
   * and this queue's signature of the three, so that a value this queue never issued is told from
   * one it issued that has since gone stale. AWS answers the two differently: a value that is no
   * handle of the queue is ReceiptHandleIsInvalid (404), "The input receipt handle ... is not a
   * valid receipt handle."; one it issued that has expired is InvalidParameterValue (400), "...
   * Reason: The receipt handle has expired." (AWS Knowledge Center, "How do I troubleshoot
   * ReceiptHandleIsInvalid and InvalidParameterValue errors when I use the Amazon SQS
   * DeleteMessage API call?", https://repost.aws/knowledge-center/sqs-receipt-handle-error: "If
   * the receipt handle is incorrect ..." and "If the receipt handle is expired ..."). Without the
   * signature, a made-up value naming a live FIFO message's key passed for an expired handle.
   */
  private issueHandle(key: number): string {
    const signed = `${this.name}\u0000${key}\u0000${randomUUID()}`;
    return Buffer.from(`${signed}\u0000${this.sign(signed)}`).toString('base64url');
  }

  /**
   * This queue's signature of `text`: SHA-256 of the text followed by the queue's secret, its
   * first 132 bits. Every receive signs each message it takes, so the cost counts: an HMAC object
   * per handle took about 2 us, a one-shot hash about 0.5 us (the emulator's whole budget is some
   * 20 us a message, docs/benchmarks.md). With the secret last, a signature tells nothing that
   * extends to a longer text (SHA-256's length extension needs the secret first); a forger would
   * need a SHA-256 collision. Guessing is 1 in 2^132. It only tells a handle this queue wrote
   * from one it did not: nothing rests on it beyond that answer.
   */
  private sign(text: string): string {
    return hash('sha256', `${text}\u0000${this.handleSecret}`, 'base64url').slice(0, 22);
  }

  /**
   * The key of the message a handle this queue issued names, or undefined for any other value
   * (not one, another queue's, or one made up or altered: its signature does not match).
   */
  private parseHandle(handle: string): number | undefined {
    // Decoding base64url never throws: characters outside its alphabet are skipped, and padding,
    // white space and base64's own + and / are taken too. So the issued handle with a newline or
    // an '=' added decodes to its very bytes, signature and all: only the one spelling this queue
    // wrote is its handle, any other is a value it never issued.
    const raw = Buffer.from(handle, 'base64url');
    if (raw.toString('base64url') !== handle) return undefined;
    const parts = raw.toString('utf8').split('\u0000');
    const key = Number(parts[1]);
    if (parts.length !== 4 || parts[0] !== this.name || !Number.isSafeInteger(key)) {
      return undefined;
    }
    const expected = Buffer.from(this.sign(parts.slice(0, 3).join('\u0000')));
    const given = Buffer.from(parts[3]!);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    return key;
  }

  /**
   * FIFO: a handle of an earlier receive of a message still in the queue (received again since)
   * has expired; see delete and changeVisibility for what AWS answers.
   */
  private refuseIfStillQueued(handle: string, key: number, now: number): void {
    const live = this.liveByKey.get(key);
    if (live && !live.deleted && !this.expireRetention(live, now)) {
      throw errors.invalidValue('ReceiptHandle', handle, 'The receipt handle has expired.');
    }
  }

  /**
   * How much longer the receive that answered `handle` holds its message, in ms: the end of that
   * receive's visibility timeout as it stands now (the timeout the receive got, from the request
   * or the queue's VisibilityTimeout at the time, then any ChangeMessageVisibility), 0 once it
   * holds it no more (deleted, received again, visible again, gone). Undefined for a value that
   * is no handle of this queue.
   */
  holdLeft(handle: string): number | undefined {
    const m = this.byReceipt.get(handle);
    if (m && !m.deleted) return Math.max(0, m.availableAt - this.clock.now());
    return this.parseHandle(handle) === undefined ? undefined : 0;
  }

  /**
   * Receipt handles of the messages receives hold right now (in flight, not deleted). Walks
   * `byReceipt`: the handles it returns and those of messages visible again and not received
   * since. Left a walk on purpose: no SQS action reaches it, only the local cloud's
   * invocationsInFlight (the drain wait's polls, every 100 ms), whose caller walks the handles
   * returned again anyway. In a 2,000-order demo with 2% failures (2026-12-04) it ran 634 times,
   * looked at 106 handles at most in one call (at most 46 of them not held) and took 33 ms of the
   * 86 s run in all (docs/benchmarks.md, SQS emulator).
   */
  heldReceipts(): string[] {
    const now = this.clock.now();
    const out: string[] = [];
    for (const [handle, m] of this.byReceipt) {
      if (!m.deleted && m.availableAt > now) out.push(handle);
    }
    return out;
  }

  delete(handle: string, faults: FaultConfig, dice: FaultDice): void {
    const { m, key } = this.byHandle(handle);
    const now = this.clock.now();
    if (!m || m.deleted) {
      // A handle of a message received again since. "For FIFO queues, a receipt handle expires
      // after a visibility timeout period. When a receipt handle expires, the message returns to
      // the queue. When you receive the message again, you get a new receipt handle. If you try
      // to delete the message outside of the visibility timeout period", InvalidParameterValue
      // "... Reason: The receipt handle has expired." (AWS Knowledge Center, "ReceiptHandleIsInvalid
      // and InvalidParameterValue errors" for DeleteMessage): the FIFO message stays, and so does
      // the refusal once someone else holds it. A standard queue answers success: "If you use an
      // old ReceiptHandle, the request will succeed, but the message might not be deleted"
      // (DeleteMessage, API reference). On FIFO the same holds once the message is gone
      // (deleted, dead-lettered): the handle expired with its visibility timeout ("if a consumer
      // whose message processing time is longer than the visibility timeout tries to delete the
      // processed messages, the action fails with an error", ReceiveMessage, API reference,
      // ReceiveRequestAttemptId). Deleting again through the handle that deleted it, within its
      // timeout, is success (a retried delete); so is any handle of a message on a standard
      // queue, or of a gone FIFO message the queue no longer remembers (see goneHandles).
      if (this.fifo) {
        this.refuseIfStillQueued(handle, key, now);
        const gone = this.goneHandles.get(key);
        if (gone && gone.forgetAt > now && (gone.receipt !== handle || gone.heldUntil <= now)) {
          throw errors.invalidValue('ReceiptHandle', handle, 'The receipt handle has expired.');
        }
      }
      return;
    }
    // FIFO keeps order by refusing a delete once the message could be someone else's.
    if (this.fifo && m.availableAt <= now) {
      throw errors.invalidValue('ReceiptHandle', handle, 'The receipt handle has expired.');
    }
    if (!this.fifo && dice.roll('survivingCopyRate', faults.survivingCopyRate)) {
      // The host holding one copy missed the delete: that copy comes back once the visibility
      // timeout of this receive ends. It saw the receives, so it keeps their count: one that
      // survives the last allowed receive is dead-lettered on its next, an applied order's copy
      // in the DLQ (as a lost delete does on AWS); the report reads the DLQ and shows it.
      this.byReceipt.delete(handle);
      delete m.receipt;
      if (this.lostDeleteList.length < MAX_LOST_DELETES_KEPT) {
        this.lostDeleteList.push({ messageId: m.messageId, receiveCount: m.receiveCount });
      }
      return;
    }
    this.markDeleted(m);
  }

  /** The deletes the surviving-copy fault lost so far. */
  lostDeletes(): readonly LostDelete[] {
    return this.lostDeleteList;
  }

  changeVisibility(handle: string, timeoutSeconds: number): void {
    const { m, key } = this.byHandle(handle);
    const now = this.clock.now();
    // A message past the queue's retention period is gone, as a deleted one (see counts): a
    // change through its handle had been taken (found in review).
    if (!m || m.deleted || this.expireRetention(m, now)) {
      // A handle of an earlier receive of a FIFO message that is still in the queue (received
      // again since): that handle has expired. "For FIFO queues, a receipt handle expires after a
      // visibility timeout period ... When you receive the message again, you get a new receipt
      // handle", and AWS refuses the old one with InvalidParameterValue "Reason: The receipt
      // handle has expired." (AWS Knowledge Center, "ReceiptHandleIsInvalid and
      // InvalidParameterValue errors"; that article names both uses of a handle, "delete or
      // change the visibility"), HTTP 400, as the FIFO delete above answers. Not the API
      // reference's other two codes: MessageNotInflight says the message is not in flight, and
      // this one is (held by the newer receive), nor was it seen from AWS (LocalStack's
      // maintainers, localstack#9632); ReceiptHandleIsInvalid (404) is AWS's answer to a value
      // that was never a handle, while one issued earlier and no longer valid is
      // InvalidParameterValue (AWS-validated, localstack#6103). A standard queue's old handle,
      // and any handle of a message that is gone, keep the wording users saw from AWS for them
      // ("Message does not exist or is not available for visibility timeout change.",
      // mapbox/ecs-watchbot#135; LocalStack's AWS-validated test for a deleted message).
      if (this.fifo) this.refuseIfStillQueued(handle, key, now);
      throw errors.invalidValue(
        'ReceiptHandle',
        handle,
        'Message does not exist or is not available for visibility timeout change.',
      );
    }
    // AWS accepts a change through a handle whose visibility timeout has passed, and ignores it.
    if (m.availableAt <= now) return;
    if (now + timeoutSeconds * 1000 - (m.receivedAt ?? now) > LIMITS.maxVisibilitySeconds * 1000) {
      throw errors.invalidValue(
        'VisibilityTimeout',
        timeoutSeconds,
        `Total VisibilityTimeout for the message is beyond the limit [${LIMITS.maxVisibilitySeconds} seconds].`,
      );
    }
    m.availableAt = now + timeoutSeconds * 1000;
    m.visibilityChanged = true;
    // Timeout 0: receivable now, and one long poll is woken for it.
    this.place(m, now);
  }

  /**
   * PurgeQueue: every message goes, and a FIFO queue forgets their handles (it does not add them
   * to goneHandles), so a later delete through one is success, as for any message that no longer
   * exists. What makes a FIFO handle "expired" is that its message "returns to the queue" when
   * the visibility timeout ends, and "when you receive the message again, you get a new receipt
   * handle" (AWS Knowledge Center, sqs-receipt-handle-error): a refusal keeps a consumer from
   * deleting a message that may be someone else's by now. A purged message returns to no queue
   * and goes to nobody: PurgeQueue "Deletes available messages in a queue (including in-flight
   * messages)", and "you can't retrieve any messages deleted from a queue" (API reference). With the message gone, AWS's general rule
   * for a handle is the DeleteMessage one, "If you use an old ReceiptHandle, the request will
   * succeed" (API reference); nothing documents a FIFO exception after a purge. A visibility
   * change through one is InvalidParameterValue "Message does not exist or is not available for
   * visibility timeout change.", as for a deleted message. Messages deleted before the purge
   * stay remembered: the purge did not remove them.
   */
  purge(): void {
    // The indexes first, so that no message deleted here offers its group again.
    this.groups.clear();
    this.availableGroups.clear();
    this.heldMessages.clear();
    this.timed.clear();
    this.ready.clear();
    this.inReady.clear();
    for (const m of this.messages) if (!m.deleted) this.markDeleted(m, true, false);
    this.messages = [];
    this.deletedCount = 0;
    this.byReceipt.clear();
    this.liveByKey.clear();
    this.byEnqueue.clear();
    this.tally.fill(0);
    this.heldCount = 0;
  }

  /**
   * Removes and returns up to `limit` receivable messages, in send order (for message move
   * tasks). They come from `ready`, which holds the receivable messages of either kind of queue:
   * nothing in flight or delayed is looked at. A task takes one message a call; its drain had
   * walked the queue's list from the front (the first message each call, then past the gone
   * ones), and past every message in flight before the ones it moved, once a step: a task with a
   * rate, a step a message, walked them all for each message moved.
   */
  drainAvailable(limit = Infinity): StoredMessage[] {
    const now = this.clock.now();
    this.promote(now);
    this.expireDue(now);
    const out: StoredMessage[] = [];
    while (out.length < limit) {
      const m = this.ready.pop();
      if (!m) break;
      this.work.visited++;
      if (!this.inReady.has(m)) continue; // taken or gone since
      if (m.deleted || m.availableAt > now) {
        this.inReady.delete(m);
        continue;
      }
      // A move task moves the message, not each receivable copy of it.
      if (m.copies) this.mergeCopies(m, now);
      out.push(m);
      this.markDeleted(m, false);
    }
    return out;
  }
}
