import type { Message } from '@aws-sdk/client-sqs';
import { toSqsRecord } from '../../../local/event-source';

describe('the Lambda record built from a received message', () => {
  it('keeps a message attribute named __proto__ as an own attribute, as the event JSON has it', () => {
    // Prepare: attributes as JSON.parse gives them, `__proto__` an own key.
    const message = JSON.parse(
      '{"MessageId":"m1","ReceiptHandle":"h","Body":"x","MessageAttributes":{' +
        '"__proto__":{"DataType":"String","StringValue":"p"},' +
        '"runId":{"DataType":"String","StringValue":"r1"}}}',
    ) as Message;

    // Act
    const record = toSqsRecord(message, 'arn:aws:sqs:us-east-1:000000000000:q', 'us-east-1');

    // Assess
    const attributes = record.messageAttributes;
    expect(Object.keys(attributes)).toEqual(['__proto__', 'runId']);
    expect(Object.getPrototypeOf(attributes)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(attributes, '__proto__')?.value).toEqual({
      stringValue: 'p',
      stringListValues: [],
      binaryListValues: [],
      dataType: 'String',
    });
    expect(JSON.parse(JSON.stringify(record)).messageAttributes).toEqual(
      JSON.parse(
        '{"__proto__":{"stringValue":"p","stringListValues":[],"binaryListValues":[],"dataType":"String"},' +
          '"runId":{"stringValue":"r1","stringListValues":[],"binaryListValues":[],"dataType":"String"}}',
      ),
    );
  });

  it('skips an attribute the SDK handed over without a value instead of throwing', () => {
    const message: Message = {
      MessageId: 'm1',
      Body: 'x',
      MessageAttributes: {
        lost: undefined as never,
        kept: { DataType: 'String', StringValue: 'k' },
      },
    };
    const record = toSqsRecord(message, 'arn', 'us-east-1');
    expect(Object.keys(record.messageAttributes)).toEqual(['kept']);
  });
});
