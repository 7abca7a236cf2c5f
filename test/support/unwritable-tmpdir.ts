import { mkdir, writeFile } from 'node:fs/promises';
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

/**
 * Every fs/promises writeFile whose path starts with `dir` failing as on a full disk (ENOSPC) or
 * a read-only file system (EROFS); every other written. `restore` puts writeFile back.
 */
export function failWritesUnder(dir: string, code: 'ENOSPC' | 'EROFS'): { restore: () => void } {
  const fsp: typeof import('node:fs/promises') = jest.requireActual('node:fs/promises');
  const realWrite = fsp.writeFile;
  const spy = jest.spyOn(fsp, 'writeFile').mockImplementation(async (...args) => {
    if (String(args[0]).startsWith(dir)) {
      const message =
        code === 'ENOSPC'
          ? 'ENOSPC: no space left on device, write'
          : `EROFS: read-only file system, open '${args[0]}'`;
      throw Object.assign(new Error(message), { code });
    }
    return realWrite(...args);
  });
  return { restore: () => spy.mockRestore() };
}

/**
 * Points os.tmpdir() at `<root>/tmp`, with the functions' bundle cache directory in it
 * (`local-cloud-functions-<uid>`, mode 700, as an earlier start left it), and every file written
 * under it failing as on a full disk (ENOSPC). Modules that read the temp directory must be loaded
 * after this (jest.isolateModules). `restore` puts os.tmpdir() and writeFile back.
 */
export async function tmpdirOnAFullDisk(
  root: string,
): Promise<{ tmp: string; cacheDir: string; restore: () => void }> {
  const tmp = join(root, 'tmp');
  const cacheDir = join(tmp, `local-cloud-functions-${process.getuid?.() ?? 'user'}`);
  await mkdir(cacheDir, { recursive: true, mode: 0o700 });
  const tmpdirSpy = jest.spyOn(os, 'tmpdir').mockReturnValue(tmp);
  const writes = failWritesUnder(tmp, 'ENOSPC');
  return {
    tmp,
    cacheDir,
    restore: () => {
      writes.restore();
      tmpdirSpy.mockRestore();
    },
  };
}
