import { createHash } from 'node:crypto';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';

/**
 * A handler module bundled the way the stack deploys it (infra's NodejsFunction: esbuild, one
 * CommonJS file with everything in it, the AWS SDK included), so an execution environment loads
 * one file instead of transforming and resolving hundreds of TypeScript and package modules in
 * every worker. That was most of an environment's cold start (about 1-2 s of CPU here) and part
 * of its memory; the build runs once per module per process and is shared by every environment.
 */

export interface FunctionBundle {
  /** The bundle's path; its source map sits beside it (`.map`). */
  file: string;
}

const DIR = join(tmpdir(), 'local-cloud-functions');
const builds = new Map<string, Promise<FunctionBundle>>();

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function build(modulePath: string): Promise<FunctionBundle> {
  const { build: esbuild } = await import('esbuild');
  const out = await esbuild({
    entryPoints: [modulePath],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    // Smaller source held in every environment's heap; identifiers stay, so stack traces and
    // logs name the real functions.
    minifyWhitespace: true,
    minifySyntax: true,
    // ES module builds first, where a package ships both: esbuild leaves out what the handler
    // never imports (an SDK client's other commands and their schemas), about 3 MB less heap
    // per environment than the CommonJS builds.
    mainFields: ['module', 'main'],
    target: `node${process.versions.node.split('.')[0]}`,
    // Stack traces in the functions' logs point at the TypeScript lines, as the deployed
    // functions' do (the runtime reads the map when it first formats a stack trace).
    sourcemap: 'linked',
    sourcesContent: false,
    outdir: DIR,
    write: false,
    logLevel: 'silent',
  });
  const code = out.outputFiles.find((f) => f.path.endsWith('.js'));
  const map = out.outputFiles.find((f) => f.path.endsWith('.js.map'));
  if (!code || !map) throw new Error(`esbuild produced no bundle for ${modulePath}`);
  // Named by content, so concurrent processes and later runs share a bundle and never see half
  // of one: written under a temporary name, then renamed into place.
  const hash = createHash('sha256').update(code.contents).digest('hex').slice(0, 16);
  const name = `${basename(modulePath, extname(modulePath))}-${hash}.js`;
  const file = join(DIR, name);
  if (!(await exists(file))) {
    await mkdir(DIR, { recursive: true });
    const text = Buffer.from(code.contents)
      .toString('utf8')
      .replace(/\/\/# sourceMappingURL=\S+\s*$/, `//# sourceMappingURL=${name}.map\n`);
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(`${tmp}.map`, map.contents);
    await rename(`${tmp}.map`, `${file}.map`);
    await writeFile(tmp, text);
    await rename(tmp, file);
  }
  return { file };
}

/** The bundle of `modulePath`, built on first use in this process. */
export function bundleFunction(modulePath: string): Promise<FunctionBundle> {
  let pending = builds.get(modulePath);
  if (!pending) {
    pending = build(modulePath);
    // A failed build is not cached: the next environment tries again (and reports the error).
    pending.catch(() => builds.delete(modulePath));
    builds.set(modulePath, pending);
  }
  return pending;
}
