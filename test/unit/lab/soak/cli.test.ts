import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalRunOptions, LocalRunResult } from '../../../../lab/local-run';
import { main } from '../../../../lab/soak/run';
import { buildReport } from '../../../../services/report/src/domain/report';
import { pipelineConfig } from '../../../../shared/src/config/pipeline';
import { LedgerBuilder } from '../../report/ledger-fixture';

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
    (b: LedgerBuilder, orderIds: string[], errors = 0) =>
    async (options: LocalRunOptions): Promise<LocalRunResult> => ({
      data: buildReport({
        runId: options.runId,
        target: 'local',
        config: pipelineConfig,
        ledger: { ...b.ledger, dlq: b.ledger.dlq ?? { fifo: emptyDlq(), standard: emptyDlq() } },
      }),
      load: { accepted: orderIds.length, errors, orderIds } as LocalRunResult['load'],
      dynamodbRequests: {},
      lostDeletes: { fifo: [], standard: [] },
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

  it('fails a run whose check passes when the API refused orders', async () => {
    expect(await soak(fakeRun(cleanLedger(), ['a1', 'a2'], 2))).toBe(1);
    expect(failures()).toEqual(['  - 2 orders were never accepted by the API\n']);
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
