import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../..');

/** Every `bench:*` script of package.json, with the node arguments npm would run it with. */
const SCRIPTS: Array<[string, string[]]> = Object.entries(
  (
    JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    }
  ).scripts,
)
  .filter(([name]) => name.startsWith('bench:'))
  .map(([name, command]) => {
    const [node, ...args] = command.split(/\s+/);
    expect(node).toBe('node');
    return [name, args];
  });

/**
 * Runs a script with `flags`. A script that writes a first line other than its usage has started
 * its benchmark (bench:report ran a 3-minute run on --help): it is stopped there, and what it
 * wrote so far is what the test sees.
 */
function script(args: string[], flags: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done, fail) => {
    const proc = spawn(process.execPath, [...args, ...flags], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('\n') && !stdout.startsWith('Usage: ')) proc.kill('SIGTERM');
    });
    proc.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    proc.on('error', fail);
    proc.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('the bench:* scripts (process)', () => {
  // Each case starts tsx in a new process: seconds on a loaded 2-core machine, not jest's 5 s default.
  jest.setTimeout(60_000);

  it('are all here', () => {
    expect(SCRIPTS.map(([name]) => name)).toEqual(
      expect.arrayContaining(['bench:sqs', 'bench:pipeline', 'bench:report']),
    );
  });

  it.each(SCRIPTS)(
    '%s --help prints its usage, as typed, and exits 0 without running',
    async (name, args) => {
      const r = await script(args, ['--help']);
      expect(r.stderr).toBe('');
      expect(r.stdout.startsWith(`Usage: npm run ${name} -- `)).toBe(true);
      expect(r.stdout).toContain('\nOptions:\n');
      expect(r.code).toBe(0);
    },
  );

  it.each(SCRIPTS)(
    '%s refuses an unknown flag with a usage error and exit 2',
    async (_name, args) => {
      const r = await script(args, ['--no-such-flag']);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(/^error: Unknown option '--no-such-flag'/),
        'run with --help for usage',
      ]);
      expect(r.code).toBe(2);
    },
  );
});
