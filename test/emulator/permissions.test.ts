import {
  AddPermissionCommand,
  type AddPermissionCommandInput,
  CreateQueueCommand,
  DeleteQueueCommand,
  RemovePermissionCommand,
} from '@aws-sdk/client-sqs';
import { callQuery, type Harness, startEmulator } from './helpers';

/**
 * AddPermission and RemovePermission are checked as AWS checks them (found in review: both
 * answered 200 to anything with a Label). Permissions are kept by label and never enforced.
 */
describe('AddPermission and RemovePermission', () => {
  let h: Harness;
  let url: string;
  let n = 0;

  beforeAll(async () => {
    h = await startEmulator();
  });
  afterAll(() => h.stop());
  beforeEach(async () => {
    n++;
    url = (await h.sqs.send(new CreateQueueCommand({ QueueName: `perm-${n}` }))).QueueUrl!;
  });

  /** Members the SDK's types require may be left out: the SDK sends what it is given. */
  const add = (input: Partial<AddPermissionCommandInput>) =>
    h.sqs.send(
      new AddPermissionCommand({
        QueueUrl: url,
        Label: 'l',
        ...input,
      } as AddPermissionCommandInput),
    );
  const remove = (Label: string) =>
    h.sqs.send(new RemovePermissionCommand({ QueueUrl: url, Label }));
  const full = { AWSAccountIds: ['111111111111'], Actions: ['SendMessage'] };

  it.each([
    ['AWSAccountIds', { Actions: ['SendMessage'] }],
    ['Actions', { AWSAccountIds: ['111111111111'] }],
    ['Actions', { AWSAccountIds: ['111111111111'], Actions: [] }],
  ])(
    'refuses an AddPermission without %s (%j) with MissingParameter, over JSON',
    async (name, input) => {
      await expect(add(input)).rejects.toMatchObject({
        name: 'MissingParameter',
        message: `The request must contain the parameter ${name}.`,
        $metadata: { httpStatusCode: 400 },
      });
      // Nothing was added: the label is still free.
      await expect(add(full)).resolves.toBeDefined();
    },
  );

  it('refuses an action name SQS does not have with InvalidParameterValue, and adds nothing', async () => {
    await expect(add({ AWSAccountIds: ['111111111111'], Actions: ['Nope'] })).rejects.toMatchObject(
      {
        name: 'InvalidParameterValue',
        message: expect.stringMatching(/^Value SQS:Nope for parameter ActionName is invalid/),
      },
    );
    await expect(remove('l')).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  });

  it('takes every action AWS names, and *', async () => {
    await expect(
      add({
        ...full,
        Actions: ['SendMessage', 'ReceiveMessage', 'DeleteMessage', 'ChangeMessageVisibility'],
      }),
    ).resolves.toBeDefined();
    await expect(
      add({ ...full, Label: 'all', Actions: ['*', 'GetQueueAttributes', 'GetQueueUrl'] }),
    ).resolves.toBeDefined();
  });

  it('refuses a label added twice, and removes a label once', async () => {
    await add(full);
    await expect(add(full)).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message: 'Value l for parameter Label is invalid. Reason: Already exists.',
    });
    await expect(remove('l')).resolves.toBeDefined();
    await expect(remove('l')).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message:
        "Value l for parameter Label is invalid. Reason: can't find label on existing policy.",
    });
    // Removed, the label can be added again.
    await expect(add(full)).resolves.toBeDefined();
  });

  it('refuses RemovePermission of a label never added, and a queue made again has none', async () => {
    await expect(remove('never-added')).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message:
        "Value never-added for parameter Label is invalid. Reason: can't find label on existing policy.",
      $metadata: { httpStatusCode: 400 },
    });
    await add(full);
    await h.sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
    h.emulator.clock.advance(61_000);
    await h.sqs.send(new CreateQueueCommand({ QueueName: `perm-${n}` }));
    await expect(remove('l')).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  });

  it('refuses a label that is not 1 to 80 alphanumerics, hyphens or underscores', async () => {
    for (const Label of ['', 'a b', 'x'.repeat(81)]) {
      await expect(add({ ...full, Label })).rejects.toMatchObject({
        name: 'InvalidParameterValue',
      });
    }
    await expect(add({ ...full, Label: `A-_9${'x'.repeat(76)}` })).resolves.toBeDefined();
  });

  it('answers the same over the Query protocol', async () => {
    const query = (params: [string, string][]) => callQuery(h.url, [['QueueUrl', url], ...params]);
    const missingIds = await query([
      ['Action', 'AddPermission'],
      ['Label', 'q'],
      ['ActionName.1', 'SendMessage'],
    ]);
    const missingActions = await query([
      ['Action', 'AddPermission'],
      ['Label', 'q'],
      ['AWSAccountId.1', '111111111111'],
    ]);
    const badAction = await query([
      ['Action', 'AddPermission'],
      ['Label', 'q'],
      ['AWSAccountId.1', '111111111111'],
      ['ActionName.1', 'Nope'],
    ]);
    const unknownLabel = await query([
      ['Action', 'RemovePermission'],
      ['Label', 'q'],
    ]);
    const added = await query([
      ['Action', 'AddPermission'],
      ['Label', 'q'],
      ['AWSAccountId.1', '111111111111'],
      ['ActionName.1', 'SendMessage'],
      ['ActionName.2', 'ReceiveMessage'],
    ]);
    const removed = await query([
      ['Action', 'RemovePermission'],
      ['Label', 'q'],
    ]);

    expect(missingIds).toMatchObject({
      status: 400,
      queryCode: 'MissingParameter',
      message: 'The request must contain the parameter AWSAccountIds.',
    });
    expect(missingActions).toMatchObject({
      status: 400,
      queryCode: 'MissingParameter',
      message: 'The request must contain the parameter Actions.',
    });
    expect(badAction).toMatchObject({ status: 400, queryCode: 'InvalidParameterValue' });
    expect(unknownLabel).toMatchObject({
      status: 400,
      queryCode: 'InvalidParameterValue',
      // XML-escaped as sent.
      message:
        'Value q for parameter Label is invalid. Reason: can&apos;t find label on existing policy.',
    });
    expect(added.status).toBe(200);
    expect(removed.status).toBe(200);
  });

  /**
   * AddPermission's limits and RemovePermission's refusal in AWS's words, the same over AWS JSON
   * 1.0 (the SDK) and the Query protocol. AWS: "An Amazon SQS policy can have a maximum of seven
   * actions per statement" (AddPermission, API reference); an AddPermission over it is OverLimit,
   * 403, "8 Actions were found, maximum allowed is 7.", and an empty list of accounts is "Value []
   * for parameter PrincipalId is invalid. Reason: Unable to verify." (moto's test_add_permission_errors
   * and test_remove_permission_errors, written against AWS's answers).
   */
  describe('AddPermission and RemovePermission limits, over both protocols', () => {
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
      await expect(remove('nope')).rejects.toMatchObject({
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
});
