import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GivenUpOrder } from '../../../../lab/loadgen/run-load';
import type { LocalRunOptions, LocalRunResult } from '../../../../lab/local-run';
import * as check from '../../../../lab/soak/check';
import { main } from '../../../../lab/soak/run';
import { buildReport } from '../../../../services/report/src/domain/report';
import { pipelineConfig } from '../../../../shared/src/config/pipeline';
import { LedgerBuilder } from '../../report/ledger-fixture';

// The check as it is, watched: what the soak hands it is asserted below.
jest.mock('../../../../lab/soak/check', () => {
  const actual = jest.requireActual('../../../../lab/soak/check');
  return { ...actual, runFindings: jest.fn(actual.runFindings) };
});
const runFindings = check.runFindings as jest.MockedFunction<typeof check.runFindings>;

describe('npm run soak', () => {
  it('rejects a bad flag before starting anything', async () => {
    await expect(main(['--faults', 'sometimes'])).rejects.toThrow(
      /--faults must be one of none, realistic, demo, chaos/,
    );
    await expect(main(['--crash-rate', '2'])).rejects.toThrow(/--crash-rate/);
  });
});

describe("the soak's verdict (the local cloud replaced by a fake that answers with a ledger)", () => {
  let dir: string;
  let stderr: string[];
  let restore: () => void;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'soak-verdict-'));
    stderr = [];
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = jest.spyOn(process.stderr, 'write').mockImplementation((line) => {
      stderr.push(String(line));
      return true;
    });
    restore = () => {
      out.mockRestore();
      err.mockRestore();
    };
  });

  afterEach(async () => {
    restore();
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * a1, a2 of customer a, each applied once on both queues, in the order SQS took their FIFO
   * messages (each receive carries its SequenceNumber, as the consumer records it).
   */
  function cleanLedger(): LedgerBuilder {
    const b = new LedgerBuilder().accept('a1', 'a', 1, 1000).accept('a2', 'a', 2, 1010);
    let t = 2000;
    for (const q of ['fifo', 'standard'] as const) {
      for (const id of ['a1', 'a2']) b.deliver(q, id, t++, 'applied').apply(q, id, t++);
    }
    for (const d of b.ledger.deliveries) {
      if (d.queue === 'fifo')
        d.sequenceNumber = d.orderId === 'a1' ? '10000000000000000001' : '10000000000000000002';
    }
    return b;
  }

  const emptyDlq = () => ({ depth: 0, orderIds: [], unread: 0, messages: [] });

  /**
   * A run that answers with `b`'s ledger, the client having got 202s for `orderIds`; both DLQs
   * read empty unless `b` says otherwise (the report reads both of every run).
   */
  const fakeRun =
    (
      b: LedgerBuilder,
      orderIds: string[],
      load: Partial<LocalRunResult['load']> = {},
      functionTimeoutMs = { fifo: 10_000, standard: 10_000 },
      recordBudgetMs = { fifo: 5_175, standard: 5_175 },
    ) =>
    async (options: LocalRunOptions): Promise<LocalRunResult> => ({
      data: buildReport({
        runId: options.runId,
        target: 'local',
        config: pipelineConfig,
        ledger: { ...b.ledger, dlq: b.ledger.dlq ?? { fifo: emptyDlq(), standard: emptyDlq() } },
      }),
      load: {
        accepted: orderIds.length,
        errors: 0,
        retryMismatches: 0,
        givenUp: [],
        orderIds,
        ...load,
      } as LocalRunResult['load'],
      dynamodbRequests: {},
      lostDeletes: { fifo: [], standard: [] },
      functionTimeoutMs,
      recordBudgetMs,
      timings: { startMs: 0, loadMs: 0, drainMs: 0, reportMs: 0, stopMs: 0 },
    });

  const soak = (run: ReturnType<typeof fakeRun>) =>
    main(['--seed', '7', '--orders', '2', '--out', dir], run);
  const failures = () => stderr.filter((l) => l.startsWith('  - '));

  it('passes a run whose every accepted order was applied once on each queue, in sequence', async () => {
    expect(await soak(fakeRun(cleanLedger(), ['a1', 'a2']))).toBe(0);
    expect(failures()).toEqual([]);
    expect(stderr.at(-1)).toMatch(/^soak passed in \d+ s \(seed 7\): 2 orders/);
  });

  it('says where its time went, phase by phase, and how busy the process was in each', async () => {
    const run = fakeRun(cleanLedger(), ['a1', 'a2']);
    expect(
      await soak(async (options) => {
        const result = await run(options);
        return {
          ...result,
          load: { ...result.load, backoffRetries: 3 },
          timings: {
            startMs: 2000,
            loadMs: 30_000,
            drainMs: 4000,
            reportMs: 1000,
            stopMs: 100,
            cpu: {
              startMs: { cpuMs: 2500 },
              loadMs: { cpuMs: 54_000, queuedMs: 6000 },
              drainMs: { cpuMs: 1000, queuedMs: 0 },
              reportMs: { cpuMs: 1000 },
              stopMs: { cpuMs: 50 },
            },
            visibilitySkips: 4,
          },
        };
      }),
    ).toBe(0);
    expect(stderr).toContain(
      "visibility timeouts skipped on the cloud's clock once nothing was in flight: 4; client retries after a lost or refused answer: 3\n",
    );
    const took = stderr.at(-2);
    expect(took).toMatch(
      /^took \d+\.\d s \(\d+\.\d\d cores(, \d+\.\d\d queued)?\): start \d+\.\d s \(\d+\.\d\d cores(, \d+\.\d\d queued)?\), load 30\.0 s \(1\.80 cores, 0\.20 queued\), drain 4\.0 s \(0\.25 cores, 0\.00 queued\), report 1\.0 s \(1\.00 cores\), stop 0\.1 s \(0\.50 cores\), files \d+\.\d s( \(\d+\.\d\d cores(, \d+\.\d\d queued)?\))?, check \d+\.\d s( \(\d+\.\d\d cores(, \d+\.\d\d queued)?\))?\n$/,
    );
    expect(stderr.at(-1)).toMatch(/^soak passed in \d+ s/);
  });

  it('asks the run for no count of the ledger while the queues drain (its lines show the queues)', async () => {
    let asked: LocalRunOptions | undefined;
    const run = fakeRun(cleanLedger(), ['a1', 'a2']);
    expect(
      await soak(async (options) => {
        asked = options;
        options.onDrainProgress?.({ queued: { fifo: 3, standard: 0 } }, 0);
        // The report's quiet polls, each with the ledger's count.
        options.onDrainProgress?.({ queued: { fifo: 0, standard: 0 }, ledgerItems: 8 }, 1250);
        options.onDrainProgress?.({ queued: { fifo: 0, standard: 0 }, ledgerItems: 8 }, 1400);
        return run(options);
      }),
    ).toBe(0);
    expect(asked?.countLedgerWhileDraining).toBe(false);
    expect(stderr.filter((l) => l.startsWith('draining') || l.startsWith('drained'))).toEqual([
      expect.stringMatching(/^draining: fifo 3 standard 0 queued, \d+ s\n$/),
      'drained: fifo 0 standard 0 queued, ledger 8 items, 1.3 s after the load\n',
      'drained: fifo 0 standard 0 queued, ledger 8 items, 1.4 s after the load\n',
    ]);
  });

  /** n given-up orders g1..gn, each retried 5 times until a 500, the API holding none. */
  const givenUp = (n: number, atApi: GivenUpOrder['atApi'] = 'not found'): GivenUpOrder[] =>
    Array.from({ length: n }, (_, i) => ({
      idempotencyKey: `g${i + 1}`,
      attempts: 5,
      why: 'retries ran out',
      last: 'HTTP 500: internal error',
      atApi,
    }));

  it('names the orders the client gave up on, apart from client retries answered wrongly, and keeps them all in its dir', async () => {
    const given = [
      ...givenUp(12),
      { idempotencyKey: 'r1', attempts: 1, why: 'refused', last: 'HTTP 422: bad order' } as const,
    ];
    const run = fakeRun(cleanLedger(), ['a1', 'a2'], {
      errors: 14,
      retryMismatches: 1,
      givenUp: given,
    });
    expect(await soak(run)).toBe(1);
    expect(failures()).toEqual([
      '  - 13 orders were given up by the client and never accepted by the API (g1, g2, g3, g4, g5, g6, g7, g8, g9, g10, ...)\n',
      '  - 1 client retries of accepted orders were not answered 202 with the same order id\n',
    ]);
    const named = stderr.filter((l) => /^ {2}(g|r)\d+: |^ {2}\.\.\. and /.test(l));
    expect(named).toEqual([
      ...given
        .slice(0, 10)
        .map(
          (g) =>
            `  ${g.idempotencyKey}: retries ran out after 5 tries, last HTTP 500: internal error; at the API: not found\n`,
        ),
      '  ... and 3 more\n',
    ]);
    expect(stderr).toContain(
      `given up by the client: 13 orders got no 202; 0 of them held by the API all the same (counted accepted), 13 not accepted by the API: lost by the client, not by a queue (no queue was sent them, so the queues' counts, lost included, leave them out); all 13 in ${join(dir, 'given-up.json')}\n`,
    );
    expect(JSON.parse(await readFile(join(dir, 'given-up.json'), 'utf8'))).toEqual(given);
  });

  it('passes a run whose given-up orders the API held all the same, and names them', async () => {
    const run = fakeRun(cleanLedger(), ['a1', 'a2'], { givenUp: givenUp(1, 'accepted') });
    expect(await soak(run)).toBe(0);
    expect(stderr).toContain(
      '  g1: retries ran out after 5 tries, last HTTP 500: internal error; at the API: accepted\n',
    );
  });

  it('fails a run whose load was cut off (--unreachable-after) with every order accepted and applied, only planned client retries left unmade (it passed)', async () => {
    const run = fakeRun(cleanLedger(), ['a1', 'a2'], {
      retriesNotMade: 2,
      unreachable: { sinceMs: 50, atMs: 250, refusals: 6, windowMs: 200 },
    });
    expect(await soak(run)).toBe(1);
    expect(failures()).toEqual([
      '  - the load was cut off, so the soak did not run it: the API could not be reached for 0.2 s (every connection refused or with no route, --unreachable-after): the load client stopped sending, 2 planned client retries not made\n',
    ]);
    expect(stderr.some((l) => l.startsWith('soak passed'))).toBe(false);
  });

  it('names a client retry the cut-off left unanswered, not as a load error of no kind', async () => {
    const run = fakeRun(cleanLedger(), ['a1', 'a2'], {
      errors: 1,
      retriesUnanswered: 1,
      unreachable: { sinceMs: 50, atMs: 250, refusals: 6, windowMs: 200 },
    });
    expect(await soak(run)).toBe(1);
    expect(failures()).toEqual([
      '  - 1 client retries were not answered (the API was unreachable)\n',
      '  - the load was cut off, so the soak did not run it: the API could not be reached for 0.2 s (every connection refused or with no route, --unreachable-after): the load client stopped sending\n',
    ]);
  });

  it('gives the check the function timeout the run deployed its consumers with', async () => {
    runFindings.mockClear();
    const deployed = { fifo: 45_000, standard: 20_000 };
    expect(await soak(fakeRun(cleanLedger(), ['a1', 'a2'], {}, deployed))).toBe(0);
    expect(runFindings).toHaveBeenCalledTimes(1);
    expect(runFindings.mock.calls[0]![0].functionTimeoutMs).toEqual(deployed);
  });

  it('judges a hand-back after a stall by the record budget the run deployed its consumers with', async () => {
    // cleanLedger, and c2 (customer b): applied on FIFO; on the standard queue handed back unrun
    // at its last receive, written 4,000 ms before its invocation's deadline, after a1's
    // DynamoDB call in that invocation ran out of time (a1 applied at its next receive); c2 is
    // in the standard DLQ. The hand-back says 4,000 ms were left of the 5,175 ms a record needs,
    // the repository's budget.
    const LAST = pipelineConfig.queues.standard.dlq.maxReceiveCount;
    const handedBack = () => {
      const b = cleanLedger().accept('c2', 'b', 1, 1020);
      b.deliver('fifo', 'c2', 2500, 'applied').apply('fifo', 'c2', 2501);
      b.ledger.deliveries.at(-1)!.sequenceNumber = '10000000000000000003';
      const a1 = b.ledger.deliveries.find((d) => d.queue === 'standard' && d.orderId === 'a1')!;
      Object.assign(a1, { receiveCount: 2, invocationId: 'std-2', invocationEnd: true });
      b.deliver('standard', 'a1', 1900, 'failed', 1, {
        invocationId: 'std-1',
        invocationEnd: true,
        deadlineAt: 11_900,
      });
      b.fail('standard', 'a1', 1, false);
      b.ledger.failures.at(-1)!.ranOutOfTime = true;
      b.notAttempted('standard', 'c2', LAST, 'std-1');
      Object.assign(b.ledger.failures.at(-1)!, {
        notStarted: { leftMs: 4_000, budgetMs: 5_175 },
        error: 'NotAttempted: not started, 4000 ms left of the invocation',
        receivedAt: 1900,
        deadlineAt: 11_900,
        failedAt: 11_900 - 4_000,
      });
      b.dead('standard', 'c2');
      b.ledger.dlq!.fifo = emptyDlq();
      return b;
    };
    // Judged by the repository's budget, 4,000 ms left was too little to start a record: passes.
    expect(await soak(fakeRun(handedBack(), ['a1', 'a2', 'c2']))).toBe(0);
    // The run deployed the consumers with 3,175 ms (what recordBudgetMsFromEnv makes of a
    // DynamoDB request timeout of 500 ms, 4 tries): a consumer so deployed gives no figure above
    // it, and a record with 4,000 ms left starts.
    runFindings.mockClear();
    stderr.length = 0;
    const deployed = { fifo: 3_175, standard: 3_175 };
    const run = fakeRun(handedBack(), ['a1', 'a2', 'c2'], {}, undefined, deployed);
    expect(await soak(run)).toBe(1);
    expect(runFindings.mock.calls[0]![0].recordBudgetMs).toEqual(deployed);
    expect(failures()).toContain(
      `  - standard: order c2 is in the DLQ: standard-c2 (not started at receive #${LAST}, yet the 5175 ms it says a record needs is more than the 3175 ms the consumer is configured with)\n`,
    );
  });

  it("fails a run with an order applied twice, and prints that order's history", async () => {
    const b = cleanLedger();
    b.deliver('standard', 'a2', 3000, 'applied', 2).apply('standard', 'a2', 3001);
    expect(await soak(fakeRun(b, ['a1', 'a2']))).toBe(1);
    expect(failures()).toEqual(['  - standard: order a2 was applied 2 times\n']);
    expect(stderr).toContain('history of standard order a2:\n');
  });

  it('fails a run whose ledger holds nothing, though the client got 202s', async () => {
    expect(await soak(fakeRun(new LedgerBuilder(), ['a1', 'a2']))).toBe(1);
    expect(failures()).toContain('  - fifo: order a1 was never applied\n');
  });
});
