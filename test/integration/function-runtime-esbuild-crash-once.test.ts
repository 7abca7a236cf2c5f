import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { LocalFunction } from '../../local/function-runtime';
import { tmpdirUnderAFile } from '../support/unwritable-tmpdir';

const PROBE = resolve(__dirname, 'support/fixtures/probe-handler.ts');

/**
 * esbuild's service failing once, then working: a file of its own, since esbuild's API reads
 * ESBUILD_BINARY_PATH once, when it is first loaded in a file (function-runtime-esbuild-crash's
 * service crashes every time).
 */
describe('esbuild failing once, with the bundles built in memory', () => {
  it('builds again once esbuild works again: its failure is not kept as if it were the code', async () => {
    // Prepare: esbuild's service a program that kills itself the first time it starts as the
    // service, and runs the real esbuild otherwise (esbuild's API starts a new service for the
    // next build).
    const root = await mkdtemp(join(tmpdir(), 'esbuild-crash-once-'));
    const service = join(root, 'esbuild-service.sh');
    const realBinary = require.resolve(`@esbuild/${process.platform}-${process.arch}/bin/esbuild`);
    await writeFile(
      service,
      `#!/bin/sh\ncase "$*" in *--service*) if [ ! -e '${root}/crashed' ]; then touch '${root}/crashed'; kill -9 $$; fi;; esac\nexec '${realBinary}' "$@"\n`,
    );
    await chmod(service, 0o755);
    const binaryPath = process.env.ESBUILD_BINARY_PATH;
    process.env.ESBUILD_BINARY_PATH = service;
    const { restore: restoreTmpdir } = await tmpdirUnderAFile(root);
    let runtime: typeof import('../../local/function-runtime') | undefined;
    let f: LocalFunction | undefined;
    try {
      jest.isolateModules(() => {
        runtime = require('../../local/function-runtime');
      });
      f = new runtime!.LocalFunction({
        name: 'probe-esbuild-crash-once',
        modulePath: PROBE,
        env: {},
        timeoutSeconds: 5,
        memorySizeMb: 256,
        maxEnvironments: 1,
        region: 'us-east-1',
      });
      const warm = (fn: LocalFunction) =>
        fn.warm().then(
          () => 'warmed',
          (err: Error) => err.message,
        );

      // Act: the first init meets the crash; the second, the probe's code unchanged, meets a
      // working esbuild.
      const first = await warm(f);
      const second = await warm(f);

      // Assess: the crash failed the first only. The second had answered the first's failure
      // again without building (kept as a failure of the code, answered while its inputs are
      // unchanged), for as long as the cloud ran.
      expect(first).toMatch(/LocalCloud\.StartError: esbuild failed to build/);
      expect(second).toBe('warmed');
    } finally {
      restoreTmpdir();
      if (binaryPath === undefined) delete process.env.ESBUILD_BINARY_PATH;
      else process.env.ESBUILD_BINARY_PATH = binaryPath;
      await f?.stop();
      await rm(root, { recursive: true, force: true });
    }
  }, 60_000);
});
