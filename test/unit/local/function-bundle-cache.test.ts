import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBundle } from '../../../local/function-bundle';

/**
 * The bundles kept across processes: a bundle is used again only while everything its build read
 * is as it was, and built again after any change that could give a different bundle.
 */
describe('function bundles found built by an earlier process', () => {
  let root: string;
  let out: string;
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
    root = await mkdtemp(join(tmpdir(), 'bundle-cache-'));
    out = join(root, 'out');
    await write('package.json', '{"name":"app"}');
    await write(
      'src/entry.ts',
      "import { v } from './dep';\nimport { w } from 'pkg';\nexport const handler = async () => v + ':' + w;\n",
    );
    await write('src/dep.js', "exports.v = 'dep-js';\n");
    await write('node_modules/pkg/package.json', '{"name":"pkg","main":"a.js"}');
    await write('node_modules/pkg/a.js', "exports.w = 'pkg-a';\n");
    await write('node_modules/pkg/b.js', "exports.w = 'pkg-b';\n");
    // Files written this second would count as changed during the build: dated an hour back.
    const hourAgo = new Date(Date.now() - 3_600_000);
    for (const f of [
      'package.json',
      'src/entry.ts',
      'src/dep.js',
      'node_modules/pkg/package.json',
      'node_modules/pkg/a.js',
      'node_modules/pkg/b.js',
    ]) {
      await utimes(join(root, f), hourAgo, hourAgo);
    }
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
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
    const { readdir } = await import('node:fs/promises');
    const record = (await readdir(out)).find((f) => f.endsWith('.inputs.json'))!;
    await writeFile(
      join(out, record),
      '{"bundle":"../../etc/passwd","inputs":[],"files":{},"listings":{}}',
    );
    expect((await build()).origin).toBe('built');
    await rm(first.file);
    expect((await build()).origin).toBe('built');
  });
});
