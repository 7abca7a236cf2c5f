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
});
