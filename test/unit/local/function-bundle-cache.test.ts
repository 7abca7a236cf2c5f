import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { buildBundle, removeStaleFallbacks } from '../../../local/function-bundle';
import { tmpdirOnAFullDisk } from '../../support/unwritable-tmpdir';

/** Run after esbuild has read the files and before buildBundle goes on (undefined: nothing). */
let afterEsbuild: (() => Promise<void>) | undefined;
jest.mock('esbuild', () => {
  const real = jest.requireActual('esbuild');
  return {
    ...real,
    build: async (options: unknown) => {
      const out = await real.build(options);
      await afterEsbuild?.();
      return out;
    },
  };
});

/**
 * The bundles kept across processes: a bundle is used again only while everything its build read
 * is as it was, and built again after any change that could give a different bundle.
 */
describe('function bundles found built by an earlier process', () => {
  let root: string;
  let out: string;
  const hourAgo = () => new Date(Date.now() - 3_600_000);
  /** Dates `paths` (relative to root) an hour back, as files and directories long in place. */
  const age = async (...paths: string[]) => {
    for (const p of paths) await utimes(join(root, p), hourAgo(), hourAgo());
  };
  const entry = () => join(root, 'src', 'entry.ts');
  const write = async (path: string, text: string) => {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  };
  const build = async () => {
    const b = await buildBundle(entry(), out);
    // The record of a build is written after it returns (the environments load the bundle
    // meanwhile).
    await b.recorded;
    return { origin: b.origin, file: b.file, code: await readFile(b.file, 'utf8') };
  };

  beforeEach(async () => {
    afterEsbuild = undefined;
    root = await mkdtemp(join(tmpdir(), 'bundle-cache-'));
    // Outside the project: a directory made in it during the build would be a change to it.
    out = `${root}-out`;
    await write('package.json', '{"name":"app"}');
    await write(
      'src/entry.ts',
      "import { v } from './dep';\nimport { w } from 'pkg';\nexport const handler = async () => v + ':' + w;\n",
    );
    await write('src/dep.js', "exports.v = 'dep-js';\n");
    await write('node_modules/pkg/package.json', '{"name":"pkg","main":"a.js"}');
    await write('node_modules/pkg/a.js', "exports.w = 'pkg-a';\n");
    await write('node_modules/pkg/b.js', "exports.w = 'pkg-b';\n");
    // Files and directories written this second would count as changed during the build: dated
    // an hour back, the directories last (writing in one dates it now).
    await age(
      'package.json',
      'src/entry.ts',
      'src/dep.js',
      'node_modules/pkg/package.json',
      'node_modules/pkg/a.js',
      'node_modules/pkg/b.js',
      'src',
      'node_modules/pkg',
      'node_modules',
      '.',
    );
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(out, { recursive: true, force: true });
  });

  it('builds once, then uses that bundle while nothing changed', async () => {
    const first = await build();
    const second = await build();
    expect([first.origin, second.origin]).toEqual(['built', 'cached']);
    expect(second.file).toBe(first.file);
    expect(second.code).toContain('dep-js');
  });

  it('builds again when a file it read changed', async () => {
    await build();
    await write('src/dep.js', "exports.v = 'dep-js, changed';\n");
    const after = await build();
    expect(after.origin).toBe('built');
    expect(after.code).toContain('dep-js, changed');
  });

  it('builds again when a file is added that resolution finds first', async () => {
    await build();
    await write('src/dep.ts', "export const v = 'dep-ts';\n");
    const after = await build();
    expect(after.origin).toBe('built');
    expect(after.code).toContain('dep-ts');
  });

  it("builds again when a package's package.json points elsewhere", async () => {
    await build();
    await write('node_modules/pkg/package.json', '{"name":"pkg","main":"b.js"}');
    const after = await build();
    expect(after.origin).toBe('built');
    expect(after.code).toContain('pkg-b');
  });

  it('builds again when a tsconfig.json is added above the sources', async () => {
    await build();
    await write('tsconfig.json', '{"compilerOptions":{}}');
    expect((await build()).origin).toBe('built');
  });

  it('does not keep a build whose inputs changed while it ran', async () => {
    // dep.js dated after the build began: esbuild may have read it before or after the change.
    const later = new Date(Date.now() + 60_000);
    await utimes(join(root, 'src/dep.js'), later, later);
    expect((await build()).origin).toBe('built');
    expect((await build()).origin).toBe('built');
  });

  it('builds again over a record that is not one, and over a bundle file gone', async () => {
    const first = await build();
    const record = (await readdir(out)).find((f) => f.endsWith('.inputs.json'))!;
    await writeFile(
      join(out, record),
      '{"bundle":"../../etc/passwd","inputs":[],"files":{},"listings":{}}',
    );
    expect((await build()).origin).toBe('built');
    await rm(first.file);
    expect((await build()).origin).toBe('built');
  });

  it('builds again over a bundle or a map cut short, and writes them whole', async () => {
    // Prepare: a bundle recorded, then cut to half (a rename is atomic, not durable: a crash can
    // leave a renamed file short); then its map cut.
    const first = await build();
    const whole = await readFile(`${first.file}.map`, 'utf8');
    await writeFile(first.file, first.code.slice(0, first.code.length >> 1));
    // Act
    const afterBundle = await build();
    await writeFile(`${first.file}.map`, whole.slice(0, -1));
    const afterMap = await build();
    // Assess: each built again (not the cut file), into the same name, whole again.
    expect([afterBundle.origin, afterMap.origin]).toEqual(['built', 'built']);
    expect([afterBundle.file, afterMap.file]).toEqual([first.file, first.file]);
    expect(afterBundle.code).toBe(first.code);
    expect(await readFile(`${first.file}.map`, 'utf8')).toBe(whole);
    expect((await build()).origin).toBe('cached');
  });

  it('two builds of one process into one cache directory both land (temporary names of their own)', async () => {
    // Prepare: the first rename into the cache waits until a second temporary file has been
    // written: two writers of one pid had the same temporary name, so the second truncated and
    // rewrote the file the first was renaming, and its own rename then found nothing.
    const fsp: typeof import('node:fs/promises') = jest.requireActual('node:fs/promises');
    const realWrite = fsp.writeFile;
    const realRename = fsp.rename;
    let written = 0;
    let second!: () => void;
    const secondWritten = new Promise<void>((res) => {
      second = res;
    });
    let held = false;
    const writes = jest.spyOn(fsp, 'writeFile').mockImplementation(async (...args) => {
      await realWrite(...args);
      if (String(args[0]).startsWith(out) && /\.tmp(?:\.map)?$/.test(String(args[0]))) {
        if (++written === 2) second();
      }
    });
    const renames = jest.spyOn(fsp, 'rename').mockImplementation(async (from, to) => {
      if (!held && String(to).startsWith(out)) {
        held = true;
        await secondWritten;
      }
      return realRename(from, to);
    });
    try {
      // Act
      const both = await Promise.allSettled([buildBundle(entry(), out), buildBundle(entry(), out)]);
      // Assess
      expect(both.map((b) => b.status)).toEqual(['fulfilled', 'fulfilled']);
    } finally {
      writes.mockRestore();
      renames.mockRestore();
    }
    expect((await readdir(out)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect((await build()).code).toContain('dep-js');
  });

  it('does not keep a build when a file it read is replaced while it runs, though dated long ago', async () => {
    // As an npm install beside the build does: it extracts a package's files dated 1985.
    afterEsbuild = async () => {
      await writeFile(join(root, 'src/dep.js'), "exports.v = 'dep-js, installed';\n");
      await age('src/dep.js');
    };
    expect((await build()).code).toContain('"dep-js"');
    afterEsbuild = undefined;
    const after = await build();
    expect(after.origin).toBe('built');
    expect(after.code).toContain('dep-js, installed');
  });

  it('builds again when the node_modules the sources resolve through links elsewhere', async () => {
    // A worktree's node_modules, a link to another checkout's: esbuild's inputs are the real paths.
    for (const [store, w] of [
      ['store-1', 'pkg-1'],
      ['store-2', 'pkg-2'],
    ] as const) {
      await write(`${store}/pkg/package.json`, '{"name":"pkg","main":"a.js"}');
      await write(`${store}/pkg/a.js`, `exports.w = '${w}';\n`);
      await age(`${store}/pkg/package.json`, `${store}/pkg/a.js`, `${store}/pkg`, store);
    }
    await rm(join(root, 'node_modules'), { recursive: true });
    await symlink(join(root, 'store-1'), join(root, 'node_modules'));
    await age('.');
    expect((await build()).code).toContain('pkg-1');
    expect((await build()).origin).toBe('cached');
    await rm(join(root, 'node_modules'));
    await symlink(join(root, 'store-2'), join(root, 'node_modules'));
    await age('.');
    const after = await build();
    expect(after.origin).toBe('built');
    expect(after.code).toContain('pkg-2');
  });

  it("builds again when npm's record of the installed packages changed", async () => {
    await write('node_modules/.package-lock.json', '{"packages":{"node_modules/pkg":{}}}');
    await age('node_modules/.package-lock.json', 'node_modules');
    await build();
    expect((await build()).origin).toBe('cached');
    await write(
      'node_modules/.package-lock.json',
      '{"packages":{"node_modules/pkg":{"resolved":"pkgs/pkg-2","link":true}}}',
    );
    await age('node_modules/.package-lock.json', 'node_modules');
    expect((await build()).origin).toBe('built');
  });

  /**
   * A bundle that is not the module's, in `dir`, and the record of a real build of the module in
   * `dir`, returned to be rewritten (its file name and content).
   */
  const plant = async (dir: string) => {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, PLANTED), "exports.handler = async () => 'planted';\n");
    await writeFile(join(dir, `${PLANTED}.map`), '{"version":3,"mappings":""}');
    await (await buildBundle(entry(), dir)).recorded;
    const name = (await readdir(dir)).find((f) => f.endsWith('.inputs.json'))!;
    return { name, record: JSON.parse(await readFile(join(dir, name), 'utf8')) };
  };
  const PLANTED = 'entry-0123456789abcdef.js';

  it('runs no bundle a record without inputs names', async () => {
    const { name } = await plant(out);
    await writeFile(
      join(out, name),
      JSON.stringify({ bundle: PLANTED, inputs: [], files: {}, listings: {} }),
    );
    const after = await build();
    expect(after.origin).toBe('built');
    expect(after.code).not.toContain('planted');
  });

  it('builds again over a record whose fields are null, and does not fail', async () => {
    const { name, record } = await plant(out);
    await writeFile(join(out, name), JSON.stringify({ ...record, files: null, listings: null }));
    expect((await build()).origin).toBe('built');
  });

  it('neither reads nor writes a cache directory others can write into', async () => {
    // Another user's planted bundle, named by a record that matches the module's inputs.
    const { name, record } = await plant(out);
    await writeFile(join(out, name), JSON.stringify({ ...record, bundle: PLANTED }));
    await chmod(out, 0o777);
    const before = (await readdir(out)).sort();
    const after = await buildBundle(entry(), out);
    await after.recorded;
    try {
      expect(after.origin).toBe('built');
      expect(await readFile(after.file, 'utf8')).not.toContain('planted');
      expect(dirname(after.file)).not.toBe(out);
      expect((await readdir(out)).sort()).toEqual(before);
    } finally {
      await rm(dirname(after.file), { recursive: true, force: true });
    }
  });

  describe('with NODE_PATH', () => {
    const saved = process.env.NODE_PATH;
    afterEach(() => {
      if (saved === undefined) delete process.env.NODE_PATH;
      else process.env.NODE_PATH = saved;
    });
    /** Writes package `m` into `dir` (relative to root), exporting `w`, dated long ago. */
    const packageIn = async (dir: string, w: string) => {
      await write(`${dir}/m/index.js`, `exports.w = '${w}';\n`);
      await age(`${dir}/m/index.js`, `${dir}/m`, dir);
    };
    const importingM = async () => {
      await write(
        'src/entry.ts',
        "import { w } from 'm';\nexport const handler = async () => 'from ' + w;\n",
      );
      await age('src/entry.ts', 'src', '.');
    };

    it('builds from the directories NODE_PATH names, and builds again for another NODE_PATH, as the deployed build does', async () => {
      // Prepare: package m in two directories outside any node_modules.
      await packageIn('lib-1', 'lib-1');
      await packageIn('lib-2', 'lib-2');
      await importingM();
      await age('.');

      // Act: a build under each NODE_PATH, then the first again.
      process.env.NODE_PATH = join(root, 'lib-1');
      const first = await build();
      process.env.NODE_PATH = join(root, 'lib-2');
      const second = await build();
      process.env.NODE_PATH = join(root, 'lib-1');
      const again = await build();

      // Assess: the esbuild command line CDK runs for the deployed functions resolves through
      // NODE_PATH; the build here had not looked there (it failed: "Could not resolve"), and its
      // cache key left NODE_PATH out, so a bundle recorded under one was the bundle under any.
      expect([first.origin, second.origin, again.origin]).toEqual(['built', 'built', 'cached']);
      expect(first.code).toContain('w="lib-1"');
      expect(second.code).toContain('w="lib-2"');
      expect(again.file).toBe(first.file);
    });

    it('builds again when a package is added to an earlier NODE_PATH directory, or that directory is made', async () => {
      // Prepare: NODE_PATH names a directory outside the project that does not exist, an empty
      // one in it, and the one with m.
      const absent = `${root}-node-path`;
      await mkdir(join(root, 'lib-1'));
      await packageIn('lib-2', 'lib-2');
      await importingM();
      await age('lib-1', '.');
      process.env.NODE_PATH = [absent, join(root, 'lib-1'), join(root, 'lib-2')].join(delimiter);
      try {
        const first = await build();
        const cached = await build();

        // Act: m added to the empty directory, then the absent one made, with m in it.
        await packageIn('lib-1', 'lib-1');
        const added = await build();
        await mkdir(join(absent, 'm'), { recursive: true });
        await writeFile(join(absent, 'm', 'index.js'), "exports.w = 'made';\n");
        const old = hourAgo();
        await utimes(join(absent, 'm', 'index.js'), old, old);
        await utimes(join(absent, 'm'), old, old);
        await utimes(absent, old, old);
        const made = await build();

        // Assess: resolution finds m in the earlier directory each time. Neither change touches
        // a file or directory the build read, only the NODE_PATH directories it looked in.
        expect([first.origin, cached.origin, added.origin, made.origin]).toEqual([
          'built',
          'cached',
          'built',
          'built',
        ]);
        expect(first.code).toContain('w="lib-2"');
        expect(added.code).toContain('w="lib-1"');
        expect(made.code).toContain('w="made"');
      } finally {
        await rm(absent, { recursive: true, force: true });
      }
    });
  });

  it('does not use a cache directory that is a symlink', async () => {
    const target = `${out}-target`;
    await build();
    await rename(out, target);
    await symlink(target, out);
    try {
      const after = await buildBundle(entry(), out);
      expect(after.origin).toBe('built');
      expect(dirname(after.file)).not.toBe(out);
      await rm(dirname(after.file), { recursive: true, force: true });
    } finally {
      await rm(target, { recursive: true, force: true });
    }
  });
});

/**
 * Where a process builds when the cache directory is not its user's own: one directory of its own,
 * removed when it exits, and one left by a process that no longer runs removed by the next.
 */
describe('the fallback build directory', () => {
  const uid = process.getuid?.() ?? 'user';
  const prefix = `local-cloud-functions-${uid}-fallback-`;
  let root: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'bundle-fallback-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** The pid of a process that has ended. */
  const deadPid = () => {
    const child = spawnSync(process.execPath, ['-e', '']);
    return child.pid;
  };

  it('removes the fallback directories of processes that no longer run, and nothing else', async () => {
    // Prepare: in a temp directory of the test's own.
    const dead = deadPid();
    const stale = join(root, `${prefix}${dead}-a1B2c3`);
    await mkdir(stale);
    await writeFile(join(stale, 'entry-0123456789abcdef.js'), 'exports.handler = 1;\n');
    const kept = [
      `${prefix}${process.pid}-d4E5f6`, // a process that runs
      `local-cloud-functions-${uid}`, // the cache directory
      `${prefix}${dead}-toolongsuffix`, // not a name fallbackDir gives
      `bundle-cache-${dead}`, // another program's
    ];
    for (const name of kept) await mkdir(join(root, name));
    await writeFile(join(root, `${prefix}${dead}-g7H8i9`), 'a file'); // not a directory
    await mkdir(join(root, 'target'));
    await symlink(join(root, 'target'), join(root, `${prefix}${dead}-j0K1l2`)); // a symlink

    // Act
    const removed = await removeStaleFallbacks(root);

    // Assess
    expect(removed).toBe(1);
    expect(existsSync(stale)).toBe(false);
    expect((await readdir(root)).sort()).toEqual(
      [...kept, `${prefix}${dead}-g7H8i9`, `${prefix}${dead}-j0K1l2`, 'target'].sort(),
    );
    expect(await readdir(join(root, 'target'))).toEqual([]);
  });

  it('builds into one directory of its own per process, removed when the process exits, and removes one a dead process left', async () => {
    // Prepare: a module, a cache directory others can write into, and a stale fallback
    // directory in the real temp directory.
    const entry = join(root, 'entry.ts');
    await writeFile(entry, "export const handler = async () => 'fallback';\n");
    const out = join(root, 'out');
    await mkdir(out);
    await chmod(out, 0o777);
    const stale = join(tmpdir(), `${prefix}${deadPid()}-m3N4o5`);
    await mkdir(stale);
    const script = [
      `const { buildBundle } = require(${JSON.stringify(resolve(__dirname, '../../../local/function-bundle'))});`,
      '(async () => {',
      `  const a = await buildBundle(${JSON.stringify(entry)}, ${JSON.stringify(out)});`,
      `  const b = await buildBundle(${JSON.stringify(entry)}, ${JSON.stringify(out)});`,
      '  const fs = require("node:fs");',
      '  console.log(JSON.stringify({ pid: process.pid, a: a.file, b: b.file, there: fs.existsSync(a.file) }));',
      '})();',
    ].join('\n');

    // Act: a process that builds twice and exits.
    const tsx = resolve(__dirname, '../../../node_modules/.bin/tsx');
    const { stdout } = await promisify(execFile)(tsx, ['-e', script], { cwd: root });
    const { pid, a, b, there } = JSON.parse(stdout.trim().split('\n').at(-1)!);

    // Assess: both builds went to one directory named for the process, there while it ran and
    // gone after it exited; the dead process's directory is gone too. Each build had made a new
    // directory (local-cloud-functions-XXXXXX), and none was ever removed.
    try {
      expect(there).toBe(true);
      expect(dirname(a)).toBe(dirname(b));
      expect(dirname(a)).toMatch(new RegExp(`/${prefix}${pid}-\\w{6}$`));
      expect(existsSync(dirname(a))).toBe(false);
      expect(existsSync(stale)).toBe(false);
      expect(await readdir(out)).toEqual([]);
    } finally {
      await rm(stale, { recursive: true, force: true });
      await rm(dirname(a), { recursive: true, force: true });
      await rm(dirname(b), { recursive: true, force: true });
    }
  }, 60_000);
});

describe('a function bundle with no directory to be written in', () => {
  it('is held in memory as it was built, esbuild run once, when the cache directory is there but nothing more can be written (a full disk)', async () => {
    // Prepare: the temp directory (os.tmpdir()) with the cache directory in it, as an earlier
    // start left it, and every file written under it failing as on a full disk (ENOSPC); the
    // module loaded with that temp directory.
    const root = await mkdtemp(join(tmpdir(), 'bundle-full-'));
    const entry = join(root, 'full.ts');
    await writeFile(entry, "export const handler = async () => 'full';\n");
    const { cacheDir, restore } = await tmpdirOnAFullDisk(root);
    try {
      let bundles: typeof import('../../../local/function-bundle') | undefined;
      jest.isolateModules(() => {
        bundles = require('../../../local/function-bundle');
      });
      const before = bundles!.buildsStarted();

      // Act
      const bundle = await bundles!.bundleFunction(entry);
      const builds = bundles!.buildsStarted() - before;
      const inMemory = await bundles!.bundleInMemory(entry);

      // Assess: the bundle esbuild built for the cache is held in memory, named and mapped as a
      // bundle built in memory is; esbuild ran for it once (it had run again, in memory).
      expect(builds).toBe(1);
      expect(bundle.file).toBe(join(cacheDir, 'full.js'));
      expect(bundle.file).toBe(inMemory.file);
      expect(bundle.text).toContain('"full"');
      expect(bundle.frames.sources).toEqual(inMemory.frames.sources);
      expect(new Int32Array(bundle.frames.rows)).toEqual(new Int32Array(inMemory.frames.rows));
    } finally {
      restore();
      await rm(root, { recursive: true, force: true });
    }
  }, 30_000);
});
