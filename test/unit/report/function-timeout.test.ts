import { LedgerDataError } from '../../../services/report/src/domain/metrics';
import { renderMarkdown } from '../../../services/report/src/domain/render-text';
import { buildReport } from '../../../services/report/src/domain/report';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { LedgerBuilder } from './ledger-fixture';

/**
 * The function timeout a pending attempt is judged by: the deadline the consumer stamped on each
 * receive (DeliveryRecord.deadlineAt, its invocation's remaining time at the receive), which is
 * the timeout the function was deployed with, not the repository's config; the config's only for
 * receives without one (ledgers older than the stamp).
 */
const CONFIG_S = pipelineConfig.consumers.standard.timeoutSeconds;
/** The timeout the consumer was deployed with here: well past the config's. */
const DEPLOYED_S = CONFIG_S * 3;
const T0 = 2000;
/** The second receive: after the config's timeout has run out, before the deployed one has. */
const SECOND = T0 + (CONFIG_S + DEPLOYED_S) * 500;

const report = (b: LedgerBuilder) =>
  buildReport({ runId: 'r', target: 'local', config: pipelineConfig, ledger: b.ledger }).report;

/**
 * A receive whose ApproximateReceiveCount the ledger holds no usable value for: a message's
 * receives are then put in order by the consumers' clock (receivesInSqsOrder), so whether an
 * attempt had ended by a later receive is a matter of time, and of the timeout.
 */
const NO_COUNT = 0;

/**
 * One order, its message received twice: the first attempt never finished (its delivery stays
 * pending, in an invocation that never ended), the second came at `second` (SECOND unless told).
 */
function ledger(
  deadline: (receivedAt: number) => number | undefined,
  second = SECOND,
): LedgerBuilder {
  const stamp = (at: number) => {
    const deadlineAt = deadline(at);
    return deadlineAt === undefined ? {} : { deadlineAt };
  };
  return new LedgerBuilder()
    .accept('o1', 'c', 1, 1000)
    .deliver('standard', 'o1', T0, 'pending', NO_COUNT, {
      messageId: 'm1',
      invocationId: 'inv-1',
      ...stamp(T0),
    })
    .deliver('standard', 'o1', second, 'applied', NO_COUNT, {
      messageId: 'm1',
      invocationId: 'inv-2',
      invocationEnd: true,
      outcomeAt: second + 50,
      ...stamp(second),
    })
    .apply('standard', 'o1', second + 20);
}

describe("the function timeout an attempt is judged by: its invocation's deadline", () => {
  it('with the deployed (longer) timeout stamped, an attempt still inside it is running: the second receive is a queue copy, not a retry', () => {
    expect(SECOND).toBeGreaterThan(T0 + CONFIG_S * 1000);
    expect(SECOND).toBeLessThan(T0 + DEPLOYED_S * 1000);
    // The invocation began a few ms before its receive time was taken: a little under the timeout.
    const stamped = report(ledger((at) => at + DEPLOYED_S * 1000 - 7));
    expect(stamped.queues.standard.duplicateCauses).toMatchObject({
      queueCopy: 1,
      retryAfterFailure: 0,
    });
    expect(stamped.config.queues.standard).toMatchObject({
      functionTimeoutSeconds: DEPLOYED_S,
      functionTimeoutSecondsFrom: 'ledger',
    });
    expect(stamped.notes).toContain(
      `standard: the consumer's invocations had a ${DEPLOYED_S} s function timeout (their deadlines in the ledger), the report's config ${CONFIG_S} s: the report judges each attempt by its invocation's deadline`,
    );
    expect(renderMarkdown(stamped)).toContain(`${DEPLOYED_S} s (ledger) |`);

    // The same receives unstamped (a ledger older than the stamp): the config's timeout has run
    // out by the second receive, so it is the retry of an attempt that never finished.
    const old = report(ledger(() => undefined));
    expect(old.queues.standard.duplicateCauses).toMatchObject({
      queueCopy: 0,
      retryAfterFailure: 1,
    });
    expect(old.config.queues.standard).toMatchObject({
      functionTimeoutSeconds: CONFIG_S,
      functionTimeoutSecondsFrom: 'config',
    });
    expect(old.notes.filter((n) => n.includes('function timeout'))).toEqual([]);
  });

  it("tells a DLQ redrive from a producer re-send by the last attempt's own deadline", () => {
    // m1's last allowed receive (maxReceiveCount) never finished; a message of the order the
    // producer did not record (m2) arrives after the config's timeout, inside the deployed one.
    // Only an attempt over by then can have sent m1 to the DLQ for m2 to be its redrive.
    const max = pipelineConfig.queues.standard.dlq.maxReceiveCount;
    const build = (deadlineAt?: number) =>
      new LedgerBuilder()
        .accept('o1', 'c', 1, 1000)
        .deliver('standard', 'o1', T0, 'pending', max, {
          messageId: 'm1',
          invocationId: 'inv-1',
          ...(deadlineAt !== undefined ? { deadlineAt } : {}),
        })
        .deliver('standard', 'o1', SECOND, 'applied', 1, {
          messageId: 'm2',
          invocationId: 'inv-2',
          invocationEnd: true,
          ...(deadlineAt !== undefined ? { deadlineAt: SECOND + DEPLOYED_S * 1000 } : {}),
        })
        .apply('standard', 'o1', SECOND + 20);
    expect(report(build(T0 + DEPLOYED_S * 1000)).queues.standard.duplicateCauses).toMatchObject({
      producerResend: 1,
      dlqRedrive: 0,
    });
    expect(report(build()).queues.standard.duplicateCauses).toMatchObject({
      producerResend: 0,
      dlqRedrive: 1,
    });
  });

  it('with a shorter timeout stamped, an attempt past its own deadline has failed although the config would still wait', () => {
    // Deployed with 2 s: by a second receive 5 s later the first attempt had long timed out.
    const b = ledger((at) => at + 2000, T0 + 5000);
    const stamped = report(b);
    expect(stamped.queues.standard.duplicateCauses).toMatchObject({
      queueCopy: 0,
      retryAfterFailure: 1,
    });
    expect(stamped.config.queues.standard).toMatchObject({
      functionTimeoutSeconds: 2,
      functionTimeoutSecondsFrom: 'ledger',
    });
    for (const d of b.ledger.deliveries) delete d.deadlineAt;
    expect(report(b).queues.standard.duplicateCauses).toMatchObject({
      queueCopy: 1,
      retryAfterFailure: 0,
    });
  });

  it('judges a record that succeeded in an invocation that never ended by that invocation’s deadline', () => {
    // inv-1 applied o1, then never ended (it timed out on o2): SQS deleted neither. With the
    // deployed timeout stamped, o1's second receive came while inv-1 could still be running.
    const b = new LedgerBuilder()
      .accept('o1', 'c', 1, 1000)
      .accept('o2', 'c', 2, 1001)
      .deliver('standard', 'o1', T0, 'applied', NO_COUNT, {
        messageId: 'm1',
        invocationId: 'inv-1',
        deadlineAt: T0 + DEPLOYED_S * 1000,
      })
      .apply('standard', 'o1', T0 + 100)
      .deliver('standard', 'o2', T0, 'pending', NO_COUNT, {
        messageId: 'm2',
        invocationId: 'inv-1',
        deadlineAt: T0 + DEPLOYED_S * 1000,
      })
      .deliver('standard', 'o1', SECOND, 'suppressed', NO_COUNT, {
        messageId: 'm1',
        invocationId: 'inv-2',
        invocationEnd: true,
        deadlineAt: SECOND + DEPLOYED_S * 1000,
      });
    expect(report(b).queues.standard.duplicateCauses).toMatchObject({
      queueCopy: 1,
      retryAfterFailure: 0,
    });
    for (const d of b.ledger.deliveries) delete d.deadlineAt;
    expect(report(b).queues.standard.duplicateCauses).toMatchObject({
      queueCopy: 0,
      retryAfterFailure: 1,
    });
  });

  it('shows the longest time any receive had to its deadline, in whole seconds up: the one whose invocation had run least before its receive', () => {
    // Deployed with DEPLOYED_S: inv-1's receive was stamped 0.6 s into it, inv-2's 1.6 s into it
    // (a receive's time left is under the timeout by how long its invocation had run): the
    // longest, rounded up, is the timeout; the shortest, or the longest rounded to nearest, not.
    const b = ledger((at) =>
      at === T0 ? at + DEPLOYED_S * 1000 - 600 : at + DEPLOYED_S * 1000 - 1600,
    );
    expect(report(b).config.queues.standard).toMatchObject({
      functionTimeoutSeconds: DEPLOYED_S,
      functionTimeoutSecondsFrom: 'ledger',
    });
  });

  it('says how many receives carried no deadline when only some did, and judges those by the config', () => {
    const b = ledger((at) => (at === T0 ? undefined : at + DEPLOYED_S * 1000));
    const r = report(b);
    // The unstamped first attempt is judged by the config's timeout: it had failed by then.
    expect(r.queues.standard.duplicateCauses).toMatchObject({ retryAfterFailure: 1 });
    expect(r.config.queues.standard.functionTimeoutSecondsFrom).toBe('ledger');
    expect(r.notes).toContain(
      `standard: 1 receive in the ledger carries no invocation deadline (written before the consumer stamped one): judged by the report's config's ${CONFIG_S} s function timeout`,
    );
    // The other queue has no receives: its timeout is the config's, without a note.
    expect(r.config.queues.fifo).toMatchObject({
      functionTimeoutSeconds: pipelineConfig.consumers.fifo.timeoutSeconds,
      functionTimeoutSecondsFrom: 'config',
    });
  });

  it.each([
    ['a string', String(T0 + 6000), `has deadlineAt "${T0 + 6000}", not a time in epoch ms`],
    ['null', null, 'has deadlineAt null, not a time in epoch ms'],
    ['NaN', Number.NaN, 'has deadlineAt NaN, not a time in epoch ms'],
    ['negative', -5, 'has deadlineAt -5, not a time in epoch ms'],
    ['before its receive', T0 - 1, `has deadlineAt ${T0 - 1}, before its receivedAt ${T0}`],
    [
      'years after its receive',
      T0 + 3 * 365 * 86_400_000,
      `has deadlineAt ${T0 + 3 * 365 * 86_400_000}, 94608000 s after its receivedAt ${T0}: no Lambda function runs longer than 5400 s`,
    ],
  ])(
    'refuses a receive whose deadlineAt is %s with one line naming the item, rather than a wrong timeout or cause',
    (_, deadlineAt, problem) => {
      // A deadline the consumer cannot have written (it writes receivedAt plus a remaining time
      // of 0 or more): read as no deadline it would be judged by the config unannounced, read as
      // one it would make the function timeout 0 s or years, and the causes with it.
      const b = ledger((at) => (at === T0 ? (deadlineAt as number) : at + DEPLOYED_S * 1000));
      const sk = b.ledger.deliveries[0]!.sk;
      const build = () => report(b);
      expect(build).toThrow(LedgerDataError);
      expect(build).toThrow(`ledger item ${sk} ${problem}: the report cannot read the run`);
    },
  );

  it('takes a deadline at the receive itself (no time left) and one at the longest timeout Lambda has', () => {
    // getRemainingTimeInMillis() answers 0 once the deadline has passed; 5400 s is the longest
    // timeout of an event-source-mapping invocation (Lambda Managed Instances; 900 s otherwise).
    const atReceive = report(ledger((at) => (at === T0 ? T0 : at + DEPLOYED_S * 1000)));
    // The first attempt had run out its deadline at once: the second receive is its retry.
    expect(atReceive.queues.standard.duplicateCauses).toMatchObject({ retryAfterFailure: 1 });
    expect(atReceive.config.queues.standard.functionTimeoutSeconds).toBe(DEPLOYED_S);
    const longest = report(ledger((at) => at + 5400 * 1000));
    expect(longest.config.queues.standard.functionTimeoutSeconds).toBe(5400);
  });
});
