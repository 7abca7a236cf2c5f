import { createSqsEmulator } from '../../../local/sqs';
import * as wire from '../../../local/sqs/wire';

// Counts the readers built for a request's structures: each one's construction calls this once.
jest.mock('../../../local/sqs/wire', () => {
  const actual = jest.requireActual('../../../local/sqs/wire');
  return { ...actual, repeatedScalars: jest.fn(actual.repeatedScalars) };
});

/**
 * A JSON SendMessage with 85,801 message attributes held the main thread 664-834 ms: a reader
 * was built for each attribute before the count (AWS allows 10) was checked. Counted as the
 * readers built, not time. 500 attributes: a body of 50,000 is now refused earlier still, by the
 * JSON protocol's shape bounds (local/sqs/protocol.ts), before any reader; 500 pass those bounds
 * and reach the count.
 */
describe('a SendMessage with too many message attributes', () => {
  it('is refused before a reader is built for each attribute', async () => {
    // Arrange
    const sqs = createSqsEmulator({ seed: 1, faults: 'none' });
    const { QueueUrl } = (await sqs.call('CreateQueue', { QueueName: 'q' })) as {
      QueueUrl: string;
    };
    const MessageAttributes: Record<string, object> = {};
    for (let i = 0; i < 500; i++)
      MessageAttributes[`a${i}`] = { DataType: 'String', StringValue: 'v' };
    const built = wire.repeatedScalars as jest.Mock;
    built.mockClear();

    // Act
    const refused = await sqs
      .call('SendMessage', { QueueUrl, MessageBody: 'm', MessageAttributes })
      .then(
        () => undefined,
        (e: { code?: string; message?: string }) => e,
      );

    // Assess: AWS's refusal, and a handful of readers, not 500.
    expect(refused?.message).toBe(
      'Number of message attributes [500] exceeds the allowed maximum [10].',
    );
    expect(built.mock.calls.length).toBeLessThan(10);
    await sqs.close();
  });
});
