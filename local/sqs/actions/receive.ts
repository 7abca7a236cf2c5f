import { errors } from '../errors';
import { LIMITS, type Queue, type StoredMessage } from '../queue';
import { dict, type Output } from '../wire';
import { action, type Context, queueByArn, queueFromUrl } from './context';

/** ReceiveMessage: long polling, system and message attribute selection, redrive to the DLQ. */

const SYSTEM_ATTRIBUTES = [
  'SenderId',
  'SentTimestamp',
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
  'SequenceNumber',
  'MessageDeduplicationId',
  'MessageGroupId',
  'AWSTraceHeader',
  'DeadLetterQueueSourceArn',
];

/** Queue attribute names AWS also takes in a receive's (deprecated) AttributeNames. */
const QUEUE_ATTRIBUTE_NAMES = new Set([
  'All',
  'Policy',
  'VisibilityTimeout',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
  'QueueArn',
  'ApproximateNumberOfMessagesDelayed',
  'DelaySeconds',
  'ReceiveMessageWaitTimeSeconds',
  'RedrivePolicy',
  'FifoQueue',
  'ContentBasedDeduplication',
  'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds',
  'DeduplicationScope',
  'FifoThroughputLimit',
  'RedriveAllowPolicy',
  'SqsManagedSseEnabled',
]);

function wantedSystemAttributes(names: string[]): Set<string> {
  const out = new Set<string>();
  for (const n of names) {
    if (n === 'All') for (const a of SYSTEM_ATTRIBUTES) out.add(a);
    else if (SYSTEM_ATTRIBUTES.includes(n)) out.add(n);
    else if (!QUEUE_ATTRIBUTE_NAMES.has(n)) throw errors.unknownAttribute(n);
  }
  return out;
}

/**
 * The message attributes a receive asks for (MessageAttributeNames): "All" or ".*", names, and
 * prefixes ("bar.*": every name that starts with "bar."). Built once a request, so that each
 * attribute of each message taken costs a Set lookup per '.' in its name (at most 256
 * characters), not a scan of every name asked for: 300,000 names (3.8 MB) against 10 messages
 * of 10 attributes had held the main thread about 0.7-1 s.
 */
interface AttributeSelection {
  all: boolean;
  names: Set<string>;
  /** Each `prefix.*` asked for, as `prefix.` */
  prefixes: Set<string>;
}

function attributeSelection(wanted: string[]): AttributeSelection {
  const selection: AttributeSelection = { all: false, names: new Set(), prefixes: new Set() };
  for (const w of wanted) {
    if (w === 'All' || w === '.*') selection.all = true;
    else if (w.endsWith('.*')) selection.prefixes.add(w.slice(0, -1));
    selection.names.add(w);
  }
  return selection;
}

function selects(selection: AttributeSelection, name: string): boolean {
  if (selection.all || selection.names.has(name)) return true;
  if (selection.prefixes.size === 0) return false;
  // A prefix asked for ends with '.', so only the name's beginnings up to each '.' can be one.
  for (let i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) {
    if (selection.prefixes.has(name.slice(0, i + 1))) return true;
  }
  return false;
}

function renderMessage(
  q: Queue,
  m: StoredMessage,
  receipt: string,
  system: Set<string>,
  wantedAttrs: AttributeSelection,
): Output {
  const attributes: Record<string, string> = {};
  const put = (k: string, v: string | number | undefined) => {
    if (v !== undefined && system.has(k)) attributes[k] = String(v);
  };
  put('SenderId', m.senderId);
  put('SentTimestamp', m.sentAt);
  put('ApproximateReceiveCount', m.receiveCount);
  put('ApproximateFirstReceiveTimestamp', m.firstReceivedAt);
  if (q.fifo) {
    put('SequenceNumber', m.sequenceNumber);
    put('MessageDeduplicationId', m.dedupId);
    put('MessageGroupId', m.groupId);
  }
  put('AWSTraceHeader', m.traceHeader);
  put('DeadLetterQueueSourceArn', m.deadLetterSourceArn);
  const selected = dict<Output>();
  for (const [name, a] of Object.entries(m.attributes)) {
    if (selects(wantedAttrs, name)) {
      selected[name] = a.BinaryValue
        ? { DataType: a.DataType, BinaryValue: a.BinaryValue.toString('base64') }
        : { DataType: a.DataType, StringValue: a.StringValue };
    }
  }
  const hasSelected = Object.keys(selected).length > 0;
  return {
    MessageId: m.messageId,
    ReceiptHandle: receipt,
    MD5OfBody: m.md5OfBody,
    Body: m.body,
    ...(Object.keys(attributes).length ? { Attributes: attributes } : {}),
    // AWS returns the digest of all the message's attributes, computed at send time, even when
    // only some were asked for.
    ...(hasSelected
      ? { MessageAttributes: selected, MD5OfMessageAttributes: m.md5OfAttributes }
      : {}),
  };
}

/**
 * Whether a receive on `q` would move `m` on to q's own DLQ rather than deliver it: its receive
 * count is already past q's maxReceiveCount and that DLQ exists (see Queue.receive's take).
 */
function passesOn(ctx: Context, q: Queue, m: StoredMessage): boolean {
  const policy = q.redrivePolicy();
  return (
    policy !== undefined &&
    m.receiveCount >= policy.maxReceiveCount &&
    queueByArn(ctx, policy.deadLetterTargetArn) !== undefined
  );
}

/**
 * Moves a message past maxReceiveCount to the DLQ. The DLQ's long polls are woken, as by a send,
 * unless a receive there would only move the message on again: a queue that is its own DLQ, or
 * two that are each other's (the receive count moves with the message). A long poll woken by such
 * a move received nothing, waited again, and its next receive moved the message and woke the other
 * poll, each within the last one's microtasks: two long polls on such queues held the main thread,
 * and so every request, until the first one's WaitTimeSeconds ended (about 2.8 s of 3; found in
 * review). Not woken, a long poll there looks again within a second and moves it on then.
 */
function moveToDlq(ctx: Context, q: Queue): (m: StoredMessage) => boolean {
  return (m) => {
    const policy = q.redrivePolicy();
    const dlq = policy && queueByArn(ctx, policy.deadLetterTargetArn);
    if (!dlq) return false;
    dlq.adopt({ ...m, deadLetterSourceArn: q.arn }, 'dead-letter', !passesOn(ctx, dlq, m));
    return true;
  };
}

const ATTEMPT_ID = /^[!-~]{1,128}$/;

/** Long polling: answers as soon as a message is available or WaitTimeSeconds has passed. */
export const ReceiveMessage = action({
  validate(ctx, p) {
    const q = queueFromUrl(ctx, p);
    const max =
      p.int(
        'MaxNumberOfMessages',
        1,
        LIMITS.maxReceive,
        'Must be between 1 and 10, if provided.',
      ) ?? 1;
    // Absent, the queue's timeout as it is when messages are taken (read in run): a long poll
    // that began before a SetQueueAttributes holds what it takes after it for the new one.
    const visibility = p.int(
      'VisibilityTimeout',
      0,
      LIMITS.maxVisibilitySeconds,
      `Must be >= 0 and <= ${LIMITS.maxVisibilitySeconds}, if provided.`,
    );
    const wait =
      p.int(
        'WaitTimeSeconds',
        0,
        LIMITS.maxWaitSeconds,
        `Must be >= 0 and <= ${LIMITS.maxWaitSeconds}, if provided.`,
      ) ?? q.num('ReceiveMessageWaitTimeSeconds');
    const attemptId = p.string('ReceiveRequestAttemptId');
    if (attemptId !== undefined && !ATTEMPT_ID.test(attemptId)) {
      throw errors.invalidValue(
        'ReceiveRequestAttemptId',
        attemptId,
        'ReceiveRequestAttemptId can only include alphanumeric and punctuation characters. 1 to 128 in length.',
      );
    }
    const system = wantedSystemAttributes([
      ...(p.stringList('AttributeNames') ?? []),
      ...(p.stringList('MessageSystemAttributeNames') ?? []),
    ]);
    const wantedAttrs = attributeSelection(p.stringList('MessageAttributeNames') ?? []);
    return {
      q,
      max,
      visibility,
      wait,
      attemptId,
      system,
      wantedAttrs,
      gone: p.clientGone,
      onGone: p.onClientGone,
    };
  },
  async run(ctx, { q, max, visibility, wait, attemptId, system, wantedAttrs, gone, onGone }) {
    const deadline = ctx.clock.now() + wait * 1000;
    // Whether the queue woke this poll (not its timer or a clock advance) the last time it waited.
    let woken = false;
    for (;;) {
      // A client that has gone takes nothing: messages marked in flight for a receiver that
      // will never see them would stay hidden for a whole visibility timeout. Woken, it passes
      // the wake on: the queue wakes one poll a message, and the others looked again only
      // within a second (814-859 ms after the send, against 228 ms when a send woke all; found
      // in review).
      if (gone()) {
        if (woken) q.wake(1);
        return { Messages: [] };
      }
      const copies = q.receive({
        max,
        // "If not specified, the default visibility timeout for the queue is used"
        // (ReceiveMessage, API reference).
        visibilityTimeout: visibility ?? q.num('VisibilityTimeout'),
        shortPoll: wait === 0,
        ...(attemptId ? { attemptId } : {}),
        faults: ctx.faults(),
        dice: ctx.dice,
        ...(q.attributes.RedrivePolicy ? { moveToDlq: moveToDlq(ctx, q) } : {}),
        maxInFlight: q.fifo ? ctx.maxInFlight.fifo : ctx.maxInFlight.standard,
      });
      const now = ctx.clock.now();
      // A poll whose queue was deleted ends (DeleteQueue wakes it): by identity, not by
      // name, so that no poll can outlive its queue into one created again under the name.
      if (copies.length > 0 || now >= deadline || ctx.closed() || ctx.queues.get(q.name) !== q) {
        return {
          Messages: copies.map((c) => renderMessage(q, c.message, c.receipt, system, wantedAttrs)),
        };
      }
      // The queue wakes one long poll for each message that becomes receivable (a send, a
      // visibility timeout or delay ending, a FIFO group let go), with one timer of its own for
      // the ones not yet receivable. Every second a poll looks again regardless: a message a
      // woken poll did not take (its client gone, the dice, the in-flight quota) and one moved
      // into a DLQ without waking (see moveToDlq) are found then.
      const sleep = Math.max(1, Math.min(deadline - now, 1000));
      woken = false;
      // A client that goes while the poll waits: the poll leaves the queue's waiters then, not
      // at its next look (up to a second later), so that no send wakes it meanwhile.
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          q.removeWaiter(wakeUp);
          offClock();
          offGone();
          resolve();
        };
        const wakeUp = () => {
          woken = true;
          done();
        };
        const timer = setTimeout(done, sleep);
        q.addWaiter(wakeUp);
        const offClock = ctx.clock.onAdvance(done);
        const offGone = onGone(done);
      });
    }
  },
});
