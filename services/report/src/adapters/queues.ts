import { setTimeout as sleepMs } from 'node:timers/promises';
import {
  ChangeMessageVisibilityBatchCommand,
  type ChangeMessageVisibilityBatchCommandOutput,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { parseJson } from '../../../../shared/src/json-keys';
import { type OrderMessageRef, orderMessageRefSchema } from '../../../../shared/src/order-message';
import { type DlqRead, positiveIntegerOf } from '../domain/metrics';
import type { RedriveRead, VisibilityRead } from '../domain/report';
import { shortened } from './shortened';

/** The three counts a queue's depth adds up: visible, in flight, delayed. */
const COUNT_ATTRIBUTES = [
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
] as const;

/**
 * Visible + in flight + delayed: a queue is drained only when all three are zero. Each must be in
 * SQS's answer as a whole number (countOf), so an answer that does not say 0 never reads as an
 * empty queue.
 */
export async function queueDepth(client: SQSClient, queueUrl: string): Promise<number> {
  const out = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: [...COUNT_ATTRIBUTES] }),
  );
  return depthOf(queueUrl, out.Attributes).depth;
}

/**
 * One count as SQS answered it, a string of digits whose number is exact (a safe integer). One
 * missing or not one throws (QueueAttributeError), where it read as 0 (or as NaN, a fraction, or
 * Infinity for 400 digits). Every ApproximateNumberOfMessages* the report reads goes through
 * here: the drain's depths, so an answer that does not say 0 never reads as an empty queue, and
 * a DLQ's, so `dlqUnread` (the depth less what was read) is never understated by a count SQS
 * did not give.
 */
function countOf(queueUrl: string, a: Record<string, string>, name: string): number {
  const value = a[name];
  if (value === undefined) {
    throw new QueueAttributeError(
      name,
      queueUrl,
      'absent',
      "is not in SQS's answer, so the report cannot count the queue's messages",
    );
  }
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw new QueueAttributeError(name, queueUrl, value, 'is not a whole number of messages');
  }
  return n;
}

/** The three ApproximateNumberOfMessages* counts of one answer: their sum (the depth), visible. */
function depthOf(
  queueUrl: string,
  a: Record<string, string> = {},
): { depth: number; visible: number } {
  const [visible, notVisible, delayed] = COUNT_ATTRIBUTES.map((name) =>
    countOf(queueUrl, a, name),
  ) as [number, number, number];
  return { depth: visible + notVisible + delayed, visible };
}

/** How long read messages stay hidden while the reader collects the rest (then released). */
const PEEK_VISIBILITY_SECONDS = 30;
/** A bound on what one report reads from one DLQ. */
const PEEK_MAX_MESSAGES = 10_000;
/**
 * Receives in a row that bring no new message before the reader of a standard DLQ stops. One is
 * not enough: a receive may pass over visible messages (the emulator's reordering fault does; a
 * copy of a message already read brings nothing new), and stopping there left an order unread.
 * A FIFO queue hands out a group's messages in order or not at all, so its first empty receive
 * means what is left sits behind a batch the reader holds.
 */
const PEEK_IDLE_RECEIVES = 3;

/**
 * The order a DLQ message names. Only its order and run are read: a message may be in the DLQ
 * because the rest of it was malformed, and it still counts for its order.
 */
function orderOf(m: Message): OrderMessageRef | undefined {
  let body: unknown;
  try {
    body = parseJson(m.Body ?? '');
  } catch {
    return undefined;
  }
  const ref = orderMessageRefSchema.safeParse(body);
  return ref.success ? ref.data : undefined;
}

/**
 * The time a DLQ read stamps its receives with, and its release's retries are paced and bounded
 * by (a test gives its own).
 */
export interface ReleaseClock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

const REAL_CLOCK: ReleaseClock = {
  now: () => performance.now(),
  sleep: async (ms) => {
    await sleepMs(ms);
  },
};

export interface ReadDlqOptions {
  /** A bound on the messages read (default PEEK_MAX_MESSAGES). */
  maxMessages?: number;
  /** The clock of the receives' stamps and the release's retries (default the real one). */
  clock?: ReleaseClock;
}

/**
 * Reads a DLQ without consuming it: SQS has no peek, so each receive hides what it returned for
 * a short visibility timeout (so the next receive returns the next messages), and once receives
 * stop bringing new messages every read message is made visible again (ChangeMessageVisibility
 * 0). The depth is read first, as SQS reports it (visible + in flight + delayed; an answer
 * missing one of the three, or with one that is not a whole number, throws QueueAttributeError
 * before anything is received), and gives what could not be read (`unread`), but it never ends
 * a read on its own: AWS documents the
 * three as approximate ("the result is approximate because of the distributed architecture of
 * Amazon SQS", SQS Developer Guide, "Resources required to process Amazon SQS messages") and as
 * lagging ("may not achieve consistency until at least 1 minute after the producers stop
 * sending messages", GetQueueAttributes, API Reference), so a message moved to the DLQ just
 * before the report can read 0, or 1 with 3 there. So at least one receive is always made, and
 * the read ends at an empty receive once it has read as many messages as were visible
 * (ApproximateNumberOfMessages: delayed messages and those another reader holds cannot be
 * received), or at the `PEEK_IDLE_RECEIVES`th receive in a row that brings nothing new on a
 * standard DLQ (the first on a FIFO DLQ).
 * Every receive is a long poll of 1 s (WaitTimeSeconds 1, the shortest there is): a short poll
 * (WaitTimeSeconds 0) asks only "a subset of the servers (based on a weighted random
 * distribution)" and may come back empty while messages are there; a long poll asks all of them
 * and eliminates those "false empty responses" (SQS Developer Guide, short and long polling). It
 * answers as soon as a message is there, so the wait is paid by the receive that ends a read:
 * once for an empty DLQ (the report reads both DLQs and the ledger at the same time).
 * A FIFO DLQ returns at most one batch of a message group while that batch is hidden, so
 * messages behind it stay unread (`unread`); so does a copy sharing its message id with one read
 * (it is counted once), a delayed message, and anything past `maxMessages`.
 * Reading is receiving: each read raises the messages' ApproximateReceiveCount (a DLQ has no
 * redrive policy of its own, so nothing moves because of it).
 */
export async function readDlq(
  client: SQSClient,
  queueUrl: string,
  runId: string,
  { maxMessages = PEEK_MAX_MESSAGES, clock = REAL_CLOCK }: ReadDlqOptions = {},
): Promise<DlqRead> {
  const { depth, visible, queueArn } = await dlqAttributes(client, queueUrl);
  const seen = new Map<string, Message>();
  const handles: Held[] = [];
  const idleLimit = queueUrl.endsWith('.fifo') ? 1 : PEEK_IDLE_RECEIVES;
  let idle = 0;
  let empty = false;
  try {
    // Receives that bring nothing new are allowed up to idleLimit in a row (one may pass over
    // messages, or bring only copies of messages read); once as many messages were read as were
    // visible, an empty receive ends the read at once, since a long poll answers empty only when
    // nothing is there to receive. Visible, not the depth: the depth's delayed messages and
    // those another reader holds cannot be received (they stay `unread`), and waiting for them
    // cost a standard DLQ holding any idleLimit empty receives of 1 s each. A receive that
    // brought only copies is not empty: on a standard queue a copy may come back while unread
    // messages are there, and the count may lag them. The first receive is always made (idle
    // starts at 0).
    while (
      seen.size < maxMessages &&
      handles.length < maxMessages &&
      idle < idleLimit &&
      !(empty && seen.size >= visible)
    ) {
      const out = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, maxMessages - handles.length),
          WaitTimeSeconds: 1,
          VisibilityTimeout: PEEK_VISIBILITY_SECONDS,
        }),
      );
      const before = seen.size;
      // SQS hid these before it answered: their hide ends by PEEK_VISIBILITY_SECONDS from now.
      const receivedAt = clock.now();
      for (const m of out.Messages ?? []) {
        if (m.ReceiptHandle) {
          handles.push(
            m.MessageId
              ? { handle: m.ReceiptHandle, messageId: m.MessageId, receivedAt }
              : { handle: m.ReceiptHandle, receivedAt },
          );
        }
        // A standard queue may hand out a copy twice: one entry per message id.
        if (m.MessageId) seen.set(m.MessageId, m);
      }
      idle = seen.size > before ? 0 : idle + 1;
      empty = (out.Messages ?? []).length === 0;
    }
  } catch (err) {
    // What was read is released also when a receive failed; the receive's error is the one
    // thrown (it says more than a release that failed after it).
    await release(client, queueUrl, handles, clock);
    throw err;
  }
  const releaseError = await release(client, queueUrl, handles, clock);
  if (releaseError !== undefined) throw releaseError;
  const messages: Array<{ orderId: string; messageId: string }> = [];
  for (const [messageId, m] of seen) {
    const order = orderOf(m);
    if (order?.runId === runId) messages.push({ orderId: order.orderId, messageId });
  }
  return {
    depth,
    orderIds: messages.map((m) => m.orderId),
    messages,
    unread: Math.max(0, depth - seen.size),
    queueArn,
  };
}

/** Attempts at releasing one entry that SQS did not release without blaming the caller. */
const RELEASE_ATTEMPTS = 3;
/** Pause before a release's second round of attempts, doubled before each later round. */
const RELEASE_BACKOFF_MS = 100;
/**
 * The whole release's time for retries, whatever the number of batches: from the end of its
 * first round (every held message sent once) no call is started after this, pauses included.
 */
const RELEASE_RETRY_BUDGET_MS = 1_000;

/** One message a DLQ read holds: its receipt handle, and its id (to name it when not released). */
interface Held {
  handle: string;
  messageId?: string;
  /** The read's clock when the receive that returned it answered. */
  receivedAt: number;
}

/** How many messages a DlqReleaseError's message names; `unreleased` holds them all. */
const RELEASE_ERROR_NAMED = 10;

/**
 * Messages of a DLQ the report read and could not make visible again: each stays hidden until
 * the read's visibility timeout (PEEK_VISIBILITY_SECONDS) ends. Its message names the first
 * RELEASE_ERROR_NAMED and why each failed (`unreleased` holds every one), and what to do; `cause`
 * is the first call that failed outright, if one did. An operational error, not a bug: the CLI
 * prints it as one line, no stack (`expose`), whatever SQS answered (whitespace and control
 * characters in it are shown as one space).
 */
export class DlqReleaseError extends Error {
  readonly expose = true;
  constructor(
    queueUrl: string,
    readonly unreleased: ReadonlyArray<{ messageId: string; reason: string }>,
    cause?: unknown,
  ) {
    const n = unreleased.length;
    const named = unreleased
      .slice(0, RELEASE_ERROR_NAMED)
      .map((u) => `${shortened(u.messageId)} (${u.reason})`)
      .join(', ');
    const more = n > RELEASE_ERROR_NAMED ? ` and ${n - RELEASE_ERROR_NAMED} more` : '';
    super(
      oneLine(
        `could not make ${n} message${n === 1 ? '' : 's'} the report read from ${queueUrl} visible again: ${named}${more}; they become visible again by themselves within ${PEEK_VISIBILITY_SECONDS} s, the visibility timeout the report read them with: run the report again after that`,
      ),
      cause === undefined ? undefined : { cause },
    );
    this.name = 'DlqReleaseError';
  }
}

/** Whitespace and control characters (a line break, a terminal escape) shown as one space. */
const oneLine = (text: string): string => text.replace(/[\s\p{Cc}]+/gu, ' ');

const errorLine = (err: unknown): string =>
  err instanceof Error ? `${err.name}: ${err.message}` : String(err);

/**
 * One failed entry of a ChangeMessageVisibilityBatch answer, as an error names it: its code and
 * message, the first 200 characters (an answer is SQS's to word, and an error names up to ten).
 */
const failureReason = (f: { Code?: string; Message?: string }): string =>
  shortened(`${f.Code ?? 'failed'}${f.Message ? `: ${f.Message}` : ''}`);

/**
 * Makes every read message visible again, ten handles a call. A call that fails does not stop
 * the others. A call that succeeds may still fail some of its entries: SQS answers each entry in
 * `Successful` or `Failed` ("Because the batch request can result in a combination of successful
 * and unsuccessful actions, you should check for batch errors even when the call returns an HTTP
 * status code of 200", ChangeMessageVisibilityBatch, API Reference; "for each message in the
 * batch, the response contains a ChangeMessageVisibilityBatchResultEntry tag if the message
 * succeeds or a BatchResultErrorEntry tag if the message fails", its result type). So an entry
 * counts as released only when `Successful` names it and `Failed` does not. An answer that says
 * more of an entry than that (no answer from AWS does) is taken for what it certainly says: an
 * entry named in both lists, or failed twice with different codes or faults, is sent again like
 * one named in neither; a failure named twice alike is one; an id the call did not send answers
 * for none of its entries. A failed entry whose
 * `SenderFault` is false ("whether the error happened due to the caller of the batch API
 * action", BatchResultErrorEntry) is SQS's own trouble and is sent again, up to
 * RELEASE_ATTEMPTS in all; so is an entry the answer names in neither list (SQS did not say what
 * it did with it; an entry sent again after all is answered MessageNotInflight or, as the local
 * SQS does, accepted and ignored). An entry failed with MessageNotInflight ("the specified message
 * isn't in flight", API Reference) is visible already, which is all a release wants: released.
 * One the caller caused otherwise (a receipt handle SQS no longer takes) would fail the same way
 * again and is not sent again. The attempts go in rounds over every batch at once: the first
 * round sends each held message once; what it leaves to send again goes, ten a call, in a second
 * round RELEASE_BACKOFF_MS (100 ms) later, and what that leaves in a third 200 ms later. So one
 * release pauses 300 ms in all, however many batches it has, and starts no call later than
 * RELEASE_RETRY_BUDGET_MS (1 s) after its first round ended: the retries of a whole release take
 * at most that budget and one call's time. What is still hidden after that (every entry of a
 * call that failed outright, and any left to send again when the budget ran out) is returned as
 * one DlqReleaseError naming each message; nothing when every message was released.
 * A message whose hide has ended (PEEK_VISIBILITY_SECONDS since the receive that returned it
 * answered) is visible again by itself: it is sent in no call and named in no error, as if
 * released. So a slow SQS (calls of seconds each) bounds the release too: no call starts later
 * than PEEK_VISIBILITY_SECONDS after the read's last receive, where the first round sent every
 * batch however long each call took.
 */
async function release(
  client: SQSClient,
  queueUrl: string,
  held: readonly Held[],
  clock: ReleaseClock,
): Promise<DlqReleaseError | undefined> {
  let firstError: unknown;
  const unreleased: Array<{ messageId: string; reason: string }> = [];
  const name = (i: number) => held[i]?.messageId ?? `the message of receipt handle #${i + 1}`;
  const attempts = (n: number) => `${n} attempt${n === 1 ? '' : 's'}`;
  /** Why each entry to send again was not released the last time. */
  const why = new Map<number, string>();
  let deadline = Number.POSITIVE_INFINITY;
  /** Whether the hide of held[i] has ended: it is visible by itself, nothing to release. */
  const hideEnded = (i: number, at: number) =>
    at >= held[i]!.receivedAt + PEEK_VISIBILITY_SECONDS * 1000;
  /** Entries left to send again once the retries' budget is spent: named, with why. */
  const outOfTime = (indices: readonly number[], made: number) => {
    const at = clock.now();
    for (const i of indices) {
      if (hideEnded(i, at)) continue;
      unreleased.push({
        messageId: name(i),
        reason: `${why.get(i)}, after ${attempts(made)} (the release's ${RELEASE_RETRY_BUDGET_MS} ms for retries spent)`,
      });
    }
  };
  // Rounds: the first sends every held message, ten a call; each later one sends again, ten a
  // call, what the round before left to send again, after one pause for the whole round. Entry
  // ids are the messages' places in `held`, so a failed entry names its message.
  let left = held.map((_, i) => i);
  for (let attempt = 1; left.length > 0; attempt++) {
    if (attempt > 1) {
      const pause = RELEASE_BACKOFF_MS * 2 ** (attempt - 2);
      if (attempt === 2) deadline = clock.now() + RELEASE_RETRY_BUDGET_MS;
      if (clock.now() + pause >= deadline) {
        outOfTime(left, attempt - 1);
        break;
      }
      await clock.sleep(pause);
    }
    const retry: number[] = [];
    for (let start = 0; start < left.length; start += 10) {
      if (clock.now() >= deadline) {
        outOfTime(left.slice(start), attempt - 1);
        break;
      }
      const at = clock.now();
      const batch = left.slice(start, start + 10).filter((i) => !hideEnded(i, at));
      if (batch.length === 0) continue;
      const after = attempt > 1 ? `, after ${attempts(attempt)}` : '';
      let out: ChangeMessageVisibilityBatchCommandOutput;
      try {
        out = await client.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queueUrl,
            Entries: batch.map((i) => ({
              Id: `m${i}`,
              ReceiptHandle: held[i]!.handle,
              VisibilityTimeout: 0,
            })),
          }),
        );
      } catch (err) {
        firstError ??= err;
        for (const i of batch) {
          unreleased.push({ messageId: name(i), reason: `${shortened(errorLine(err))}${after}` });
        }
        continue;
      }
      const notReleased = (i: number, reason: string, retryable: boolean) => {
        if (retryable && attempt < RELEASE_ATTEMPTS) {
          retry.push(i);
          why.set(i, reason);
        } else unreleased.push({ messageId: name(i), reason: `${reason}${after}` });
      };
      // Each entry by what the answer says of it, wherever and however often it is named. SQS
      // names each entry once, in one list; an answer that says more is taken for what it
      // certainly says: an entry released only when Successful alone names it, or every
      // failure of it is MessageNotInflight; one named both successful and failed, or failed
      // in different ways, is answered no more than one named nowhere, and is sent again (within
      // the same bounded attempts). A failure named twice alike is one. An entry id the call
      // did not send names nothing it holds, and answers for none of its entries.
      const failedById = new Map<string, Array<NonNullable<typeof out.Failed>[number]>>();
      for (const f of out.Failed ?? []) {
        if (!f.Id) continue;
        const list = failedById.get(f.Id);
        if (list) list.push(f);
        else failedById.set(f.Id, [f]);
      }
      const succeeded = new Set((out.Successful ?? []).map((e) => e.Id));
      for (const i of batch) {
        const id = `m${i}`;
        const failures = failedById.get(id) ?? [];
        if (failures.length === 0) {
          if (!succeeded.has(id)) {
            notReleased(i, "SQS's answer named it neither successful nor failed", true);
          }
          continue;
        }
        const distinct = [...new Set(failures.map(failureReason))];
        const reasons = `${distinct.slice(0, 3).join('; ')}${distinct.length > 3 ? `; and ${distinct.length - 3} more` : ''}`;
        if (succeeded.has(id)) {
          notReleased(i, `SQS's answer named it both successful and failed (${reasons})`, true);
          continue;
        }
        const [f] = failures as [(typeof failures)[number]];
        if (new Set(failures.map((e) => `${e.Code}\u0000${e.SenderFault}`)).size > 1) {
          notReleased(
            i,
            `SQS's answer named it failed ${failures.length} times, differently (${reasons})`,
            true,
          );
        } else if (!f.Code?.endsWith('MessageNotInflight')) {
          notReleased(i, failureReason(f), f.SenderFault === false);
        }
      }
    }
    left = retry;
  }
  return unreleased.length > 0 || firstError !== undefined
    ? new DlqReleaseError(queueUrl, unreleased, firstError)
    : undefined;
}

/**
 * A DLQ's depth as SQS reports it (visible, plus any a reader holds right now, plus any delayed),
 * the visible part of it (ApproximateNumberOfMessages, what a receive can get) and its ARN, in
 * one GetQueueAttributes: the ARN is matched with the RedrivePolicy's deadLetterTargetArn. Each
 * count as the drain reads it (countOf): one missing or not a whole number throws before
 * anything is received, where it read as 0 and understated `dlqUnread`. So does a QueueArn
 * missing or empty (SQS answers every attribute asked for): without it the note that the
 * RedrivePolicy moves messages to another DLQ than the one read was left out unannounced.
 */
async function dlqAttributes(
  client: SQSClient,
  queueUrl: string,
): Promise<{ depth: number; visible: number; queueArn: string }> {
  const out = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [...COUNT_ATTRIBUTES, 'QueueArn'],
    }),
  );
  const { depth, visible } = depthOf(queueUrl, out.Attributes);
  const queueArn = out.Attributes?.QueueArn;
  if (!queueArn) {
    throw new QueueAttributeError(
      'QueueArn',
      queueUrl,
      queueArn === undefined ? 'absent' : queueArn,
      "is not in SQS's answer, so the report cannot tell whether it is the DLQ the queue's RedrivePolicy names",
    );
  }
  return { depth, visible, queueArn };
}

/**
 * One line naming a queue attribute the report cannot read, its value and what is wrong with it.
 * JSON may break lines between tokens: whitespace and control characters are shown as one space,
 * so the refusal stays one line (and a terminal gets no escape sequence from it).
 */
function attributeProblem(
  attribute: string,
  queueUrl: string,
  value: string,
  problem: string,
): string {
  const shown = shortened(oneLine(value));
  return `the ${attribute} of ${queueUrl} (${shown}) ${problem}`;
}

/** A RedrivePolicy the report cannot read: one line for the terminal, no stack. */
export class RedrivePolicyError extends Error {
  readonly expose = true;
  constructor(queueUrl: string, value: string, problem: string) {
    super(attributeProblem('RedrivePolicy', queueUrl, value, problem));
    this.name = 'RedrivePolicyError';
  }
}

/** A queue attribute the report cannot read as one: one line for the terminal, no stack. */
export class QueueAttributeError extends Error {
  readonly expose = true;
  constructor(attribute: string, queueUrl: string, value: string, problem: string) {
    super(attributeProblem(attribute, queueUrl, value, problem));
    this.name = 'QueueAttributeError';
  }
}

/**
 * Error codes SQS refuses an unauthorised call with: "AccessDeniedException" (API Reference,
 * Common Errors) and "AccessDenied" (the query protocol's code, which the AWS Knowledge Center
 * quotes for SQS calls).
 */
const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException']);

/**
 * An SQS queue's ARN, in any partition and account (a DLQ may be in another account than its
 * source): arn:<partition>:sqs:<region>:<12-digit account>:<queue name> (a name is up to 80
 * letters, digits, hyphens and underscores, `.fifo` included for a FIFO queue).
 */
const SQS_QUEUE_ARN = /^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:(?=[\w.-]{1,80}$)[\w-]+(\.fifo)?$/;

/** What one GetQueueAttributes says of a source queue's settings the numbers depend on. */
export interface QueueSettingsRead {
  redrive: RedriveRead;
  visibility: VisibilityRead;
}

/**
 * A source queue's RedrivePolicy and VisibilityTimeout, in one GetQueueAttributes, for the
 * settings the queue was really deployed with. No policy, or the call refused (AccessDenied):
 * `from: 'config'` with the reason; the same for a VisibilityTimeout missing or refused. A policy
 * or a VisibilityTimeout that is not one throws (RedrivePolicyError, QueueAttributeError); any
 * other error is thrown as is.
 */
export async function readQueueSettings(
  client: SQSClient,
  queueUrl: string,
): Promise<QueueSettingsRead> {
  let attributes: Record<string, string>;
  try {
    const out = await client.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['RedrivePolicy', 'VisibilityTimeout'],
      }),
    );
    attributes = out.Attributes ?? {};
  } catch (err) {
    const code = (err as { name?: unknown; Code?: unknown }).name;
    if (typeof code === 'string' && ACCESS_DENIED.has(code)) {
      const refused = (attribute: string) =>
        `reading the queue's ${attribute} was refused (${code}: sqs:GetQueueAttributes not allowed)`;
      return {
        redrive: { from: 'config', reason: refused('RedrivePolicy') },
        visibility: { from: 'config', reason: refused('VisibilityTimeout') },
      };
    }
    throw err;
  }
  return {
    redrive: redrivePolicyOf(queueUrl, attributes.RedrivePolicy),
    visibility: visibilityTimeoutOf(queueUrl, attributes.VisibilityTimeout),
  };
}

/**
 * The queue's RedrivePolicy, read for the maxReceiveCount the stack was really deployed with.
 * AWS: "RedrivePolicy – The string that includes the parameters for the dead-letter queue
 * functionality of the source queue as a JSON object": `deadLetterTargetArn`, "the ARN of the
 * dead-letter queue to which Amazon SQS moves messages after the value of maxReceiveCount is
 * exceeded", and `maxReceiveCount`, "the number of times a message is delivered to the source
 * queue before being moved to the dead-letter queue" (GetQueueAttributes, API Reference). It is a
 * number in the JSON, and SQS takes it as a string of digits too; valid values are 1 to 1000.
 */
function redrivePolicyOf(queueUrl: string, value: string | undefined): RedriveRead {
  if (value === undefined || value === '') {
    return { from: 'config', reason: 'the queue has no RedrivePolicy' };
  }
  let policy: unknown;
  try {
    policy = parseJson(value);
  } catch {
    throw new RedrivePolicyError(queueUrl, value, 'is not JSON');
  }
  if (typeof policy !== 'object' || policy === null || Array.isArray(policy)) {
    throw new RedrivePolicyError(queueUrl, value, 'is not a JSON object');
  }
  const { maxReceiveCount: raw, deadLetterTargetArn } = policy as Record<string, unknown>;
  const max = positiveIntegerOf(raw);
  if (max === undefined || max > 1000) {
    throw new RedrivePolicyError(
      queueUrl,
      value,
      `has maxReceiveCount ${JSON.stringify(raw) ?? 'missing'}, not 1 to 1000`,
    );
  }
  if (typeof deadLetterTargetArn !== 'string' || deadLetterTargetArn === '') {
    throw new RedrivePolicyError(queueUrl, value, 'names no deadLetterTargetArn');
  }
  if (!SQS_QUEUE_ARN.test(deadLetterTargetArn)) {
    throw new RedrivePolicyError(
      queueUrl,
      value,
      `has deadLetterTargetArn ${JSON.stringify(deadLetterTargetArn)}, not an SQS queue ARN`,
    );
  }
  return { from: 'queue', maxReceiveCount: max, deadLetterTargetArn };
}

/**
 * The queue's VisibilityTimeout: "the visibility timeout for the queue" (GetQueueAttributes), in
 * seconds, a whole number from 0 to 43,200 (12 hours), as SetQueueAttributes and CreateQueue
 * take it (API Reference). SQS answers it as a string of digits; the local SQS takes one with
 * leading zeros, however many, and answers it as given, so any string of digits whose number is
 * in range is read (as for maxReceiveCount).
 */
function visibilityTimeoutOf(queueUrl: string, value: string | undefined): VisibilityRead {
  if (value === undefined) {
    return { from: 'config', reason: "the queue's attributes hold no VisibilityTimeout" };
  }
  const seconds = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(seconds >= 0 && seconds <= 43_200)) {
    throw new QueueAttributeError(
      'VisibilityTimeout',
      queueUrl,
      value,
      'is not a whole number of seconds from 0 to 43200',
    );
  }
  return { from: 'queue', seconds };
}

export async function queueUrlByName(client: SQSClient, name: string): Promise<string> {
  const out = await client.send(new GetQueueUrlCommand({ QueueName: name }));
  if (!out.QueueUrl) throw new Error(`no url for queue ${name}`);
  return out.QueueUrl;
}
