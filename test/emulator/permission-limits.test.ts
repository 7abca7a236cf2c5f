import {
  AddPermissionCommand,
  type AddPermissionCommandInput,
  CreateQueueCommand,
  RemovePermissionCommand,
} from '@aws-sdk/client-sqs';
import { callQuery, type Harness, startEmulator } from './helpers';

/**
 * AddPermission's limits and RemovePermission's refusal in AWS's words, the same over AWS JSON
 * 1.0 (the SDK) and the Query protocol. AWS: "An Amazon SQS policy can have a maximum of seven
 * actions per statement" (AddPermission, API reference); an AddPermission over it is OverLimit,
 * 403, "8 Actions were found, maximum allowed is 7.", and an empty list of accounts is "Value []
 * for parameter PrincipalId is invalid. Reason: Unable to verify." (moto's test_add_permission_errors
 * and test_remove_permission_errors, written against AWS's answers).
 */
describe('AddPermission and RemovePermission limits, over both protocols', () => {
  let h: Harness;
  let url: string;
  let n = 0;
  beforeAll(async () => {
    h = await startEmulator();
  });
  afterAll(() => h.stop());
  beforeEach(async () => {
    n++;
    url = (await h.sqs.send(new CreateQueueCommand({ QueueName: `limits-${n}` }))).QueueUrl!;
  });

  const add = (input: Partial<AddPermissionCommandInput>) =>
    h.sqs.send(
      new AddPermissionCommand({
        QueueUrl: url,
        Label: 'l',
        ...input,
      } as AddPermissionCommandInput),
    );
  /** An AddPermission over the Query protocol, its lists as botocore writes them. */
  const addOverQuery = (accounts: string[], actions: string[], label = 'l') =>
    callQuery(h.url, [
      ['Action', 'AddPermission'],
      ['QueueUrl', url],
      ['Label', label],
      // botocore's Query serializer writes an empty list as the bare name with no value.
      ...(accounts.length
        ? accounts.map((a, i): [string, string] => [`AWSAccountId.${i + 1}`, a])
        : [['AWSAccountId', ''] as [string, string]]),
      ...(actions.length
        ? actions.map((a, i): [string, string] => [`ActionName.${i + 1}`, a])
        : [['ActionName', ''] as [string, string]]),
    ]);

  const SEVEN = [
    'ChangeMessageVisibility',
    'DeleteMessage',
    'GetQueueAttributes',
    'GetQueueUrl',
    'ListDeadLetterSourceQueues',
    'PurgeQueue',
    'ReceiveMessage',
  ];
  const EIGHT = [...SEVEN, 'SendMessage'];
  const account = ['111111111111'];

  it('refuses 8 actions in one AddPermission with OverLimit, 403, and adds nothing', async () => {
    await expect(add({ AWSAccountIds: account, Actions: EIGHT })).rejects.toMatchObject({
      name: 'OverLimit',
      message: '8 Actions were found, maximum allowed is 7.',
      $metadata: { httpStatusCode: 403 },
    });
    expect(await addOverQuery(account, EIGHT)).toMatchObject({
      status: 403,
      queryCode: 'OverLimit',
      message: '8 Actions were found, maximum allowed is 7.',
    });
    // Nothing was added: the label is still free, and 7 actions are taken.
    await expect(add({ AWSAccountIds: account, Actions: SEVEN })).resolves.toBeDefined();
    expect(await addOverQuery(account, SEVEN, 'q')).toMatchObject({ status: 200 });
  });

  it('counts actions as given: a repeated one counts too', async () => {
    const repeated = Array.from({ length: 8 }, () => 'SendMessage');
    await expect(add({ AWSAccountIds: account, Actions: repeated })).rejects.toMatchObject({
      name: 'OverLimit',
      message: '8 Actions were found, maximum allowed is 7.',
    });
    expect(await addOverQuery(account, repeated)).toMatchObject({ status: 403 });
  });

  it('refuses an empty list of accounts as AWS does (PrincipalId), over both protocols', async () => {
    const message = 'Value [] for parameter PrincipalId is invalid. Reason: Unable to verify.';
    await expect(add({ AWSAccountIds: [], Actions: ['SendMessage'] })).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message,
      $metadata: { httpStatusCode: 400 },
    });
    expect(await addOverQuery([], ['SendMessage'])).toMatchObject({
      status: 400,
      queryCode: 'InvalidParameterValue',
      message,
    });
  });

  it('refuses an empty list of actions with MissingParameter, over both protocols', async () => {
    const message = 'The request must contain the parameter Actions.';
    await expect(add({ AWSAccountIds: account, Actions: [] })).rejects.toMatchObject({
      name: 'MissingParameter',
      message,
    });
    expect(await addOverQuery(account, [])).toMatchObject({
      status: 400,
      queryCode: 'MissingParameter',
      message,
    });
  });

  it("refuses RemovePermission of a label the queue has not with AWS's words, over both protocols", async () => {
    await expect(
      h.sqs.send(new RemovePermissionCommand({ QueueUrl: url, Label: 'nope' })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message:
        "Value nope for parameter Label is invalid. Reason: can't find label on existing policy.",
      $metadata: { httpStatusCode: 400 },
    });
    expect(
      await callQuery(h.url, [
        ['Action', 'RemovePermission'],
        ['QueueUrl', url],
        ['Label', 'nope'],
      ]),
    ).toMatchObject({
      status: 400,
      queryCode: 'InvalidParameterValue',
      // XML-escaped as sent.
      message:
        'Value nope for parameter Label is invalid. Reason: can&apos;t find label on existing policy.',
    });
  });
});
