import type { SQSRecord } from 'aws-lambda';
import { parseDelivery } from '../../../services/consumer/src/adapters/sqs-record';
import { MalformedMessageError } from '../../../services/consumer/src/domain/delivery';
import fifoFixture from '../../events/sqs/fifo-batch.json';
import standardFixture from '../../events/sqs/standard-batch.json';

const fifoRecord = () => structuredClone(fifoFixture.Records[0]) as unknown as SQSRecord;
const standardRecord = () => structuredClone(standardFixture.Records[0]) as unknown as SQSRecord;

describe('parseDelivery', () => {
  it('reads the order and the SQS attributes of a FIFO record', () => {
    // Prepare
    const record = fifoRecord();

    // Act
    const delivery = parseDelivery(record);

    // Assess
    expect(delivery).toMatchObject({
      messageId: record.messageId,
      receiveCount: 1,
      sequenceNumber: '18849496460467696128',
      sentAt: 1764050000100,
      firstReceivedAt: 1764050000200,
      message: { orderId: 'order-1', runId: 'run-unit', customerId: 'cust-1', sequence: 1 },
    });
  });

  it('leaves the sequence number out for a standard record', () => {
    // Prepare
    const record = standardRecord();
    record.attributes.ApproximateReceiveCount = '3';

    // Act
    const delivery = parseDelivery(record);

    // Assess
    expect(delivery.sequenceNumber).toBeUndefined();
    expect(delivery.receiveCount).toBe(3);
  });

  it.each([
    ['a body that is not JSON', 'not json'],
    ['a body without an order id', '{"runId":"r","customerId":"c","sequence":1}'],
    ['a JSON null body', 'null'],
  ])('throws MalformedMessageError for %s', (_name, body) => {
    // Prepare
    const record = standardRecord();
    record.body = body;

    // Act / Assess
    expect(() => parseDelivery(record)).toThrow(MalformedMessageError);
  });
});
