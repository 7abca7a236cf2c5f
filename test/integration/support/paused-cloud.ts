import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type LocalCloud, startLocalCloud } from '../../../local/cloud';

/** Messages on the FIFO and the standard queue, visible or in flight, in that order. */
const queuedOnBoth = async (
  sqs: SQSClient,
  queueUrls: { fifo: string; standard: string },
): Promise<number[]> =>
  Promise.all(
    [queueUrls.fifo, queueUrls.standard].map(async (QueueUrl) => {
      const { Attributes = {} } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      return (
        Number(Attributes.ApproximateNumberOfMessages) +
        Number(Attributes.ApproximateNumberOfMessagesNotVisible)
      );
    }),
  );

export interface PausedCloud {
  cloud: LocalCloud;
  /** Messages on the FIFO and the standard queue, visible or in flight, in that order. */
  queued: () => Promise<number[]>;
  stop: () => Promise<void>;
}

/**
 * A started local cloud with its API, whose consumers are paused: every message the producer
 * sends stays on its queue, where `queued` counts it.
 */
export async function startPausedCloud(): Promise<PausedCloud> {
  const cloud = await startLocalCloud({
    port: 0,
    apiPort: 0,
    seed: 1,
    faults: 'none',
    consumersPaused: true,
    pollWaitSeconds: 1,
  });
  const sqs = new SQSClient({
    endpoint: cloud.edgeUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  return {
    cloud,
    queued: () => queuedOnBoth(sqs, cloud.queueUrls),
    stop: async () => {
      sqs.destroy();
      await cloud.stop();
    },
  };
}
