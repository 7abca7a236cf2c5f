import { mkdtemp, rm } from 'node:fs/promises';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listTablesThenClose } from '../../support/list-tables';
import { tmpdirOnAFullDisk } from '../../support/unwritable-tmpdir';

/** esbuild builds run by this file's module loads (every build, in memory or for the cache). */
let mockBuilds = 0;
jest.mock('esbuild', () => {
  const real = jest.requireActual('esbuild');
  return {
    ...real,
    build: (options: unknown) => {
      mockBuilds++;
      return real.build(options);
    },
  };
});

describe("DynamoDB's json-keys bundle with no file of it writable", () => {
  it('is built by esbuild once, and used as built, when the cache directory is there but nothing more can be written (a full disk)', async () => {
    // Prepare: the temp directory (os.tmpdir()) with the functions' cache directory in it, as an
    // earlier start left it, and every file written under it failing as on a full disk (ENOSPC);
    // local/dynamodb.ts loaded with that temp directory (its default cache is in it).
    const root = await mkdtemp(join(tmpdir(), 'json-keys-full-'));
    const { restore } = await tmpdirOnAFullDisk(root);
    try {
      let dynamoDb: typeof import('../../../local/dynamodb') | undefined;
      let bundles: typeof import('../../../local/function-bundle') | undefined;
      jest.isolateModules(() => {
        dynamoDb = require('../../../local/dynamodb');
        bundles = require('../../../local/function-bundle');
      });
      const before = mockBuilds;

      // Act: DynamoDB started and asked something; the script its thread compiled.
      const listed = await listTablesThenClose(await dynamoDb!.startDynamoDb());
      const builds = mockBuilds - before;
      const script = await dynamoDb!.jsonKeysScript();

      // Assess: DynamoDB started and answers; esbuild ran once (the bundle built for the cache
      // had been built again in memory); the script is compiled as the module's own path, the
      // text a build in memory gives (no line naming a map that was never written), and reads an
      // escaped key as written.
      expect(listed).toEqual([]);
      expect(builds).toBe(1);
      expect(script.path).toBe(dynamoDb!.JSON_KEYS_SOURCE);
      expect(script.script).not.toContain('sourceMappingURL');
      expect(script.script).toBe(await bundles!.bundleText(dynamoDb!.JSON_KEYS_SOURCE));
      const m = new Module(script.path);
      m.filename = script.path;
      (m as unknown as { _compile(code: string, path: string): void })._compile(
        script.script,
        script.path,
      );
      expect(Object.keys(m.exports.parseJson('{"pk":1,"\\"":2}'))).toEqual(['pk', '"']);
    } finally {
      restore();
      await rm(root, { recursive: true, force: true });
    }
  }, 60_000);
});
