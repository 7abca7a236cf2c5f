import { randomUUID } from 'node:crypto';
import { parseJson } from '../../../shared/src/json-keys';
import { errors } from '../errors';
import type { MoveTask, MoveTaskStatus } from '../move-tasks';
import type { Queue, StoredMessage } from '../queue';
import type { Output } from '../wire';
import { action, type Context, queueByArn, queueFromUrl, queueUrl } from './context';

/**
 * Dead-letter queues: which queues feed one, and message move tasks (redrive) out of one. A task
 * runs as on AWS: asynchronously, RUNNING until it has moved the messages the DLQ held when it
 * started (then COMPLETED), at up to MaxNumberOfMessagesPerSecond on the emulator's clock, until
 * cancelled (CANCELLED) or until its destination disappears (FAILED).
 */

const encodeHandle = (taskId: string, sourceArn: string): string =>
  Buffer.from(JSON.stringify({ taskId, sourceArn })).toString('base64');

function decodeHandle(handle: string): { taskId: string; sourceArn: string } | undefined {
  try {
    const v = parseJson(Buffer.from(handle, 'base64').toString('utf8'));
    if (typeof v !== 'object' || v === null) return undefined;
    const { taskId, sourceArn } = v as Record<string, unknown>;
    return typeof taskId === 'string' && typeof sourceArn === 'string'
      ? { taskId, sourceArn }
      : undefined;
  } catch {
    return undefined;
  }
}

const sourcesOf = (ctx: Context, dlq: Queue): Queue[] =>
  [...ctx.queues.values()].filter((q) => q.redrivePolicy()?.deadLetterTargetArn === dlq.arn);

const sourceArnMissing = () =>
  errors.resourceNotFound(
    "The resource that you specified for the SourceArn parameter doesn't exist.",
  );

export const ListDeadLetterSourceQueues = action({
  validate: (ctx, p) => queueFromUrl(ctx, p),
  run: (ctx, dlq) => ({ queueUrls: sourcesOf(ctx, dlq).map((q) => queueUrl(ctx, q)) }),
});

/** Moves what is due now; ends the task when it has moved all or the DLQ has nothing left. */
function step(ctx: Context, task: MoveTask): void {
  if (task.status !== 'RUNNING') return;
  const end = (status: MoveTaskStatus, failureReason?: string) => {
    task.status = status;
    if (failureReason) task.failureReason = failureReason;
    task.stop?.();
    delete task.stop;
  };
  const source = queueByArn(ctx, task.sourceArn);
  if (!source) {
    end('FAILED', 'AWS.SimpleQueueService.NonExistentQueue');
    return;
  }
  const elapsedSeconds = (ctx.clock.now() - task.startedAt) / 1000;
  const due = task.rate
    ? Math.min(task.toMove, Math.floor(task.rate * elapsedSeconds) + 1)
    : task.toMove;
  while (task.moved < due) {
    // From the DLQ's receivable messages alone (see drainAvailable).
    const [m] = source.drainAvailable(1);
    if (!m) {
      end('COMPLETED');
      return;
    }
    const { deadLetterSourceArn, ...message } = m;
    // Without a destination, each message goes back to the queue it was dead-lettered from.
    const target = task.destinationArn
      ? queueByArn(ctx, task.destinationArn)
      : ((deadLetterSourceArn && queueByArn(ctx, deadLetterSourceArn)) ??
        sourcesOf(ctx, source)[0]);
    if (!target) {
      source.adopt(m, 'return');
      end('FAILED', 'AWS.SimpleQueueService.NonExistentQueue');
      return;
    }
    target.adopt(message as StoredMessage, 'redrive');
    task.moved++;
  }
  if (task.moved >= task.toMove) end('COMPLETED');
}

/** Runs a task: a step now, then one per message interval and whenever the clock is moved. */
function runTask(ctx: Context, task: MoveTask): void {
  const intervalMs = task.rate ? Math.max(1, Math.floor(1000 / task.rate)) : 0;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    step(ctx, task);
    if (task.status === 'RUNNING') {
      timer = setTimeout(tick, intervalMs);
      timer.unref();
    }
  };
  const offClock = ctx.clock.onAdvance(() => step(ctx, task));
  task.stop = () => {
    clearTimeout(timer);
    offClock();
  };
  timer = setTimeout(tick, 0);
  timer.unref();
}

export const StartMessageMoveTask = action({
  validate(ctx, p) {
    const sourceArn = p.requiredString('SourceArn');
    const source = queueByArn(ctx, sourceArn);
    if (!source) throw sourceArnMissing();
    if (sourcesOf(ctx, source).length === 0) {
      throw errors.invalidParameter('Source queue must be configured as a Dead Letter Queue.');
    }
    const destinationArn = p.string('DestinationArn');
    const destination = destinationArn === undefined ? undefined : queueByArn(ctx, destinationArn);
    if (destinationArn !== undefined && !destination) {
      throw errors.resourceNotFound(
        "The resource that you specified for the DestinationArn parameter doesn't exist.",
      );
    }
    // SQS redrives only between queues of one type (a FIFO message needs its group, a standard
    // one has none). Without a destination each message returns to its source, which has the
    // DLQ's type already: a RedrivePolicy cannot name a DLQ of the other type.
    if (destination && destination.fifo !== source.fifo) {
      throw errors.invalidParameter(
        'The destination queue must be the same type of queue as the source queue.',
      );
    }
    const rate = p.int(
      'MaxNumberOfMessagesPerSecond',
      1,
      500,
      'MaxNumberOfMessagesPerSecond must be between 1 and 500.',
    );
    if (ctx.moveTasks.forSource(sourceArn).some((t) => t.status === 'RUNNING')) {
      throw errors.invalidParameter(
        'There is already a task running. Only one active task is allowed for a source queue arn at a given time.',
      );
    }
    return { source, sourceArn, destinationArn, rate };
  },
  run(ctx, { source, sourceArn, destinationArn, rate }) {
    const taskId = randomUUID();
    const task: MoveTask = {
      taskId,
      handle: encodeHandle(taskId, sourceArn),
      status: 'RUNNING',
      sourceArn,
      ...(destinationArn !== undefined ? { destinationArn } : {}),
      ...(rate !== undefined ? { rate } : {}),
      moved: 0,
      // AWS counts the messages to move when the task starts.
      toMove: source.counts().visible,
      startedAt: ctx.clock.now(),
    };
    ctx.moveTasks.add(task);
    runTask(ctx, task);
    return { TaskHandle: task.handle };
  },
});

function render(t: MoveTask): Output {
  return {
    // Only a running task has a handle to cancel it by.
    ...(t.status === 'RUNNING' ? { TaskHandle: t.handle } : {}),
    Status: t.status,
    SourceArn: t.sourceArn,
    ...(t.destinationArn !== undefined ? { DestinationArn: t.destinationArn } : {}),
    ...(t.rate !== undefined ? { MaxNumberOfMessagesPerSecond: t.rate } : {}),
    ApproximateNumberOfMessagesMoved: t.moved,
    ApproximateNumberOfMessagesToMove: t.toMove,
    ...(t.failureReason !== undefined ? { FailureReason: t.failureReason } : {}),
    StartedTimestamp: t.startedAt,
  };
}

export const ListMessageMoveTasks = action({
  validate(ctx, p) {
    const sourceArn = p.requiredString('SourceArn');
    if (!queueByArn(ctx, sourceArn)) throw sourceArnMissing();
    const max =
      p.int('MaxResults', 1, 10, 'You must enter a number that is between 1 and 10.') ?? 1;
    return { sourceArn, max };
  },
  run: (ctx, { sourceArn, max }) => ({
    Results: ctx.moveTasks.forSource(sourceArn).slice(0, max).map(render),
  }),
});

export const CancelMessageMoveTask = action({
  validate(ctx, p) {
    const handle = p.requiredString('TaskHandle');
    const decoded = decodeHandle(handle);
    if (!decoded) throw errors.invalidParameter('Value for parameter TaskHandle is invalid.');
    if (!queueByArn(ctx, decoded.sourceArn)) throw sourceArnMissing();
    const task = ctx.moveTasks.get(decoded.taskId);
    if (!task || task.sourceArn !== decoded.sourceArn) {
      throw errors.resourceNotFound('Task does not exist.');
    }
    if (task.status !== 'RUNNING') {
      throw errors.invalidParameter(
        `Only a RUNNING task can be cancelled; this one is ${task.status}.`,
      );
    }
    return task;
  },
  run(_ctx, task) {
    task.status = 'CANCELLED';
    task.stop?.();
    delete task.stop;
    return { ApproximateNumberOfMessagesMoved: task.moved };
  },
});
