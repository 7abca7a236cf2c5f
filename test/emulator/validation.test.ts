import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import { callJson, callQuery, type Harness, type RawAnswer, startEmulator } from './helpers';

/**
 * Every bad parameter gets the error AWS answers for it, and a request that fails changes
 * nothing. The expected codes come from AWS's API reference and from what SDK users and
 * AWS-validated emulator suites recorded against real SQS; docs/fidelity.md lists the cases
 * where only the code, not the wording, is known.
 *
 * On the JSON protocol AWS answers `__type` with the JSON shape name and the Query code in
 * `x-amzn-query-error`: InvalidParameterValueException / InvalidParameterValue,
 * MissingRequiredParameterException / MissingParameter, and the modelled errors (for example
 * TooManyEntriesInBatchRequest / AWS.SimpleQueueService.TooManyEntriesInBatchRequest).
 */

type Expect = { type: string; queryCode?: string; status?: number; message?: RegExp };

const INVALID: Expect = {
  type: 'InvalidParameterValueException',
  queryCode: 'InvalidParameterValue',
};
const MISSING: Expect = {
  type: 'MissingRequiredParameterException',
  queryCode: 'MissingParameter',
};
const SERIALIZATION: Expect = { type: 'SerializationException', status: 400 };

function expectError(answer: RawAnswer, e: Expect): void {
  expect({
    status: answer.status,
    type: answer.type,
    ...(e.queryCode !== undefined ? { queryCode: answer.queryCode } : {}),
  }).toEqual({
    status: e.status ?? 400,
    type: e.type,
    ...(e.queryCode !== undefined ? { queryCode: e.queryCode } : {}),
  });
  if (e.message) expect(answer.message).toMatch(e.message);
}

describe('parameter validation (AWS error codes, nothing changed on failure)', () => {
  let h: Harness;
  let std: string;
  let fifo: string;
  let small: string;
  let dlqArn: string;

  const json = (action: string, body: unknown) => callJson(h.url, action, body);

  /** Every queue's attributes and tags: what a failed request must leave as it was. */
  async function state(): Promise<unknown> {
    const { body } = await json('ListQueues', {});
    const urls = (body.QueueUrls as string[] | undefined) ?? [];
    return Promise.all(
      urls.sort().map(async (QueueUrl) => ({
        QueueUrl,
        attributes: (await json('GetQueueAttributes', { QueueUrl, AttributeNames: ['All'] })).body,
        tags: (await json('ListQueueTags', { QueueUrl })).body,
      })),
    );
  }

  /**
   * A Policy quota, both sides: `fits` is taken on set and on create (named `${name}-max`) and
   * read back as sent; `over` is refused on set and on create (`${name}-over`), over the SDK and
   * over Query, with OverLimit / 403 and `message`, and every queue is as it was before.
   */
  async function expectPolicyQuota(
    name: string,
    fits: string,
    over: string,
    message: string,
  ): Promise<void> {
    await h.sqs.send(
      new SetQueueAttributesCommand({ QueueUrl: std, Attributes: { Policy: fits } }),
    );
    const made = await h.sqs.send(
      new CreateQueueCommand({ QueueName: `${name}-max`, Attributes: { Policy: fits } }),
    );
    for (const QueueUrl of [std, made.QueueUrl!]) {
      const got = await h.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['Policy'] }),
      );
      expect(got.Attributes?.Policy).toBe(fits);
    }
    const before = await state();

    const refusals = [
      h.sqs.send(new SetQueueAttributesCommand({ QueueUrl: std, Attributes: { Policy: over } })),
      h.sqs.send(
        new CreateQueueCommand({ QueueName: `${name}-over`, Attributes: { Policy: over } }),
      ),
    ];
    const query = await Promise.all(
      [
        [
          ['Action', 'SetQueueAttributes'],
          ['QueueUrl', std],
        ],
        [
          ['Action', 'CreateQueue'],
          ['QueueName', `${name}-over`],
        ],
      ].map((head) =>
        callQuery(h.url, [
          ...(head as [string, string][]),
          ['Attribute.1.Name', 'Policy'],
          ['Attribute.1.Value', over],
        ]),
      ),
    );

    for (const refused of refusals) {
      await expect(refused).rejects.toMatchObject({
        name: 'OverLimit',
        message,
        $metadata: { httpStatusCode: 403 },
      });
    }
    for (const out of query) {
      expect([out.status, out.queryCode, out.message]).toEqual([403, 'OverLimit', message]);
    }
    expect(await state()).toEqual(before);
  }

  beforeEach(async () => {
    h = await startEmulator('none');
    std = String((await json('CreateQueue', { QueueName: 'std' })).body.QueueUrl);
    fifo = String(
      (await json('CreateQueue', { QueueName: 'q.fifo', Attributes: { FifoQueue: 'true' } })).body
        .QueueUrl,
    );
    small = String(
      (
        await json('CreateQueue', {
          QueueName: 'small',
          Attributes: { MaximumMessageSize: '1024' },
        })
      ).body.QueueUrl,
    );
    const dlq = String((await json('CreateQueue', { QueueName: 'dlq' })).body.QueueUrl);
    dlqArn = String(
      (
        (await json('GetQueueAttributes', { QueueUrl: dlq, AttributeNames: ['QueueArn'] })).body
          .Attributes as Record<string, string>
      ).QueueArn,
    );
    await json('SendMessage', { QueueUrl: std, MessageBody: 'waiting' });
  });
  afterEach(() => h.stop());

  const cases: [string, string, () => Record<string, unknown>, Expect][] = [
    [
      'an empty message body',
      'SendMessage',
      () => ({ QueueUrl: std, MessageBody: '' }),
      { ...MISSING, message: /parameter MessageBody/ },
    ],
    [
      'a body with a character outside the XML set',
      'SendMessage',
      () => ({ QueueUrl: std, MessageBody: 'a\u0001b' }),
      {
        type: 'InvalidMessageContents',
        queryCode: 'InvalidMessageContents',
        message: /Invalid binary character '#x1' was found in the message body/,
      },
    ],
    [
      'a message over the queue MaximumMessageSize',
      'SendMessage',
      () => ({ QueueUrl: small, MessageBody: 'x'.repeat(1025) }),
      { ...INVALID, message: /Reason: Message must be shorter than 1024 bytes/ },
    ],
    [
      'a MessageGroupId with a space',
      'SendMessage',
      () => ({ QueueUrl: std, MessageBody: 'x', MessageGroupId: 'a b' }),
      {
        ...INVALID,
        message:
          /MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length/,
      },
    ],
    [
      'a MessageDeduplicationId on a standard queue',
      'SendMessage',
      () => ({ QueueUrl: std, MessageBody: 'x', MessageDeduplicationId: 'd' }),
      { ...INVALID, message: /parameter MessageDeduplicationId is invalid/ },
    ],
    [
      'a FIFO send without MessageGroupId',
      'SendMessage',
      () => ({ QueueUrl: fifo, MessageBody: 'x', MessageDeduplicationId: 'd' }),
      { ...MISSING, message: /MessageGroupId/ },
    ],
    [
      'a per-message DelaySeconds on a FIFO queue',
      'SendMessage',
      () => ({
        QueueUrl: fifo,
        MessageBody: 'x',
        MessageGroupId: 'g',
        MessageDeduplicationId: 'd',
        DelaySeconds: 2,
      }),
      { ...INVALID, message: /Value 2 for parameter DelaySeconds is invalid/ },
    ],
    [
      'a FIFO send without a deduplication id or content-based deduplication',
      'SendMessage',
      () => ({ QueueUrl: fifo, MessageBody: 'x', MessageGroupId: 'g' }),
      {
        ...INVALID,
        message: /ContentBasedDeduplication enabled or MessageDeduplicationId provided/,
      },
    ],
    [
      'a message attribute with an empty string value',
      'SendMessage',
      () => ({
        QueueUrl: std,
        MessageBody: 'x',
        MessageAttributes: { a: { DataType: 'String', StringValue: '' } },
      }),
      {
        ...INVALID,
        message: /Message \(user\) attribute 'a' must contain a non-empty value of type 'String'/,
      },
    ],
    [
      'a hexadecimal Number attribute (found in review)',
      'SendMessage',
      () => ({
        QueueUrl: std,
        MessageBody: 'x',
        MessageAttributes: { n: { DataType: 'Number', StringValue: '0x10' } },
      }),
      { ...INVALID, message: /Can't cast the value of message \(user\) attribute 'n' to a number/ },
    ],
    [
      'a Number attribute with spaces around it',
      'SendMessage',
      () => ({
        QueueUrl: std,
        MessageBody: 'x',
        MessageAttributes: { n: { DataType: 'Number', StringValue: ' 5 ' } },
      }),
      { ...INVALID, message: /Can't cast the value of message \(user\) attribute 'n' to a number/ },
    ],
    [
      'a Number attribute over 10^126',
      'SendMessage',
      () => ({
        QueueUrl: std,
        MessageBody: 'x',
        MessageAttributes: { n: { DataType: 'Number', StringValue: '1e200' } },
      }),
      { ...INVALID, message: /Can't cast the value of message \(user\) attribute 'n' to a number/ },
    ],
    [
      'a Number attribute under 10^-128',
      'SendMessage',
      () => ({
        QueueUrl: std,
        MessageBody: 'x',
        MessageAttributes: { n: { DataType: 'Number', StringValue: '1e-200' } },
      }),
      { ...INVALID, message: /Can't cast the value of message \(user\) attribute 'n' to a number/ },
    ],
    [
      'a Number attribute of 39 digits',
      'SendMessage',
      () => ({
        QueueUrl: std,
        MessageBody: 'x',
        MessageAttributes: { n: { DataType: 'Number', StringValue: '1'.repeat(39) } },
      }),
      { ...INVALID, message: /Can't cast the value of message \(user\) attribute 'n' to a number/ },
    ],
    [
      'a Number attribute in binary notation',
      'SendMessage',
      () => ({
        QueueUrl: std,
        MessageBody: 'x',
        MessageAttributes: { n: { DataType: 'Number', StringValue: '0b1' } },
      }),
      { ...INVALID, message: /Can't cast the value of message \(user\) attribute 'n' to a number/ },
    ],
    [
      'a Binary attribute that is not base64 (found in review: it was stored as 0 bytes)',
      'SendMessage',
      () => ({
        QueueUrl: std,
        MessageBody: 'x',
        MessageAttributes: { b: { DataType: 'Binary', BinaryValue: '!!' } },
      }),
      { ...SERIALIZATION, message: /Base64 encoded length is expected a multiple of 4 bytes/ },
    ],
    [
      'a Binary attribute with characters outside base64',
      'SendMessage',
      () => ({
        QueueUrl: std,
        MessageBody: 'x',
        MessageAttributes: { b: { DataType: 'Binary', BinaryValue: 'ab*d' } },
      }),
      { ...SERIALIZATION, message: /Base64/ },
    ],
    [
      'DelaySeconds as a JSON string',
      'SendMessage',
      () => ({ QueueUrl: std, MessageBody: 'x', DelaySeconds: '5' }),
      { ...SERIALIZATION, message: /STRING_VALUE can not be converted to an Integer/ },
    ],
    [
      'MessageBody as a JSON number',
      'SendMessage',
      () => ({ QueueUrl: std, MessageBody: 5 }),
      SERIALIZATION,
    ],
    [
      'MessageAttributes as a list',
      'SendMessage',
      () => ({ QueueUrl: std, MessageBody: 'x', MessageAttributes: [] }),
      SERIALIZATION,
    ],
    [
      'a system attribute other than AWSTraceHeader',
      'SendMessage',
      () => ({
        QueueUrl: std,
        MessageBody: 'x',
        MessageSystemAttributes: { Bogus: { DataType: 'String', StringValue: 'v' } },
      }),
      INVALID,
    ],
    [
      'an empty batch',
      'SendMessageBatch',
      () => ({ QueueUrl: std, Entries: [] }),
      { type: 'EmptyBatchRequest', queryCode: 'AWS.SimpleQueueService.EmptyBatchRequest' },
    ],
    [
      'a batch of 11 entries',
      'SendMessageBatch',
      () => ({
        QueueUrl: std,
        Entries: Array.from({ length: 11 }, (_, i) => ({ Id: `e${i}`, MessageBody: 'x' })),
      }),
      {
        type: 'TooManyEntriesInBatchRequest',
        queryCode: 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
      },
    ],
    [
      'a batch entry id with a colon',
      'SendMessageBatch',
      () => ({ QueueUrl: std, Entries: [{ Id: 'a:b', MessageBody: 'x' }] }),
      { type: 'InvalidBatchEntryId', queryCode: 'AWS.SimpleQueueService.InvalidBatchEntryId' },
    ],
    [
      'repeated batch entry ids',
      'SendMessageBatch',
      () => ({
        QueueUrl: std,
        Entries: [
          { Id: 'a', MessageBody: 'x' },
          { Id: 'a', MessageBody: 'y' },
        ],
      }),
      {
        type: 'BatchEntryIdsNotDistinct',
        queryCode: 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct',
      },
    ],
    [
      'Entries as a string',
      'SendMessageBatch',
      () => ({ QueueUrl: std, Entries: 'x' }),
      SERIALIZATION,
    ],
    [
      'MaxNumberOfMessages 11',
      'ReceiveMessage',
      () => ({ QueueUrl: std, MaxNumberOfMessages: 11 }),
      {
        ...INVALID,
        message:
          /^Value 11 for parameter MaxNumberOfMessages is invalid\. Reason: Must be between 1 and 10, if provided\.$/,
      },
    ],
    [
      'WaitTimeSeconds 21',
      'ReceiveMessage',
      () => ({ QueueUrl: std, WaitTimeSeconds: 21 }),
      {
        ...INVALID,
        message:
          /^Value 21 for parameter WaitTimeSeconds is invalid\. Reason: Must be >= 0 and <= 20, if provided\.$/,
      },
    ],
    [
      'a receive VisibilityTimeout over 12 hours',
      'ReceiveMessage',
      () => ({ QueueUrl: std, VisibilityTimeout: 43_201 }),
      INVALID,
    ],
    [
      'AttributeNames as a number',
      'ReceiveMessage',
      () => ({ QueueUrl: std, AttributeNames: 5 }),
      SERIALIZATION,
    ],
    [
      'MessageAttributeNames holding a number',
      'ReceiveMessage',
      () => ({ QueueUrl: std, MessageAttributeNames: [1] }),
      SERIALIZATION,
    ],
    [
      'MessageSystemAttributeNames as a string',
      'ReceiveMessage',
      () => ({ QueueUrl: std, MessageSystemAttributeNames: 'All' }),
      SERIALIZATION,
    ],
    [
      'an unknown system attribute name',
      'ReceiveMessage',
      () => ({ QueueUrl: std, MessageSystemAttributeNames: ['Bogus'] }),
      {
        type: 'InvalidAttributeName',
        queryCode: 'InvalidAttributeName',
        message: /Unknown Attribute Bogus/,
      },
    ],
    [
      'a receipt handle that is not one',
      'DeleteMessage',
      () => ({ QueueUrl: std, ReceiptHandle: 'garbage' }),
      {
        type: 'ReceiptHandleIsInvalid',
        queryCode: 'ReceiptHandleIsInvalid',
        status: 404,
        message: /The input receipt handle "garbage" is not a valid receipt handle/,
      },
    ],
    ['a DeleteMessage without ReceiptHandle', 'DeleteMessage', () => ({ QueueUrl: std }), MISSING],
    [
      'a visibility change with a receipt handle that is not one',
      'ChangeMessageVisibility',
      () => ({ QueueUrl: std, ReceiptHandle: 'garbage', VisibilityTimeout: 5 }),
      { type: 'ReceiptHandleIsInvalid', queryCode: 'ReceiptHandleIsInvalid', status: 404 },
    ],
    [
      'a visibility change without VisibilityTimeout',
      'ChangeMessageVisibility',
      () => ({ QueueUrl: std, ReceiptHandle: 'garbage' }),
      MISSING,
    ],
    [
      'an unknown queue attribute name',
      'GetQueueAttributes',
      () => ({ QueueUrl: std, AttributeNames: ['Bogus'] }),
      {
        type: 'InvalidAttributeName',
        queryCode: 'InvalidAttributeName',
        message: /^Unknown Attribute Bogus\.$/,
      },
    ],
    [
      'AttributeNames as a number',
      'GetQueueAttributes',
      () => ({ QueueUrl: std, AttributeNames: 5 }),
      SERIALIZATION,
    ],
    [
      'a VisibilityTimeout attribute over 12 hours',
      'SetQueueAttributes',
      () => ({ QueueUrl: std, Attributes: { VisibilityTimeout: '43201' } }),
      { type: 'InvalidAttributeValue', queryCode: 'InvalidAttributeValue' },
    ],
    [
      'a RedrivePolicy of "null"',
      'SetQueueAttributes',
      () => ({ QueueUrl: std, Attributes: { RedrivePolicy: 'null' } }),
      INVALID,
    ],
    [
      'a RedrivePolicy of "[]"',
      'SetQueueAttributes',
      () => ({ QueueUrl: std, Attributes: { RedrivePolicy: '[]' } }),
      INVALID,
    ],
    [
      'a RedriveAllowPolicy of "null"',
      'SetQueueAttributes',
      () => ({ QueueUrl: std, Attributes: { RedriveAllowPolicy: 'null' } }),
      INVALID,
    ],
    [
      'a RedrivePolicy naming a queue that does not exist',
      'SetQueueAttributes',
      () => ({
        QueueUrl: std,
        Attributes: {
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: `${dlqArn}-nope`,
            maxReceiveCount: 3,
          }),
        },
      }),
      INVALID,
    ],
    [
      'a maxReceiveCount of 0',
      'SetQueueAttributes',
      () => ({
        QueueUrl: std,
        Attributes: {
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 0 }),
        },
      }),
      INVALID,
    ],
    [
      'FifoQueue on a standard queue',
      'SetQueueAttributes',
      () => ({ QueueUrl: std, Attributes: { FifoQueue: 'true' } }),
      {
        type: 'InvalidAttributeName',
        queryCode: 'InvalidAttributeName',
        message: /^Unknown Attribute FifoQueue\.$/,
      },
    ],
    [
      'FifoQueue false on a FIFO queue',
      'SetQueueAttributes',
      () => ({ QueueUrl: fifo, Attributes: { FifoQueue: 'false' } }),
      {
        type: 'InvalidAttributeValue',
        queryCode: 'InvalidAttributeValue',
        message: /Modifying queue type is not supported/,
      },
    ],
    [
      'a SetQueueAttributes without Attributes',
      'SetQueueAttributes',
      () => ({ QueueUrl: std }),
      MISSING,
    ],
    [
      'FifoQueue false on a new standard queue',
      'CreateQueue',
      () => ({ QueueName: 'plain', Attributes: { FifoQueue: 'false' } }),
      {
        type: 'InvalidAttributeName',
        queryCode: 'InvalidAttributeName',
        message: /^Unknown Attribute FifoQueue\.$/,
      },
    ],
    [
      'a DeduplicationScope on a new standard queue',
      'CreateQueue',
      () => ({ QueueName: 'plain', Attributes: { DeduplicationScope: 'queue' } }),
      {
        type: 'InvalidAttributeName',
        queryCode: 'InvalidAttributeName',
        message: /DeduplicationScope only when FifoQueue is set to true/,
      },
    ],
    [
      'a repeated CreateQueue with another attribute value',
      'CreateQueue',
      () => ({ QueueName: 'std', Attributes: { DelaySeconds: '5' } }),
      {
        type: 'QueueNameExists',
        queryCode: 'QueueAlreadyExists',
        message: /different value for attribute DelaySeconds/,
      },
    ],
    [
      'a 51st tag',
      'TagQueue',
      () => ({
        QueueUrl: std,
        Tags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])),
      }),
      INVALID,
    ],
    [
      'a queue URL naming no queue',
      'SendMessage',
      () => ({ QueueUrl: `${std}-nope`, MessageBody: 'x' }),
      { type: 'QueueDoesNotExist', queryCode: 'AWS.SimpleQueueService.NonExistentQueue' },
    ],
    ['a queue URL as a number', 'GetQueueAttributes', () => ({ QueueUrl: 1 }), SERIALIZATION],
  ];

  it.each(cases)(
    'answers %s with the AWS error and changes nothing',
    async (_, action, input, e) => {
      // Prepare
      const before = await state();

      // Act
      const answer = await json(action, input());

      // Assess
      expectError(answer, e);
      expect(await state()).toEqual(before);
    },
  );

  it.each([
    '0',
    '-1.5e3',
    '+.5',
    '007.100',
    '1'.repeat(38),
    `0.${'0'.repeat(20)}${'9'.repeat(38)}`,
    '1e126',
    '9.99e125',
    '1e-128',
    '-1E-128',
  ])('takes %s as a Number attribute: up to 38 digits, 10^-128 to 10^126', async (value) => {
    const out = await json('SendMessage', {
      QueueUrl: std,
      MessageBody: 'x',
      MessageAttributes: { n: { DataType: 'Number', StringValue: value } },
    });
    expect(out.status).toBe(200);
  });

  it('keeps a batch entry failure to that entry, with the Query code AWS puts in BatchResultErrorEntry', async () => {
    const out = await json('SendMessageBatch', {
      QueueUrl: std,
      Entries: [
        { Id: 'ok', MessageBody: 'fine' },
        { Id: 'bad', MessageBody: 'a\u0001' },
        { Id: 'empty', MessageBody: '' },
      ],
    });
    expect(out.status).toBe(200);
    expect(out.body.Successful).toEqual([expect.objectContaining({ Id: 'ok' })]);
    expect(out.body.Failed).toEqual([
      expect.objectContaining({ Id: 'bad', Code: 'InvalidMessageContents', SenderFault: true }),
      expect.objectContaining({ Id: 'empty', Code: 'MissingParameter', SenderFault: true }),
    ]);
    const fifoOut = await json('SendMessageBatch', {
      QueueUrl: fifo,
      Entries: [{ Id: 'nogroup', MessageBody: 'x', MessageDeduplicationId: 'd' }],
    });
    // AWS answers a batch entry without a group differently from a single send.
    expect(fifoOut.body.Failed).toEqual([
      expect.objectContaining({
        Id: 'nogroup',
        Code: 'InvalidParameterValue',
        Message: 'The request must contain the parameter MessageGroupId.',
      }),
    ]);
  });

  it('takes DelaySeconds 0 on a FIFO queue (only a non-zero per-message delay is refused)', async () => {
    const out = await json('SendMessage', {
      QueueUrl: fifo,
      MessageBody: 'x',
      MessageGroupId: 'g',
      MessageDeduplicationId: 'd0',
      DelaySeconds: 0,
    });
    expect(out.status).toBe(200);
  });

  it('validates a receive before taking any message: a bad MessageAttributeNames hides nothing', async () => {
    // Prepare: the queue holds one visible message.
    const bad = await json('ReceiveMessage', {
      QueueUrl: std,
      MessageAttributeNames: [1],
      MaxNumberOfMessages: 10,
    });

    // Act
    const good = await json('ReceiveMessage', { QueueUrl: std, MaxNumberOfMessages: 10 });

    // Assess: the failed receive did not put the message in flight.
    expect(bad.status).toBe(400);
    expect((good.body.Messages as unknown[]).length).toBe(1);
  });

  it('checks the 50-tag limit before adding any tag', async () => {
    await json('TagQueue', {
      QueueUrl: std,
      Tags: Object.fromEntries(Array.from({ length: 45 }, (_, i) => [`k${i}`, 'v'])),
    });
    const over = await json('TagQueue', {
      QueueUrl: std,
      Tags: Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`new${i}`, 'v'])),
    });
    expectError(over, INVALID);
    const tags = (await json('ListQueueTags', { QueueUrl: std })).body.Tags as Record<
      string,
      string
    >;
    expect(Object.keys(tags)).toHaveLength(45);
    // Overwriting existing keys does not count against the limit.
    const overwrite = await json('TagQueue', { QueueUrl: std, Tags: { k0: 'changed', new0: 'v' } });
    expect(overwrite.status).toBe(200);
  });

  it('answers a second purge within 60 seconds with PurgeQueueInProgress (403)', async () => {
    expect((await json('PurgeQueue', { QueueUrl: std })).status).toBe(200);
    expectError(await json('PurgeQueue', { QueueUrl: std }), {
      type: 'PurgeQueueInProgress',
      queryCode: 'AWS.SimpleQueueService.PurgeQueueInProgress',
      status: 403,
    });
  });

  describe('receipt handles after the message moved on', () => {
    const receive = async (QueueUrl: string) =>
      (
        (await json('ReceiveMessage', { QueueUrl, VisibilityTimeout: 10 })).body.Messages as {
          ReceiptHandle: string;
        }[]
      )[0]!.ReceiptHandle;
    /** One message in group `g` of a FIFO queue. */
    const sendFifo = (QueueUrl: string) =>
      json('SendMessage', {
        QueueUrl,
        MessageBody: 'x',
        MessageGroupId: 'g',
        MessageDeduplicationId: 'd',
      });
    /** How SQS words a refused FIFO handle. */
    const EXPIRED = /Reason: The receipt handle has expired\./;

    it('refuses a visibility change for a deleted message', async () => {
      const handle = await receive(std);
      expect((await json('DeleteMessage', { QueueUrl: std, ReceiptHandle: handle })).status).toBe(
        200,
      );
      expectError(
        await json('ChangeMessageVisibility', {
          QueueUrl: std,
          ReceiptHandle: handle,
          VisibilityTimeout: 5,
        }),
        {
          ...INVALID,
          message:
            /for parameter ReceiptHandle is invalid\. Reason: Message does not exist or is not available for visibility timeout change\./,
        },
      );
    });

    it('accepts and ignores a visibility change once the visibility timeout has passed', async () => {
      const handle = await receive(std);
      h.emulator.clock.advance(10_000);
      const change = await json('ChangeMessageVisibility', {
        QueueUrl: std,
        ReceiptHandle: handle,
        VisibilityTimeout: 600,
      });
      expect(change.status).toBe(200);
      const again = await json('ReceiveMessage', { QueueUrl: std });
      expect((again.body.Messages as unknown[]).length).toBe(1);
    });

    it('refuses a visibility timeout that would end more than 12 hours after the receive', async () => {
      const handle = await receive(std);
      h.emulator.clock.advance(5_000);
      expectError(
        await json('ChangeMessageVisibility', {
          QueueUrl: std,
          ReceiptHandle: handle,
          VisibilityTimeout: 43_200,
        }),
        {
          ...INVALID,
          message: /Total VisibilityTimeout for the message is beyond the limit \[43200 seconds\]/,
        },
      );
      const ok = await json('ChangeMessageVisibility', {
        QueueUrl: std,
        ReceiptHandle: handle,
        VisibilityTimeout: 43_190,
      });
      expect(ok.status).toBe(200);
    });

    it('refuses to delete a FIFO message with a handle whose visibility timeout has passed', async () => {
      await sendFifo(fifo);
      const handle = await receive(fifo);
      h.emulator.clock.advance(10_000);
      expectError(await json('DeleteMessage', { QueueUrl: fifo, ReceiptHandle: handle }), {
        ...INVALID,
        message: EXPIRED,
      });
      const still = await json('ReceiveMessage', { QueueUrl: fifo });
      expect((still.body.Messages as unknown[]).length).toBe(1);
    });

    it('refuses to delete a FIFO message with the handle of an earlier receive once another receive holds it (found in review: it answered success and deleted nothing)', async () => {
      // Prepare: received, its visibility timeout passed, received again by someone else.
      await sendFifo(fifo);
      const first = await receive(fifo);
      h.emulator.clock.advance(10_000);
      const second = await receive(fifo);

      // Act
      const single = await json('DeleteMessage', { QueueUrl: fifo, ReceiptHandle: first });
      const batch = await json('DeleteMessageBatch', {
        QueueUrl: fifo,
        Entries: [{ Id: 'old', ReceiptHandle: first }],
      });

      // Assess: refused as an expired handle, singly and in a batch; the message stays with its
      // new holder, who can still delete it (and deleting it again is no error).
      expectError(single, { ...INVALID, message: EXPIRED });
      expect(batch.status).toBe(200);
      expect(batch.body.Failed).toEqual([
        expect.objectContaining({
          Id: 'old',
          Code: 'InvalidParameterValue',
          SenderFault: true,
          Message: expect.stringMatching(EXPIRED),
        }),
      ]);
      const held = await json('GetQueueAttributes', {
        QueueUrl: fifo,
        AttributeNames: ['ApproximateNumberOfMessagesNotVisible'],
      });
      expect(held.body.Attributes).toEqual({ ApproximateNumberOfMessagesNotVisible: '1' });
      for (const handle of [second, second]) {
        expect(
          (await json('DeleteMessage', { QueueUrl: fifo, ReceiptHandle: handle })).status,
        ).toBe(200);
      }
      expectError(await json('DeleteMessage', { QueueUrl: fifo, ReceiptHandle: first }), {
        ...INVALID,
        message: EXPIRED,
      });
      h.emulator.clock.advance(10_000);
      expect((await json('ReceiveMessage', { QueueUrl: fifo })).body.Messages ?? []).toEqual([]);
    });

    it('refuses to delete a deleted FIFO message again through its handle once that visibility timeout has passed (found in review: it answered success)', async () => {
      // Prepare: received and deleted through its handle.
      await sendFifo(fifo);
      const handle = await receive(fifo);
      expect((await json('DeleteMessage', { QueueUrl: fifo, ReceiptHandle: handle })).status).toBe(
        200,
      );

      // Act: a retried delete within the visibility timeout, then one after it.
      h.emulator.clock.advance(5_000);
      const retried = await json('DeleteMessageBatch', {
        QueueUrl: fifo,
        Entries: [{ Id: 'again', ReceiptHandle: handle }],
      });
      h.emulator.clock.advance(5_000);
      const late = await json('DeleteMessageBatch', {
        QueueUrl: fifo,
        Entries: [{ Id: 'late', ReceiptHandle: handle }],
      });

      // Assess: the retry is success; the late one is refused as expired, as a batch entry
      // failure, so a caller counting Successful (the event source mapping) does not count it.
      expect(retried.body).toEqual({ Successful: [{ Id: 'again' }], Failed: [] });
      expect(late.body.Successful).toEqual([]);
      expect(late.body.Failed).toEqual([
        expect.objectContaining({
          Id: 'late',
          Code: 'InvalidParameterValue',
          Message: expect.stringMatching(EXPIRED),
        }),
      ]);
    });

    it('refuses to delete a FIFO message through the handle of the receive before it was dead-lettered (found in review: it answered success)', async () => {
      // Prepare: a FIFO queue that dead-letters on the second receive.
      const fifoDlq = String(
        (await json('CreateQueue', { QueueName: 'dlq.fifo', Attributes: { FifoQueue: 'true' } }))
          .body.QueueUrl,
      );
      const fifoDlqArn = String(
        (
          (await json('GetQueueAttributes', { QueueUrl: fifoDlq, AttributeNames: ['QueueArn'] }))
            .body.Attributes as Record<string, string>
        ).QueueArn,
      );
      const src = String(
        (
          await json('CreateQueue', {
            QueueName: 'src.fifo',
            Attributes: {
              FifoQueue: 'true',
              RedrivePolicy: JSON.stringify({
                deadLetterTargetArn: fifoDlqArn,
                maxReceiveCount: 1,
              }),
            },
          })
        ).body.QueueUrl,
      );
      await sendFifo(src);
      const handle = await receive(src);
      h.emulator.clock.advance(10_000);
      expect((await json('ReceiveMessage', { QueueUrl: src })).body.Messages ?? []).toEqual([]);

      // Act
      const answer = await json('DeleteMessage', { QueueUrl: src, ReceiptHandle: handle });

      // Assess: refused, and the message is still in the DLQ.
      expectError(answer, { ...INVALID, message: EXPIRED });
      const moved = await json('ReceiveMessage', { QueueUrl: fifoDlq });
      expect((moved.body.Messages as { Body: string }[]).map((m) => m.Body)).toEqual(['x']);
    });

    it('refuses a visibility change through the handle of an earlier receive of a FIFO message received again as expired, in both protocols, singly, in a batch and through the SDK, changing nothing (found in review: "Message does not exist")', async () => {
      // Prepare: received, its visibility timeout passed, received again by someone else.
      await sendFifo(fifo);
      const first = await receive(fifo);
      h.emulator.clock.advance(10_000);
      const second = await receive(fifo);
      // Each attempt asks for 0, which would make the message visible at once if applied.
      const change = { QueueUrl: fifo, ReceiptHandle: first, VisibilityTimeout: 0 };

      // Act
      const single = await json('ChangeMessageVisibility', change);
      const batch = await json('ChangeMessageVisibilityBatch', {
        QueueUrl: fifo,
        Entries: [{ Id: 'old', ReceiptHandle: first, VisibilityTimeout: 0 }],
      });
      const query = await callQuery(h.url, {
        Action: 'ChangeMessageVisibility',
        QueueUrl: fifo,
        ReceiptHandle: first,
        VisibilityTimeout: '0',
      });
      const sdk = await h.sqs
        .send(new ChangeMessageVisibilityCommand(change))
        .catch((e: unknown) => e as { name: string; message: string; $metadata: object });

      // Assess: InvalidParameterValue, 400, "The receipt handle has expired." on every path
      // (JSON: the shape name in __type, AWS's Query code in x-amzn-query-error).
      expectError(single, { ...INVALID, message: EXPIRED });
      expect(single.message).toBe(
        `Value ${first} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.`,
      );
      expect(batch.status).toBe(200);
      expect(batch.body).toEqual({
        Successful: [],
        Failed: [
          {
            Id: 'old',
            Code: 'InvalidParameterValue',
            SenderFault: true,
            Message: expect.stringMatching(EXPIRED),
          },
        ],
      });
      expect({ status: query.status, code: query.queryCode }).toEqual({
        status: 400,
        code: 'InvalidParameterValue',
      });
      expect(query.message).toMatch(EXPIRED);
      expect(query.xml).toContain('<Type>Sender</Type>');
      expect(sdk).toMatchObject({
        name: 'InvalidParameterValue',
        message: expect.stringMatching(EXPIRED),
        $metadata: { httpStatusCode: 400 },
      });
      // Nothing changed: the newer receive still holds the message (no receive gets it), and its
      // own handle still changes and deletes it.
      expect((await json('ReceiveMessage', { QueueUrl: fifo })).body.Messages ?? []).toEqual([]);
      const own = await json('ChangeMessageVisibility', {
        QueueUrl: fifo,
        ReceiptHandle: second,
        VisibilityTimeout: 30,
      });
      expect(own.status).toBe(200);
      expect((await json('DeleteMessage', { QueueUrl: fifo, ReceiptHandle: second })).status).toBe(
        200,
      );
    });

    it('keeps "Message does not exist" for a visibility change through an earlier handle on a standard queue, and for a FIFO message that is gone', async () => {
      // A standard queue: the wording users saw from AWS for a handle of an earlier receive.
      await json('SendMessage', { QueueUrl: std, MessageBody: 'x' });
      const old = await receive(std);
      h.emulator.clock.advance(10_000);
      await receive(std);
      const GONE =
        /Reason: Message does not exist or is not available for visibility timeout change\./;
      expectError(
        await json('ChangeMessageVisibility', {
          QueueUrl: std,
          ReceiptHandle: old,
          VisibilityTimeout: 5,
        }),
        { ...INVALID, message: GONE },
      );
      // A FIFO message deleted since: no message, so nothing held the handle to expire.
      await sendFifo(fifo);
      const handle = await receive(fifo);
      await json('DeleteMessage', { QueueUrl: fifo, ReceiptHandle: handle });
      expectError(
        await json('ChangeMessageVisibility', {
          QueueUrl: fifo,
          ReceiptHandle: handle,
          VisibilityTimeout: 5,
        }),
        { ...INVALID, message: GONE },
      );
    });

    it.each([
      ['standard', false],
      ['FIFO', true],
    ])(
      'refuses a visibility change through the handle of a %s message past its retention period, still within its visibility timeout, as gone (found in review: taken)',
      async (_, isFifo) => {
        // "Amazon SQS automatically deletes messages left in a queue longer than the retention
        // period configured for the queue" (DeleteMessage, API reference).
        const QueueUrl = isFifo ? fifo : std;
        await json('SetQueueAttributes', {
          QueueUrl,
          Attributes: { MessageRetentionPeriod: '60' },
        });
        if (isFifo) await sendFifo(QueueUrl);
        else await json('SendMessage', { QueueUrl, MessageBody: 'x' });
        const handle = (
          (await json('ReceiveMessage', { QueueUrl, VisibilityTimeout: 3600 })).body.Messages as {
            ReceiptHandle: string;
          }[]
        )[0]!.ReceiptHandle;
        h.emulator.clock.advance(61_000);
        expectError(
          await json('ChangeMessageVisibility', {
            QueueUrl,
            ReceiptHandle: handle,
            VisibilityTimeout: 5,
          }),
          {
            ...INVALID,
            message:
              /Reason: Message does not exist or is not available for visibility timeout change\./,
          },
        );
      },
    );

    it('answers success to a delete through a purged FIFO message handle, expired or earlier, and refuses one of a message deleted before the purge (found in review: a purged message handle was refused as expired)', async () => {
      // Prepare: in group a, a message received, its timeout passed, received again (`older`,
      // `latest`); in group b, one received and deleted before the purge (`deleted`).
      await json('SendMessageBatch', {
        QueueUrl: fifo,
        Entries: ['a', 'b'].map((g) => ({
          Id: g,
          MessageBody: g,
          MessageGroupId: g,
          MessageDeduplicationId: g,
        })),
      });
      const handles = async (VisibilityTimeout = 10) =>
        Object.fromEntries(
          (
            (
              await json('ReceiveMessage', {
                QueueUrl: fifo,
                VisibilityTimeout,
                MaxNumberOfMessages: 10,
              })
            ).body.Messages as { Body: string; ReceiptHandle: string }[]
          ).map((m) => [m.Body, m.ReceiptHandle]),
        );
      const { a: older, b: deleted } = await handles();
      await json('DeleteMessage', { QueueUrl: fifo, ReceiptHandle: deleted });
      h.emulator.clock.advance(10_000);
      const { a: latest } = await handles();
      expect((await json('PurgeQueue', { QueueUrl: fifo })).status).toBe(200);
      // After the purge: a new message, held by a receive, which no delete below may touch.
      await json('SendMessage', {
        QueueUrl: fifo,
        MessageBody: 'new',
        MessageGroupId: 'a',
        MessageDeduplicationId: 'new',
      });
      const { new: fresh } = await handles(60);
      h.emulator.clock.advance(5_000);

      // Act: within the latest receive's timeout, then past it, and through the earlier handle.
      const within = await json('DeleteMessage', { QueueUrl: fifo, ReceiptHandle: latest });
      h.emulator.clock.advance(5_000);
      const batch = await json('DeleteMessageBatch', {
        QueueUrl: fifo,
        Entries: [
          { Id: 'latest', ReceiptHandle: latest },
          { Id: 'older', ReceiptHandle: older },
          { Id: 'deleted', ReceiptHandle: deleted },
        ],
      });
      const change = await json('ChangeMessageVisibility', {
        QueueUrl: fifo,
        ReceiptHandle: latest,
        VisibilityTimeout: 0,
      });

      // Assess: the purged message's handles delete "successfully" (it no longer exists); the
      // message deleted before the purge keeps its expired handle's refusal; a visibility change
      // finds no message; the message sent after the purge is still held by its receive.
      expect(within.status).toBe(200);
      expect(batch.body).toEqual({
        Successful: [{ Id: 'latest' }, { Id: 'older' }],
        Failed: [
          {
            Id: 'deleted',
            Code: 'InvalidParameterValue',
            SenderFault: true,
            Message: expect.stringMatching(EXPIRED),
          },
        ],
      });
      expectError(change, {
        ...INVALID,
        message:
          /Reason: Message does not exist or is not available for visibility timeout change\./,
      });
      const held = await json('GetQueueAttributes', {
        QueueUrl: fifo,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      });
      expect(held.body.Attributes).toEqual({
        ApproximateNumberOfMessages: '0',
        ApproximateNumberOfMessagesNotVisible: '1',
      });
      expect((await json('DeleteMessage', { QueueUrl: fifo, ReceiptHandle: fresh })).status).toBe(
        200,
      );
    });

    it('accepts the handle of an earlier receive on a standard queue without deleting the message, as AWS documents', async () => {
      // Prepare
      await json('SendMessage', { QueueUrl: std, MessageBody: 'x' });
      const first = await receive(std);
      h.emulator.clock.advance(10_000);
      await receive(std);

      // Act
      const answer = await json('DeleteMessage', { QueueUrl: std, ReceiptHandle: first });

      // Assess
      expect(answer.status).toBe(200);
      h.emulator.clock.advance(10_000);
      expect((await json('ReceiveMessage', { QueueUrl: std })).body.Messages).toHaveLength(1);
    });

    it('reports a bad handle in a batch as that entry ReceiptHandleIsInvalid', async () => {
      const out = await json('DeleteMessageBatch', {
        QueueUrl: std,
        Entries: [{ Id: 'x', ReceiptHandle: 'garbage' }],
      });
      expect(out.status).toBe(200);
      expect(out.body.Failed).toEqual([
        expect.objectContaining({ Id: 'x', Code: 'ReceiptHandleIsInvalid', SenderFault: true }),
      ]);
    });
  });

  describe('hostile queue attribute values, over both protocols', () => {
    /**
     * SetQueueAttributes on `queueUrl` and CreateQueue of a new queue of its type, with `attrs`,
     * each over JSON and over Query.
     */
    async function bothWays(queueUrl: string, attrs: Record<string, string>) {
      const isFifo = queueUrl === fifo;
      const createAttrs: Record<string, string> = isFifo ? { FifoQueue: 'true', ...attrs } : attrs;
      const query = (head: Record<string, string>, sent: Record<string, string>) =>
        callQuery(h.url, [
          ...Object.entries(head),
          ...Object.entries(sent).flatMap(([name, value], i): [string, string][] => [
            [`Attribute.${i + 1}.Name`, name],
            [`Attribute.${i + 1}.Value`, value],
          ]),
        ]);
      const QueueName = isFifo ? 'new.fifo' : 'new';
      return [
        await json('SetQueueAttributes', { QueueUrl: queueUrl, Attributes: attrs }),
        await query({ Action: 'SetQueueAttributes', QueueUrl: queueUrl }, attrs),
        await json('CreateQueue', { QueueName, Attributes: createAttrs }),
        await query({ Action: 'CreateQueue', QueueName }, createAttrs),
      ];
    }

    /** A test name's view of a value: long ones by their length. */
    const shown = (v: string): string =>
      v.length > 40
        ? `${JSON.stringify(v.slice(0, 8))}... (${v.length} characters)`
        : JSON.stringify(v);

    const NUMBERS = [
      'DelaySeconds',
      'MaximumMessageSize',
      'MessageRetentionPeriod',
      'ReceiveMessageWaitTimeSeconds',
      'VisibilityTimeout',
      'KmsDataKeyReusePeriodSeconds',
    ];
    const NOT_NUMBERS = [
      '',
      ' ',
      ' 60',
      '60 ',
      '+',
      '-',
      '+-60',
      '--60',
      '1e3',
      '0x10',
      '60.0',
      '\uFF16\uFF10',
      '9'.repeat(300_000),
      `+${'0'.repeat(300_000)}99999999999`,
      `${'0'.repeat(300_000)}x`,
      '6\u00000',
      '\uD800',
    ];
    it.each(
      NUMBERS.flatMap((name) => NOT_NUMBERS.map((value) => [name, shown(value), value] as const)),
    )('refuses %s %s with InvalidAttributeValue, changing nothing', async (name, _, value) => {
      const before = await state();
      for (const answer of await bothWays(std, { [name]: value })) {
        expect([answer.status, answer.type, answer.queryCode]).toEqual([
          400,
          'InvalidAttributeValue',
          'InvalidAttributeValue',
        ]);
        expect(answer.message).toBe(`Invalid value for the parameter ${name}.`);
      }
      expect(await state()).toEqual(before);
    });

    it.each(
      (
        [
          ['DelaySeconds', '0060', '60'],
          ['VisibilityTimeout', '+60', '60'],
          ['MessageRetentionPeriod', `${'0'.repeat(5000)}61`, '61'],
          ['ReceiveMessageWaitTimeSeconds', '-0', '0'],
          ['MaximumMessageSize', '+0002048', '2048'],
          ['KmsDataKeyReusePeriodSeconds', '0120', '120'],
        ] as const
      ).map(([name, sent, answered]) => [name, shown(sent), sent, answered] as const),
    )(
      'takes %s %s as an integer parse would and answers it in plain decimal, over both protocols, on set and create (a leading zero was refused, "+" too)',
      async (name, _, sent, answered) => {
        // KmsDataKeyReusePeriodSeconds is kept only beside a KMS key.
        const key: Record<string, string> =
          name === 'KmsDataKeyReusePeriodSeconds' ? { KmsMasterKeyId: 'k' } : {};
        const attrs = { ...key, [name]: sent };
        const answers = await bothWays(std, attrs);
        expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
        const created = await json('GetQueueUrl', { QueueName: 'new' });
        for (const QueueUrl of [std, String(created.body.QueueUrl)]) {
          const got = await json('GetQueueAttributes', { QueueUrl, AttributeNames: [name] });
          expect(got.body.Attributes).toEqual({ [name]: answered });
        }
        // The same create, in either spelling, answers the queue; another value does not.
        const again = await json('CreateQueue', { QueueName: 'new', Attributes: attrs });
        const plain = await json('CreateQueue', {
          QueueName: 'new',
          Attributes: { ...key, [name]: answered },
        });
        expect([again.body.QueueUrl, plain.body.QueueUrl]).toEqual([
          created.body.QueueUrl,
          created.body.QueueUrl,
        ]);
        const other = await json('CreateQueue', {
          QueueName: 'new',
          Attributes: { ...key, [name]: `${Number(answered) + 1}` },
        });
        expect([other.status, other.queryCode]).toEqual([400, 'QueueAlreadyExists']);
      },
    );

    it.each(
      ['SqsManagedSseEnabled', 'ContentBasedDeduplication'].flatMap((name) =>
        ['', ' ', 'true ', 'yes', '1', 'on', 't', '\u0000', 'x'.repeat(300_000)].map(
          (value) => [name, shown(value), value] as const,
        ),
      ),
    )('refuses %s %s with InvalidAttributeValue, changing nothing', async (name, _, value) => {
      const queueUrl = name === 'SqsManagedSseEnabled' ? std : fifo;
      const before = await state();
      for (const answer of await bothWays(queueUrl, { [name]: value })) {
        expect([answer.status, answer.type, answer.queryCode]).toEqual([
          400,
          'InvalidAttributeValue',
          'InvalidAttributeValue',
        ]);
      }
      expect(await state()).toEqual(before);
    });

    it('takes "True" and "FALSE" for a boolean attribute and answers it as AWS spells it, "true"/"false" (AWS created a FIFO queue with FifoQueue and ContentBasedDeduplication "True"; it was refused)', async () => {
      // Act: the AWS-validated create, over JSON and Query.
      const created = await json('CreateQueue', {
        QueueName: 'caps.fifo',
        Attributes: { FifoQueue: 'True', ContentBasedDeduplication: 'True' },
      });
      const queried = await callQuery(h.url, {
        Action: 'CreateQueue',
        QueueName: 'caps-query.fifo',
        'Attribute.1.Name': 'FifoQueue',
        'Attribute.1.Value': 'TRUE',
        'Attribute.2.Name': 'ContentBasedDeduplication',
        'Attribute.2.Value': 'True',
      });
      await json('SetQueueAttributes', {
        QueueUrl: std,
        Attributes: { SqsManagedSseEnabled: 'FALSE' },
      });

      // Assess
      expect([created.status, queried.status]).toEqual([200, 200]);
      for (const url of [
        String(created.body.QueueUrl),
        /<QueueUrl>([^<]+)</.exec(queried.xml)![1]!,
      ]) {
        const got = (
          await json('GetQueueAttributes', {
            QueueUrl: url,
            AttributeNames: ['FifoQueue', 'ContentBasedDeduplication'],
          })
        ).body.Attributes;
        expect(got).toEqual({ FifoQueue: 'true', ContentBasedDeduplication: 'true' });
      }
      const sse = await json('GetQueueAttributes', {
        QueueUrl: std,
        AttributeNames: ['SqsManagedSseEnabled'],
      });
      expect(sse.body.Attributes).toEqual({ SqsManagedSseEnabled: 'false' });
      // The same create again is the same queue.
      const again = await json('CreateQueue', {
        QueueName: 'caps.fifo',
        Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'TRUE' },
      });
      expect(again.body.QueueUrl).toBe(created.body.QueueUrl);
    });

    it.each([
      ['DeduplicationScope', ['', ' ', 'Queue', 'queue ', 'messagegroup', '\u0000']],
      ['FifoThroughputLimit', ['', ' ', 'PerQueue', 'perQueue ', '\uD800']],
    ] as const)(
      'refuses %s values other than its own words, changing nothing',
      async (name, values) => {
        const before = await state();
        for (const value of values) {
          for (const answer of await bothWays(fifo, { [name]: value })) {
            expect([answer.status, answer.type]).toEqual([400, 'InvalidAttributeValue']);
          }
        }
        expect(await state()).toEqual(before);
      },
    );

    it.each([
      ['Policy', [' ', 'null', '[]', '1', '"x"', '{', '\u0000']],
      ['RedrivePolicy', [' ', 'null', '[]', '{}', '{']],
      ['RedriveAllowPolicy', [' ', 'null', '{}', '{"redrivePermission":"AllowAll"}']],
    ] as const)('refuses a %s that is not its JSON, changing nothing', async (name, values) => {
      const before = await state();
      for (const value of values) {
        for (const answer of await bothWays(std, { [name]: value })) {
          expect(answer.status).toBe(400);
          expect(['InvalidAttributeValue', 'InvalidParameterValue']).toContain(answer.queryCode);
        }
      }
      expect(await state()).toEqual(before);
    });

    it('creates a queue without the policies an empty value names, as SetQueueAttributes removes them (it stored "" and answered it)', async () => {
      // Act
      const created = await json('CreateQueue', {
        QueueName: 'empties',
        Attributes: { Policy: '', RedrivePolicy: '', RedriveAllowPolicy: '' },
      });
      const queried = await callQuery(h.url, {
        Action: 'CreateQueue',
        QueueName: 'empties-query',
        'Attribute.1.Name': 'Policy',
        'Attribute.1.Value': '',
        'Attribute.2.Name': 'RedrivePolicy',
        'Attribute.2.Value': '',
      });

      // Assess
      for (const url of [
        String(created.body.QueueUrl),
        /<QueueUrl>([^<]+)</.exec(queried.xml)![1]!,
      ]) {
        const all = (await json('GetQueueAttributes', { QueueUrl: url, AttributeNames: ['All'] }))
          .body.Attributes as Record<string, string>;
        expect(all.RedrivePolicy).toBeUndefined();
        expect(all.RedriveAllowPolicy).toBeUndefined();
        expect(all.Policy).toBeUndefined();
      }
      // The same create again answers the queue.
      const again = await json('CreateQueue', {
        QueueName: 'empties',
        Attributes: { Policy: '', RedrivePolicy: '', RedriveAllowPolicy: '' },
      });
      expect(again.body.QueueUrl).toBe(created.body.QueueUrl);
    });

    it.each([
      [
        'two entries naming one attribute',
        [
          ['Attribute.1.Name', 'DelaySeconds'],
          ['Attribute.1.Value', '5'],
          ['Attribute.2.Name', 'DelaySeconds'],
          ['Attribute.2.Value', '6'],
        ],
        'Attribute DelaySeconds is specified more than once.',
      ],
      [
        'one entry with two values',
        [
          ['Attribute.1.Name', 'DelaySeconds'],
          ['Attribute.1.Value', '5'],
          ['Attribute.1.Value', '6'],
        ],
        'Parameter Attribute.1.Value is specified more than once.',
      ],
      [
        'one entry with two names',
        [
          ['Attribute.1.Name', 'DelaySeconds'],
          ['Attribute.1.Name', 'VisibilityTimeout'],
          ['Attribute.1.Value', '5'],
        ],
        'Parameter Attribute.1.Name is specified more than once.',
      ],
    ] as [string, [string, string][], string][])(
      'refuses a Query request with %s, in SetQueueAttributes and CreateQueue, changing nothing (the last one had won)',
      async (_, attrs, message) => {
        const before = await state();
        for (const head of [
          [
            ['Action', 'SetQueueAttributes'],
            ['QueueUrl', std],
          ],
          [
            ['Action', 'CreateQueue'],
            ['QueueName', 'twice'],
          ],
        ] as [string, string][][]) {
          const out = await callQuery(h.url, [...head, ...attrs]);
          expect([out.status, out.queryCode, out.message]).toEqual([
            400,
            'InvalidAttributeName',
            message,
          ]);
        }
        expect(await state()).toEqual(before);
      },
    );
  });

  describe('Query entries given twice or by half, and the Policy size limit', () => {
    const tagHeads = (): [string, string][][] => [
      [
        ['Action', 'TagQueue'],
        ['QueueUrl', std],
      ],
      [
        ['Action', 'CreateQueue'],
        ['QueueName', 'tagged-twice'],
      ],
    ];

    it.each([
      [
        'two entries with one key',
        [
          ['Tag.1.Key', 'a'],
          ['Tag.1.Value', 'x'],
          ['Tag.2.Key', 'a'],
          ['Tag.2.Value', 'y'],
        ],
        'Tag a is specified more than once.',
      ],
      [
        "one entry's key sent twice",
        [
          ['Tag.1.Key', 'a'],
          ['Tag.1.Key', 'b'],
          ['Tag.1.Value', 'x'],
        ],
        'Parameter Tag.1.Key is specified more than once.',
      ],
      [
        "one entry's value sent twice (Tags.n, aws-sdk-java v2's spelling)",
        [
          ['Tags.1.Key', 'a'],
          ['Tags.1.Value', 'x'],
          ['Tags.1.Value', 'y'],
        ],
        'Parameter Tags.1.Value is specified more than once.',
      ],
    ] as [string, [string, string][], string][])(
      'refuses a Query TagQueue and CreateQueue with a tag given twice (%s), changing nothing (the last one had won)',
      async (_, tags, message) => {
        await json('TagQueue', { QueueUrl: std, Tags: { a: 'before' } });
        const before = await state();
        for (const head of tagHeads()) {
          const out = await callQuery(h.url, [...head, ...tags]);
          expect([out.status, out.queryCode, out.message]).toEqual([
            400,
            'InvalidParameterValue',
            message,
          ]);
        }
        expect(await state()).toEqual(before);
      },
    );

    it('refuses a Query SetQueueAttributes or CreateQueue with an attribute name and no value (it had removed the Policy), changing nothing', async () => {
      // Arrange
      const policy = JSON.stringify({ Version: '2012-10-17', Statement: [] });
      await h.sqs.send(
        new SetQueueAttributesCommand({ QueueUrl: std, Attributes: { Policy: policy } }),
      );
      const before = await state();

      // Act
      const answers = [];
      for (const head of [
        [
          ['Action', 'SetQueueAttributes'],
          ['QueueUrl', std],
        ],
        [
          ['Action', 'CreateQueue'],
          ['QueueName', 'half'],
        ],
      ] as [string, string][][]) {
        for (const [attrs, missing] of [
          [[['Attribute.1.Name', 'Policy']], 'Attribute.1.Value'],
          [
            [
              ['Attribute.1.Name', 'Policy'],
              ['Attribute.1.Value.x', '1'],
            ],
            'Attribute.1.Value',
          ],
          [
            [
              ['Attribute.1.Name', 'DelaySeconds'],
              ['Attribute.1.Value', '5'],
              ['Attribute.2.Value', '6'],
            ],
            'Attribute.2.Name',
          ],
        ] as [[string, string][], string][]) {
          const out = await callQuery(h.url, [...head, ...attrs]);
          answers.push([out.status, out.queryCode, out.message]);
          expect([out.status, out.queryCode, out.message]).toEqual([
            400,
            'MissingParameter',
            `The request must contain the parameter ${missing}.`,
          ]);
        }
      }

      // Assess
      expect(answers).toHaveLength(6);
      expect(await state()).toEqual(before);
      const kept = await h.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: std, AttributeNames: ['Policy'] }),
      );
      expect(kept.Attributes?.Policy).toBe(policy);
    });

    it('refuses a Query TagQueue or CreateQueue with a tag value and no key, and takes a key with no value as an empty value', async () => {
      const before = await state();
      for (const head of tagHeads()) {
        const out = await callQuery(h.url, [
          ...head,
          ['Tag.1.Key', 'a'],
          ['Tag.1.Value', 'x'],
          ['Tag.2.Value', 'y'],
        ]);
        expect([out.status, out.queryCode, out.message]).toEqual([
          400,
          'MissingParameter',
          'The request must contain the parameter Tag.2.Key.',
        ]);
      }
      expect(await state()).toEqual(before);

      const taken = await callQuery(h.url, [
        ['Action', 'TagQueue'],
        ['QueueUrl', std],
        ['Tag.1.Key', 'empty'],
      ]);
      expect(taken.status).toBe(200);
      expect((await json('ListQueueTags', { QueueUrl: std })).body.Tags).toEqual({ empty: '' });
    });

    it.each([
      [
        'a message attribute name with no value',
        [['MessageAttribute.1.Name', 'k']],
        "The message attribute 'k' must contain a DataType.",
      ],
      [
        'a message attribute value with no name',
        [
          ['MessageAttribute.1.Value.DataType', 'String'],
          ['MessageAttribute.1.Value.StringValue', 'v'],
        ],
        "Message (user) attribute name '' is invalid.",
      ],
      [
        'a message system attribute name with no value',
        [['MessageSystemAttribute.1.Name', 'AWSTraceHeader']],
        "Message system attribute 'AWSTraceHeader' must have DataType String and a StringValue.",
      ],
    ] as [string, [string, string][], string][])(
      'refuses a Query SendMessage with %s, sending nothing (it had been dropped and the message sent)',
      async (_, attrs, message) => {
        const before = await state();
        const out = await callQuery(h.url, [
          ['Action', 'SendMessage'],
          ['QueueUrl', std],
          ['MessageBody', 'half'],
          ...attrs,
        ]);
        expect([out.status, out.queryCode, out.message.replaceAll('&apos;', "'")]).toEqual([
          400,
          'InvalidParameterValue',
          message,
        ]);
        const batch = await callQuery(h.url, [
          ['Action', 'SendMessageBatch'],
          ['QueueUrl', std],
          ['SendMessageBatchRequestEntry.1.Id', 'e1'],
          ['SendMessageBatchRequestEntry.1.MessageBody', 'half'],
          ...attrs.map(([k, v]): [string, string] => [`SendMessageBatchRequestEntry.1.${k}`, v]),
        ]);
        expect(batch.status).toBe(200);
        expect(batch.xml).toContain('<BatchResultErrorEntry><Id>e1</Id>');
        expect(batch.xml).not.toContain('<SendMessageBatchResultEntry>');
        expect(await state()).toEqual(before);
      },
    );

    it('reads AWSTraceHeader from a Query SendMessage (MessageSystemAttribute.n), as over JSON; it had been ignored', async () => {
      const { QueueUrl } = await h.sqs.send(new CreateQueueCommand({ QueueName: 'traced' }));
      const sent = await callQuery(h.url, [
        ['Action', 'SendMessage'],
        ['QueueUrl', QueueUrl!],
        ['MessageBody', 'traced'],
        ['MessageSystemAttribute.1.Name', 'AWSTraceHeader'],
        ['MessageSystemAttribute.1.Value.DataType', 'String'],
        ['MessageSystemAttribute.1.Value.StringValue', 'Root=1-5759e988-bd862e3fe1be46a994272793'],
      ]);
      expect(sent.status).toBe(200);
      const got = await h.sqs.send(
        new ReceiveMessageCommand({ QueueUrl, MessageSystemAttributeNames: ['AWSTraceHeader'] }),
      );
      expect(got.Messages?.[0]?.Attributes?.AWSTraceHeader).toBe(
        'Root=1-5759e988-bd862e3fe1be46a994272793',
      );
    });

    /** A Policy document of exactly `bytes` UTF-8 bytes, padded with a 2-byte character. */
    function policyOf(bytes: number): string {
      const base = JSON.stringify({ Version: '2012-10-17', Statement: [], Pad: '' });
      const room = bytes - Buffer.byteLength(base);
      const text = `${'é'.repeat(Math.floor(room / 2))}${'x'.repeat(room % 2)}`;
      const policy = JSON.stringify({ Version: '2012-10-17', Statement: [], Pad: text });
      expect(Buffer.byteLength(policy)).toBe(bytes);
      return policy;
    }

    it("takes a Policy of 8,192 bytes and refuses one of 8,193 (OverLimit / 403, AWS's answer) on set and create, over the SDK and Query, changing nothing", async () => {
      await expectPolicyQuota(
        'policy',
        policyOf(8192),
        policyOf(8193),
        'Submitted policy is over max allowed size.',
      );
    });

    it('counts the Policy in UTF-8 bytes: 8,192 ASCII characters are taken, 8,193 refused, and one of fewer than 8,192 characters but over 8,192 bytes refused', async () => {
      const ascii = (n: number): string => {
        const base = JSON.stringify({ Version: '2012-10-17', Statement: [], Pad: '' });
        return JSON.stringify({
          Version: '2012-10-17',
          Statement: [],
          Pad: 'x'.repeat(n - base.length),
        });
      };
      const base = JSON.stringify({ Version: '2012-10-17', Statement: [], Pad: '' });
      const wide = JSON.stringify({
        Version: '2012-10-17',
        Statement: [],
        Pad: 'é'.repeat(Math.ceil((8193 - base.length) / 2)),
      });
      expect([ascii(8192).length, ascii(8193).length]).toEqual([8192, 8193]);
      expect(wide.length).toBeLessThan(8192);
      expect(Buffer.byteLength(wide)).toBeGreaterThan(8192);

      const taken = await json('SetQueueAttributes', {
        QueueUrl: std,
        Attributes: { Policy: ascii(8192) },
      });
      expect(taken.status).toBe(200);
      const before = await state();
      for (const policy of [ascii(8193), wide]) {
        const out = await json('SetQueueAttributes', {
          QueueUrl: std,
          Attributes: { Policy: policy },
        });
        expect([out.status, out.type, out.queryCode, out.message]).toEqual([
          403,
          'OverLimit',
          'OverLimit',
          'Submitted policy is over max allowed size.',
        ]);
      }
      expect(await state()).toEqual(before);
    });
  });

  describe('the Policy actions-per-statement quota (7)', () => {
    const ACTIONS = [
      'sqs:SendMessage',
      'sqs:ReceiveMessage',
      'sqs:DeleteMessage',
      'sqs:ChangeMessageVisibility',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:ListDeadLetterSourceQueues',
      'sqs:PurgeQueue',
      'sqs:SetQueueAttributes',
      'sqs:TagQueue',
    ];
    /** A Policy whose statements carry these `Action` values (or `NotAction`, by key). */
    const policyWith = (...statements: Record<string, unknown>[]): string =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: statements.map((extra, i) => ({
          Sid: `s${i}`,
          Effect: 'Allow',
          Principal: '*',
          Resource: '*',
          ...extra,
        })),
      });
    const actions = (n: number) => ({ Action: ACTIONS.slice(0, n) });
    const overLimit = (n: number) =>
      `${n} actions were found in a statement from the submitted policy, max allowed is 7`;

    it("takes 7 actions in a statement and refuses 8 (OverLimit / 403, AWS's words) on set and create, over the SDK and Query, changing nothing", async () => {
      await expectPolicyQuota(
        'actions',
        policyWith(actions(7), actions(7)),
        policyWith(actions(1), actions(8)),
        overLimit(8),
      );
    });

    it('counts Action as given: one string is one action, an array its length (10 reported as 10), a lone Statement object too; NotAction is not counted', async () => {
      const before = await state();
      const lone = (extra: Record<string, unknown>) =>
        JSON.stringify({
          Version: '2012-10-17',
          Statement: { Effect: 'Allow', Principal: '*', Resource: '*', ...extra },
        });
      for (const [policy, message] of [
        [policyWith(actions(10)), overLimit(10)],
        [lone(actions(8)), overLimit(8)],
        [policyWith({ Action: Array(8).fill('sqs:SendMessage') }), overLimit(8)],
      ] as const) {
        const out = await json('SetQueueAttributes', {
          QueueUrl: std,
          Attributes: { Policy: policy },
        });
        expect([out.status, out.type, out.message]).toEqual([403, 'OverLimit', message]);
      }
      expect(await state()).toEqual(before);

      for (const policy of [
        policyWith(...Array.from({ length: 8 }, () => ({ Action: 'sqs:*' }))),
        lone(actions(7)),
        policyWith({ NotAction: ACTIONS.slice(0, 8) }),
      ]) {
        const out = await json('SetQueueAttributes', {
          QueueUrl: std,
          Attributes: { Policy: policy },
        });
        expect(out.status).toBe(200);
      }
    });
  });

  describe("what the AWS CLI's Query serializer sends is taken", () => {
    /**
     * The parameters botocore's QuerySerializer writes for these calls with SQS's Query model
     * (boto/botocore a486757ef^, the last Query one; the AWS CLI v2 from Debian and SDKs older
     * than SQS's move to JSON send the same shape), printed by that serializer. A rule on Query
     * entries must not refuse them.
     */
    const botocoreAttributes = (prefix: string): [string, string][] => [
      [`${prefix}MessageAttribute.1.Name`, 'bin'],
      [`${prefix}MessageAttribute.1.Value.DataType`, 'Binary'],
      [`${prefix}MessageAttribute.1.Value.BinaryValue`, 'AAE='],
      [`${prefix}MessageAttribute.2.Name`, 'n'],
      [`${prefix}MessageAttribute.2.Value.DataType`, 'Number.float'],
      [`${prefix}MessageAttribute.2.Value.StringValue`, '1.5'],
      [`${prefix}MessageAttribute.3.Name`, 's'],
      [`${prefix}MessageAttribute.3.Value.DataType`, 'String.json'],
      [`${prefix}MessageAttribute.3.Value.StringValue`, '{"a":1}'],
      [`${prefix}MessageAttribute.4.Name`, 'gif'],
      [`${prefix}MessageAttribute.4.Value.DataType`, 'Binary.gif'],
      [`${prefix}MessageAttribute.4.Value.BinaryValue`, 'R0lG'],
      [`${prefix}MessageSystemAttribute.1.Name`, 'AWSTraceHeader'],
      [`${prefix}MessageSystemAttribute.1.Value.DataType`, 'String'],
      [
        `${prefix}MessageSystemAttribute.1.Value.StringValue`,
        'Root=1-5759e988-bd862e3fe1be46a994272793',
      ],
    ];
    const sdkAttributes = {
      bin: { DataType: 'Binary', BinaryValue: new Uint8Array([0, 1]) },
      n: { DataType: 'Number.float', StringValue: '1.5' },
      s: { DataType: 'String.json', StringValue: '{"a":1}' },
      gif: { DataType: 'Binary.gif', BinaryValue: Buffer.from('R0lG', 'base64') },
    };

    it('takes a Query SendMessage with Binary, Number.float, String.json and Binary.gif attributes and AWSTraceHeader, with the MD5 the SDK computes over JSON', async () => {
      // Arrange
      const { QueueUrl } = await h.sqs.send(new CreateQueueCommand({ QueueName: 'cli-send' }));
      const made = await h.sqs.send(new CreateQueueCommand({ QueueName: 'sdk-send' }));
      const overJson = await h.sqs.send(
        new SendMessageCommand({
          QueueUrl: made.QueueUrl,
          MessageBody: 'm',
          MessageAttributes: sdkAttributes,
        }),
      );

      // Act
      const out = await callQuery(h.url, [
        ['Action', 'SendMessage'],
        ['Version', '2012-11-05'],
        ['QueueUrl', QueueUrl!],
        ['MessageBody', 'm'],
        ...botocoreAttributes(''),
      ]);

      // Assess
      expect(out.status).toBe(200);
      expect(out.xml).toContain(
        `<MD5OfMessageAttributes>${overJson.MD5OfMessageAttributes}</MD5OfMessageAttributes>`,
      );
      const got = await h.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['AWSTraceHeader'],
        }),
      );
      const [m] = got.Messages ?? [];
      expect(m?.MessageAttributes).toEqual({
        bin: { DataType: 'Binary', BinaryValue: new Uint8Array([0, 1]) },
        n: { DataType: 'Number.float', StringValue: '1.5' },
        s: { DataType: 'String.json', StringValue: '{"a":1}' },
        gif: { DataType: 'Binary.gif', BinaryValue: new Uint8Array(Buffer.from('R0lG', 'base64')) },
      });
      expect(m?.Attributes?.AWSTraceHeader).toBe('Root=1-5759e988-bd862e3fe1be46a994272793');
    });

    it('takes a Query SendMessageBatch in that encoding, failing only the entry with an attribute given by half and sending the others', async () => {
      // Arrange
      const { QueueUrl } = await h.sqs.send(new CreateQueueCommand({ QueueName: 'cli-batch' }));

      // Act
      const out = await callQuery(h.url, [
        ['Action', 'SendMessageBatch'],
        ['Version', '2012-11-05'],
        ['QueueUrl', QueueUrl!],
        ['SendMessageBatchRequestEntry.1.Id', 'e1'],
        ['SendMessageBatchRequestEntry.1.MessageBody', 'one'],
        ...botocoreAttributes('SendMessageBatchRequestEntry.1.'),
        ['SendMessageBatchRequestEntry.2.Id', 'e2'],
        ['SendMessageBatchRequestEntry.2.MessageBody', 'two'],
        ['SendMessageBatchRequestEntry.2.MessageAttribute.1.Name', 'k'],
        ['SendMessageBatchRequestEntry.3.Id', 'e3'],
        ['SendMessageBatchRequestEntry.3.MessageBody', 'three'],
        ...botocoreAttributes('SendMessageBatchRequestEntry.3.'),
      ]);

      // Assess
      expect(out.status).toBe(200);
      expect(out.xml.match(/<SendMessageBatchResultEntry><Id>(e\d)<\/Id>/g)).toEqual([
        '<SendMessageBatchResultEntry><Id>e1</Id>',
        '<SendMessageBatchResultEntry><Id>e3</Id>',
      ]);
      expect(out.xml).toMatch(
        /<BatchResultErrorEntry><Id>e2<\/Id>.*<Code>InvalidParameterValue<\/Code>/s,
      );
      const got = await h.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl,
          MaxNumberOfMessages: 10,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['AWSTraceHeader'],
        }),
      );
      expect(got.Messages?.map((m) => m.Body).sort()).toEqual(['one', 'three']);
      for (const m of got.Messages ?? []) {
        expect(Object.keys(m.MessageAttributes ?? {}).sort()).toEqual(['bin', 'gif', 'n', 's']);
        expect(m.MessageAttributes?.bin?.BinaryValue).toEqual(new Uint8Array([0, 1]));
        expect(m.Attributes?.AWSTraceHeader).toBe('Root=1-5759e988-bd862e3fe1be46a994272793');
      }
    });

    it('takes a Query TagQueue that also repeats a parameter TagQueue does not read (Attribute.1.Name)', async () => {
      const out = await callQuery(h.url, [
        ['Action', 'TagQueue'],
        ['QueueUrl', std],
        ['Tag.1.Key', 'k'],
        ['Tag.1.Value', 'v'],
        ['Attribute.1.Name', 'DelaySeconds'],
        ['Attribute.1.Name', 'DelaySeconds'],
      ]);
      expect(out.status).toBe(200);
      expect((await json('ListQueueTags', { QueueUrl: std })).body.Tags).toEqual({ k: 'v' });
    });

    it('takes a Query CreateQueue, TagQueue and SetQueueAttributes with an empty tag value and an empty Policy, as botocore writes them', async () => {
      const created = await callQuery(h.url, [
        ['Action', 'CreateQueue'],
        ['Version', '2012-11-05'],
        ['QueueName', 'cli-made'],
        ['Attribute.1.Name', 'Policy'],
        ['Attribute.1.Value', ''],
        ['Tag.1.Key', 'k'],
        ['Tag.1.Value', ''],
      ]);
      expect(created.status).toBe(200);
      const QueueUrl = /<QueueUrl>([^<]+)<\/QueueUrl>/.exec(created.xml)![1]!;
      for (const params of [
        [
          ['Action', 'TagQueue'],
          ['Tag.1.Key', 'k2'],
          ['Tag.1.Value', 'v'],
        ],
        [
          ['Action', 'SetQueueAttributes'],
          ['Attribute.1.Name', 'Policy'],
          ['Attribute.1.Value', ''],
        ],
      ]) {
        const out = await callQuery(h.url, [...params, ['QueueUrl', QueueUrl]] as [
          string,
          string,
        ][]);
        expect(out.status).toBe(200);
      }
      expect((await json('ListQueueTags', { QueueUrl })).body.Tags).toEqual({ k: '', k2: 'v' });
    });
  });

  describe('over the Query protocol', () => {
    it.each([
      [
        'MaxNumberOfMessages 11',
        { Action: 'ReceiveMessage', MaxNumberOfMessages: '11' },
        'InvalidParameterValue',
      ],
      [
        'MaxNumberOfMessages that is not a number',
        { Action: 'ReceiveMessage', MaxNumberOfMessages: 'ten' },
        'InvalidParameterValue',
      ],
      ['an empty message body', { Action: 'SendMessage', MessageBody: '' }, 'MissingParameter'],
      [
        'a Binary attribute that is not base64',
        {
          Action: 'SendMessage',
          MessageBody: 'x',
          'MessageAttribute.1.Name': 'b',
          'MessageAttribute.1.Value.DataType': 'Binary',
          'MessageAttribute.1.Value.BinaryValue': '!!',
        },
        'InvalidParameterValue',
      ],
      ['an unknown action', { Action: 'FooBar' }, 'InvalidAction'],
      [
        'an unknown attribute',
        { Action: 'GetQueueAttributes', 'AttributeName.1': 'Foobar' },
        'InvalidAttributeName',
      ],
    ])('answers %s with the Query error code', async (_, params, code) => {
      const before = await state();
      const out = await callQuery(h.url, { QueueUrl: std, ...params });
      expect(out.status).toBe(400);
      expect(out.queryCode).toBe(code);
      expect(out.xml).toContain('<Type>Sender</Type>');
      expect(await state()).toEqual(before);
    });
  });
});
