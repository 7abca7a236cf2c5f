import { execFile } from 'node:child_process';
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
import { join } from 'node:path';
import { UsageError } from '../../../shared/src/cli/args';
import {
  defaultOutputDirectory,
  directoryProblem,
  outputDirectory,
} from '../../../shared/src/cli/directory';

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
    // access() would say root may write in it: as root, the check runs with the effective user
    // and group set to nobody's for the call, so the kernel refuses the file as it would any
    // user's (access() asks with the real user, root, and would still say yes). In this process,
    // not a child run as nobody: nobody may not reach the node binary or the checkout (CI's Node
    // 24 is in a directory only root can enter).
    const locked = join(root, 'locked');
    mkdirSync(locked, { mode: 0o500 });
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      chmodSync(root, 0o755);
      chownSync(locked, NOBODY, NOBODY);
    }
    const problem = asRoot
      ? asUser(NOBODY, () => directoryProblem(locked))
      : directoryProblem(locked);
    expect(problem).toMatch(
      new RegExp(
        `^cannot write in ${locked}/?: EACCES: permission denied, open '${locked}/\\.write-check-\\d+'$`,
      ),
    );
  });

  describe('with make: false (a default directory, made only when a file is written)', () => {
    it('makes nothing, and says yes where the missing directories can be made', () => {
      expect(directoryProblem(join(root, 'm', 'n', 'o'), { make: false })).toBeUndefined();
      expect(existsSync(join(root, 'm'))).toBe(false);
      mkdirSync(join(root, 'e'));
      expect(directoryProblem(join(root, 'e'), { make: false })).toBeUndefined();
      expect(readdirSync(join(root, 'e'))).toEqual([]);
    });

    it('names the regular file that stands where a directory must be', () => {
      expect(directoryProblem(join(root, 'afile', 'x'), { make: false })).toBe(
        `${join(root, 'afile')} is not a directory`,
      );
    });

    it('says yes to every check when several processes check the same paths at once', async () => {
      // jest's workers each parse `npm run load`'s flags in the repository, and two loads may
      // start together: four processes here check the same ten default paths 1,500 times each,
      // the paths' parent missing at first. Each check made and removed the first missing
      // directory, and one process's rmdir took the directory another had just found or made:
      // about one check in 200 read EEXIST or ENOENT (6,000 checks here: 20 to 40 of them).
      const shared = join(root, 'shared');
      mkdirSync(shared);
      const module = join(__dirname, '../../../shared/src/cli/directory.ts');
      const program = `
        const { directoryProblem } = require(${JSON.stringify(module)});
        const problems = [];
        for (let i = 0; i < 1500; i++) {
          const p = directoryProblem(${JSON.stringify(join(shared, 'reports'))} + '/r' + (i % 10), { make: false });
          if (p !== undefined) problems.push(p);
        }
        process.stdout.write(JSON.stringify(problems));
      `;
      const run = () =>
        new Promise<string[]>((done, fail) =>
          execFile(
            process.execPath,
            ['--import', 'tsx', '-e', program],
            { encoding: 'utf8' },
            (err, out) => (err ? fail(err) : done(JSON.parse(out) as string[])),
          ),
        );
      const problems = (await Promise.all([run(), run(), run(), run()])).flat();
      expect(problems).toEqual([]);
      // And nothing is left: no directory, no probe file.
      expect(readdirSync(shared)).toEqual([]);
    }, 60_000);

    it('refuses a directory no entry can be made in, by making one', () => {
      // As above: root's check runs as nobody for the call.
      const locked = join(root, 'locked-parent');
      mkdirSync(locked, { mode: 0o500 });
      const asRoot = process.getuid?.() === 0;
      if (asRoot) {
        chmodSync(root, 0o755);
        chownSync(locked, NOBODY, NOBODY);
      }
      const dir = join(locked, 'reports', 'r1');
      const check = () => directoryProblem(dir, { make: false });
      expect(asRoot ? asUser(NOBODY, check) : check()).toMatch(
        new RegExp(
          `^cannot create ${join(locked, 'reports')}: EACCES: permission denied, open '${join(locked, '.write-check-')}`,
        ),
      );
    });
  });
});

/** Runs `fn` (synchronous file calls only) with the effective user and group `id`, then root's. */
function asUser<T>(id: number, fn: () => T): T {
  process.setegid?.(id);
  process.seteuid?.(id);
  try {
    return fn();
  } finally {
    process.seteuid?.(0);
    process.setegid?.(0);
  }
}

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

describe('defaultOutputDirectory', () => {
  it('is a usage error naming the default, why, and the flag that gives another', () => {
    expect(() => defaultOutputDirectory('out', '/dev/null/r1')).toThrow(
      new UsageError(
        'the default output directory /dev/null/r1 cannot be used: /dev/null is not a directory; give --out <dir>',
      ),
    );
  });
});
