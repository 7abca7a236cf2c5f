import { withFakeEsbuild } from './support/fake-esbuild';
import { warmOutcome } from './support/function-probe';

describe('esbuild failing, with the bundles built in memory', () => {
  it("fails the init as the local cloud's failure, not as a syntax error in the function's code", async () => {
    // Prepare: the temp directory under a regular file (bundles are built in memory), and
    // esbuild's service a program that kills itself as it starts: esbuild's API rejects with
    // "The service was stopped: ...", an error naming nothing in the code. Set in this file's
    // own process.env (jest gives each test file one) before esbuild is first loaded here.
    await withFakeEsbuild(
      {
        prefix: 'esbuild-crash-',
        name: 'probe-esbuild-crash',
        script: () => '#!/bin/sh\nkill -9 $$\n',
      },
      async ({ f, lines }) => {
        // Act
        const result = await warmOutcome(f);

        // Assess: LocalCloud.StartError naming esbuild's failure, in the answer and the
        // INIT_REPORT line; it had been Runtime.UserCodeSyntaxError, the probe's code blamed.
        expect(result).toMatch(
          /^function probe-esbuild-crash failed to initialise: LocalCloud\.StartError: esbuild failed to build the function's bundle: The service (was stopped|is no longer running)/,
        );
        expect(lines.filter((l) => l.startsWith('INIT_REPORT'))).toEqual([
          expect.stringMatching(
            /^INIT_REPORT Init Duration: \d+\.\d{2} ms\tPhase: init\tStatus: error\tError Type: LocalCloud\.StartError$/,
          ),
        ]);
      },
    );
  }, 60_000);
});
