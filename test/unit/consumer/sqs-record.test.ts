import type { SQSRecord } from 'aws-lambda';
import { parseDelivery } from '../../../services/consumer/src/adapters/sqs-record';
import { MalformedMessageError } from '../../../services/consumer/src/domain/delivery';
import fifoFixture from '../../events/sqs/fifo-batch.json';
import standardFixture from '../../events/sqs/standard-batch.json';

const fifoRecord = () => structuredClone(fifoFixture.Records[0]) as unknown as SQSRecord;
const standardRecord = () => structuredClone(standardFixture.Records[0]) as unknown as SQSRecord;

describe('parseDelivery (Powertools SQS record schema + the order message schema)', () => {
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
    ['a body that is not JSON', 'not json', 'body: Invalid JSON'],
    ['a body without an order id', '{"runId":"r","customerId":"c","sequence":1}', 'body.orderId'],
    ['a JSON null body', 'null', 'body: Invalid input'],
    ['a sequence that is a string', body({ sequence: '1' }), 'body.sequence'],
    ['an item without a quantity', body({ items: [{ sku: 's', unitPrice: 1 }] }), 'body.items.0'],
    ['an unknown currency format', body({ currency: 'euro' }), 'body.currency'],
    // Taken before, and copied into the effect, whose time the report refuses (its whole run).
    [
      'an acceptance time past the last a Date holds',
      body({ acceptedAt: 8.64e15 + 1 }),
      'body.acceptedAt',
    ],
  ])('throws MalformedMessageError naming the field for %s', (_name, text, field) => {
    // Prepare
    const record = standardRecord();
    record.body = text;

    // Act / Assess
    expect(() => parseDelivery(record)).toThrow(MalformedMessageError);
    expect(() => parseDelivery(record)).toThrow(field);
  });

  it('reads the amount JSON keeps (the last) when one is written plain and one escaped, after a message that poisons the key (nodejs/node#63785)', () => {
    // Prepare: a message whose key after amount is \u0061 as text (the first 6 characters of
    // "\u0061mount", whose decoded length is 6). On Node 24 Powertools' JSON.parse had then read
    // the next message's "\u0061mount" as that key, and taken the amount 5 where the JSON says 7.
    const start = body({}).replace(/"amount":10,.*$/, '"amount":5,');
    const end = '"currency":"EUR","acceptedAt":1764050000000}';
    const poison = standardRecord();
    poison.body = `${start}"\\\\u0061":7,${end}`;
    parseDelivery(poison);
    const record = standardRecord();
    record.body = `${start}"\\u0061mount":7,${end}`;

    // Act
    const delivery = parseDelivery(record);

    // Assess
    expect(delivery.message.amount).toBe(7);
  });

  it('drops an unknown top-level field, as a reader of a newer writer must', () => {
    // Prepare
    const record = standardRecord();
    record.body = body({ giftWrap: true });

    // Act
    const delivery = parseDelivery(record);

    // Assess
    expect(delivery.message).not.toHaveProperty('giftWrap');
    expect(delivery.message.orderId).toBe('order-1');
  });

  it('drops an unknown field inside an item, as a reader of a newer writer must', () => {
    // Prepare
    const record = standardRecord();
    const body = JSON.parse(record.body);
    body.items[0].discount = 0.5;
    record.body = JSON.stringify(body);

    // Act
    const delivery = parseDelivery(record);

    // Assess
    expect(delivery.message.items).toEqual([{ sku: 'sku-1', quantity: 2, unitPrice: 5 }]);
  });

  it.each(['', '0', 'abc', '1.5', '-2', '01', ' 3', '99999999999'])(
    'refuses a record whose ApproximateReceiveCount is %j, naming the attribute, where it was read as a first receive',
    (count) => {
      // Prepare
      const record = standardRecord();
      record.attributes.ApproximateReceiveCount = count;

      // Act / Assess
      expect(() => parseDelivery(record)).toThrow(MalformedMessageError);
      expect(() => parseDelivery(record)).toThrow('ApproximateReceiveCount');
    },
  );

  it('quotes a bad receive count cut on a code point boundary, never half an emoji', () => {
    // Prepare: the count's JSON is a quote, 38 x's, then an emoji whose two UTF-16 units are the
    // 40th and 41st: a cut at 40 units would end on its high surrogate alone
    const record = standardRecord();
    record.attributes.ApproximateReceiveCount = `${'x'.repeat(38)}\u{1F600}tail`;

    // Act
    let message = '';
    try {
      parseDelivery(record);
    } catch (err) {
      message = (err as Error).message;
    }

    // Assess
    expect(message).toContain(`got "${'x'.repeat(38)}`);
    expect(message).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    expect(message.endsWith('x')).toBe(true);
  });

  it('reads a receive count of several digits as the number', () => {
    const record = standardRecord();
    record.attributes.ApproximateReceiveCount = '12';
    expect(parseDelivery(record).receiveCount).toBe(12);
  });

  it('refuses a record that is not an SQS record', () => {
    // Prepare
    const record = standardRecord() as unknown as Record<string, unknown>;
    record.eventSource = 'aws:kinesis';

    // Act / Assess
    expect(() => parseDelivery(record as unknown as SQSRecord)).toThrow('eventSource');
  });
});

/** The fixture's order body with some fields changed. */
function body(changes: Record<string, unknown>): string {
  return JSON.stringify({ ...JSON.parse(standardRecord().body), ...changes });
}
