import { GetQueueAttributesCommand, QueueDoesNotExist, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import {
  QueueAttributeError,
  RedrivePolicyError,
  readQueueSettings,
} from '../../../services/report/src/adapters/queues';
import { renderMarkdown } from '../../../services/report/src/domain/render-text';
import {
  buildReport,
  type DeployedRedrive,
  type DeployedVisibility,
} from '../../../services/report/src/domain/report';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { LedgerBuilder } from './ledger-fixture';

const sqs = new SQSClient({ region: 'us-east-1' });
const mock = mockClient(sqs);
afterEach(() => mock.reset());

const URL = 'http://sqs.local/000000000000/orders-standard';
const ARN = 'arn:aws:sqs:us-east-1:000000000000:orders-standard-dlq';
const REPO = pipelineConfig.queues.standard.dlq.maxReceiveCount;

const answering = (policy: string | undefined) =>
  mock
    .on(GetQueueAttributesCommand)
    .resolves({ Attributes: policy === undefined ? {} : { RedrivePolicy: policy } });

/** The RedrivePolicy half of the one GetQueueAttributes the report makes per source queue. */
const readRedrivePolicy = async (client: SQSClient, url: string) =>
  (await readQueueSettings(client, url)).redrive;

describe("reading a queue's RedrivePolicy", () => {
  it('asks GetQueueAttributes for RedrivePolicy alone, and reads its maxReceiveCount and DLQ', async () => {
    answering(JSON.stringify({ deadLetterTargetArn: ARN, maxReceiveCount: 7 }));
    expect(await readRedrivePolicy(sqs, URL)).toEqual({
      from: 'queue',
      maxReceiveCount: 7,
      deadLetterTargetArn: ARN,
    });
    expect(mock.commandCalls(GetQueueAttributesCommand)[0]?.args[0].input).toEqual({
      QueueUrl: URL,
      AttributeNames: ['RedrivePolicy', 'VisibilityTimeout'],
    });
  });

  it('reads a DLQ in another account or partition', async () => {
    for (const arn of [
      'arn:aws:sqs:us-east-1:222222222222:central-dlq',
      'arn:aws-cn:sqs:cn-north-1:222222222222:central-dlq.fifo',
      'arn:aws-us-gov:sqs:us-gov-west-1:222222222222:central_dlq-1',
    ]) {
      answering(JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: 5 }));
      expect(await readRedrivePolicy(sqs, URL)).toEqual({
        from: 'queue',
        maxReceiveCount: 5,
        deadLetterTargetArn: arn,
      });
    }
  });

  it('reads a key written with escapes as written, after a policy that poisons it (nodejs/node#63785)', async () => {
    // Prepare: a policy whose second key is \u006daxReceive as text (the first 15 characters of
    // "\u006daxReceiveCount", whose decoded length is 15); refused, as it has no maxReceiveCount.
    // On Node 24 JSON.parse had then read the next policy's key as it, and refused that too.
    answering(String.raw`{"deadLetterTargetArn":"${ARN}","\\u006daxReceive":7}`);
    await expect(readRedrivePolicy(sqs, URL)).rejects.toThrow(RedrivePolicyError);
    answering(String.raw`{"deadLetterTargetArn":"${ARN}","\u006daxReceiveCount":7}`);

    // Act / Assess
    expect(await readRedrivePolicy(sqs, URL)).toEqual({
      from: 'queue',
      maxReceiveCount: 7,
      deadLetterTargetArn: ARN,
    });
  });

  it('reads a maxReceiveCount given as a string of digits, as SQS accepts it', async () => {
    answering(JSON.stringify({ deadLetterTargetArn: ARN, maxReceiveCount: '12' }));
    expect(await readRedrivePolicy(sqs, URL)).toMatchObject({ from: 'queue', maxReceiveCount: 12 });
  });

  it('reads a maxReceiveCount padded with zeros, however many, as the local SQS takes it', async () => {
    // local/sqs/actions/attributes.ts takes any string of digits whose number is 1 to 1000, so
    // a queue may hold this policy: refused, the report would not run and would call 5 out of
    // range.
    for (const raw of ['0005', '000000000000005', '0000000000000000000000000005']) {
      answering(JSON.stringify({ deadLetterTargetArn: ARN, maxReceiveCount: raw }));
      expect({ raw, read: await readRedrivePolicy(sqs, URL) }).toMatchObject({
        raw,
        read: { from: 'queue', maxReceiveCount: 5 },
      });
    }
  });

  it.each([
    [undefined, 'the queue has no RedrivePolicy'],
    ['', 'the queue has no RedrivePolicy'],
  ])('falls back to the config when the policy is %p', async (policy, reason) => {
    answering(policy);
    expect(await readRedrivePolicy(sqs, URL)).toEqual({ from: 'config', reason });
  });

  it.each(['AccessDenied', 'AccessDeniedException'])(
    'falls back to the config when SQS refuses the call (%s)',
    async (code) => {
      mock
        .on(GetQueueAttributesCommand)
        .rejects(Object.assign(new Error('Access to the resource is denied.'), { name: code }));
      expect(await readRedrivePolicy(sqs, URL)).toEqual({
        from: 'config',
        reason: `reading the queue's RedrivePolicy was refused (${code}: sqs:GetQueueAttributes not allowed)`,
      });
    },
  );

  it('lets any other error through: a queue that is not there is no fallback', async () => {
    mock
      .on(GetQueueAttributesCommand)
      .rejects(
        new QueueDoesNotExist({ message: 'The specified queue does not exist.', $metadata: {} }),
      );
    await expect(readRedrivePolicy(sqs, URL)).rejects.toThrow(QueueDoesNotExist);
  });

  it.each([
    ['not json', 'is not JSON'],
    ['[1]', 'is not a JSON object'],
    ['null', 'is not a JSON object'],
    [JSON.stringify({ deadLetterTargetArn: ARN }), 'has maxReceiveCount missing, not 1 to 1000'],
    [
      JSON.stringify({ deadLetterTargetArn: ARN, maxReceiveCount: 0 }),
      'has maxReceiveCount 0, not 1 to 1000',
    ],
    [
      JSON.stringify({ deadLetterTargetArn: ARN, maxReceiveCount: 1001 }),
      'has maxReceiveCount 1001, not 1 to 1000',
    ],
    [
      JSON.stringify({ deadLetterTargetArn: ARN, maxReceiveCount: 2.5 }),
      'has maxReceiveCount 2.5, not 1 to 1000',
    ],
    [
      JSON.stringify({ deadLetterTargetArn: ARN, maxReceiveCount: 'five' }),
      'has maxReceiveCount "five", not 1 to 1000',
    ],
    // A string is read only as digits: Number() would take these as 16, 100 and 7.
    ...['0x10', '1e2', ' 7'].map((raw) => [
      JSON.stringify({ deadLetterTargetArn: ARN, maxReceiveCount: raw }),
      `has maxReceiveCount ${JSON.stringify(raw)}, not 1 to 1000`,
    ]),
    [JSON.stringify({ maxReceiveCount: 5 }), 'names no deadLetterTargetArn'],
    ...['orders-standard-dlq', 'arn:aws:sns:us-east-1:000000000000:topic', `${ARN}\u001b[2J`].map(
      (arn) => [
        JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: 5 }),
        `has deadLetterTargetArn ${JSON.stringify(arn)}, not an SQS queue ARN`,
      ],
    ),
  ])('refuses %s with one line naming the queue', async (policy, problem) => {
    answering(policy);
    const read = readRedrivePolicy(sqs, URL);
    await expect(read).rejects.toThrow(RedrivePolicyError);
    await expect(readRedrivePolicy(sqs, URL)).rejects.toThrow(
      `the RedrivePolicy of ${URL} (${policy}) ${problem}`,
    );
    await read.catch((err: { expose?: boolean }) => expect(err.expose).toBe(true));
  });

  it('names a policy spread over lines, or holding control characters, on one line', async () => {
    // JSON may break lines between its tokens; the policy is quoted as read, whitespace and
    // control characters shown as one space, so the refusal stays the one line the CLI prints.
    const policy = `{"deadLetterTargetArn": "${ARN}",\n  "maxReceiveCount":\r\n\t0\u001b[2J}`;
    answering(policy);
    const err = (await readRedrivePolicy(sqs, URL).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(RedrivePolicyError);
    expect(err.message).toBe(
      `the RedrivePolicy of ${URL} ({"deadLetterTargetArn": "${ARN}", "maxReceiveCount": 0 [2J}) is not JSON`,
    );
  });
});

describe("reading a queue's VisibilityTimeout", () => {
  it('reads it in the same GetQueueAttributes as the RedrivePolicy', async () => {
    mock.on(GetQueueAttributesCommand).resolves({
      Attributes: {
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: ARN, maxReceiveCount: 7 }),
        VisibilityTimeout: '90',
      },
    });
    expect(await readQueueSettings(sqs, URL)).toEqual({
      redrive: { from: 'queue', maxReceiveCount: 7, deadLetterTargetArn: ARN },
      visibility: { from: 'queue', seconds: 90 },
    });
    expect(mock.commandCalls(GetQueueAttributesCommand)).toHaveLength(1);
  });

  it('reads 0 and 43200, the ends SQS allows', async () => {
    for (const seconds of [0, 43_200]) {
      mock.on(GetQueueAttributesCommand).resolves({
        Attributes: { VisibilityTimeout: String(seconds) },
      });
      expect((await readQueueSettings(sqs, URL)).visibility).toEqual({ from: 'queue', seconds });
    }
  });

  it('reads one padded with zeros, however many, as the local SQS takes it', async () => {
    for (const [raw, seconds] of [
      ['030', 30],
      ['000000000000000000000000030', 30],
      ['0043200', 43_200],
    ] as const) {
      mock.on(GetQueueAttributesCommand).resolves({ Attributes: { VisibilityTimeout: raw } });
      expect((await readQueueSettings(sqs, URL)).visibility).toEqual({ from: 'queue', seconds });
    }
  });

  it('falls back to the config, with the reason, when it is missing or the call is refused', async () => {
    mock.on(GetQueueAttributesCommand).resolves({ Attributes: {} });
    expect((await readQueueSettings(sqs, URL)).visibility).toEqual({
      from: 'config',
      reason: "the queue's attributes hold no VisibilityTimeout",
    });
    mock
      .on(GetQueueAttributesCommand)
      .rejects(
        Object.assign(new Error('Access to the resource is denied.'), { name: 'AccessDenied' }),
      );
    expect(await readQueueSettings(sqs, URL)).toEqual({
      redrive: {
        from: 'config',
        reason:
          "reading the queue's RedrivePolicy was refused (AccessDenied: sqs:GetQueueAttributes not allowed)",
      },
      visibility: {
        from: 'config',
        reason:
          "reading the queue's VisibilityTimeout was refused (AccessDenied: sqs:GetQueueAttributes not allowed)",
      },
    });
  });

  it.each(['-1', '43201', '000043201', '99999999999999999999', '1.5', 'sixty', ' 60', '0x10', ''])(
    'refuses a VisibilityTimeout of %p with one line naming the queue',
    async (raw) => {
      mock.on(GetQueueAttributesCommand).resolves({ Attributes: { VisibilityTimeout: raw } });
      const err = (await readQueueSettings(sqs, URL).catch((e: unknown) => e)) as Error & {
        expose?: boolean;
      };
      expect(err).toBeInstanceOf(QueueAttributeError);
      expect(err.message).toBe(
        `the VisibilityTimeout of ${URL} (${raw}) is not a whole number of seconds from 0 to 43200`,
      );
      expect(err.expose).toBe(true);
    },
  );
});

describe("the report with the queues' deployed VisibilityTimeout", () => {
  const VISIBILITY = pipelineConfig.queues.standard.visibilityTimeoutSeconds;
  const report = (visibility?: DeployedVisibility) =>
    buildReport({
      runId: 'r',
      target: 'local',
      config: pipelineConfig,
      ledger: new LedgerBuilder().ledger,
      ...(visibility ? { visibility } : {}),
    }).report;

  it("shows the queue's, and notes it where it differs from the config", () => {
    const r = report({
      standard: { from: 'queue', seconds: VISIBILITY + 30 },
      fifo: { from: 'queue', seconds: pipelineConfig.queues.fifo.visibilityTimeoutSeconds },
    });
    expect(r.config.queues.standard).toMatchObject({
      visibilityTimeoutSeconds: VISIBILITY + 30,
      visibilityTimeoutSecondsFrom: 'queue',
    });
    expect(r.config.queues.fifo).toMatchObject({
      visibilityTimeoutSeconds: pipelineConfig.queues.fifo.visibilityTimeoutSeconds,
      visibilityTimeoutSecondsFrom: 'queue',
    });
    expect(r.notes).toEqual([
      `standard: the queue's VisibilityTimeout is ${VISIBILITY + 30} s, the report's config ${VISIBILITY} s: the report uses the queue's`,
    ]);
    expect(renderMarkdown(r)).toContain(
      `| visibility timeout | ${pipelineConfig.queues.fifo.visibilityTimeoutSeconds} s (queue) | ${VISIBILITY + 30} s (queue) |`,
    );
  });

  it('falls back to the config, and says why, when it could not be read', () => {
    const reason =
      "reading the queue's VisibilityTimeout was refused (AccessDenied: sqs:GetQueueAttributes not allowed)";
    const r = report({ standard: { from: 'config', reason } });
    expect(r.config.queues.standard).toMatchObject({
      visibilityTimeoutSeconds: VISIBILITY,
      visibilityTimeoutSecondsFrom: 'config',
    });
    expect(r.notes).toEqual([
      `standard: visibility timeout ${VISIBILITY} s is the report's config, not the queue's: ${reason}`,
    ]);
  });

  it('uses the config without a note when none was read (a report from a ledger alone)', () => {
    const r = report();
    expect(r.config.queues.standard).toMatchObject({
      visibilityTimeoutSeconds: VISIBILITY,
      visibilityTimeoutSecondsFrom: 'config',
    });
    expect(r.notes).toEqual([]);
  });
});

describe("the report with the queues' deployed maxReceiveCount", () => {
  /**
   * o1's message m1 fails its first 5 receives on a queue deployed with maxReceiveCount 7 (the
   * consumer knows 7: none of those failures is final), then a message the producer never
   * recorded (sent by hand) arrives and applies the order: no message of the order had gone to
   * the DLQ, so it is a re-send. Measured against the repository's 5, m1's fifth receive was its
   * last and the new message reads as a DLQ redrive.
   */
  function ledger(): LedgerBuilder {
    const b = new LedgerBuilder().accept('o1', 'c', 1, 1000).sent('o1', ['m1']);
    for (let n = 1; n <= 5; n++) {
      const at = 2000 + (n - 1) * 60_000;
      b.deliver('standard', 'o1', at, 'failed', n, { messageId: 'm1', outcomeAt: at + 100 });
      b.fail('standard', 'o1', n, false, { messageId: 'm1', failedAt: at + 100 });
    }
    return b
      .deliver('standard', 'o1', 400_000, 'applied', 1, { messageId: 'm-by-hand' })
      .apply('standard', 'o1', 400_050);
  }
  const report = (redrive?: DeployedRedrive) =>
    buildReport({
      runId: 'r',
      target: 'local',
      config: pipelineConfig,
      ledger: ledger().ledger,
      ...(redrive ? { redrive } : {}),
    }).report;

  it("classifies with the queue's maxReceiveCount and shows it, with its DLQ", () => {
    const r = report({
      standard: { from: 'queue', maxReceiveCount: 7, deadLetterTargetArn: ARN },
      fifo: { from: 'queue', maxReceiveCount: REPO, deadLetterTargetArn: `${ARN}.fifo` },
    });
    expect(r.queues.standard.duplicateCauses).toEqual({
      producerResend: 1,
      queueCopy: 0,
      retryAfterFailure: 4,
      dlqRedrive: 0,
    });
    expect(r.config.queues.standard).toMatchObject({
      maxReceiveCount: 7,
      maxReceiveCountFrom: 'queue',
      deadLetterTargetArn: ARN,
    });
    expect(r.config.queues.fifo).toMatchObject({
      maxReceiveCount: REPO,
      maxReceiveCountFrom: 'queue',
    });
    // Only the queue that differs from the config gets a note.
    expect(r.notes).toEqual([
      `standard: the queue's RedrivePolicy says maxReceiveCount 7, the report's config ${REPO}: the report uses the queue's`,
    ]);
    expect(renderMarkdown(r)).toContain(`| maxReceiveCount | ${REPO} (queue) | 7 (queue) |`);
  });

  it('falls back to the config, and says why, when the policy could not be read', () => {
    const reason =
      "reading the queue's RedrivePolicy was refused (AccessDenied: sqs:GetQueueAttributes not allowed)";
    const r = report({ standard: { from: 'config', reason } });
    expect(r.config.queues.standard).toMatchObject({
      maxReceiveCount: REPO,
      maxReceiveCountFrom: 'config',
    });
    expect(r.config.queues.standard.deadLetterTargetArn).toBeUndefined();
    expect(r.notes).toEqual([
      `standard: maxReceiveCount ${REPO} is the report's config, not the queue's: ${reason}`,
    ]);
    // Against the repository's 5, m1's fifth receive was its last: the new message reads as a redrive.
    expect(r.queues.standard.duplicateCauses.dlqRedrive).toBe(1);
  });

  it("judges a failure final by the queue's maxReceiveCount, not by the flag of a consumer that knew another", () => {
    // The queue's policy was raised to 7 by hand; the consumers still run with the repository's
    // 5 and mark m1's fifth failure final. SQS received m1 again (up to 7): nothing went to the
    // DLQ, so the message sent by hand is a re-send.
    const b = ledger();
    const fifth = b.ledger.failures.find((f) => f.receiveCount === 5)!;
    fifth.final = true;
    const r = buildReport({
      runId: 'r',
      target: 'local',
      config: pipelineConfig,
      ledger: b.ledger,
      redrive: { standard: { from: 'queue', maxReceiveCount: 7, deadLetterTargetArn: ARN } },
    }).report;
    expect(r.queues.standard.duplicateCauses).toEqual({
      producerResend: 1,
      queueCopy: 0,
      retryAfterFailure: 4,
      dlqRedrive: 0,
    });
    // Without the queue's policy the consumer's flag is the evidence: the same ledger, a redrive.
    const fallback = buildReport({
      runId: 'r',
      target: 'local',
      config: pipelineConfig,
      ledger: b.ledger,
      redrive: { standard: { from: 'config', reason: 'the queue has no RedrivePolicy' } },
    }).report;
    expect(fallback.queues.standard.duplicateCauses.dlqRedrive).toBe(1);
  });

  /**
   * o1's message m1 fails once, marked final or not by the consumer as `final`, and its failure
   * has lost its receive count; a new message id nobody recorded sending follows it. The report
   * reads the queue's policy, at the repository's maxReceiveCount.
   */
  function countLessFailure(final: boolean) {
    const b = new LedgerBuilder()
      .accept('o1', 'c', 1, 1000)
      .sent('o1', ['m1'])
      .deliver('standard', 'o1', 2000, 'failed', 1, { messageId: 'm1', outcomeAt: 2100 })
      .fail('standard', 'o1', 1, final, { messageId: 'm1', failedAt: 2100 })
      .deliver('standard', 'o1', 400_000, 'applied', 1, { messageId: 'm-redriven' })
      .apply('standard', 'o1', 400_050);
    delete (b.ledger.failures[0] as unknown as Record<string, unknown>).receiveCount;
    return buildReport({
      runId: 'r',
      target: 'local',
      config: pipelineConfig,
      ledger: b.ledger,
      redrive: { standard: { from: 'queue', maxReceiveCount: REPO, deadLetterTargetArn: ARN } },
    }).report;
  }

  it("takes the consumer's final mark for a failure with no usable receive count, where the count read as 0 and the failure as not final", () => {
    // m1's last failure, marked final by the consumer, has lost its receive count; a new message
    // id nobody recorded sending follows it: the redrive of m1. Read as count 0 against the
    // queue's maxReceiveCount, the failure was not final, and the redrive a producer re-send.
    const r = countLessFailure(true);
    expect(r.queues.standard.duplicateCauses).toEqual({
      producerResend: 0,
      queueCopy: 0,
      retryAfterFailure: 0,
      dlqRedrive: 1,
    });
  });

  it("takes the consumer's not-final mark for a failure with no usable receive count: no redrive follows it", () => {
    // The same run, but the consumer marked m1's failure not final: the new message id after it
    // is no redrive of m1 (a message not dead-lettered is not redriven), so it stays what a new
    // id nobody recorded sending is otherwise, a producer re-send. A count-less failure read as
    // at the limit (final whatever its mark) would call it a redrive.
    const r = countLessFailure(false);
    expect(r.queues.standard.duplicateCauses).toEqual({
      producerResend: 1,
      queueCopy: 0,
      retryAfterFailure: 0,
      dlqRedrive: 0,
    });
  });

  it('says so when the DLQ the policy names is not the one the report read (another account, another queue)', () => {
    const b = ledger().dead('standard', 'o1');
    b.ledger.dlq!.standard!.queueArn = ARN;
    const central = 'arn:aws:sqs:us-east-1:222222222222:central-dlq';
    const r = buildReport({
      runId: 'r',
      target: 'local',
      config: pipelineConfig,
      ledger: b.ledger,
      redrive: {
        standard: { from: 'queue', maxReceiveCount: REPO, deadLetterTargetArn: central },
      },
    }).report;
    expect(r.notes).toEqual([
      `standard: the queue's RedrivePolicy moves messages to ${central}, not to the DLQ the report read (${ARN}): in DLQ, applied in DLQ, the DLQ's messages and lost count without what SQS moved there`,
    ]);
    // The same DLQ: no note.
    const same = buildReport({
      runId: 'r',
      target: 'local',
      config: pipelineConfig,
      ledger: b.ledger,
      redrive: { standard: { from: 'queue', maxReceiveCount: REPO, deadLetterTargetArn: ARN } },
    }).report;
    expect(same.notes).toEqual([]);
  });

  it('says so when the ledger holds a receive above the maxReceiveCount the report used (a policy removed or raised during the run)', () => {
    // The standard queue has no RedrivePolicy now, and m1 was received 7 times: SQS did not
    // dead-letter at the config's 5 during this run, which the numbers still measure against.
    const b = ledger();
    for (const n of [6, 7]) {
      const at = 2000 + (n - 1) * 60_000;
      b.deliver('standard', 'o1', at, 'failed', n, { messageId: 'm1', outcomeAt: at + 100 });
    }
    const reason = 'the queue has no RedrivePolicy';
    const r = buildReport({
      runId: 'r',
      target: 'local',
      config: pipelineConfig,
      ledger: b.ledger,
      redrive: { standard: { from: 'config', reason } },
    }).report;
    expect(r.notes).toEqual([
      `standard: maxReceiveCount ${REPO} is the report's config, not the queue's: ${reason}`,
      `standard: the ledger holds a receive #7, above the maxReceiveCount ${REPO} the report used: SQS did not move messages to the DLQ at ${REPO} throughout the run (its RedrivePolicy was changed or removed during it, or the queue had none); a failed receive at ${REPO} still counts as a dead letter`,
    ]);
    // Read from the queue (7), the same ledger needs no such note.
    const read = buildReport({
      runId: 'r',
      target: 'local',
      config: pipelineConfig,
      ledger: b.ledger,
      redrive: { standard: { from: 'queue', maxReceiveCount: 7, deadLetterTargetArn: ARN } },
    }).report;
    expect(read.notes).toEqual([
      `standard: the queue's RedrivePolicy says maxReceiveCount 7, the report's config ${REPO}: the report uses the queue's`,
    ]);
  });

  it('uses the config without a note when no policy was read at all (a report from a ledger alone)', () => {
    const r = report();
    expect(r.config.queues.standard).toMatchObject({
      maxReceiveCount: REPO,
      maxReceiveCountFrom: 'config',
    });
    expect(r.notes).toEqual([]);
  });
});
