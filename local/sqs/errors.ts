/**
 * SQS errors in AWS's wire shape: the JSON protocol's `__type` (com.amazonaws.sqs#<Code>) plus
 * the `x-amzn-query-error: <QueryCode>;Sender` header, and the Query protocol's <Code>.
 */
export class SqsError extends Error {
  constructor(
    /** The JSON protocol's error shape name, e.g. `QueueDoesNotExist`. */
    readonly code: string,
    message: string,
    /** The Query protocol's code, e.g. `AWS.SimpleQueueService.NonExistentQueue`. */
    readonly queryCode: string = code,
    readonly status = 400,
    readonly fault: 'Sender' | 'Receiver' = 'Sender',
  ) {
    super(message);
    this.name = 'SqsError';
  }
}

export const errors = {
  queueDoesNotExist: () =>
    new SqsError(
      'QueueDoesNotExist',
      'The specified queue does not exist.',
      'AWS.SimpleQueueService.NonExistentQueue',
    ),
  invalidParameter: (message: string) => new SqsError('InvalidParameterValue', message),
  missingParameter: (name: string) =>
    new SqsError('MissingParameter', `The request must contain the parameter ${name}.`),
  invalidAttributeName: (name: string) =>
    new SqsError('InvalidAttributeName', `Unknown Attribute ${name}.`),
  invalidAttributeValue: (message: string) => new SqsError('InvalidAttributeValue', message),
  queueNameExists: (name: string) =>
    new SqsError(
      'QueueNameExists',
      `A queue already exists with the same name and a different value for attribute(s) of ${name}.`,
      'QueueAlreadyExists',
    ),
  receiptHandleIsInvalid: (handle: string) =>
    new SqsError(
      'ReceiptHandleIsInvalid',
      `The input receipt handle "${handle}" is not a valid receipt handle.`,
    ),
  messageNotInflight: () =>
    new SqsError(
      'MessageNotInflight',
      'Value for parameter ReceiptHandle is invalid. Reason: Message not in flight.',
      'AWS.SimpleQueueService.MessageNotInflight',
    ),
  emptyBatch: () =>
    new SqsError(
      'EmptyBatchRequest',
      'There should be at least one SendMessageBatchRequestEntry in the request.',
      'AWS.SimpleQueueService.EmptyBatchRequest',
    ),
  tooManyEntries: (n: number) =>
    new SqsError(
      'TooManyEntriesInBatchRequest',
      `Maximum number of entries per request are 10. You have sent ${n}.`,
      'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
    ),
  batchIdsNotDistinct: (id: string) =>
    new SqsError(
      'BatchEntryIdsNotDistinct',
      `Id ${id} repeated.`,
      'AWS.SimpleQueueService.BatchEntryIdsNotDistinct',
    ),
  invalidBatchEntryId: () =>
    new SqsError(
      'InvalidBatchEntryId',
      'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.',
      'AWS.SimpleQueueService.InvalidBatchEntryId',
    ),
  batchTooLong: (size: number) =>
    new SqsError(
      'BatchRequestTooLong',
      `Batch requests cannot be longer than 1048576 bytes. You have sent ${size} bytes.`,
      'AWS.SimpleQueueService.BatchRequestTooLong',
    ),
  invalidAction: (action: string) =>
    new SqsError('InvalidAction', `The action ${action} is not valid for this endpoint.`),
  unknownOperation: () =>
    new SqsError('UnknownOperationException', 'Unknown operation.', 'UnknownOperationException'),
  malformed: (message: string) => new SqsError('MalformedQueryString', message),
  serialization: (message: string) =>
    new SqsError('SerializationException', message, 'SerializationException'),
  purgeInProgress: (name: string) =>
    new SqsError(
      'PurgeQueueInProgress',
      `Only one PurgeQueue operation on ${name} is allowed every 60 seconds.`,
      'AWS.SimpleQueueService.PurgeQueueInProgress',
    ),
  resourceNotFound: (message: string) => new SqsError('ResourceNotFoundException', message),
  unsupported: (message: string) =>
    new SqsError('UnsupportedOperation', message, 'AWS.SimpleQueueService.UnsupportedOperation'),
};
