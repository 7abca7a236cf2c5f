import { main as demo, loadProgressWriter } from '../../../../lab/demo/cli';
import type { LocalRunOptions } from '../../../../lab/local-run';

/**
 * What `npm run demo` prints of its load while it runs, with the local cloud replaced by a run
 * that reports the load's progress (the demo end to end is test/integration/demo.test.ts).
 */
jest.mock('../../../../lab/local-run', () => ({
  runOnLocalCloud: jest.fn(async (options: LocalRunOptions) => {
    for (let done = 1; done <= 200; done++)
      options.onLoadProgress?.({ done, total: 200, accepted: done, errors: 0, elapsedMs: done });
    return { data: { report: {} } };
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
  let tty: boolean | undefined;
  beforeEach(() => {
    stderr = [];
    tty = process.stderr.isTTY;
    jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
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
});
