/**
 * The emulator's message move tasks (redrive out of a dead-letter queue), as state: each task's
 * progress, and the tasks of each source AWS still lists. The actions that start, list and cancel
 * them, and run them, are in actions/move-tasks.ts.
 */

export type MoveTaskStatus = 'RUNNING' | 'COMPLETED' | 'CANCELLED' | 'FAILED';

export interface MoveTask {
  taskId: string;
  handle: string;
  status: MoveTaskStatus;
  sourceArn: string;
  destinationArn?: string;
  rate?: number;
  moved: number;
  toMove: number;
  startedAt: number;
  failureReason?: string;
  /** Stops the task's timers; set while it runs. */
  stop?: () => void;
}

/** AWS lists the 10 most recent tasks of a source; older ones are forgotten. */
const KEPT_PER_SOURCE = 10;

export class MoveTasks {
  private readonly tasks = new Map<string, MoveTask>();

  get(taskId: string): MoveTask | undefined {
    return this.tasks.get(taskId);
  }

  /** A source's tasks, newest first. */
  forSource(sourceArn: string): MoveTask[] {
    return [...this.tasks.values()].filter((t) => t.sourceArn === sourceArn).reverse();
  }

  add(task: MoveTask): void {
    this.tasks.set(task.taskId, task);
    for (const old of this.forSource(task.sourceArn).slice(KEPT_PER_SOURCE)) {
      this.tasks.delete(old.taskId);
    }
  }

  /** Stops every running task's timers (the emulator is closing). */
  stopAll(): void {
    for (const t of this.tasks.values()) t.stop?.();
  }
}
