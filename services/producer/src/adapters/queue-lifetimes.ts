import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { QueueKind } from '../../../../shared/src/queue-kind';
import type { QueueLife, QueueLifetimePort } from '../domain/ports';

/**
 * A queue's creation time and retention, read once per execution environment (they change only
 * when the queue is recreated or reconfigured, and a recreated queue gets a new environment's
 * worth of checks soon enough: a retry that misses it is answered from the record, as before).
 */
export class SqsQueueLifetimes implements QueueLifetimePort {
  private readonly known = new Map<QueueKind, Promise<QueueLife>>();

  constructor(
    private readonly sqs: SQSClient,
    private readonly urls: Record<QueueKind, string>,
  ) {}

  life(queue: QueueKind): Promise<QueueLife> {
    let life = this.known.get(queue);
    if (!life) {
      life = this.read(queue);
      this.known.set(queue, life);
      // A failed read is not remembered: the next retry asks again.
      life.catch(() => this.known.delete(queue));
    }
    return life;
  }

  private async read(queue: QueueKind): Promise<QueueLife> {
    const out = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.urls[queue],
        AttributeNames: ['CreatedTimestamp', 'MessageRetentionPeriod'],
      }),
    );
    const createdSeconds = Number(out.Attributes?.CreatedTimestamp);
    const retentionSeconds = Number(out.Attributes?.MessageRetentionPeriod);
    if (!Number.isFinite(createdSeconds) || !Number.isFinite(retentionSeconds)) {
      throw new Error(
        `queue ${queue}: GetQueueAttributes answered no CreatedTimestamp or retention`,
      );
    }
    return { createdAt: createdSeconds * 1000, retentionMs: retentionSeconds * 1000 };
  }
}
