import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';

/**
 * Points os.tmpdir() at `<root>/afile/tmp`, `afile` being a regular file: every mkdir, mkdtemp
 * and write under it fails (ENOTDIR), for root too. Modules that read the temp directory must be
 * loaded after this (jest.isolateModules): jest gives a test file a process.env of its own, which
 * node's os.tmpdir() does not read, so TMPDIR cannot do it. `restore` puts os.tmpdir() back.
 */
export async function tmpdirUnderAFile(
  root: string,
): Promise<{ tmp: string; restore: () => void }> {
  const file = join(root, 'afile');
  await writeFile(file, '');
  const tmp = join(file, 'tmp');
  const spy = jest.spyOn(os, 'tmpdir').mockReturnValue(tmp);
  return { tmp, restore: () => spy.mockRestore() };
}
