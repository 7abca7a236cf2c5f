import { errors } from '../errors';
import { dict } from '../protocol';
import { LIMITS, type Queue, type StoredMessage } from '../queue';
import {
  type Action,
  type Context,
  type Input,
  type Output,
  queueByArn,
  queueFromUrl,
} from './context';
import { int, str } from './params';

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

/**
 * Tells a long poll that its client has gone (the connection closed): it then stops waiting
 * and takes nothing, instead of marking messages in flight for a receiver that will never see
 * them, which would hide them for a whole visibility timeout. Set by the HTTP layer per request.
 */
export const clientGone = new WeakMap<Input, () => boolean>();

function wantedSystemAttributes(input: Input): Set<string> {
  const names = [...(input.AttributeNames ?? []), ...(input.MessageSystemAttributeNames ?? [])];
  if (!Array.isArray(names)) throw errors.invalidParameter('AttributeNames must be a list.');
  const out = new Set<string>();
  for (const n of names) {
    if (n === 'All') for (const a of SYSTEM_ATTRIBUTES) out.add(a);
    else if (SYSTEM_ATTRIBUTES.includes(n)) out.add(n);
    else if (!['ApproximateNumberOfMessages', 'QueueArn', 'VisibilityTimeout'].includes(n))
      throw errors.invalidAttributeName(String(n));
  }
  return out;
}

function renderMessage(
  q: Queue,
  m: StoredMessage,
  receipt: string,
  system: Set<string>,
  wantedAttrs: string[],
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
  const selected = dict<Output>();
  const all = wantedAttrs.includes('All') || wantedAttrs.includes('.*');
  for (const [name, a] of Object.entries(m.attributes)) {
    if (
      all ||
      wantedAttrs.includes(name) ||
      wantedAttrs.some((w) => w.endsWith('.*') && name.startsWith(w.slice(0, -1)))
    ) {
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

function moveToDlq(ctx: Context, q: Queue): (m: StoredMessage) => boolean {
  return (m) => {
    const policy = q.redrivePolicy();
    const dlq = policy && queueByArn(ctx, policy.deadLetterTargetArn);
    if (!dlq) return false;
    dlq.adopt({ ...m, attributes: m.attributes }, false);
    return true;
  };
}

/** Long polling: answers as soon as a message is available or WaitTimeSeconds has passed. */
export const ReceiveMessage: Action = async (ctx, input) => {
  const q = queueFromUrl(ctx, input);
  const gone = clientGone.get(input);
  const max = int(input, 'MaxNumberOfMessages', 1, LIMITS.maxReceive) ?? 1;
  const visibility =
    int(input, 'VisibilityTimeout', 0, LIMITS.maxVisibilitySeconds) ?? q.num('VisibilityTimeout');
  const wait =
    int(input, 'WaitTimeSeconds', 0, LIMITS.maxWaitSeconds) ??
    q.num('ReceiveMessageWaitTimeSeconds');
  const attemptId = str(input, 'ReceiveRequestAttemptId', false);
  const system = wantedSystemAttributes(input);
  const wantedAttrs = input.MessageAttributeNames ?? [];
  if (!Array.isArray(wantedAttrs))
    throw errors.invalidParameter('MessageAttributeNames must be a list.');
  const deadline = ctx.clock.now() + wait * 1000;
  for (;;) {
    if (gone?.()) return { Messages: [] };
    const copies = q.receive({
      max,
      visibilityTimeout: visibility,
      shortPoll: wait === 0,
      ...(attemptId ? { attemptId } : {}),
      faults: ctx.faults(),
      dice: ctx.dice,
      ...(q.attributes.RedrivePolicy ? { moveToDlq: moveToDlq(ctx, q) } : {}),
    });
    const now = ctx.clock.now();
    if (copies.length > 0 || now >= deadline || ctx.closed() || !ctx.queues.has(q.name)) {
      return {
        Messages: copies.map((c) => renderMessage(q, c.message, c.receipt, system, wantedAttrs)),
      };
    }
    const next = q.nextAvailableAt();
    const sleep = Math.max(
      1,
      Math.min(deadline - now, next !== undefined ? next - now : Infinity, 1000),
    );
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        q.waiters.delete(done);
        offClock();
        resolve();
      };
      const timer = setTimeout(done, sleep);
      q.waiters.add(done);
      const offClock = ctx.clock.onAdvance(done);
    });
  }
};
