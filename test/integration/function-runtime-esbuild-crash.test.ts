import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { LocalFunction } from '../../local/function-runtime';
import { tmpdirUnderAFile } from '../support/unwritable-tmpdir';

const PROBE = resolve(__dirname, 'support/fixtures/probe-handler.ts');

describe('esbuild failing, with the bundles built in memory', () => {
  it("fails the init as the local cloud's failure, not as a syntax error in the function's code", async () => {
    // Prepare: the temp directory under a regular file (bundles are built in memory), and
    // esbuild's service a program that kills itself as it starts: esbuild's API rejects with
    // "The service was stopped: ...", an error naming nothing in the code. Set in this file's
    // own process.env (jest gives each test file one) before esbuild is first loaded here.
    const root = await mkdtemp(join(tmpdir(), 'esbuild-crash-'));
    const service = join(root, 'esbuild-service.sh');
    await writeFile(service, '#!/bin/sh\nkill -9 $$\n');
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
      const lines: string[] = [];
      f = new runtime!.LocalFunction({
        name: 'probe-esbuild-crash',
        modulePath: PROBE,
        env: {},
        timeoutSeconds: 5,
        memorySizeMb: 256,
        maxEnvironments: 1,
        region: 'us-east-1',
        onLog: (_fn, line) => lines.push(line),
      });

      // Act
      const warm = await f.warm().then(
        () => 'warmed',
        (err: Error) => err.message,
      );

      // Assess: LocalCloud.StartError naming esbuild's failure, in the answer and the
      // INIT_REPORT line; it had been Runtime.UserCodeSyntaxError, the probe's code blamed.
      expect(warm).toMatch(
        /^function probe-esbuild-crash failed to initialise: LocalCloud\.StartError: esbuild failed to build the function's bundle: The service (was stopped|is no longer running)/,
      );
      expect(lines.filter((l) => l.startsWith('INIT_REPORT'))).toEqual([
        expect.stringMatching(
          /^INIT_REPORT Init Duration: \d+\.\d{2} ms\tPhase: init\tStatus: error\tError Type: LocalCloud\.StartError$/,
        ),
      ]);
    } finally {
      restoreTmpdir();
      if (binaryPath === undefined) delete process.env.ESBUILD_BINARY_PATH;
      else process.env.ESBUILD_BINARY_PATH = binaryPath;
      await f?.stop();
      await rm(root, { recursive: true, force: true });
    }
  }, 60_000);
});
