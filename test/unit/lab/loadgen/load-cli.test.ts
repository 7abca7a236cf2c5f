import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseLoadArgs, progressPrinter } from '../../../../lab/loadgen/cli';
import { UsageError } from '../../../../shared/src/cli/args';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../../../..');

describe('parseLoadArgs', () => {
  it('reads the flags and applies defaults', () => {
    const a = parseLoadArgs([
      '--api',
      'http://127.0.0.1:3000/v1',
      '--orders',
      '20',
      '--seed',
      '5',
      '--run',
      'r1',
    ]);
    expect(a).toEqual({
      apiUrl: 'http://127.0.0.1:3000/v1',
      orders: 20,
      customers: 10,
      concurrency: 16,
      rate: 0,
      retryRate: 0.05,
      seed: 5,
      runId: 'r1',
    });
  });
  it('makes a run id from the seed when none is given', () => {
    expect(parseLoadArgs(['--api', 'http://x/', '--seed', '35']).runId).toMatch(
      /^load-\d{8}-\d{6}-z$/,
    );
  });
  it.each([
    [[], 'one of --api <url> or --stack <name> is required'],
    [['--api', 'http://a', '--stack', 'S'], 'use either --api or --stack, not both'],
    [['--api', 'ftp://a'], '--api must be an http(s) url, got "ftp://a"'],
    [['--api', 'http://a', '--orders', '0'], '--orders must be at least 1, got 0'],
    [['--api', 'http://a', '--retry-rate', '1.5'], '--retry-rate must be at most 1, got 1.5'],
    [['--api', 'http://a', '--rate', 'fast'], '--rate must be a number, got "fast"'],
    [
      ['--api', 'http://a', '--run', 'a/b'],
      '--run must be 1-64 letters, digits, _ or -, got "a/b"',
    ],
  ])('rejects %j', (argv, message) => {
    expect(() => parseLoadArgs(argv as string[])).toThrow(new UsageError(message));
  });
});

describe('progressPrinter', () => {
  it('prints a plain line at the start and once per tenth when not a terminal', () => {
    const out: string[] = [];
    const p = progressPrinter(false, (s) => out.push(s));
    for (let done = 1; done <= 100; done++)
      p({ done, total: 100, accepted: done, errors: 0, elapsedMs: 1000 });
    expect(out).toHaveLength(11);
    expect(out.at(-1)).toBe('progress: 100/100 orders, 100 accepted, 0 errors, 100/s\n');
  });
  it('redraws one bar line on a terminal', () => {
    const out: string[] = [];
    const p = progressPrinter(true, (s) => out.push(s));
    p({ done: 5, total: 10, accepted: 5, errors: 0, elapsedMs: 500 });
    expect(out[0]).toMatch(/^\r\[#{15}\.{15}\] 5\/10 orders/);
  });
});

describe('npm run load (process)', () => {
  // Each case starts tsx in a new process: seconds on a loaded 2-core machine, not jest's 5 s default.
  jest.setTimeout(60_000);
  it('exits 2 with one line for a bad flag', async () => {
    const err = await run(
      resolve(ROOT, 'node_modules/.bin/tsx'),
      [resolve(ROOT, 'lab/loadgen/cli.ts'), '--api', 'http://127.0.0.1:1', '--customers', 'x'],
      { cwd: ROOT },
    ).catch((e: { code: number; stderr: string }) => e);
    expect((err as { code: number }).code).toBe(2);
    expect((err as { stderr: string }).stderr.trim()).toBe(
      'error: --customers must be an integer, got "x"',
    );
  });
});
