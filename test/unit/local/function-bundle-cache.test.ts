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
import { dirname, join } from 'node:path';
import { buildBundle } from '../../../local/function-bundle';

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
