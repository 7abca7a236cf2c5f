import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { main as demo, drainProgressWriter, loadProgressWriter } from '../../../../lab/demo/cli';
import type { LocalRunOptions } from '../../../../lab/local-run';
import { phasesLine } from '../../../../lab/phases';

/**
 * What `npm run demo` prints of its load while it runs, with the local cloud replaced by a run
 * that reports the load's progress (the demo end to end is test/integration/demo.test.ts).
 */
jest.mock('../../../../lab/local-run', () => ({
  runOnLocalCloud: jest.fn(async (options: LocalRunOptions) => {
    for (let done = 1; done <= 200; done++)
      options.onLoadProgress?.({ done, total: 200, accepted: done, errors: 0, elapsedMs: done });
    // The drain wait's polls, every 500 ms for 12 s, the queues emptying.
    for (let ms = 0; ms <= 12_000; ms += 500) {
      const left = Math.max(0, 24 - ms / 250);
      options.onDrainProgress?.({ queued: { fifo: left, standard: left * 2 }, ledgerItems: 0 }, ms);
    }
    return {
      data: { report: {} },
      load: { givenUp: [] },
      timings: { startMs: 2100, loadMs: 30_000, drainMs: 1500, reportMs: 2440, stopMs: 260 },
    };
  }),
}));
jest.mock('../../../../services/report/src/domain/render-text', () => ({
  renderTable: () => 'the table\n',
}));
jest.mock('../../../../services/report/src/generate', () => ({
  writeReportFiles: jest.fn(async () => ['report.json']),
}));

/** What the working directory's reports/ holds (the demo's default --out is reports/<run id>). */
const reportsNow = () => (existsSync('reports') ? readdirSync('reports').sort() : []);

describe("npm run demo's progress", () => {
  let stderr: string[];
  let stdout: string[];
  let tty: boolean | undefined;
  /** Each test's --out: a temp directory, removed after it (without one, reports/demo-1 stayed). */
  let dir: string;
  let reportsBefore: string[];
  beforeAll(() => {
    reportsBefore = reportsNow();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'demo-progress-'));
    stderr = [];
    stdout = [];
    tty = process.stderr.isTTY;
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      stdout.push(String(chunk));
      return true;
    });
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    jest.restoreAllMocks();
    process.stderr.isTTY = tty as boolean;
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints a line at the first order and at each tenth when stderr is not a terminal (CI, a pipe), where it printed nothing', async () => {
    process.stderr.isTTY = false;
    expect(await demo(['--orders', '200', '--seed', '1', '--out', dir])).toBe(0);
    const sent = stderr.filter((line) => line.startsWith('sent '));
    expect(sent).toEqual([
      'sent 1/200\n',
      ...Array.from({ length: 10 }, (_, i) => `sent ${(i + 1) * 20}/200\n`),
    ]);
  });

  it('redraws one line in place on a terminal', async () => {
    process.stderr.isTTY = true;
    await demo(['--orders', '200', '--seed', '1', '--out', dir]);
    const sent = stderr.filter((line) => line.startsWith('\rsent '));
    expect(sent).toHaveLength(200);
    expect(sent[0]).toBe('\rsent 1/200\x1b[K');
    expect(sent.at(-1)).toBe('\rsent 200/200\x1b[K\n');
  });

  it('prints a drain line at the first poll and then one every 5 s or more when piped, where it printed one at every poll', async () => {
    process.stderr.isTTY = false;
    await demo(['--orders', '200', '--seed', '1', '--out', dir]);
    expect(stderr.filter((line) => line.startsWith('draining'))).toEqual([
      'draining: fifo 24 standard 48 queued, 0 s\n',
      'draining: fifo 4 standard 8 queued, 5 s\n',
      'draining: fifo 0 standard 0 queued, 10 s\n',
    ]);
  });

  it('redraws the drain line in place on a terminal and ends it before the report', async () => {
    process.stderr.isTTY = true;
    await demo(['--orders', '200', '--seed', '1', '--out', dir]);
    const drain = stderr.filter((line) => line.startsWith('\rdraining'));
    expect(drain).toHaveLength(25);
    expect(drain[0]).toBe('\rdraining: fifo 24 standard 48 queued, 0 s\x1b[K');
    expect(drain.at(-1)).toBe('\rdraining: fifo 0 standard 0 queued, 12 s\x1b[K');
    expect(stderr.at(-1)).toBe('\n');
  });

  it('asks for no ledger count while the queues empty: its lines do not show one, and each poll waited for it', async () => {
    const { runOnLocalCloud } = jest.requireMock('../../../../lab/local-run');
    await demo(['--orders', '200', '--seed', '1', '--out', dir]);
    expect(runOnLocalCloud.mock.calls.at(-1)[0].countLedgerWhileDraining).toBe(false);
  });

  it('piped, times its drain lines by the wait, not by the number of polls', () => {
    const out: string[] = [];
    const { progress } = drainProgressWriter(false, (s) => out.push(s));
    const at = (ms: number) => progress({ queued: { fifo: 1, standard: 0 }, ledgerItems: 0 }, ms);
    for (const ms of [0, 100, 4999, 5000, 5001, 9999, 30_000]) at(ms);
    expect(out.map((line) => line.match(/(\d+) s\n$/)?.[1])).toEqual(['0', '5', '30']);
  });

  it('prints one line for a load of one order', () => {
    const out: string[] = [];
    loadProgressWriter(false, (s) => out.push(s))({
      done: 1,
      total: 1,
      accepted: 1,
      errors: 0,
      elapsedMs: 1,
    });
    expect(out).toEqual(['sent 1/1\n']);
  });

  it('ends with one line of where the wall time went, after the files are written', async () => {
    await demo(['--orders', '200', '--seed', '1', '--out', dir]);
    expect(stdout.slice(-2)).toEqual([
      'wrote report.json\n',
      expect.stringMatching(
        /^took \d+\.\d s: start \d+\.\d s, load 30\.0 s, drain 1\.5 s, report 2\.4 s, stop 0\.3 s, files \d+\.\d s\n$/,
      ),
    ]);
  });

  it("counts start-up from node's start and the whole run to the files written", () => {
    expect(
      phasesLine(
        { startMs: 2100, loadMs: 30_000, drainMs: 1500, reportMs: 2440, stopMs: 260 },
        { startedAt: 950, endedAt: 37_600, after: [{ name: 'files', ms: 340 }] },
      ),
    ).toBe(
      'took 37.6 s: start 3.0 s, load 30.0 s, drain 1.5 s, report 2.4 s, stop 0.3 s, files 0.3 s\n',
    );
  });

  it("with the process's CPU readings at the run's start and end, says how many cores each phase kept busy and how many more it was queued for", () => {
    const timings = { startMs: 2000, loadMs: 30_000, drainMs: 2000, reportMs: 1000, stopMs: 100 };
    const cpu = {
      startMs: { cpuMs: 2500, queuedMs: 500 },
      loadMs: { cpuMs: 54_000, queuedMs: 15_000 },
      drainMs: { cpuMs: 500, queuedMs: 100 },
      reportMs: { cpuMs: 1000, queuedMs: 0 },
      stopMs: { cpuMs: 50, queuedMs: 0 },
    };
    expect(
      phasesLine(
        { ...timings, cpu },
        {
          startedAt: 1000,
          startedCpu: { cpuMs: 1100, queuedMs: 100 },
          endedAt: 40_000,
          endedCpu: { cpuMs: 62_150, queuedMs: 16_000 },
          after: [
            { name: 'files', ms: 2000, cpu: { cpuMs: 2000, queuedMs: 300 } },
            { name: 'check', ms: 1900, cpu: { cpuMs: 1000 } },
          ],
        },
      ),
    ).toBe(
      'took 40.0 s (1.55 cores, 0.40 queued): start 3.0 s (1.20 cores, 0.20 queued), load 30.0 s (1.80 cores, 0.50 queued), drain 2.0 s (0.25 cores, 0.05 queued), report 1.0 s (1.00 cores, 0.00 queued), stop 0.1 s (0.50 cores, 0.00 queued), files 2.0 s (1.00 cores, 0.15 queued), check 1.9 s (0.53 cores)\n',
    );
    // Without the run's CPU time at its end (the demo's line), wall times only.
    expect(
      phasesLine(
        { ...timings, cpu },
        {
          startedAt: 1000,
          endedAt: 40_000,
          after: [{ name: 'files', ms: 2000, cpu: { cpuMs: 2000 } }],
        },
      ),
    ).toBe(
      'took 40.0 s: start 3.0 s, load 30.0 s, drain 2.0 s, report 1.0 s, stop 0.1 s, files 2.0 s\n',
    );
  });

  // Last: the runs above wrote under their temp directories, not the working directory's reports/.
  it("leaves nothing under the working directory's reports/: every run above wrote under its test's temp directory", () => {
    const { writeReportFiles } = jest.requireMock('../../../../services/report/src/generate');
    const outs = writeReportFiles.mock.calls.map((c: unknown[]) => resolve(String(c[1])));
    expect(outs.length).toBeGreaterThan(0);
    for (const out of outs) expect(out.startsWith(`${resolve(tmpdir())}${sep}`)).toBe(true);
    expect(reportsNow()).toEqual(reportsBefore);
  });
});
