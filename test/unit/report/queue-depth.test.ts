import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { QueueAttributeError, queueDepth } from '../../../services/report/src/adapters/queues';
import { waitForDrain } from '../../../services/report/src/domain/drain';

/**
 * A queue's depth against a stubbed SQS client: the drain counts a queue empty only when SQS's
 * answer says 0 for each of its three counts (visible, in flight, delayed).
 */
const sqs = new SQSClient({ region: 'us-east-1' });
const mock = mockClient(sqs);
afterEach(() => mock.reset());

const URL = 'http://sqs.local/000000000000/orders-standard';

const COUNTS = {
  ApproximateNumberOfMessages: '0',
  ApproximateNumberOfMessagesNotVisible: '0',
  ApproximateNumberOfMessagesDelayed: '0',
};

/** What queueDepth threw, or undefined when it answered. */
const depthError = () =>
  queueDepth(sqs, URL).then(
    () => undefined,
    (err: unknown) => err,
  );

describe('queueDepth', () => {
  it('adds up visible, in flight and delayed', async () => {
    mock.on(GetQueueAttributesCommand).resolves({
      Attributes: {
        ApproximateNumberOfMessages: '3',
        ApproximateNumberOfMessagesNotVisible: '2',
        ApproximateNumberOfMessagesDelayed: '1',
      },
    });

    expect(await queueDepth(sqs, URL)).toBe(6);
  });

  it.each(Object.keys(COUNTS))('refuses an answer without %s, where it counted 0', async (name) => {
    const attributes: Record<string, string> = { ...COUNTS, ApproximateNumberOfMessages: '0' };
    delete attributes[name];
    mock.on(GetQueueAttributesCommand).resolves({ Attributes: attributes });

    const error = await depthError();

    expect(error).toBeInstanceOf(QueueAttributeError);
    expect((error as Error).message).toBe(
      `the ${name} of ${URL} (absent) is not in SQS's answer, so the report cannot count the queue's messages`,
    );
    // One line for the terminal, no stack (the CLI prints `expose` errors so).
    expect((error as { expose?: boolean }).expose).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['negative', '-1'],
    ['a fraction', '1.5'],
    ['NaN', 'NaN'],
    ['spaced', ' 0'],
    ['400 digits', '9'.repeat(400)],
  ])(
    'refuses a count that is not a whole number (%s), where "" read as 0, -1 could cancel a 1 and 400 digits read as Infinity',
    async (_label, value) => {
      mock.on(GetQueueAttributesCommand).resolves({
        Attributes: {
          ...COUNTS,
          ApproximateNumberOfMessages: '1',
          ApproximateNumberOfMessagesDelayed: value,
        },
      });

      const error = await depthError();

      expect(error).toBeInstanceOf(QueueAttributeError);
      expect((error as Error).message).toContain('ApproximateNumberOfMessagesDelayed');
      expect((error as Error).message).toContain('is not a whole number of messages');
    },
  );

  it('does not let the drain end on answers that never said the queue is empty', async () => {
    // Every answer leaves the in-flight count out (a message held by a consumer is counted
    // there): the drain read that as 0 and ended after its quiet polls.
    const { ApproximateNumberOfMessagesNotVisible: _, ...twoCounts } = COUNTS;
    mock.on(GetQueueAttributesCommand).resolves({ Attributes: twoCounts });
    let t = 0;

    const outcome = await waitForDrain({
      poll: async () => ({ queued: { standard: await queueDepth(sqs, URL) }, ledgerItems: 5 }),
      timeoutMs: 60_000,
      intervalMs: 1000,
      now: () => t,
      sleep: async (ms) => {
        t += ms;
      },
    }).then(
      () => 'drained',
      (err: unknown) => err,
    );

    expect(outcome).toBeInstanceOf(QueueAttributeError);
  });
});
