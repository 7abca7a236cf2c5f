import { type TargetName, targetName } from './target';

/**
 * Every expected difference between the integration targets, in one place. A scenario that
 * depends on one of these asks here (`where(id)`) instead of testing the target's name, so the
 * list below is the whole story of what runs where, and why.
 *
 * A value is the reason the behaviour is NOT available on that target; absent = available.
 */
export const DIFFERENCES = {
  /** The SQS clock can be moved forward, so a 60 s visibility timeout passes in milliseconds. */
  clock: {
    localstack:
      'LocalStack has no drivable clock: visibility timeouts pass in real time, which would make each of these scenarios minutes long',
    aws: 'SQS time passes in real time: visibility timeouts of 60 s per retry',
  },
  /** Consumers can be started with extra environment (fault switches, idempotency experiments). */
  consumerEnv: {
    aws: 'the deployed functions keep the environment the stack gave them; the fault switches are off in production',
  },
  /** The standard queue duplicates and reorders on purpose (the seeded fault model). */
  standardFaults: {
    localstack:
      'LocalStack standard queues never duplicate or reorder (they behave like a FIFO queue without groups)',
    aws: 'AWS duplicates and reorders rarely and not on demand; a scenario cannot make it happen',
  },
  /** The whole cloud can be stopped and started again on the same on-disk data. */
  restart: {
    localstack:
      'the pinned community image keeps no state across a container restart (persistence is a paid feature)',
    aws: 'a deployed stack is not stopped and restarted by a test',
  },
} as const satisfies Record<string, Partial<Record<TargetName, string>>>;

export type DifferenceId = keyof typeof DIFFERENCES;

/** Why `id` is not available on `target`, or undefined when it is. */
export function unavailable(
  id: DifferenceId,
  target: TargetName = targetName(),
): string | undefined {
  const reasons: Partial<Record<TargetName, string>> = DIFFERENCES[id];
  return reasons[target];
}

/** The first reason any of `ids` is unavailable on `target`. */
function firstReason(ids: DifferenceId[], target: TargetName): string | undefined {
  for (const id of ids) {
    const reason = unavailable(id, target);
    if (reason) return reason;
  }
  return undefined;
}

/**
 * `it` when every behaviour in `ids` is available on the current target; otherwise `it.skip`
 * under a name that carries the reason, so the run's output says exactly what did not run and why.
 */
export function where(...ids: DifferenceId[]): jest.It {
  const target = targetName();
  const reason = firstReason(ids, target);
  if (!reason) return it;
  const skipped = (name: string, fn?: jest.ProvidesCallback, timeout?: number) =>
    it.skip(`${name} [not on ${target}: ${reason}]`, fn, timeout);
  return skipped as unknown as jest.It;
}

/** `describe` for a whole scenario file that needs `ids` (its setup would fail elsewhere). */
export function describeWhere(...ids: DifferenceId[]): jest.Describe {
  const target = targetName();
  const reason = firstReason(ids, target);
  if (!reason) return describe;
  const skipped = (name: string, fn: jest.EmptyFunction) =>
    describe.skip(`${name} [not on ${target}: ${reason}]`, fn);
  return skipped as unknown as jest.Describe;
}
