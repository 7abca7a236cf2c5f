import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import {
  DlqReleaseError,
  QueueAttributeError,
  readDlq,
} from '../../../services/report/src/adapters/queues';

/**
 * readDlq against a stubbed SQS client: what it does when the depth SQS reports is not what the
 * queue holds (the Approximate* attributes are eventually consistent). The reads against the
 * local SQS are in test/integration/report-dlq.test.ts.
 */
const sqs = new SQSClient({ region: 'us-east-1' });
const mock = mockClient(sqs);
afterEach(() => mock.reset());

const URL = 'http://sqs.local/000000000000/orders-standard-dlq';
const ARN = 'arn:aws:sqs:us-east-1:000000000000:orders-standard-dlq';

const attributes = (visible: number, notVisible = 0, delayed = 0) =>
  mock.on(GetQueueAttributesCommand).resolves({
    Attributes: {
      ApproximateNumberOfMessages: String(visible),
      ApproximateNumberOfMessagesNotVisible: String(notVisible),
      ApproximateNumberOfMessagesDelayed: String(delayed),
      QueueArn: ARN,
    },
  });

const message = (orderId: string, messageId: string) => ({
  MessageId: messageId,
  ReceiptHandle: `handle-${messageId}`,
  Body: JSON.stringify({ runId: 'run-a', orderId }),
});

/** The entries of one ChangeMessageVisibilityBatch call, as the fake SQS is given them. */
type ReleaseInput = { Entries?: Array<{ Id?: string; ReceiptHandle?: string }> };

/**
 * A ChangeMessageVisibilityBatch answer as SQS gives one: each entry in exactly one of
 * `Successful` and `Failed` (`fail` says which entries fail, and how).
 */
const answer =
  (fail: (id: string) => Record<string, unknown> | undefined = () => undefined) =>
  (input: ReleaseInput) => {
    const ids = (input.Entries ?? []).map((e) => e.Id ?? '');
    return {
      Successful: ids.filter((id) => fail(id) === undefined).map((Id) => ({ Id })),
      Failed: ids.flatMap((id) => fail(id) ?? []),
    };
  };
/** Every entry released. */
const releaseAll = answer();

describe('reading a DLQ whose reported depth lags what it holds', () => {
  it('reads a message that is there although every depth attribute reads 0', async () => {
    // A message SQS moved to the DLQ just before the report read it: the attributes still say
    // 0 (eventually consistent), a receive returns it.
    attributes(0);
    mock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message('o1', 'm1')] })
      .resolves({ Messages: [] });
    mock.on(ChangeMessageVisibilityBatchCommand).callsFake(releaseAll);

    const read = await readDlq(sqs, URL, 'run-a');

    expect(read.orderIds).toEqual(['o1']);
    expect(read.messages).toEqual([{ orderId: 'o1', messageId: 'm1' }]);
    expect(read.unread).toBe(0);
    // What it read is made visible again.
    expect(
      mock.commandCalls(ChangeMessageVisibilityBatchCommand)[0]?.args[0].input.Entries,
    ).toEqual([{ Id: 'm0', ReceiptHandle: 'handle-m1', VisibilityTimeout: 0 }]);
  });

  it('keeps reading past the reported depth until a receive brings nothing new', async () => {
    // The depth says 1; three are there by the time the reader receives.
    attributes(1);
    mock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message('o1', 'm1')] })
      .resolvesOnce({ Messages: [message('o2', 'm2'), message('o3', 'm3')] })
      .resolves({ Messages: [] });
    mock.on(ChangeMessageVisibilityBatchCommand).callsFake(releaseAll);

    const read = await readDlq(sqs, URL, 'run-a');

    expect([...read.orderIds].sort()).toEqual(['o1', 'o2', 'o3']);
    expect(read.unread).toBe(0);
    // The third receive, empty, ended the read.
    expect(mock.commandCalls(ReceiveMessageCommand)).toHaveLength(3);
  });

  it('makes one long-poll receive on a DLQ that reads empty, and stops when it brings nothing', async () => {
    attributes(0);
    mock.on(ReceiveMessageCommand).resolves({ Messages: [] });

    const read = await readDlq(sqs, URL, 'run-a');

    expect(read).toEqual({ depth: 0, orderIds: [], messages: [], unread: 0, queueArn: ARN });
    const receives = mock.commandCalls(ReceiveMessageCommand);
    expect(receives).toHaveLength(1);
    // A long poll (WaitTimeSeconds > 0) asks every SQS server; a short poll samples some of
    // them and may answer empty while a message is there.
    expect(receives[0]?.args[0].input.WaitTimeSeconds).toBe(1);
    expect(mock.commandCalls(ChangeMessageVisibilityBatchCommand)).toHaveLength(0);
  });

  it('counts delayed messages in the depth, and as unread when no receive can get them', async () => {
    // A delayed message cannot be received until its delay ends: it is there, not gone.
    attributes(0, 0, 2);
    mock.on(ReceiveMessageCommand).resolves({ Messages: [] });

    const read = await readDlq(sqs, URL, 'run-a');

    expect([read.depth, read.orderIds.length, read.unread]).toEqual([2, 0, 2]);
    // No visible message to wait for: the first empty receive ends the read (it made three, a
    // second each, waiting for messages no receive can get).
    expect(mock.commandCalls(ReceiveMessageCommand)).toHaveLength(1);
  });

  it('ends at its first empty receive once it has read every visible message, whatever is delayed or held', async () => {
    // 2 visible, 1 held by another reader, 1 delayed: the two are read, then one empty receive.
    attributes(2, 1, 1);
    mock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message('o1', 'm1'), message('o2', 'm2')] })
      .resolves({ Messages: [] });
    mock.on(ChangeMessageVisibilityBatchCommand).callsFake(releaseAll);

    const read = await readDlq(sqs, URL, 'run-a');

    expect([read.depth, read.orderIds.length, read.unread]).toEqual([4, 2, 2]);
    expect(mock.commandCalls(ReceiveMessageCommand)).toHaveLength(2);
  });
});

const COUNTS = [
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
] as const;

describe("a DLQ's depth answer the report cannot count", () => {
  /** What readDlq threw, or undefined when it returned. */
  const outcome = () =>
    readDlq(sqs, URL, 'run-a').then(
      () => undefined,
      (err: unknown) => err,
    );

  it.each(COUNTS)(
    'refuses an answer without %s, where it read as 0 and understated dlqUnread',
    async (name) => {
      // 5 held by another reader and 2 delayed: none can be received, all 7 are unread. With
      // one count missing read as 0, `unread` said 0 or 5 or 2, and the note that orders counted
      // lost may be in the DLQ unread could be left out.
      const counts: Record<string, string> = {
        ApproximateNumberOfMessages: '0',
        ApproximateNumberOfMessagesNotVisible: '5',
        ApproximateNumberOfMessagesDelayed: '2',
        QueueArn: ARN,
      };
      delete counts[name];
      mock.on(GetQueueAttributesCommand).resolves({ Attributes: counts });
      mock.on(ReceiveMessageCommand).resolves({ Messages: [] });

      const error = await outcome();

      expect(error).toBeInstanceOf(QueueAttributeError);
      expect((error as Error).message).toBe(
        `the ${name} of ${URL} (absent) is not in SQS's answer, so the report cannot count the queue's messages`,
      );
      expect((error as { expose?: boolean }).expose).toBe(true);
      // Refused before anything was received: nothing hidden, nothing to release.
      expect(mock.commandCalls(ReceiveMessageCommand)).toHaveLength(0);
    },
  );

  it.each([
    ['missing', undefined],
    ['empty', ''],
  ])(
    'refuses an answer whose QueueArn is %s, where the check that the DLQ read is the one the RedrivePolicy names was skipped',
    async (_label, arn) => {
      mock.on(GetQueueAttributesCommand).resolves({
        Attributes: {
          ApproximateNumberOfMessages: '0',
          ApproximateNumberOfMessagesNotVisible: '0',
          ApproximateNumberOfMessagesDelayed: '0',
          ...(arn === undefined ? {} : { QueueArn: arn }),
        },
      });
      mock.on(ReceiveMessageCommand).resolves({ Messages: [] });

      const error = await outcome();

      expect(error).toBeInstanceOf(QueueAttributeError);
      expect((error as Error).message).toBe(
        `the QueueArn of ${URL} (${arn === undefined ? 'absent' : ''}) is not in SQS's answer, so the report cannot tell whether it is the DLQ the queue's RedrivePolicy names`,
      );
      expect(mock.commandCalls(ReceiveMessageCommand)).toHaveLength(0);
    },
  );

  it('refuses an answer with no Attributes at all', async () => {
    mock.on(GetQueueAttributesCommand).resolves({});

    const error = await outcome();

    expect(error).toBeInstanceOf(QueueAttributeError);
    expect((error as Error).message).toContain('ApproximateNumberOfMessages of');
  });

  it.each([
    ['empty', ''],
    ['negative', '-1'],
    ['a fraction', '1.5'],
    ['NaN', 'NaN'],
    ['spaced', ' 3'],
    ['an exponent', '1e3'],
    ['400 digits', '9'.repeat(400)],
  ])(
    'refuses a count that is not a whole number of messages (%s), where it read as NaN, a fraction or Infinity',
    async (_label, value) => {
      mock.on(GetQueueAttributesCommand).resolves({
        Attributes: {
          ApproximateNumberOfMessages: '0',
          ApproximateNumberOfMessagesNotVisible: value,
          ApproximateNumberOfMessagesDelayed: '0',
          QueueArn: ARN,
        },
      });
      mock.on(ReceiveMessageCommand).resolves({ Messages: [] });

      const error = await outcome();

      expect(error).toBeInstanceOf(QueueAttributeError);
      expect((error as Error).message).toContain('ApproximateNumberOfMessagesNotVisible');
      expect((error as Error).message).toContain('is not a whole number of messages');
    },
  );
});

describe('reading a DLQ that counts messages visible', () => {
  it('does not end the read at an empty receive while it has read fewer than SQS counted visible', async () => {
    // 3 visible; the first receive passes over them (empty), the next brings them.
    attributes(3);
    mock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [] })
      .resolvesOnce({ Messages: [message('o1', 'm1'), message('o2', 'm2'), message('o3', 'm3')] })
      .resolves({ Messages: [] });
    mock.on(ChangeMessageVisibilityBatchCommand).callsFake(releaseAll);

    const read = await readDlq(sqs, URL, 'run-a');

    expect([...read.orderIds].sort()).toEqual(['o1', 'o2', 'o3']);
    expect(read.unread).toBe(0);
    expect(mock.commandCalls(ReceiveMessageCommand)).toHaveLength(3);
  });
});

describe('a standard DLQ receive that brings only a copy of a message read', () => {
  it('does not end the read past a lagging depth: messages after the copy are read', async () => {
    // The depth lags (0); the second receive hands out m1 again (same id, a new handle), as a
    // standard queue may; m2 is there and the next receive brings it.
    attributes(0);
    mock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message('o1', 'm1')] })
      .resolvesOnce({ Messages: [{ ...message('o1', 'm1'), ReceiptHandle: 'handle-m1-again' }] })
      .resolvesOnce({ Messages: [message('o2', 'm2')] })
      .resolves({ Messages: [] });
    mock.on(ChangeMessageVisibilityBatchCommand).callsFake(releaseAll);

    const read = await readDlq(sqs, URL, 'run-a');

    // m1 counted once, m2 read.
    expect(read.messages).toEqual([
      { orderId: 'o1', messageId: 'm1' },
      { orderId: 'o2', messageId: 'm2' },
    ]);
    expect(mock.commandCalls(ReceiveMessageCommand)).toHaveLength(4);
    // Every handle, the copy's too, is made visible again.
    const released = mock
      .commandCalls(ChangeMessageVisibilityBatchCommand)
      .flatMap((c) => c.args[0].input.Entries ?? [])
      .map((e) => [e.ReceiptHandle, e.VisibilityTimeout]);
    expect(released).toEqual([
      ['handle-m1', 0],
      ['handle-m1-again', 0],
      ['handle-m2', 0],
    ]);
  });
});

describe('releasing what a DLQ read holds', () => {
  const twelve = Array.from({ length: 12 }, (_, i) => message(`o${i}`, `m${i}`));
  /** The entries of each ChangeMessageVisibilityBatch call, as `receipt handle` lists. */
  const releaseCalls = () =>
    mock
      .commandCalls(ChangeMessageVisibilityBatchCommand)
      .map((c) => (c.args[0].input.Entries ?? []).map((e) => e.ReceiptHandle));
  const releasedHandles = () => releaseCalls().flat();
  /** A DLQ that holds `twelve`, handed out ten, then two, then none. */
  const twelveInTwoReceives = () => {
    attributes(12);
    mock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: twelve.slice(0, 10) })
      .resolvesOnce({ Messages: twelve.slice(10) })
      .resolves({ Messages: [] });
  };
  /** What readDlq threw, or undefined when it returned. */
  const readError = (options?: Parameters<typeof readDlq>[3]) =>
    readDlq(sqs, URL, 'run-a', options).then(
      () => undefined,
      (err: unknown) => err,
    );

  it('releases every batch of handles when one release call fails, then throws its error', async () => {
    twelveInTwoReceives();
    mock
      .on(ChangeMessageVisibilityBatchCommand)
      .rejectsOnce(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }))
      .callsFake(releaseAll);

    const error = await readError();
    // The error names the ten messages that call held, and carries the call's own error.
    expect(error).toBeInstanceOf(DlqReleaseError);
    expect((error as Error).message).toContain('TimeoutError: socket hang up');
    expect((error as DlqReleaseError).unreleased.map((u) => u.messageId)).toEqual(
      twelve.slice(0, 10).map((m) => m.MessageId),
    );
    expect(((error as Error).cause as Error).message).toBe('socket hang up');
    // The second call, for m10 and m11, was made although the first failed.
    expect(releasedHandles()).toEqual(twelve.map((m) => m.ReceiptHandle));
  });

  const failedEntry = (id: string, senderFault: boolean, code = 'InternalError') => ({
    Id: id,
    SenderFault: senderFault,
    Code: code,
    Message: `${code} on ${id}`,
  });

  /**
   * A fake clock for readDlq's `clock` option: `sleep` moves it on at once, and `paused` lists
   * every pause asked for.
   */
  const fakeClock = () => {
    const time = { t: 0, paused: [] as number[] };
    const clock = {
      now: () => time.t,
      sleep: async (ms: number) => {
        time.paused.push(ms);
        time.t += ms;
      },
    };
    return { time, clock };
  };
  /**
   * Every release call takes `callMs` on `time` and SQS fails each entry on its side; the
   * returned list gets the time each call started.
   */
  const slowFailedReleases = (time: { t: number }, callMs: number) => {
    const startedAt: number[] = [];
    mock.on(ChangeMessageVisibilityBatchCommand).callsFake((input: ReleaseInput) => {
      startedAt.push(time.t);
      time.t += callMs;
      return answer((id) => failedEntry(id, false))(input);
    });
    return startedAt;
  };

  it('sends again the entries a successful call answered failed through no fault of the caller, and reads on', async () => {
    twelveInTwoReceives();
    // The first call's answer (HTTP 200) fails m3 and m7 on SQS's side; the second attempt at
    // them succeeds.
    let calls = 0;
    mock.on(ChangeMessageVisibilityBatchCommand).callsFake((input: ReleaseInput) => {
      const first = calls++ === 0;
      return answer((id) =>
        first && (id === 'm3' || id === 'm7') ? failedEntry(id, false) : undefined,
      )(input);
    });

    const read = await readDlq(sqs, URL, 'run-a');

    expect(read.messages).toHaveLength(12);
    // Every batch once, then what is to be sent again, in one round.
    expect(releaseCalls()).toEqual([
      twelve.slice(0, 10).map((m) => m.ReceiptHandle),
      ['handle-m10', 'handle-m11'],
      ['handle-m3', 'handle-m7'],
    ]);
  });

  it("throws, once every batch was tried, an error naming each message still hidden: retryable ones after the bounded retries, the caller's fault at once", async () => {
    twelveInTwoReceives();
    // m3 fails on SQS's side every time; m5's handle is refused (the caller's fault, not sent
    // again); the second batch is released.
    mock
      .on(ChangeMessageVisibilityBatchCommand)
      .callsFake(
        answer((id) =>
          id === 'm3'
            ? failedEntry('m3', false)
            : id === 'm5'
              ? failedEntry('m5', true, 'ReceiptHandleIsInvalid')
              : undefined,
        ),
      );

    const error = await readError();

    expect(error).toBeInstanceOf(DlqReleaseError);
    expect((error as DlqReleaseError).unreleased).toEqual([
      { messageId: 'm5', reason: 'ReceiptHandleIsInvalid: ReceiptHandleIsInvalid on m5' },
      { messageId: 'm3', reason: 'InternalError: InternalError on m3, after 3 attempts' },
    ]);
    expect((error as Error).message).toBe(
      `could not make 2 messages the report read from ${URL} visible again: m5 (ReceiptHandleIsInvalid: ReceiptHandleIsInvalid on m5), m3 (InternalError: InternalError on m3, after 3 attempts); they become visible again by themselves within 30 s, the visibility timeout the report read them with: run the report again after that`,
    );
    // An operational error, not a bug: the CLI prints it as one line, no stack
    // (shared/src/cli/args.ts runMain prints `expose` errors so).
    expect((error as { expose?: boolean }).expose).toBe(true);
    // m3 three times in all, m5 once, and the second batch was released all the same.
    expect(releaseCalls()).toEqual([
      twelve.slice(0, 10).map((m) => m.ReceiptHandle),
      ['handle-m10', 'handle-m11'],
      ['handle-m3'],
      ['handle-m3'],
    ]);
  });

  it('keeps its error on one line whatever SQS answered an entry or a call with', async () => {
    attributes(2);
    mock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: twelve.slice(0, 2) })
      .resolves({ Messages: [] });
    mock.on(ChangeMessageVisibilityBatchCommand).resolves({
      Successful: [{ Id: 'm1' }],
      Failed: [
        {
          Id: 'm0',
          SenderFault: true,
          Code: 'Odd\nCode',
          Message: 'line one\r\nline two\u001b[2J',
        },
      ],
    });

    const error = (await readError()) as Error;

    expect(error).toBeInstanceOf(DlqReleaseError);
    expect(error.message).toContain('m0 (Odd Code: line one line two [2J)');
    for (const c of ['\r', '\n', '\u001b']) expect(error.message).not.toContain(c);
  });

  it('shows the first 200 characters of a message id in its error, as of what SQS answered, where a megabyte id went in whole', async () => {
    const long = `id-${'x'.repeat(1_000_000)}`;
    attributes(1);
    mock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message('o0', long)] })
      .resolves({ Messages: [] });
    mock.on(ChangeMessageVisibilityBatchCommand).resolves({
      Failed: [{ Id: 'm0', SenderFault: true, Code: 'ReceiptHandleIsInvalid', Message: 'no' }],
    });

    const error = (await readError()) as DlqReleaseError;

    expect(error).toBeInstanceOf(DlqReleaseError);
    expect(error.message).toContain(`: ${long.slice(0, 200)} (ReceiptHandleIsInvalid: no`);
    expect(error.message).not.toContain(long.slice(0, 201));
    expect(error.message.length).toBeLessThan(1000);
    // The error's list keeps the id whole.
    expect(error.unreleased.map((u) => u.messageId)).toEqual([long]);
  });

  it('cuts a message id it shows before a character the 200th character would split, leaving no lone surrogate', async () => {
    // 199 characters, then U+1F600 (two code units): the 200th code unit is its first half.
    const id = `${'x'.repeat(199)}\u{1F600}tail`;
    attributes(1);
    mock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message('o0', id)] })
      .resolves({ Messages: [] });
    mock.on(ChangeMessageVisibilityBatchCommand).resolves({
      Failed: [{ Id: 'm0', SenderFault: true, Code: 'ReceiptHandleIsInvalid', Message: 'no' }],
    });

    const error = (await readError()) as DlqReleaseError;

    expect(error).toBeInstanceOf(DlqReleaseError);
    expect(error.message).toContain(`: ${'x'.repeat(199)} (ReceiptHandleIsInvalid: no`);
    expect(error.message).not.toMatch(/\p{Surrogate}/u);
  });

  it('sends an entry failed twice in one answer once again, and takes no notice of a failure of an entry it did not send', async () => {
    attributes(3);
    mock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: twelve.slice(0, 3) })
      .resolves({ Messages: [] });
    // The answer names m1 failed twice, and an entry id the call did not hold; SQS refuses a
    // batch whose entry ids repeat (BatchEntryIdsNotDistinct), so m1 goes once in the next call.
    mock
      .on(ChangeMessageVisibilityBatchCommand)
      .resolvesOnce({
        Successful: [{ Id: 'm0' }, { Id: 'm2' }],
        Failed: [failedEntry('m1', false), failedEntry('m1', false), failedEntry('m99', false)],
      })
      .resolves({ Successful: [{ Id: 'm1' }], Failed: [] });

    const read = await readDlq(sqs, URL, 'run-a');

    expect(read.messages).toHaveLength(3);
    expect(releaseCalls()).toEqual([twelve.slice(0, 3).map((m) => m.ReceiptHandle), ['handle-m1']]);
  });

  /** A DLQ that holds the first three of `twelve`, read in one receive. */
  const threeInOneReceive = () => {
    attributes(3);
    mock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: twelve.slice(0, 3) })
      .resolves({ Messages: [] });
  };

  it('does not count an entry the answer names neither successful nor failed as released: sends it again, then names it', async () => {
    threeInOneReceive();
    // Every answer leaves m1 out of both lists: SQS says each entry is in exactly one of them,
    // so nothing says m1 is visible again.
    mock.on(ChangeMessageVisibilityBatchCommand).callsFake((input: ReleaseInput) => {
      const a = releaseAll(input);
      return { ...a, Successful: a.Successful.filter((e) => e.Id !== 'm1') };
    });

    const error = await readError();

    expect(error).toBeInstanceOf(DlqReleaseError);
    expect((error as DlqReleaseError).unreleased).toEqual([
      {
        messageId: 'm1',
        reason: "SQS's answer named it neither successful nor failed, after 3 attempts",
      },
    ]);
    expect(releaseCalls()).toEqual([
      twelve.slice(0, 3).map((m) => m.ReceiptHandle),
      ['handle-m1'],
      ['handle-m1'],
    ]);
  });

  it('does not take an answer for an entry id it did not send as the answer for one it sent', async () => {
    threeInOneReceive();
    // The first answer names m0, m2 and m99 successful: m1, unanswered, goes again.
    mock
      .on(ChangeMessageVisibilityBatchCommand)
      .resolvesOnce({ Successful: [{ Id: 'm0' }, { Id: 'm2' }, { Id: 'm99' }], Failed: [] })
      .callsFake(releaseAll);

    const read = await readDlq(sqs, URL, 'run-a');

    expect(read.messages).toHaveLength(3);
    expect(releaseCalls()).toEqual([twelve.slice(0, 3).map((m) => m.ReceiptHandle), ['handle-m1']]);
  });

  describe('an answer that contradicts itself (no AWS answer does; the report must not miscount it)', () => {
    const notInflight = (id: string) => ({
      Id: id,
      SenderFault: true,
      Code: 'AWS.SimpleQueueService.MessageNotInflight',
      Message: 'The specified message is not in flight.',
    });

    it('does not count an entry named both successful and failed as released: sends it again', async () => {
      threeInOneReceive();
      // m1 is in both lists, its failure MessageNotInflight: taken as released, it was not sent
      // again. The answer says two things of it, so it says neither.
      mock
        .on(ChangeMessageVisibilityBatchCommand)
        .resolvesOnce({
          Successful: [{ Id: 'm0' }, { Id: 'm1' }, { Id: 'm2' }],
          Failed: [notInflight('m1')],
        })
        .callsFake(releaseAll);

      const read = await readDlq(sqs, URL, 'run-a');

      expect(read.messages).toHaveLength(3);
      expect(releaseCalls()).toEqual([
        twelve.slice(0, 3).map((m) => m.ReceiptHandle),
        ['handle-m1'],
      ]);
    });

    it('sends again, up to the bounded attempts, an entry every answer names both successful and failed by its caller, then names it once', async () => {
      threeInOneReceive();
      // The caller's fault was named at once, not sent again, whatever Successful said.
      mock.on(ChangeMessageVisibilityBatchCommand).callsFake((input: ReleaseInput) => {
        const a = releaseAll(input);
        return a.Successful.some((e) => e.Id === 'm1')
          ? { ...a, Failed: [failedEntry('m1', true, 'ReceiptHandleIsInvalid')] }
          : a;
      });

      const error = await readError();

      expect(error).toBeInstanceOf(DlqReleaseError);
      expect((error as DlqReleaseError).unreleased).toEqual([
        {
          messageId: 'm1',
          reason:
            "SQS's answer named it both successful and failed (ReceiptHandleIsInvalid: ReceiptHandleIsInvalid on m1), after 3 attempts",
        },
      ]);
      expect(releaseCalls()).toEqual([
        twelve.slice(0, 3).map((m) => m.ReceiptHandle),
        ['handle-m1'],
        ['handle-m1'],
      ]);
    });

    it('does not keep the first of two different failures of one entry: sends it again', async () => {
      threeInOneReceive();
      // m2 failed MessageNotInflight (visible already) and InternalError (still hidden): the
      // first was kept, and m2 counted released.
      mock
        .on(ChangeMessageVisibilityBatchCommand)
        .resolvesOnce({
          Successful: [{ Id: 'm0' }, { Id: 'm1' }],
          Failed: [notInflight('m2'), failedEntry('m2', false)],
        })
        .callsFake(releaseAll);

      const read = await readDlq(sqs, URL, 'run-a');

      expect(read.messages).toHaveLength(3);
      expect(releaseCalls()).toEqual([
        twelve.slice(0, 3).map((m) => m.ReceiptHandle),
        ['handle-m2'],
      ]);
    });

    it('names an entry failed differently in every answer once, with both failures, after the bounded attempts', async () => {
      threeInOneReceive();
      // The first failure is the caller's (not sent again), the second SQS's: the entry was named
      // at once by the first alone.
      mock.on(ChangeMessageVisibilityBatchCommand).callsFake((input: ReleaseInput) => {
        const a = releaseAll(input);
        return {
          Successful: a.Successful.filter((e) => e.Id !== 'm0'),
          Failed: a.Successful.some((e) => e.Id === 'm0')
            ? [failedEntry('m0', true, 'ReceiptHandleIsInvalid'), failedEntry('m0', false)]
            : [],
        };
      });

      const error = await readError();

      expect((error as DlqReleaseError).unreleased).toEqual([
        {
          messageId: 'm0',
          reason:
            "SQS's answer named it failed 2 times, differently (ReceiptHandleIsInvalid: ReceiptHandleIsInvalid on m0; InternalError: InternalError on m0), after 3 attempts",
        },
      ]);
      expect(releaseCalls()).toEqual([
        twelve.slice(0, 3).map((m) => m.ReceiptHandle),
        ['handle-m0'],
        ['handle-m0'],
      ]);
    });

    it('names an entry failed twice alike by its caller once, not twice, and sends it no more', async () => {
      threeInOneReceive();
      mock.on(ChangeMessageVisibilityBatchCommand).resolves({
        Successful: [{ Id: 'm0' }, { Id: 'm2' }],
        Failed: [
          failedEntry('m1', true, 'ReceiptHandleIsInvalid'),
          failedEntry('m1', true, 'ReceiptHandleIsInvalid'),
        ],
      });

      const error = await readError();

      expect((error as DlqReleaseError).unreleased).toEqual([
        { messageId: 'm1', reason: 'ReceiptHandleIsInvalid: ReceiptHandleIsInvalid on m1' },
      ]);
      expect(releaseCalls()).toHaveLength(1);
    });

    it('bounds what it names of an entry failed many ways: three failures, 200 characters each', async () => {
      threeInOneReceive();
      // m0 failed 50 ways, each message 1,000 characters: all of it went into the error.
      mock.on(ChangeMessageVisibilityBatchCommand).callsFake((input: ReleaseInput) => {
        const a = releaseAll(input);
        const sent = a.Successful.some((e) => e.Id === 'm0');
        return {
          Successful: a.Successful.filter((e) => e.Id !== 'm0'),
          Failed: sent
            ? Array.from({ length: 50 }, (_, k) => ({
                ...failedEntry('m0', true, `Code${k}`),
                Message: 'x'.repeat(1000),
              }))
            : [],
        };
      });

      const error = await readError();

      const [only] = (error as DlqReleaseError).unreleased;
      expect(only?.messageId).toBe('m0');
      expect(only?.reason).toMatch(
        /^SQS's answer named it failed 50 times, differently \(Code0: x+; Code1: x+; Code2: x+; and 47 more\), after 3 attempts$/,
      );
      expect(only?.reason.length).toBeLessThan(700);
    });

    it('counts no entry released by an answer that names only ids the call did not send', async () => {
      threeInOneReceive();
      // Near misses of the ids sent (case, padding, another release's id), every one
      // successful, twice over: none answers m0-m2, which are sent again, then named.
      mock.on(ChangeMessageVisibilityBatchCommand).resolves({
        Successful: ['M0', ' m1', 'm02', 'm3', 'M0'].map((Id) => ({ Id })),
        Failed: [],
      });

      const error = await readError();

      expect((error as DlqReleaseError).unreleased.map((u) => u.messageId)).toEqual([
        'm0',
        'm1',
        'm2',
      ]);
      expect(releaseCalls()).toEqual([
        twelve.slice(0, 3).map((m) => m.ReceiptHandle),
        twelve.slice(0, 3).map((m) => m.ReceiptHandle),
        twelve.slice(0, 3).map((m) => m.ReceiptHandle),
      ]);
    });
  });

  it('counts an entry SQS answers MessageNotInflight as released: it is visible already', async () => {
    threeInOneReceive();
    // The first answer leaves m2 out; sent again, SQS says it is not in flight (the first call
    // had released it): nothing is hidden.
    mock
      .on(ChangeMessageVisibilityBatchCommand)
      .resolvesOnce({ Successful: [{ Id: 'm0' }, { Id: 'm1' }], Failed: [] })
      .callsFake(
        answer((id) => ({
          Id: id,
          SenderFault: true,
          Code: 'AWS.SimpleQueueService.MessageNotInflight',
          Message: 'The specified message is not in flight.',
        })),
      );

    const read = await readDlq(sqs, URL, 'run-a');

    expect(read.messages).toHaveLength(3);
    expect(releaseCalls()).toEqual([twelve.slice(0, 3).map((m) => m.ReceiptHandle), ['handle-m2']]);
  });

  it("bounds the whole release's retries, not each batch's: one round of pauses (300 ms) and no call past 1 s after the first round", async () => {
    // Prepare: 300 messages (30 batches), every entry failed on SQS's side every time, each call
    // taking 40 ms on a fake clock. Retried batch by batch, 100 + 200 ms a batch, the pauses
    // alone came to 9 s.
    const many = Array.from({ length: 300 }, (_, i) => message(`o${i}`, `m${i}`));
    attributes(300);
    let receives = mock.on(ReceiveMessageCommand);
    for (let i = 0; i < many.length; i += 10) {
      receives = receives.resolvesOnce({ Messages: many.slice(i, i + 10) });
    }
    receives.resolves({ Messages: [] });
    const { time, clock } = fakeClock();
    const startedAt = slowFailedReleases(time, 40);

    // Act
    const error = await readError({ clock });

    // Assess: the first round is 30 calls, 1,200 ms; the retries pause once (100 ms), then send
    // again until the budget is spent: 1 s after the first round ended.
    const firstRoundEnd = 30 * 40;
    expect(time.paused).toEqual([100]);
    const retryStarts = startedAt.slice(30);
    expect(retryStarts.length).toBeGreaterThan(0);
    for (const at of retryStarts) expect(at).toBeLessThan(firstRoundEnd + 1_000);
    expect(time.t).toBeLessThanOrEqual(firstRoundEnd + 1_000 + 40);
    // Every message is named, each once: those the budget left without a retry say so.
    expect(error).toBeInstanceOf(DlqReleaseError);
    const unreleased = (error as DlqReleaseError).unreleased;
    expect(new Set(unreleased.map((u) => u.messageId)).size).toBe(300);
    expect(unreleased).toHaveLength(300);
    expect(unreleased.find((u) => u.messageId === 'm299')).toEqual({
      messageId: 'm299',
      reason:
        "InternalError: InternalError on m299, after 1 attempt (the release's 1000 ms for retries spent)",
    });
    expect(unreleased.find((u) => u.messageId === 'm0')).toEqual({
      messageId: 'm0',
      reason:
        "InternalError: InternalError on m0, after 2 attempts (the release's 1000 ms for retries spent)",
    });
  }, 15_000);

  it('sends no message whose hide has ended: a slow SQS makes no call later than 30 s after the last receive', async () => {
    // 30 messages read at once (fake clock 0); every release call takes 20 s and SQS fails
    // each entry on its side. The first call (m0-m9) starts at 0, the second (m10-m19) at 20 s;
    // at 40 s every hide has ended (30 s after the receives), so nothing else is sent, and no
    // message is named: each is visible again by itself.
    const thirty = Array.from({ length: 30 }, (_, i) => message(`o${i}`, `m${i}`));
    attributes(30);
    mock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: thirty.slice(0, 10) })
      .resolvesOnce({ Messages: thirty.slice(10, 20) })
      .resolvesOnce({ Messages: thirty.slice(20) })
      .resolves({ Messages: [] });
    const { time, clock } = fakeClock();
    const startedAt = slowFailedReleases(time, 20_000);

    const read = await readDlq(sqs, URL, 'run-a', { clock });

    expect(read.orderIds).toHaveLength(30);
    expect(startedAt).toEqual([0, 20_000]);
  });

  it('names no message whose hide ended while its retries ran out of time', async () => {
    // Each call takes 29.5 s and fails the entry on SQS's side: the second attempt starts at
    // 29.6 s (its hide has not ended), the budget is spent before a third (at 59 s), and by
    // then the message is visible again by itself.
    attributes(1);
    mock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message('o1', 'm1')] })
      .resolves({ Messages: [] });
    const { time, clock } = fakeClock();
    const startedAt = slowFailedReleases(time, 29_500);

    const read = await readDlq(sqs, URL, 'run-a', { clock });

    expect(read.orderIds).toEqual(['o1']);
    expect(startedAt).toEqual([0, 29_600]);
  });

  it('pauses 100 ms before the second round and 200 ms before the third', async () => {
    attributes(2);
    mock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message('o1', 'm1'), message('o2', 'm2')] })
      .resolves({ Messages: [] });
    mock.on(ChangeMessageVisibilityBatchCommand).callsFake(answer((id) => failedEntry(id, false)));
    const { time, clock } = fakeClock();

    await expect(readDlq(sqs, URL, 'run-a', { clock })).rejects.toBeInstanceOf(DlqReleaseError);

    expect(time.paused).toEqual([100, 200]);
    expect(mock.commandCalls(ChangeMessageVisibilityBatchCommand)).toHaveLength(3);
  });

  it("shows the first 200 characters of a release call's error for each message it names, where a megabyte error went in whole, once a message", async () => {
    const long = `refused: ${'x'.repeat(1_000_000)}`;
    twelveInTwoReceives();
    mock.on(ChangeMessageVisibilityBatchCommand).rejects(new Error(long));

    const error = (await readError()) as DlqReleaseError;

    expect(error).toBeInstanceOf(DlqReleaseError);
    expect(error.message).toContain(`${twelve[0]!.MessageId} (Error: ${long.slice(0, 193)})`);
    expect(error.message.length).toBeLessThan(5000);
    // The error's cause keeps the call's error whole.
    expect((error.cause as Error).message).toBe(long);
  });

  it('releases what it read when a receive fails, and throws the receive error, not a release error', async () => {
    attributes(12);
    mock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: twelve.slice(0, 10) })
      .rejects(new Error('receive failed'));
    mock.on(ChangeMessageVisibilityBatchCommand).rejects(new Error('release failed'));

    await expect(readDlq(sqs, URL, 'run-a')).rejects.toThrow('receive failed');
    expect(releasedHandles()).toEqual(twelve.slice(0, 10).map((m) => m.ReceiptHandle));
  });
});
