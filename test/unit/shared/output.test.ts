import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { resolve } from 'node:path';

const ARGS = resolve(__dirname, '../../../shared/src/cli/args.ts');

/** A CLI run through runMain: writes two lines 200 ms apart, says `done` on stderr, returns `code`. */
function cli(code: number): string {
  return `
    const { runMain } = require(${JSON.stringify(ARGS)});
    const pause = () => new Promise((r) => setTimeout(r, 200));
    runMain(async () => {
      process.stdout.write('line 1\\n');
      await pause();
      process.stdout.write('line 2\\n');
      await pause();
      process.stderr.write('done\\n');
      return ${code};
    });
  `;
}

interface Ended {
  code: number | null;
  stderr: string;
}

function run(
  code: number,
  stdout: 'pipe' | number,
  onFirst?: (c: ChildProcess) => void,
): Promise<Ended> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', cli(code)], {
      stdio: ['ignore', stdout, 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout?.once('data', () => onFirst?.(child));
    child.on('error', fail);
    child.on('close', (exit) => done({ code: exit, stderr }));
  });
}

describe('runMain and output that fails (shared/src/cli/output.ts)', () => {
  it.each([0, 3])(
    'a reader that goes away (| head -1) ends nothing: the run finishes quietly with its own exit code %i',
    async (code) => {
      // What head -1 does: read the first line, then close the pipe.
      const ended = await run(code, 'pipe', (child) => child.stdout!.destroy());
      expect(ended).toEqual({ code, stderr: 'done\n' });
    },
    20_000,
  );

  (existsSync('/dev/full') ? it : it.skip)(
    'output lost (stdout on a full disk: /dev/full) is said on stderr and exits 1 although the run returned 0',
    async () => {
      const ended = await run(0, openSync('/dev/full', 'w'));
      expect(ended.code).toBe(1);
      expect(ended.stderr).toBe(
        'error: could not write to stdout: ENOSPC: no space left on device, write\ndone\n',
      );
    },
    20_000,
  );
});
