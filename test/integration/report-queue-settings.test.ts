import { CreateQueueCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { readQueueSettings } from '../../services/report/src/adapters/queues';
import { type Harness, startEmulator } from '../emulator/helpers';
import { stopsAfterAll } from './support/stop-after-all';

/**
 * The report reads a source queue's VisibilityTimeout as the local SQS holds it
 * (services/report/src/adapters/queues.ts readQueueSettings), with a real SQS client.
 */
describe("reading a source queue's VisibilityTimeout for the report", () => {
  let h: Harness;

  const keep = stopsAfterAll();
  beforeAll(async () => {
    h = await keep(startEmulator('none', 4343));
  });

  it('reads one the queue was given zero-padded, as the local SQS takes and keeps it', async () => {
    // local/sqs/actions/attributes.ts takes any string of digits whose number is 0 to 43200,
    // leading zeros too, and answers it in plain decimal ("000045" is answered "45").
    const out = await h.sqs.send(
      new CreateQueueCommand({
        QueueName: 'settings-padded',
        Attributes: { VisibilityTimeout: '000045' },
      }),
    );
    const url = out.QueueUrl!;
    expect((await readQueueSettings(h.sqs, url)).visibility).toEqual({
      from: 'queue',
      seconds: 45,
    });
    await h.sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: url,
        Attributes: { VisibilityTimeout: '00000000000000000000043200' },
      }),
    );
    expect((await readQueueSettings(h.sqs, url)).visibility).toEqual({
      from: 'queue',
      seconds: 43_200,
    });
  });
});
