import { errors } from '../errors';
import { LIMITS } from '../queue';
import type { Output } from '../wire';
import { action, queueFromUrl } from './context';
import { batchEntries, type Params, perEntry } from './params';

/**
 * What a receipt handle allows: delete the message, or change its visibility timeout. Whether a
 * handle still names a message in flight is the queue's state, so those errors come from the
 * queue at run time, before it changes anything.
 */

const visibility = (p: Params): number | undefined =>
  p.int(
    'VisibilityTimeout',
    0,
    LIMITS.maxVisibilitySeconds,
    `Must be >= 0 and <= ${LIMITS.maxVisibilitySeconds}, if provided.`,
  );

function requiredVisibility(p: Params): number {
  const t = visibility(p);
  if (t === undefined) throw errors.missingParameter('VisibilityTimeout');
  return t;
}

export const DeleteMessage = action({
  validate: (ctx, p) => ({ q: queueFromUrl(ctx, p), handle: p.requiredString('ReceiptHandle') }),
  run(ctx, { q, handle }) {
    q.delete(handle, ctx.faults(), ctx.dice);
    return {};
  },
});

export const DeleteMessageBatch = action({
  validate(ctx, p) {
    const q = queueFromUrl(ctx, p);
    const entries = batchEntries(p, 'Entries', 'DeleteMessageBatchRequestEntry').map((e) => ({
      id: e.id,
      handle: perEntry(e.id, () => e.params.requiredString('ReceiptHandle')),
    }));
    return { q, entries };
  },
  run(ctx, { q, entries }) {
    const Successful: Output[] = [];
    const Failed: Output[] = [];
    for (const { id, handle } of entries) {
      const done =
        'ok' in handle ? perEntry(id, () => q.delete(handle.ok, ctx.faults(), ctx.dice)) : handle;
      if ('ok' in done) Successful.push({ Id: id });
      else Failed.push(done.failed);
    }
    return { Successful, Failed };
  },
});

export const ChangeMessageVisibility = action({
  validate(ctx, p) {
    const q = queueFromUrl(ctx, p);
    return { q, handle: p.requiredString('ReceiptHandle'), timeout: requiredVisibility(p) };
  },
  run(_ctx, { q, handle, timeout }) {
    q.changeVisibility(handle, timeout);
    return {};
  },
});

export const ChangeMessageVisibilityBatch = action({
  validate(ctx, p) {
    const q = queueFromUrl(ctx, p);
    const entries = batchEntries(p, 'Entries', 'ChangeMessageVisibilityBatchRequestEntry').map(
      (e) => ({
        id: e.id,
        change: perEntry(e.id, () => ({
          handle: e.params.requiredString('ReceiptHandle'),
          timeout: visibility(e.params) ?? 0,
        })),
      }),
    );
    return { q, entries };
  },
  run(_ctx, { q, entries }) {
    const Successful: Output[] = [];
    const Failed: Output[] = [];
    for (const { id, change } of entries) {
      const done =
        'ok' in change
          ? perEntry(id, () => q.changeVisibility(change.ok.handle, change.ok.timeout))
          : change;
      if ('ok' in done) Successful.push({ Id: id });
      else Failed.push(done.failed);
    }
    return { Successful, Failed };
  },
});
