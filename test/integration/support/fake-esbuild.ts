import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalFunction } from '../../../local/function-runtime';
import { tmpdirUnderAFile } from '../../support/unwritable-tmpdir';
import { probeDefinition } from './function-probe';

export interface FakeEsbuildProbe {
  /** The probe function, built by a function-runtime loaded after the fake service was set. */
  f: LocalFunction;
  /** The lines the probe function logged. */
  lines: string[];
}

/**
 * Runs `body` with esbuild's service a shell script of the caller's (`script(root)` gives its
 * text; `root` is a fresh temp directory), os.tmpdir() under a regular file (bundles are built in
 * memory), and a probe LocalFunction named `name` from a function-runtime loaded after both
 * (jest.isolateModules). esbuild's API reads ESBUILD_BINARY_PATH once, when it is first loaded in
 * a test file (jest gives each file its own process.env and module registry): a file uses this
 * once. Everything is put back and stopped after `body`, which throws or not.
 */
export async function withFakeEsbuild(
  opts: { prefix: string; name: string; script: (root: string) => string },
  body: (probe: FakeEsbuildProbe) => Promise<void>,
): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), opts.prefix));
  const service = join(root, 'esbuild-service.sh');
  await writeFile(service, opts.script(root));
  await chmod(service, 0o755);
  const binaryPath = process.env.ESBUILD_BINARY_PATH;
  process.env.ESBUILD_BINARY_PATH = service;
  const { restore: restoreTmpdir } = await tmpdirUnderAFile(root);
  let runtime: typeof import('../../../local/function-runtime') | undefined;
  let f: LocalFunction | undefined;
  try {
    jest.isolateModules(() => {
      runtime = require('../../../local/function-runtime');
    });
    const lines: string[] = [];
    f = new runtime!.LocalFunction(
      probeDefinition(opts.name, { onLog: (_fn, line) => lines.push(line) }),
    );
    await body({ f, lines });
  } finally {
    restoreTmpdir();
    if (binaryPath === undefined) delete process.env.ESBUILD_BINARY_PATH;
    else process.env.ESBUILD_BINARY_PATH = binaryPath;
    await f?.stop();
    await rm(root, { recursive: true, force: true });
  }
}
