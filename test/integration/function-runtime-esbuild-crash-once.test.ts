import { withFakeEsbuild } from './support/fake-esbuild';
import { warmOutcome } from './support/function-probe';

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
    const realBinary = require.resolve(`@esbuild/${process.platform}-${process.arch}/bin/esbuild`);
    await withFakeEsbuild(
      {
        prefix: 'esbuild-crash-once-',
        name: 'probe-esbuild-crash-once',
        script: (root) =>
          `#!/bin/sh\ncase "$*" in *--service*) if [ ! -e '${root}/crashed' ]; then touch '${root}/crashed'; kill -9 $$; fi;; esac\nexec '${realBinary}' "$@"\n`,
      },
      async ({ f }) => {
        // Act: the first init meets the crash; the second, the probe's code unchanged, meets a
        // working esbuild.
        const first = await warmOutcome(f);
        const second = await warmOutcome(f);

        // Assess: the crash failed the first only. The second had answered the first's failure
        // again without building (kept as a failure of the code, answered while its inputs are
        // unchanged), for as long as the cloud ran.
        expect(first).toMatch(/LocalCloud\.StartError: esbuild failed to build/);
        expect(second).toBe('warmed');
      },
    );
  }, 60_000);
});
