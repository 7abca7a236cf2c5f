import { type Action, queueFromUrl } from './context';

/** Queue policies: accepted for a queue that exists, never enforced (no IAM locally). */

export const AddPermission: Action = (ctx, input) => {
  queueFromUrl(ctx, input);
  return {};
};

export const RemovePermission: Action = (ctx, input) => {
  queueFromUrl(ctx, input);
  return {};
};
