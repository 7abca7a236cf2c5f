import { main as demo, loadProgressWriter, phasesLine } from '../../../../lab/demo/cli';
import type { LocalRunOptions } from '../../../../lab/local-run';

/**
 * What `npm run demo` prints of its load while it runs, with the local cloud replaced by a run
 * that reports the load's progress (the demo end to end is test/integration/demo.test.ts).
 */
jest.mock('../../../../lab/local-run', () => ({
  runOnLocalCloud: jest.fn(async (options: LocalRunOptions) => {
    for (let done = 1; done <= 200; done++)
      options.onLoadProgress?.({ done, total: 200, accepted: done, errors: 0, elapsedMs: done });
    return {
      data: { report: {} },
      timings: { startMs: 2100, loadMs: 30_000, drainMs: 1500, reportMs: 2440, stopMs: 260 },
    };
  }),
}));
jest.mock('../../../../services/report/src/domain/render-text', () => ({
  renderTable: () => 'the table\n',
}));
jest.mock('../../../../services/report/src/generate', () => ({
  writeReportFiles: async () => ['report.json'],
}));

describe("npm run demo's load progress", () => {
  let stderr: string[];
  let stdout: string[];
  let tty: boolean | undefined;
  beforeEach(() => {
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
  });

  it('prints a line at the first order and at each tenth when stderr is not a terminal (CI, a pipe), where it printed nothing', async () => {
    process.stderr.isTTY = false;
    expect(await demo(['--orders', '200', '--seed', '1'])).toBe(0);
    const sent = stderr.filter((line) => line.startsWith('sent '));
    expect(sent).toEqual([
      'sent 1/200\n',
      ...Array.from({ length: 10 }, (_, i) => `sent ${(i + 1) * 20}/200\n`),
    ]);
  });

  it('redraws one line in place on a terminal', async () => {
    process.stderr.isTTY = true;
    await demo(['--orders', '200', '--seed', '1']);
    const sent = stderr.filter((line) => line.startsWith('\rsent '));
    expect(sent).toHaveLength(200);
    expect(sent[0]).toBe('\rsent 1/200\x1b[K');
    expect(sent.at(-1)).toBe('\rsent 200/200\x1b[K\n');
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
    await demo(['--orders', '200', '--seed', '1']);
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
        { startedAt: 950, filesMs: 340, endedAt: 37_600 },
      ),
    ).toBe(
      'took 37.6 s: start 3.0 s, load 30.0 s, drain 1.5 s, report 2.4 s, stop 0.3 s, files 0.3 s\n',
    );
  });
});
