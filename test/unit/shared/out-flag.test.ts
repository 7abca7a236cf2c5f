import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main as demo } from '../../../lab/demo/cli';
import { main as experiment } from '../../../lab/experiments/cli';
import { runOnLocalCloud } from '../../../lab/local-run';
import { main as soak } from '../../../lab/soak/run';
import { main as report } from '../../../services/report/src/cli/report';
import { UsageError } from '../../../shared/src/cli/args';

/**
 * Every CLI's `--out` is checked before the CLI does any work: one usage error naming the flag,
 * where `npm run report -- --out /proc/x` printed the report and then never exited (node's
 * recursive mkdir loops in /proc) and `--out /dev/null` ended a finished run with a stack trace.
 * "Work" is a connection to the report's endpoint, or a run of the local cloud (replaced here).
 */
jest.mock('../../../lab/local-run', () => ({
  runOnLocalCloud: jest.fn(async () => {
    throw new Error('the local cloud was started');
  }),
}));

describe('--out that cannot hold files', () => {
  let root: string;
  let server: Server;
  let connections = 0;
  let endpoint: string;
  const runs = jest.fn(async () => {
    throw new Error('the experiment ran');
  });

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'out-flag-'));
    writeFileSync(join(root, 'afile'), '');
    server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    rmSync(root, { recursive: true, force: true });
    await new Promise((resolve) => server.close(resolve));
  });

  const commands: Array<[string, (out: string) => Promise<unknown>]> = [
    [
      'npm run report',
      (out) => report(['--run', 'adhoc', '--no-wait', '--endpoint', endpoint, '--out', out]),
    ],
    ['npm run demo', (out) => demo(['--out', out])],
    ['npm run soak', (out) => soak(['--out', out], runs)],
    ['npm run experiment -- sweep', (out) => experiment(['sweep', '--out', out], runs)],
    [
      'npm run experiment -- idempotency-key',
      (out) => experiment(['idempotency-key', '--out', out], runs),
    ],
  ];
  const outs = (): Array<[string, string]> => [
    ['/proc/x', '/proc/x is in /proc, a kernel file system that holds no files'],
    ['/sys/x', '/sys/x is in /sys, a kernel file system that holds no files'],
    ['/dev/null', '/dev/null is not a directory'],
    [join(root, 'afile', 'x'), `${join(root, 'afile')} is not a directory`],
  ];

  it.each(commands)('%s refuses it before any work', async (_command, run) => {
    const spied = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      for (const [out, why] of outs()) {
        let thrown: unknown;
        try {
          await run(out);
        } catch (e) {
          thrown = e;
        }
        expect(thrown).toBeInstanceOf(UsageError);
        expect((thrown as Error).message).toBe(`--out ${out} cannot be used: ${why}`);
      }
    } finally {
      spied.mockRestore();
      err.mockRestore();
    }
    expect(connections).toBe(0);
    expect(runs).not.toHaveBeenCalled();
    expect(runOnLocalCloud).not.toHaveBeenCalled();
  });
});
