import { action, queueFromUrl } from './context';

/** Queue policies: accepted for a queue that exists, never enforced (no IAM locally). */

const accepted = action({
  validate(ctx, p) {
    queueFromUrl(ctx, p);
    p.requiredString('Label');
  },
  run: () => ({}),
});

export const AddPermission = accepted;
export const RemovePermission = accepted;
