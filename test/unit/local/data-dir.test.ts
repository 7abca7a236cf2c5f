import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataDirProblem } from '../../../local/data-dir';

describe('dataDirProblem (npm start --data-dir)', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'data-dir-'));
    writeFileSync(join(root, 'afile'), '');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('creates a directory and its missing parents', () => {
    const dir = join(root, 'a', 'b', 'c');
    expect(dataDirProblem(dir)).toBeUndefined();
    expect(statSync(dir).isDirectory()).toBe(true);
    expect(dataDirProblem(dir)).toBeUndefined();
  });

  it('names the regular file that stands where a directory must be', () => {
    expect(dataDirProblem(join(root, 'afile'))).toBe(`${join(root, 'afile')} is not a directory`);
    expect(dataDirProblem(join(root, 'afile', 'x', 'db'))).toBe(
      `${join(root, 'afile')} is not a directory`,
    );
  });

  // node's recursive mkdir never returns here (ENOENT from /proc, EEXIST for /proc, again).
  (existsSync('/proc/self') ? it : it.skip)(
    'refuses a directory that cannot be created in /proc, at once',
    () => {
      expect(dataDirProblem('/proc/no-such-dir/db')).toBe(
        "cannot create /proc/no-such-dir: ENOENT: no such file or directory, mkdir '/proc/no-such-dir'",
      );
    },
  );
});
