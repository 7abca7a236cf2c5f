import { errors } from '../errors';
import { LIMITS } from '../queue';
import { type Action, type Output, queueFromUrl } from './context';
import { batchEntries, batchFailure, int, str } from './params';

/** What a receipt handle allows: delete the message, or change its visibility timeout. */

export const DeleteMessage: Action = (ctx, input) => {
  const q = queueFromUrl(ctx, input);
  q.delete(str(input, 'ReceiptHandle')!, ctx.faults(), ctx.dice);
  return {};
};

export const DeleteMessageBatch: Action = (ctx, input) => {
  const q = queueFromUrl(ctx, input);
  const Successful: Output[] = [];
  const Failed: Output[] = [];
  for (const e of batchEntries(input, 'Entries')) {
    try {
      q.delete(str(e, 'ReceiptHandle')!, ctx.faults(), ctx.dice);
      Successful.push({ Id: e.Id });
    } catch (err) {
      Failed.push(batchFailure(e.Id, err));
    }
  }
  return { Successful, Failed };
};

export const ChangeMessageVisibility: Action = (ctx, input) => {
  const q = queueFromUrl(ctx, input);
  const t = int(input, 'VisibilityTimeout', 0, LIMITS.maxVisibilitySeconds);
  if (t === undefined) throw errors.missingParameter('VisibilityTimeout');
  q.changeVisibility(str(input, 'ReceiptHandle')!, t);
  return {};
};

export const ChangeMessageVisibilityBatch: Action = (ctx, input) => {
  const q = queueFromUrl(ctx, input);
  const Successful: Output[] = [];
  const Failed: Output[] = [];
  for (const e of batchEntries(input, 'Entries')) {
    try {
      const t = int(e, 'VisibilityTimeout', 0, LIMITS.maxVisibilitySeconds) ?? 0;
      q.changeVisibility(str(e, 'ReceiptHandle')!, t);
      Successful.push({ Id: e.Id });
    } catch (err) {
      Failed.push(batchFailure(e.Id, err));
    }
  }
  return { Successful, Failed };
};
