import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import { type Harness, queueWithDlq, sendMany, startEmulator } from './helpers';

/** Sends n messages, drains the queue with long polls, and returns the bodies in delivery order. */
async function sendAndDrain(h: Harness, n: number, advanceMs = 0): Promise<string[]> {
  const { QueueUrl } = await h.sqs.send(
    new CreateQueueCommand({ QueueName: 'faulty', Attributes: { VisibilityTimeout: '30' } }),
  );
  await sendMany(h, QueueUrl!, n);
  const seen: string[] = [];
  for (let empties = 0; empties < 3; ) {
    const out = await h.sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    const msgs = out.Messages ?? [];
    if (msgs.length === 0) {
      empties++;
      if (advanceMs) h.emulator.clock.advance(advanceMs);
      continue;
    }
    seen.push(...msgs.map((m) => m.Body!));
    await h.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl,
        Entries: msgs.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
  }
  return seen;
}

const outOfOrder = (bodies: string[]) =>
  bodies.filter((b, i) => i > 0 && Number(b) < Number(bodies[i - 1])).length;

jest.setTimeout(30_000);

describe('standard-queue fault model', () => {
  it('delivers every message once and in order with faults off (like LocalStack)', async () => {
    const h = await startEmulator('none', 7);
    try {
      const seen = await sendAndDrain(h, 200);
      expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
    } finally {
      await h.stop();
    }
  });

  it('duplicates and reorders under chaos, yet loses nothing', async () => {
    const h = await startEmulator('chaos', 7);
    try {
      const seen = await sendAndDrain(h, 500, 31_000);
      expect(new Set(seen).size).toBe(500);
      expect(seen.length).toBeGreaterThan(500);
      expect(outOfOrder(seen)).toBeGreaterThan(0);
    } finally {
      await h.stop();
    }
  });

  it('repeats exactly for the same seed', async () => {
    const run = async () => {
      const h = await startEmulator({ duplicateRate: 0.05, reorderRate: 0.2 }, 99);
      try {
        return await sendAndDrain(h, 100);
      } finally {
        await h.stop();
      }
    };
    expect(await run()).toEqual(await run());
  });

  it('gives a copy served to a concurrent receive its own receive count, starting at 1', async () => {
    // Prepare: every receive leaves a copy behind (another host missed the in-flight mark).
    const h = await startEmulator({ duplicateRate: 1 }, 5);
    try {
      const { QueueUrl } = await h.sqs.send(
        new CreateQueueCommand({ QueueName: 'copies', Attributes: { VisibilityTimeout: '30' } }),
      );
      await h.sqs.send(
        new SendMessageBatchCommand({ QueueUrl, Entries: [{ Id: 'a', MessageBody: 'one' }] }),
      );
      const receive = async () => {
        const out = await h.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl,
            MaxNumberOfMessages: 1,
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
        );
        const m = out.Messages?.[0];
        return [m?.MessageId, m?.Attributes?.ApproximateReceiveCount];
      };

      // Act: the message, then its copy while the first is still in flight.
      const first = await receive();
      const copy = await receive();

      // Assess: the same message id, and the copy's count is its own, not the first's.
      expect(copy[0]).toBe(first[0]);
      expect([first[1], copy[1]]).toEqual(['1', '1']);
    } finally {
      await h.stop();
    }
  });

  it('brings back a copy whose delete was lost with the count it had, so one lost after the last allowed receive is dead-lettered though it succeeded', async () => {
    // Prepare: every delete misses one host's copy; the source redrives after 3 receives.
    const h = await startEmulator({ survivingCopyRate: 1 }, 6);
    try {
      const { url: QueueUrl, dlqUrl } = await queueWithDlq(h, 'lost-delete', {
        maxReceiveCount: 3,
        visibilityTimeout: 30,
      });
      await h.sqs.send(
        new SendMessageBatchCommand({ QueueUrl, Entries: [{ Id: 'a', MessageBody: 'done' }] }),
      );
      const receive = async (url: string) => {
        const out = await h.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: 1,
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
        );
        return out.Messages?.[0];
      };

      // Act: each receive succeeds and deletes; each delete is lost, so the copy comes back once
      // the visibility timeout of that receive has passed.
      const counts: string[] = [];
      let id: string | undefined;
      for (let i = 0; i < 3; i++) {
        const m = await receive(QueueUrl!);
        id ??= m?.MessageId;
        counts.push(
          `${m?.MessageId === id ? 'same id' : 'other id'} #${m?.Attributes?.ApproximateReceiveCount}`,
        );
        await h.sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m!.ReceiptHandle! }));
        h.emulator.clock.advance(30_000);
      }
      const fourth = await receive(QueueUrl!);
      const dead = await receive(dlqUrl!);

      // Assess: receives #1 to #3 of the same message; the receive after the last allowed one
      // moved it to the DLQ with its message id, as SQS's redrive rule does.
      expect(counts).toEqual(['same id #1', 'same id #2', 'same id #3']);
      expect(fourth).toBeUndefined();
      expect(dead?.MessageId).toBe(id);
      expect(dead?.Body).toBe('done');
      // The emulator keeps each lost delete, with the receive it was the delete of: the soak's
      // evidence of the fault.
      expect(h.emulator.lostDeletes('lost-delete')).toEqual(
        [1, 2, 3].map((receiveCount) => ({ messageId: id, receiveCount })),
      );
      expect(h.emulator.lostDeletes('lost-delete-dlq')).toEqual([]);
    } finally {
      await h.stop();
    }
  });
});

describe('the faults control endpoint', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startEmulator('demo');
  });
  afterAll(() => h.stop());

  it.each([
    ['a preset that is a number', '{"preset":5}', /a fault preset is a name/],
    ['a preset that is null', '{"preset":null}', /a fault preset is a name/],
    ['a preset that is knobs', '{"preset":{"duplicateRate":1}}', /a fault preset is a name/],
    ['a number', '5', /faults are \{"preset": name\} or an object of knobs/],
    ['an array', '[]', /faults are/],
    ['true', 'true', /faults are/],
    ['null', 'null', /faults are/],
  ])('refuses %s with a 400 that changes nothing', async (_, body, why) => {
    const before = h.emulator.faults();
    expect(before).toMatchObject({ duplicateRate: 5e-3 });
    const res = await fetch(`${h.url}/_emulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(why);
    expect(h.emulator.faults()).toEqual(before);
  });
});
