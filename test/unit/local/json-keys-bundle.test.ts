import { type ChildProcess, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFile,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  utimes,
  writeFile,
} from 'node:fs/promises';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { listTablesThenClose } from '../../support/list-tables';
import { failWritesUnder, tmpdirUnderAFile } from '../../support/unwritable-tmpdir';

type DynamoDbModule = typeof import('../../../local/dynamodb');

/** esbuild builds run by this file's processes (each isolated module load is one). */
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

/** The esbuild services started in this process (the API's child processes). */
const services: ChildProcess[] = [];
const childProcess = jest.requireActual('node:child_process');
const spawn = childProcess.spawn;
const spawnSpy = jest.spyOn(childProcess, 'spawn').mockImplementation((...args: unknown[]) => {
  const child = spawn(...args);
  if (String(args[0]).includes('esbuild')) services.push(child);
  return child;
});
afterAll(() => spawnSpy.mockRestore());

/** A key written with an escape (`"`), and a text with another key (`\`) at its place. */
const POISON = '{"pk":1,"\\\\":2}';
const QUOTED = '{"pk":1,"\\"":2}';

/** local/dynamodb.ts as a new process loads it: its module state, function-bundle.ts's and esbuild's fresh. */
function freshProcess(): DynamoDbModule {
  let loaded: DynamoDbModule | undefined;
  jest.isolateModules(() => {
    loaded = require('../../../local/dynamodb');
  });
  return loaded!;
}

/** The parseJson of a script as DynamoDB's thread compiles it. */
function compiled(script: { path: string; script: string }): (text: string) => unknown {
  const m = new Module(script.path);
  m.filename = script.path;
  (m as unknown as { _compile(code: string, path: string): void })._compile(
    script.script,
    script.path,
  );
  return m.exports.parseJson;
}

const hourAgo = () => new Date(Date.now() - 3_600_000);

/**
 * The bundle of shared/src/json-keys.ts that DynamoDB's thread reads JSON with comes from the cache
 * of bundles the functions use, kept across processes: it had been built by esbuild in every
 * process (123 ms), through an esbuild service left running for the process's life.
 */
describe("DynamoDB's json-keys bundle, kept across processes", () => {
  let root: string;

  beforeEach(async () => {
    mockBuilds = 0;
    services.length = 0;
    root = await mkdtemp(join(tmpdir(), 'json-keys-bundle-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('a second process with the cache warm starts DynamoDB without an esbuild build, and none leaves a service running', async () => {
    // Prepare: a cache directory of the test's own.
    const cache = join(root, 'cache');
    /** One process: starts DynamoDB, asks it something, stops it; the builds it ran. */
    const start = async () => {
      const before = mockBuilds;
      const db = await freshProcess().startDynamoDb({ bundleCacheDir: cache });
      expect(await listTablesThenClose(db)).toEqual([]);
      return mockBuilds - before;
    };

    // Act
    const cold = await start();
    const coldServices = services.length;
    const warm = await start();

    // Assess: the first built once, the second found it; the one service the first started was
    // stopped once its build ended (it had stayed until the process ended), and the second
    // started none.
    expect([cold, warm]).toEqual([1, 0]);
    expect([coldServices, services.length]).toEqual([1, 1]);
    expect(services.map((s) => s.killed)).toEqual([true]);
  }, 60_000);

  it('builds again when the module changed', async () => {
    // Prepare: a copy of json-keys.ts in a package of its own, dated an hour back (a file modified
    // during a build is not recorded), and a cache directory beside it.
    const pkg = join(root, 'pkg');
    const source = join(pkg, 'src', 'json-keys.ts');
    const cache = join(root, 'cache');
    await mkdir(join(pkg, 'src'), { recursive: true });
    await copyFile(resolve(__dirname, '../../../shared/src/json-keys.ts'), source);
    await writeFile(join(pkg, 'package.json'), '{"name":"pkg"}');
    for (const p of [source, join(pkg, 'package.json'), join(pkg, 'src'), pkg]) {
      await utimes(p, hourAgo(), hourAgo());
    }
    const script = async () => {
      const before = mockBuilds;
      const s = await freshProcess().jsonKeysScript(source, cache);
      return { ...s, builds: mockBuilds - before };
    };

    // Act: two processes, then the module edited, then a third.
    const first = await script();
    const second = await script();
    await appendFile(source, "\nexport const edited = 'yes';\n");
    const third = await script();

    // Assess
    expect([first.builds, second.builds, third.builds]).toEqual([1, 0, 1]);
    expect(second.script).toBe(first.script);
    expect(first.script).not.toContain('edited');
    expect(third.script).toContain('edited');
    const parseJson = compiled(third);
    parseJson(POISON);
    expect(Object.keys(parseJson(QUOTED) as object)).toEqual(['pk', '"']);
  }, 60_000);

  it('a process that finds the bundle cut short in the cache builds it again, and its thread starts', async () => {
    // Prepare: a warm cache whose bundle was then cut to half (a rename is atomic, not durable:
    // a crash can leave a renamed file short).
    const cache = join(root, 'cache');
    const first = await freshProcess().jsonKeysScript(undefined, cache);
    await writeFile(first.path, first.script.slice(0, first.script.length >> 1));
    const before = mockBuilds;

    // Act
    const db = await freshProcess().startDynamoDb({ bundleCacheDir: cache });
    await db.close();
    const again = await freshProcess().jsonKeysScript(undefined, cache);

    // Assess: built again (the cut text compiled in the thread had failed its start, in every
    // process after), and the cache holds it whole.
    expect(mockBuilds - before).toBe(1);
    expect(again.script).toBe(first.script);
    expect(Object.keys(compiled(again)(QUOTED) as object)).toEqual(['pk', '"']);
  }, 60_000);

  it('starts DynamoDB when the cache directory cannot be written (read-only file system)', async () => {
    // Prepare: every write into the cache directory fails as on a read-only file system.
    const cache = join(root, 'cache');
    await mkdir(cache, { mode: 0o700 });
    const writes = failWritesUnder(cache, 'EROFS');
    try {
      // Act
      const dynamoDb = freshProcess();
      const db = await dynamoDb.startDynamoDb({ bundleCacheDir: cache });
      await db.close();
      const script = await dynamoDb.jsonKeysScript(undefined, cache);

      // Assess: started, with a bundle written elsewhere (this process's own directory), and
      // nothing in the cache.
      expect(script.path.startsWith(cache)).toBe(false);
      expect(Object.keys(compiled(script)(QUOTED) as object)).toEqual(['pk', '"']);
      expect(await readdir(cache)).toEqual([]);
    } finally {
      writes.restore();
    }
  }, 60_000);

  it('starts DynamoDB when nothing can be written in the temp directory, and a function bundle says so in one line', async () => {
    // Prepare: the temp directory (os.tmpdir(), TMPDIR's) under a regular file, where every mkdir,
    // mkdtemp and write fails (ENOTDIR), for root too; the process loaded with it, so the cache's
    // default directory is in it. (jest gives a test file a process.env of its own, which node's
    // os.tmpdir() does not read.)
    const { tmp, restore: restoreTmpdir } = await tmpdirUnderAFile(root);
    try {
      let bundles: typeof import('../../../local/function-bundle') | undefined;
      let dynamoDb: DynamoDbModule | undefined;
      jest.isolateModules(() => {
        dynamoDb = require('../../../local/dynamodb');
        bundles = require('../../../local/function-bundle');
      });

      // Act
      const listed = await listTablesThenClose(await dynamoDb!.startDynamoDb());
      const script = await dynamoDb!.jsonKeysScript();
      const fn = await bundles!
        .buildBundle(resolve(__dirname, '../../../shared/src/json-keys.ts'))
        .then(
          () => undefined,
          (err: Error) => err,
        );

      // Assess: DynamoDB started and answers, its bundle built once, in memory (compiled as the
      // module's path), reading escaped keys right; a function's bundle, which its environments
      // load from a file, fails with one line that names the temp directory.
      expect(listed).toEqual([]);
      expect(mockBuilds).toBe(1);
      expect(script.path).toBe(dynamoDb!.JSON_KEYS_SOURCE);
      const parseJson = compiled(script);
      parseJson(POISON);
      expect(Object.keys(parseJson(QUOTED) as object)).toEqual(['pk', '"']);
      expect(fn?.name).toBe('NoBundleDirectory');
      expect(fn?.message).toMatch(
        new RegExp(
          `^cannot write the bundle of json-keys\\.ts: the temp directory ${tmp} cannot be written \\(ENOTDIR: not a directory, mkdtemp '${tmp}/local-cloud-functions-[^']+'\\); set TMPDIR to a directory that can$`,
        ),
      );
    } finally {
      restoreTmpdir();
    }
  }, 60_000);

  it('two processes racing on a cold cache both get a correct bundle, and leave one in the cache', async () => {
    // Prepare: two processes that load local/dynamodb.ts, then wait for the word to bundle.
    const cache = join(root, 'cache');
    const script = [
      `const { jsonKeysScript } = require(${JSON.stringify(resolve(__dirname, '../../../local/dynamodb'))});`,
      "const Module = require('node:module');",
      "const { createHash } = require('node:crypto');",
      'process.stdout.write("ready\\n");',
      "process.stdin.once('data', async () => {",
      `  const s = await jsonKeysScript(undefined, ${JSON.stringify(cache)});`,
      '  const m = new Module(s.path);',
      '  m.filename = s.path;',
      '  m._compile(s.script, s.path);',
      `  m.exports.parseJson(${JSON.stringify(POISON)});`,
      `  const read = m.exports.parseJson(${JSON.stringify(QUOTED)});`,
      '  const sha = createHash("sha256").update(s.script).digest("hex");',
      '  console.log(JSON.stringify({ path: s.path, sha, keys: Object.keys(read) }));',
      '  process.stdin.destroy();',
      '});',
    ].join('\n');
    // Run by this node: node_modules/.bin/tsx runs the first node on PATH, and a bundle built for
    // another Node major (its target) is another cache entry, which this process does not find.
    const tsx = resolve(__dirname, '../../../node_modules/tsx/dist/cli.mjs');
    const ready: Promise<void>[] = [];
    const runs = [0, 1].map(() => {
      let child: ChildProcess | undefined;
      const done = new Promise<string>((res, rej) => {
        child = execFile(
          process.execPath,
          [tsx, '-e', script],
          { cwd: process.cwd() },
          (err, out) => (err ? rej(err) : res(out)),
        );
      });
      ready.push(
        new Promise((res) =>
          child!.stdout!.on('data', (d) => String(d).includes('ready') && res()),
        ),
      );
      return { child: child!, done };
    });
    await Promise.all(ready);

    // Act: both at once.
    for (const { child } of runs) child.stdin!.write('go\n');
    const outs = await Promise.all(runs.map(({ done }) => done));

    // Assess: each read the escaped key as written, from the same bundle, in the cache; the cache
    // holds that bundle, its map and one record, nothing half written; a third process finds it.
    const results = outs.map((o) => JSON.parse(o.trim().split('\n').at(-1)!));
    const files = (await readdir(cache)).sort();
    const bundle = files.find((f) => f.endsWith('.js'))!;
    const onDisk = createHash('sha256')
      .update(await readFile(join(cache, bundle)))
      .digest('hex');
    expect(results.map((r) => r.keys)).toEqual([
      ['pk', '"'],
      ['pk', '"'],
    ]);
    expect(results.map((r) => r.path)).toEqual([join(cache, bundle), join(cache, bundle)]);
    expect(results.map((r) => r.sha)).toEqual([onDisk, onDisk]);
    expect(files).toHaveLength(3);
    expect(files).toEqual(
      expect.arrayContaining([
        bundle,
        `${bundle}.map`,
        expect.stringMatching(/^json-keys-[0-9a-f]{16}\.inputs\.json$/),
      ]),
    );
    const before = mockBuilds;
    const third = await freshProcess().jsonKeysScript(undefined, cache);
    expect(mockBuilds - before).toBe(0);
    expect(third.path).toBe(join(cache, bundle));
  }, 120_000);
});
