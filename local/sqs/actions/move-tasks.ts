import { randomUUID } from 'node:crypto';
import { errors } from '../errors';
import type { Queue } from '../queue';
import { type Action, queueByArn, queueFromUrl, queueUrl } from './context';
import { int, str } from './params';

/** Dead-letter queues: which queues feed one, and message move tasks (redrive) out of it. */

export interface MoveTask {
  TaskHandle: string;
  Status: 'RUNNING' | 'COMPLETED' | 'CANCELLED' | 'FAILED';
  SourceArn: string;
  DestinationArn?: string;
  MaxNumberOfMessagesPerSecond?: number;
  ApproximateNumberOfMessagesMoved: number;
  ApproximateNumberOfMessagesToMove: number;
  StartedTimestamp: number;
}

export const ListDeadLetterSourceQueues: Action = (ctx, input) => {
  const dlq = queueFromUrl(ctx, input);
  const urls = [...ctx.queues.values()]
    .filter((q) => q.redrivePolicy()?.deadLetterTargetArn === dlq.arn)
    .map((q) => queueUrl(ctx, q));
  return { queueUrls: urls };
};

export const StartMessageMoveTask: Action = (ctx, input) => {
  const sourceArn = str(input, 'SourceArn')!;
  const source = queueByArn(ctx, sourceArn);
  if (!source)
    throw errors.resourceNotFound(
      'The resource that you specified for the SourceArn parameter does not exist.',
    );
  const isDlq = [...ctx.queues.values()].some(
    (q) => q.redrivePolicy()?.deadLetterTargetArn === source.arn,
  );
  if (!isDlq)
    throw errors.invalidParameter('Source queue must be configured as a Dead Letter Queue.');
  const destArn = str(input, 'DestinationArn', false);
  const rate = int(input, 'MaxNumberOfMessagesPerSecond', 1, 500);
  if (
    [...ctx.moveTasks.values()].some((t) => t.SourceArn === sourceArn && t.Status === 'RUNNING')
  ) {
    throw errors.unsupported(
      'There is already a task running. Only one active task is allowed for a source queue arn at a given time.',
    );
  }
  let dest: Queue | undefined;
  if (destArn) {
    dest = queueByArn(ctx, destArn);
    if (!dest)
      throw errors.resourceNotFound(
        'The resource that you specified for the DestinationArn parameter does not exist.',
      );
  }
  const handle = Buffer.from(JSON.stringify({ taskId: randomUUID(), sourceArn })).toString(
    'base64',
  );
  const moved = source.drainAvailable();
  let count = 0;
  for (const m of moved) {
    // Without a destination, each message returns to the queue it was dead-lettered from.
    const target =
      dest ??
      [...ctx.queues.values()].find((q) => q.redrivePolicy()?.deadLetterTargetArn === source.arn);
    if (!target) continue;
    target.adopt(m, true);
    count++;
  }
  const task: MoveTask = {
    TaskHandle: handle,
    Status: 'COMPLETED',
    SourceArn: sourceArn,
    ...(destArn ? { DestinationArn: destArn } : {}),
    ...(rate ? { MaxNumberOfMessagesPerSecond: rate } : {}),
    ApproximateNumberOfMessagesMoved: count,
    ApproximateNumberOfMessagesToMove: count,
    StartedTimestamp: ctx.clock.now(),
  };
  ctx.moveTasks.set(handle, task);
  return { TaskHandle: handle };
};

export const ListMessageMoveTasks: Action = (ctx, input) => {
  const sourceArn = str(input, 'SourceArn')!;
  if (!queueByArn(ctx, sourceArn))
    throw errors.resourceNotFound(
      'The resource that you specified for the SourceArn parameter does not exist.',
    );
  const max = int(input, 'MaxResults', 1, 10) ?? 1;
  const tasks = [...ctx.moveTasks.values()]
    .filter((t) => t.SourceArn === sourceArn)
    .reverse()
    .slice(0, max);
  return { Results: tasks.map((t) => ({ ...t })) };
};

export const CancelMessageMoveTask: Action = (ctx, input) => {
  const handle = str(input, 'TaskHandle')!;
  const task = ctx.moveTasks.get(handle);
  if (!task) throw errors.resourceNotFound('Task does not exist.');
  if (task.Status !== 'RUNNING') throw errors.unsupported('Only active tasks can be cancelled.');
  task.Status = 'CANCELLED';
  return { ApproximateNumberOfMessagesMoved: task.ApproximateNumberOfMessagesMoved };
};
