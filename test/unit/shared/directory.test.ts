import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError } from '../../../shared/src/cli/args';
import { directoryProblem, outputDirectory } from '../../../shared/src/cli/directory';

const ROOT = resolve(__dirname, '../../..');
const NOBODY = 65534;

// Every CLI's directory flag (`--out`, `npm start -- --data-dir`) goes through directoryProblem.
describe('directoryProblem', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'directory-'));
    writeFileSync(join(root, 'afile'), '');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('creates a directory and its missing parents, and leaves no file of its own in it', () => {
    const dir = join(root, 'a', 'b', 'c');
    expect(directoryProblem(dir)).toBeUndefined();
    expect(statSync(dir).isDirectory()).toBe(true);
    expect(directoryProblem(dir)).toBeUndefined();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('names the regular file that stands where a directory must be', () => {
    expect(directoryProblem(join(root, 'afile'))).toBe(`${join(root, 'afile')} is not a directory`);
    expect(directoryProblem(join(root, 'afile', 'x', 'db'))).toBe(
      `${join(root, 'afile')} is not a directory`,
    );
  });

  it('refuses /dev/null, a device where a directory must be', () => {
    expect(directoryProblem('/dev/null')).toBe('/dev/null is not a directory');
  });

  // node's recursive mkdir never returns for the first (ENOENT from /proc, EEXIST for /proc,
  // again); under /sys a mkdir can make a kernel object (a cgroup); /proc/self is a directory
  // that access() calls writable for root. The checks run on Linux, which has them.
  it.each([
    ['/proc/no-such-dir/db', '/proc'],
    ['/proc/self', '/proc'],
    ['/sys/no-such-dir', '/sys'],
  ])('refuses %s, in a kernel file system, without a mkdir', (dir, kernel) => {
    expect(existsSync(kernel)).toBe(true);
    expect(directoryProblem(dir)).toBe(
      `${dir} is in ${kernel}, a kernel file system that holds no files`,
    );
  });

  it('refuses a directory no file can be made in, by making one', () => {
    // access() would say root may write in it: the check is run as a user that may not (root
    // running the tests hands the directory to nobody and runs it as nobody).
    const locked = join(root, 'locked');
    mkdirSync(locked, { mode: 0o500 });
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      chmodSync(root, 0o755);
      chownSync(locked, NOBODY, NOBODY);
    }
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `process.stdout.write(String(require('./shared/src/cli/directory.ts').directoryProblem(${JSON.stringify(locked)})))`,
      ],
      { cwd: ROOT, encoding: 'utf8', ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}) },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(
      new RegExp(
        `^cannot write in ${locked}/?: EACCES: permission denied, open '${locked}/\\.write-check-\\d+'$`,
      ),
    );
  });
});

describe('outputDirectory', () => {
  it('is a usage error naming the flag, the path and why', () => {
    let err: unknown;
    try {
      outputDirectory('out', '/dev/null');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(
      '--out /dev/null cannot be used: /dev/null is not a directory',
    );
  });
});
