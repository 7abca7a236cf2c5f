import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const ARGS = resolve(__dirname, '../../../shared/src/cli/args.ts');

interface Ended {
  code: number | null;
  stderr: string;
}

/** Runs `body` (a main's statements) through runMain in a node of its own. */
function run(body: string): Promise<Ended> {
  const script = `
    const { runMain, UsageError, CliError } = require(${JSON.stringify(ARGS)});
    runMain(async () => { ${body} });
  `;
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code, stderr }));
  });
}

describe('runMain', () => {
  it('exits 1 and says so when its main can no longer finish (nothing left to wait on), where it exited 0', async () => {
    // A promise nothing will settle, as an HTTP request Node closed without an answer or error.
    const ended = await run('await new Promise(() => undefined); return 0;');
    expect(ended).toEqual({
      code: 1,
      stderr: 'error: stopped before finishing: something it waited for ended without an answer\n',
    });
  }, 20_000);

  it('prints a usage error on one line, its control characters escaped, exit 2', async () => {
    const ended = await run(
      `throw new UsageError("Option '--orders' argument is ambiguous.\\nDid you forget?\\nTo specify... got \\"a\\u001b[2Jb\\"");`,
    );
    expect(ended).toEqual({
      code: 2,
      stderr:
        'error: Option \'--orders\' argument is ambiguous.\\u000aDid you forget?\\u000aTo specify... got "a\\u001b[2Jb"\n',
    });
  }, 20_000);

  it('prints an error meant for the terminal on one line, exit 1', async () => {
    const ended = await run('throw new CliError("cannot read stack x: region=\\"\\n\\" is bad");');
    expect(ended).toEqual({
      code: 1,
      stderr: 'error: cannot read stack x: region="\\u000a" is bad\n',
    });
  }, 20_000);

  it('ends as before when main returns: its code, nothing said', async () => {
    expect(await run('return 3;')).toEqual({ code: 3, stderr: '' });
  }, 20_000);
});
