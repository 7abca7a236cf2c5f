/**
 * SQS errors in AWS's wire shape. The JSON protocol answers `__type` with the error's JSON shape
 * name plus `x-amzn-query-error: <QueryCode>;Sender` (SDKs name the error after the Query code);
 * the Query protocol answers the Query code in `<Code>`. Batch entry failures carry the Query
 * code. Shape names, Query codes and HTTP statuses are those of the SQS API model; where AWS's
 * wording is known (user reports, AWS-validated emulator suites) the message is AWS's.
 */
export class SqsError extends Error {
  constructor(
    /** The JSON protocol's `__type` shape name, e.g. `QueueDoesNotExist`. */
    readonly code: string,
    message: string,
    /** The Query protocol's code, e.g. `AWS.SimpleQueueService.NonExistentQueue`. */
    readonly queryCode: string = code,
    readonly status = 400,
    readonly fault: 'Sender' | 'Receiver' = 'Sender',
    /** Namespace of `__type`: the service's, or the request parser's for malformed JSON. */
    readonly namespace = 'com.amazonaws.sqs',
    /** Whether the JSON answer carries `x-amzn-query-error` (not for a request nobody parsed). */
    readonly queryCompatible = true,
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
  invalidParameter: (message: string) =>
    new SqsError('InvalidParameterValueException', message, 'InvalidParameterValue'),
  /** AWS's sentence for a parameter value out of its range or form. */
  invalidValue: (name: string, value: unknown, reason: string) =>
    new SqsError(
      'InvalidParameterValueException',
      `Value ${String(value)} for parameter ${name} is invalid. Reason: ${reason}`,
      'InvalidParameterValue',
    ),
  missingParameter: (name: string) =>
    new SqsError(
      'MissingRequiredParameterException',
      `The request must contain the parameter ${name}.`,
      'MissingParameter',
    ),
  invalidMessageContents: (message: string) =>
    new SqsError('InvalidMessageContents', message, 'InvalidMessageContents'),
  invalidAttributeName: (message: string) => new SqsError('InvalidAttributeName', message),
  unknownAttribute: (name: string) =>
    new SqsError('InvalidAttributeName', `Unknown Attribute ${name}.`),
  invalidAttributeValue: (message: string) => new SqsError('InvalidAttributeValue', message),
  /**
   * A request over one of AWS's limits (the SQS model's OverLimit, 403). The Policy size words
   * are AWS's, as users quote them (aws-sdk-go via terraform-provider-aws, AWSSDK.SQS for .NET:
   * "OverLimit: Submitted policy is over max allowed size.", status 403).
   */
  policyOverLimit: () =>
    new SqsError('OverLimit', 'Submitted policy is over max allowed size.', 'OverLimit', 403),
  /**
   * A Policy statement with more actions than AWS's quota of 7: AWS's words as users quote them
   * (aws-sdk-go via terraform-provider-aws: "OverLimit: 10 actions were found in a statement from
   * the submitted policy, max allowed is 7"); the status is the SQS model's OverLimit, 403.
   */
  policyActionsOverLimit: (found: number, max: number) =>
    new SqsError(
      'OverLimit',
      `${found} actions were found in a statement from the submitted policy, max allowed is ${max}`,
      'OverLimit',
      403,
    ),
  /**
   * A short poll on a standard queue at its in-flight quota (see LIMITS.maxInFlightStandard):
   * AWS's words as a user quoted its Query answer, 403 Forbidden, Type Sender
   * (Cbsoftware/pressureNET-server#74), line break and all.
   */
  inFlightOverLimit: () =>
    new SqsError(
      'OverLimit',
      'Too many messages have been received without being deleted.\nPlease delete your received messages or let them timeout before receiving more.',
      'OverLimit',
      403,
    ),
  queueNameExists: (attribute: string) =>
    new SqsError(
      'QueueNameExists',
      `A queue already exists with the same name and a different value for attribute ${attribute}`,
      'QueueAlreadyExists',
    ),
  /** Wording not verified: users report the refusal, not its text. */
  queueNameExistsWithTags: () =>
    new SqsError(
      'QueueNameExists',
      'A queue already exists with the same name and different tags',
      'QueueAlreadyExists',
    ),
  /**
   * AWS's words: recorded against AWS in LocalStack's suite (test_create_queue_recently_deleted)
   * and quoted from AWS's answer in terraform-provider-aws#3113.
   */
  queueDeletedRecently: () =>
    new SqsError(
      'QueueDeletedRecently',
      'You must wait 60 seconds after deleting a queue before you can create another with the same name.',
      'AWS.SimpleQueueService.QueueDeletedRecently',
    ),
  receiptHandleIsInvalid: (handle: string) =>
    new SqsError(
      'ReceiptHandleIsInvalid',
      `The input receipt handle "${handle}" is not a valid receipt handle.`,
      'ReceiptHandleIsInvalid',
      404,
    ),
  emptyBatch: (entryName: string) =>
    new SqsError(
      'EmptyBatchRequest',
      `There should be at least one ${entryName} in the request.`,
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
  /**
   * A body over what the emulator reads (before parsing, so the action is unknown): the model's
   * error for an oversized request, with 413 (the model says 400; ours, so the client can tell a
   * body it should never send from a batch that is a little too large).
   */
  requestTooLong: (size: number, limit: number) =>
    new SqsError(
      'BatchRequestTooLong',
      `Request bodies cannot be longer than ${limit} bytes here (the largest valid SQS request is a 1048576-byte batch). You have sent ${size} bytes.`,
      'AWS.SimpleQueueService.BatchRequestTooLong',
      413,
    ),
  /** Ours: AWS serves the Query protocol over GET too (see READ_ONLY_ACTIONS in index.ts). */
  changeOverGet: (action: string) =>
    new SqsError(
      'InvalidAction',
      `The action ${action} changes state and is not accepted over GET here; send it as a POST (as every SDK and the AWS CLI do).`,
      'InvalidAction',
      405,
    ),
  invalidAction: (action: string) =>
    new SqsError('InvalidAction', `The action ${action} is not valid for this endpoint.`),
  unknownOperation: () =>
    new SqsError(
      'UnknownOperationException',
      'Unknown operation.',
      'UnknownOperationException',
      400,
      'Sender',
      'com.amazon.coral.service',
      false,
    ),
  /** A JSON body that is not JSON, or a member of the wrong JSON type. */
  serialization: (message: string) =>
    new SqsError(
      'SerializationException',
      message,
      'SerializationException',
      400,
      'Sender',
      'com.amazon.coral.service',
      false,
    ),
  purgeInProgress: (name: string) =>
    new SqsError(
      'PurgeQueueInProgress',
      `Only one PurgeQueue operation on ${name} is allowed every 60 seconds.`,
      'AWS.SimpleQueueService.PurgeQueueInProgress',
      403,
    ),
  resourceNotFound: (message: string) =>
    new SqsError('ResourceNotFoundException', message, 'ResourceNotFoundException', 404),
  internal: () =>
    new SqsError(
      'InternalError',
      'We encountered an internal error. Please try again.',
      'InternalError',
      500,
      'Receiver',
    ),
};
