import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** Messages on the FIFO and the standard queue, visible or in flight, in that order. */
export const queuedOnBoth = async (
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
