import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, extname, join, resolve } from 'node:path';
import { decode } from '@jridgewell/sourcemap-codec';
import type { BuildOptions, BuildResult, OutputFile, Plugin, SameShape } from 'esbuild';

/**
 * A handler module bundled the way the stack deploys it (infra's NodejsFunction: esbuild, one
 * CommonJS file with everything in it, the AWS SDK included), so an execution environment loads
 * one file instead of transforming and resolving hundreds of TypeScript and package modules in
 * every worker. That was most of an environment's cold start (about 1-2 s of CPU here) and part
 * of its memory; the build runs once per module per process and is shared by every environment.
 */

export interface FunctionBundle {
  /**
   * The bundle's path; its source map sits beside it (`.map`). For a bundle held in memory
   * (`text`), the path it would have had in the cache: nothing is there, but its frames and the
   * source map's relative paths are named from it.
   */
  file: string;
  /**
   * The bundle's code, for a bundle that could not be written anywhere (NoBundleDirectory: the
   * temp directory cannot be written): the environments compile it as `file`.
   */
  text?: string;
  /** The source map's positions, for the environments' stack traces (see FrameTable). */
  frames: FrameTable;
}

/**
 * A bundle's source map decoded once per process into shared memory, so every environment maps
 * its stack frames to TypeScript lines without a copy of its own. A map parsed inside each
 * environment (Node's SourceMap) held about 20 MB of heap there, for good, from the first stack
 * trace on: a producer environment went from about 10 to 30 MB (docs/benchmarks.md).
 */
export interface FrameTable {
  /**
   * The map's `sources` (relative to the bundle's directory); an entry that is not a string is
   * null, and no row points at it.
   */
  sources: Array<string | null>;
  /**
   * One row of FRAME_FIELDS Int32 values per mapped position, sorted by generated position:
   * generated line, generated column, source index, original line, original column (0-based).
   * Shared with every environment (a SharedArrayBuffer is not copied by postMessage).
   */
  rows: SharedArrayBuffer;
}

export const FRAME_FIELDS = 5;

/**
 * Decodes a source map's mappings into a FrameTable; positions without a source are left out.
 * The map is input, not trusted: decode() accepts any string and yields negative numbers for
 * garbage, so a segment with a negative field or a source that is not a string is left out
 * too (that position stays as V8 wrote it), and a map without a `sources` array has none.
 */
export function frameTable(map: { sources?: unknown; mappings?: unknown }): FrameTable {
  const sources = Array.isArray(map.sources)
    ? map.sources.map((s: unknown) => (typeof s === 'string' ? s : null))
    : [];
  const valid = (seg: number[]): boolean =>
    seg.length >= 4 && seg.every((n) => n >= 0) && typeof sources[seg[1]!] === 'string';
  // The mappings of a line are in column order; sorting keeps the binary search right for a
  // map that is not.
  const lines = decode(typeof map.mappings === 'string' ? map.mappings : '').map((line) =>
    line.filter(valid).sort((a, b) => a[0] - b[0]),
  );
  let count = 0;
  for (const line of lines) count += line.length;
  const rows = new SharedArrayBuffer(count * FRAME_FIELDS * Int32Array.BYTES_PER_ELEMENT);
  const view = new Int32Array(rows);
  let i = 0;
  lines.forEach((line, generatedLine) => {
    for (const seg of line) {
      view.set([generatedLine, seg[0], seg[1]!, seg[2]!, seg[3]!], i);
      i += FRAME_FIELDS;
    }
  });
  return { sources, rows };
}

/**
 * Where bundles and their records are kept between processes: one directory per user in the OS
 * temp directory, which other users can write into. What is found there is loaded as the
 * functions' code, so it is used only while it is this user's own (privateDir).
 */
const DIR = join(tmpdir(), `local-cloud-functions-${process.getuid?.() ?? 'user'}`);

/**
 * Whether `dir` is a directory that no one but this user can write into, made so (mode 700) when
 * it does not exist: a real directory, not a symlink, owned by this user, with no write permission
 * for group or others. Anyone who could write there could plant a bundle and a record naming it
 * (a record's own claims cannot be checked against anything an attacker could not also write), and
 * the local cloud would run that code as its functions. The temp directory is shared: another user
 * can create the directory first, or a symlink in its place.
 */
async function privateDir(dir: string): Promise<boolean> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const s = await lstat(dir);
    if (!s.isDirectory()) return false;
    if (process.platform === 'win32') return true;
    return s.uid === process.getuid?.() && (s.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/**
 * The start of the name of a directory a process builds into when the cache directory is not its
 * user's own (privateDir), followed by the process's pid and mkdtemp's random suffix: one such
 * directory per process, removed when the process exits, and by a later process of the same
 * user if it is still there (a process killed, or ended by a signal before its exit handlers
 * ran) and its pid runs nothing here. Each process had made a new one for every build and left
 * it, bundles and source maps of a few MB each, in the temp directory for good.
 */
const FALLBACK_PREFIX = `local-cloud-functions-${process.getuid?.() ?? 'user'}-fallback-`;
const FALLBACK_NAME = /^local-cloud-functions-(?:\d+|user)-fallback-(\d+)-\w{6}$/;

let fallback: Promise<string> | undefined;

/** This process's fallback directory, made (and stale ones removed) on first use. */
function fallbackDir(): Promise<string> {
  fallback ??= (async () => {
    await removeStaleFallbacks();
    const dir = await mkdtemp(join(tmpdir(), `${FALLBACK_PREFIX}${process.pid}-`));
    // Synchronous: an exit handler cannot wait. The environments hold what they loaded.
    process.once('exit', () => {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // Left for a later process to remove.
      }
    });
    return dir;
  })();
  fallback.catch(() => {
    fallback = undefined;
  });
  return fallback;
}

/**
 * A bundle that could be written neither into the cache nor into this process's fallback
 * directory: the temp directory (TMPDIR) is read-only, full, or not a directory. DynamoDB's
 * thread, which needs only the text of its bundle, builds it in memory instead (bundleText); so
 * does bundleFunction for the functions' environments, with its source map (bundleInMemory). The message says
 * what to change; the file system's error is in it, not a cause (the runtime reports a build's
 * cause as its error).
 */
export class NoBundleDirectory extends Error {
  /**
   * The bundle held in memory, when esbuild had built it before no file of it could be written
   * (not enumerable: a log of the error does not print its text).
   */
  declare readonly built?: FunctionBundle;

  constructor(modulePath: string, err: unknown, built?: FunctionBundle) {
    super(
      `cannot write the bundle of ${basename(modulePath)}: the temp directory ${tmpdir()} cannot be written (${(err as Error)?.message ?? String(err)}); set TMPDIR to a directory that can`,
    );
    this.name = 'NoBundleDirectory';
    Object.defineProperty(this, 'built', { value: built, enumerable: false });
  }
}

const noDirectory =
  (modulePath: string) =>
  (err: unknown): never => {
    throw new NoBundleDirectory(modulePath, err);
  };

/** Whether a process with this pid runs here (one this user may not signal runs too). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the fallback directories of this user's processes that no longer run: only a real
 * directory (not a symlink) owned by this user, named as fallbackDir names them, whose pid is
 * not running. Nothing else in the temp directory is touched, and a failure leaves it as it was.
 */
export async function removeStaleFallbacks(dir: string = tmpdir()): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(FALLBACK_PREFIX)) continue;
    const pid = Number(FALLBACK_NAME.exec(name)?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || running(pid)) continue;
    const path = join(dir, name);
    try {
      const s = await lstat(path);
      if (!s.isDirectory() || (process.platform !== 'win32' && s.uid !== process.getuid?.())) {
        continue;
      }
      await rm(path, { recursive: true, force: true });
      removed++;
    } catch {
      // Gone meanwhile, or not ours to remove.
    }
  }
  return removed;
}

/**
 * The directories named by NODE_PATH, absolute (relative ones from the working directory), as
 * the esbuild command line reads them (an empty entry is none): the deployed functions are built
 * by CDK running that command with this environment (aws-lambda-nodejs local bundling), so an
 * import found only through NODE_PATH is found by the build here too, where the build had not
 * looked there at all and failed to resolve it.
 */
function nodePaths(): string[] {
  return (process.env.NODE_PATH ?? '')
    .split(delimiter)
    .filter((p) => p !== '')
    .map((p) => resolve(p));
}

const builds = new Map<string, Promise<FunctionBundle>>();

/** A file or directory as a build found it: its inode, size and times, or `absent`. */
interface InputStamp {
  path: string;
  stamp: string;
}

function stampOf(path: string): Promise<InputStamp> {
  return stat(path, { bigint: true }).then(
    (s) => ({ path, stamp: `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}` }),
    () => ({ path, stamp: 'absent' }),
  );
}

/** Whether every file and directory stamped is as it was. */
async function unchanged(inputs: InputStamp[]): Promise<boolean> {
  const now = await Promise.all(inputs.map((input) => stampOf(input.path)));
  return now.every((s, i) => s.stamp === inputs[i]?.stamp);
}

/**
 * A build that failed (esbuild's error is its cause), with what it depended on: every file
 * esbuild loaded, each stamped before esbuild read it (an edit racing the build counts as a
 * change), the entry module, and the directory of each, which changes when a module is created
 * where an import found none ("Could not resolve").
 */
export class BuildFailure extends Error {
  constructor(
    cause: unknown,
    readonly inputs: InputStamp[],
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'BuildFailure';
  }
}

/**
 * esbuild's first message about the code a failed build read (its text, and none of a plugin's:
 * this runtime's own), or undefined when esbuild itself failed: its service stopped or never
 * started ("The service was stopped: write EPIPE"), a plugin failed. Only the former is the
 * code's failure, to answer again while the code is unchanged.
 */
export function codeMessage(failure: BuildFailure): string | undefined {
  const err = failure.cause instanceof Error ? failure.cause : failure;
  const messages = (err as Error & { errors?: unknown }).errors;
  const first = Array.isArray(messages)
    ? (messages[0] as { text?: unknown; pluginName?: unknown } | undefined)
    : undefined;
  return typeof first?.text === 'string' && !first.pluginName ? first.text : undefined;
}

let buildsRun = 0;

/** How many esbuild builds this process has started. */
export function buildsStarted(): number {
  return buildsRun;
}

/**
 * esbuild's version, read from its package.json: part of every bundle's key, and known without
 * loading esbuild's API, which a process that finds its bundles cached does not need.
 */
const ESBUILD_VERSION: string = require('esbuild/package.json').version;

let esbuildRunning = 0;

/**
 * One esbuild build, through esbuild's service (a child process the API starts on first use), which
 * is stopped once no build of this process runs. The service stayed for the process's life, one
 * per module instance of esbuild: one per jest test file that started DynamoDB or built a function,
 * each idle until its jest process ended. A later build starts it again. stop() also ends the
 * thread esbuild keeps for its synchronous calls if one runs (tsx's transforms go through the same
 * esbuild), which the next such call starts again.
 */
async function runEsbuild<T extends BuildOptions>(
  options: SameShape<BuildOptions, T>,
): Promise<BuildResult<T>> {
  const esbuild = await import('esbuild');
  esbuildRunning++;
  try {
    return await esbuild.build(options);
  } finally {
    if (--esbuildRunning === 0) void esbuild.stop();
  }
}

const sha256 = (data: string | Uint8Array): string =>
  createHash('sha256').update(data).digest('hex');

/** Everything given to esbuild besides the entry and the output directory. */
const BUILD_OPTIONS = {
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
  // functions' do (decoded once per process into the frame table every environment shares).
  sourcemap: 'linked',
  sourcesContent: false,
  logLevel: 'silent',
} as const;

/**
 * A build's inputs as the next process checks them, so that it can use the bundle without
 * building it again (esbuild took 2 to 2.6 s of both cores for each of the two handlers). It
 * holds, each hashed by its content: every file esbuild read (its metafile's inputs); every
 * package.json, tsconfig*.json, jsconfig*.json and lockfile (SETTINGS_FILE) in the directories of
 * those files and every directory above them (what module resolution and TypeScript's settings
 * read); and the names in the directories from each input's own up to its package's root (the
 * nearest with a package.json), with where each symlink there points, so that a file or package
 * added where resolution would find it first (an `x.ts` beside the `x.js` an import found, a
 * nested node_modules) or a link pointed elsewhere is a change too. Any
 * difference, a file gone or a directory unreadable, and the bundle is built again.
 */
interface InputsRecord {
  bundle: string;
  /**
   * The sha256 of the bundle and of its source map as written: what is found under the bundle's
   * name is used only if it is that, not a file cut short (a rename is atomic, not durable: a
   * crash can leave it empty) or otherwise changed since, which would fail every later start
   * that finds it, DynamoDB's included (its thread compiles json-keys.ts's bundle).
   */
  bundleSha256: string;
  mapSha256: string;
  /** esbuild's inputs, absolute. */
  inputs: string[];
  files: Record<string, string>;
  listings: Record<string, string>;
}

/**
 * Files that say how imports resolve and compile, hashed wherever a build's walk passes: besides
 * package.json and the tsconfig/jsconfig files, the lockfiles, and npm's record of what is installed
 * (node_modules/.package-lock.json, rewritten by every install), so that an install that changes
 * any package is a change even where it leaves every file the build read in place.
 */
const SETTINGS_FILE =
  /^(?:package\.json|[tj]sconfig.*\.json|\.?package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml)$/;

type Fingerprint = Pick<InputsRecord, 'files' | 'listings'>;

interface Listing {
  /** The directory's names, sorted. */
  entries: string[];
  /** What its record hashes: a line per name, and, for a symlink, where it points. */
  text: string;
}

/**
 * A directory's names, and where each symlink among them points: esbuild's inputs are real paths,
 * so a link on the way to them (a worktree's node_modules, a package linked in) pointed elsewhere
 * changes none of them, only the listing of the directory the link is in.
 */
async function listing(dir: string): Promise<Listing> {
  const dirents = await readdir(dir, { withFileTypes: true });
  const lines = await Promise.all(
    dirents.map(async (e) =>
      e.isSymbolicLink() ? `${e.name}\0${await readlink(join(dir, e.name))}` : e.name,
    ),
  );
  return { entries: dirents.map((e) => e.name).sort(), text: lines.sort().join('\n') };
}

/**
 * The fingerprint of `inputs` as they are now, or undefined if one cannot be read; with the
 * listing of each directory in `searched` (NODE_PATH's), or `absent` for one that cannot be
 * listed: resolution looks there for a package not found in any node_modules, so a package added
 * to an earlier one, or the directory made, can change the bundle.
 */
async function fingerprint(
  inputs: readonly string[],
  searched: readonly string[] = [],
): Promise<Fingerprint | undefined> {
  const files: Record<string, string> = {};
  const listings: Record<string, string> = {};
  const names = new Map<string, Promise<Listing>>();
  const list = (dir: string) => {
    let pending = names.get(dir);
    if (!pending) {
      pending = listing(dir);
      names.set(dir, pending);
    }
    return pending;
  };
  const hashFile = async (path: string) => {
    if (!(path in files)) files[path] = sha256(await readFile(path));
  };
  try {
    for (let i = 0; i < inputs.length; i += 64) {
      await Promise.all(inputs.slice(i, i + 64).map(hashFile));
    }
    const walked = new Set<string>();
    for (const input of inputs) {
      let dir = dirname(input);
      let inPackage = true;
      for (;;) {
        // Walked before with its listing taken where this walk needs it: so were those above.
        if (walked.has(dir) && (!inPackage || dir in listings)) break;
        const { entries, text } = await list(dir);
        if (inPackage && !(dir in listings)) listings[dir] = sha256(text);
        if (!walked.has(dir)) {
          walked.add(dir);
          for (const name of entries) if (SETTINGS_FILE.test(name)) await hashFile(join(dir, name));
        }
        if (entries.includes('package.json')) inPackage = false;
        const up = dirname(dir);
        if (up === dir) break;
        dir = up;
      }
    }
  } catch {
    return undefined;
  }
  for (const dir of searched) {
    if (dir in listings) continue;
    listings[dir] = await list(dir).then(
      ({ text }) => sha256(text),
      () => 'absent',
    );
  }
  return { files, listings };
}

function sameFingerprint(a: Fingerprint, b: Fingerprint): boolean {
  const same = (x: Record<string, string>, y: Record<string, string>) => {
    const keys = Object.keys(x);
    return keys.length === Object.keys(y).length && keys.every((k) => x[k] === y[k]);
  };
  return same(a.files, b.files) && same(a.listings, b.listings);
}

/** The bundle at `file`, if it and its map are what the record says (their sha256), else none. */
async function loaded(
  file: string,
  record: Pick<InputsRecord, 'bundleSha256' | 'mapSha256'>,
): Promise<FunctionBundle | undefined> {
  const [code, map] = await Promise.all([readFile(file), readFile(`${file}.map`)]);
  if (sha256(code) !== record.bundleSha256 || sha256(map) !== record.mapSha256) return undefined;
  return { file, frames: frameTable(JSON.parse(map.toString('utf8'))) };
}

/** Whether `path` holds exactly `data` (false if it cannot be read). */
async function holds(path: string, data: Uint8Array): Promise<boolean> {
  return readFile(path).then(
    (found) => Buffer.from(data.buffer, data.byteOffset, data.byteLength).equals(found),
    () => false,
  );
}

/**
 * A temporary name beside `path` of this write's own: the pid alone is not one (two builds of one
 * process, or processes of two pid namespaces sharing the temp directory, wrote the same one, and
 * the second truncated the file the first was renaming into place, then failed to rename it).
 */
const temporary = (path: string): string =>
  `${path}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`;

/**
 * Writes the bundle `name` and its map into `dir`, each under a temporary name then renamed into
 * place (the map first, so a bundle found has its map), unless both already hold exactly this: a
 * file of the name that holds anything else (cut short, another build's map) is replaced.
 */
async function place(
  dir: string,
  name: string,
  text: Uint8Array,
  map: Uint8Array,
): Promise<string> {
  const file = join(dir, name);
  for (const [path, data] of [
    [`${file}.map`, map],
    [file, text],
  ] as const) {
    if (await holds(path, data)) continue;
    const tmp = temporary(path);
    try {
      await writeFile(tmp, data);
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
  }
  return file;
}

/** A bundle's name as buildBundle gives it: the module's name, a hash, `.js`. */
const BUNDLE_NAME = /^[\w.-]+-[0-9a-f]{16}\.js$/;

/**
 * The bundle the record at `recordPath` names, if its inputs are all as recorded. A record that
 * is not one buildBundle writes (no inputs, a bundle elsewhere, a field of another type) is none.
 */
async function fromCache(
  recordPath: string,
  dir: string,
  searched: readonly string[],
): Promise<FunctionBundle | undefined> {
  let record: InputsRecord;
  try {
    record = JSON.parse(await readFile(recordPath, 'utf8'));
  } catch {
    return undefined;
  }
  const isMap = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (
    typeof record?.bundle !== 'string' ||
    !BUNDLE_NAME.test(record.bundle) ||
    !Array.isArray(record.inputs) ||
    record.inputs.length === 0 ||
    !record.inputs.every((p) => typeof p === 'string') ||
    !isMap(record.files) ||
    !isMap(record.listings) ||
    typeof record.bundleSha256 !== 'string' ||
    typeof record.mapSha256 !== 'string'
  ) {
    return undefined;
  }
  const now = await fingerprint(record.inputs, searched);
  if (!now || !sameFingerprint(now, record)) return undefined;
  return loaded(join(dir, record.bundle), record).catch(() => undefined);
}

/**
 * `modulePath`'s bundle built as buildBundle builds it, but held in memory only: no source map, no
 * cache read or written, no directory made. For a process that has no directory to write a bundle
 * in (the temp directory read-only, or full), where buildBundle fails (NoBundleDirectory): DynamoDB's thread compiles
 * json-keys.ts's bundle from its text, and needs no file of it. (A function's bundle held in
 * memory keeps its source map: bundleInMemory.)
 */
export async function bundleText(modulePath: string): Promise<string> {
  const out = await runEsbuild({
    entryPoints: [modulePath],
    ...BUILD_OPTIONS,
    mainFields: [...BUILD_OPTIONS.mainFields],
    sourcemap: false,
    nodePaths: nodePaths(),
    write: false,
  });
  const code = out.outputFiles[0];
  if (!code) throw new Error(`esbuild produced no bundle for ${modulePath}`);
  return code.text;
}

/**
 * What one build of `modulePath` reads: a plugin that stamps each file before esbuild reads it
 * (`loaded`), and `failed`, which throws a build's error as a BuildFailure with those stamps,
 * the entry module's and their directories' (what FunctionBuild checks before building again).
 */
function inputsOfBuild(modulePath: string): {
  loaded: Array<Promise<InputStamp>>;
  recordInputs: Plugin;
  failed: (err: unknown) => Promise<never>;
} {
  const loaded: Array<Promise<InputStamp>> = [];
  // Loads nothing itself (undefined: esbuild reads the file); only notes each file first.
  const recordInputs: Plugin = {
    name: 'record-inputs',
    setup(b) {
      // Awaited: esbuild reads the file once the callback has answered, so the stamp is the
      // file's before that read, not one a stat finishing later might see.
      b.onLoad({ filter: /.*/ }, async ({ path }) => {
        const stamp = stampOf(path);
        loaded.push(stamp);
        await stamp;
        return undefined;
      });
    },
  };
  // What the failed build depended on, as BuildFailure keeps it.
  const failed = async (err: unknown): Promise<never> => {
    const files = [...(await Promise.all(loaded)), await stampOf(modulePath)];
    const dirs = new Set(files.map((f) => dirname(f.path)));
    const stamps = [...files, ...(await Promise.all([...dirs].map(stampOf)))];
    // The first stamp of a path is the one taken before esbuild read it.
    const inputs = [...new Map(stamps.reverse().map((s) => [s.path, s])).values()];
    throw new BuildFailure(err, inputs);
  };
  return { loaded, recordInputs, failed };
}

/**
 * `modulePath`'s bundle built as buildBundle builds it, source map included, but held in memory:
 * no cache read or written, no directory made. For a process with no directory to write a bundle
 * in (buildBundle fails with NoBundleDirectory): the environments compile `text` as `file` (the
 * path the bundle would have had in the cache, which the map's sources are relative to), and map
 * their stack frames through `frames` as for a bundle on disk. Built again by every process. A
 * build that fails is a BuildFailure with the inputs it read, as buildBundle's is: FunctionBuild
 * answers it again without building while they are unchanged (it had no inputs, and every new
 * environment of a module that does not build ran esbuild again).
 */
export async function bundleInMemory(modulePath: string): Promise<FunctionBundle> {
  buildsRun++;
  const { recordInputs, failed } = inputsOfBuild(modulePath);
  const out = await runEsbuild({
    entryPoints: [modulePath],
    ...BUILD_OPTIONS,
    mainFields: [...BUILD_OPTIONS.mainFields],
    sourcemap: 'external',
    nodePaths: nodePaths(),
    outdir: DIR,
    write: false,
    plugins: [recordInputs],
  }).catch(failed);
  const { code, map } = codeAndMap(out.outputFiles, modulePath);
  return {
    file: code.path,
    text: code.text,
    frames: frameTable(JSON.parse(map.text)),
  };
}

/** The bundle and its source map among a build's output files (write: false). */
function codeAndMap(
  files: readonly OutputFile[],
  modulePath: string,
): { code: OutputFile; map: OutputFile } {
  const code = files.find((f) => f.path.endsWith('.js'));
  const map = files.find((f) => f.path.endsWith('.js.map'));
  if (!code || !map) throw new Error(`esbuild produced no bundle for ${modulePath}`);
  return { code, map };
}

/** What buildBundle did: built with esbuild, or found the bundle of unchanged inputs. */
export type BundleOrigin = 'built' | 'cached';

/**
 * Builds `modulePath`'s bundle into `cacheDir`, or finds it there built from the same inputs by an
 * earlier process (InputsRecord). Bundles are named by content, so concurrent processes and later
 * runs share one and never see half of one: written under a temporary name, then renamed into
 * place; so are the records. `recorded` settles once a build's record is written (or given up).
 * A `cacheDir` that is not this user's own (privateDir) is not used: the bundle is built into
 * this process's fallback directory (fallbackDir), and nothing is read or recorded.
 */
export async function buildBundle(
  modulePath: string,
  cacheDir: string = DIR,
): Promise<FunctionBundle & { origin: BundleOrigin; recorded: Promise<void> }> {
  // A directory others can write into is neither read nor recorded in: the bundle is built into a
  // directory of this process's own.
  const cache = await privateDir(cacheDir);
  const dir = cache ? cacheDir : await fallbackDir().catch(noDirectory(modulePath));
  // NODE_PATH's directories are where the build looks for a package no node_modules has: a
  // bundle built with one NODE_PATH is not the bundle of another.
  const searched = nodePaths();
  const key = sha256(
    JSON.stringify({
      format: 3,
      esbuild: ESBUILD_VERSION,
      options: BUILD_OPTIONS,
      nodePaths: searched,
      modulePath,
      cwd: process.cwd(),
    }),
  ).slice(0, 16);
  const recordPath = join(dir, `${basename(modulePath, extname(modulePath))}-${key}.inputs.json`);
  const cached = cache ? await fromCache(recordPath, dir, searched) : undefined;
  if (cached) return { ...cached, origin: 'cached', recorded: Promise.resolve() };
  // A file or directory modified after this moment may have been read by esbuild before or after
  // the change: its build is not recorded (mtime at or after it, with a second's slack for coarse
  // clocks). The files esbuild loaded are also checked by their stamps (below).
  const startedAt = Date.now() - 1000;
  buildsRun++;
  const { loaded, recordInputs, failed } = inputsOfBuild(modulePath);
  const out = await runEsbuild({
    entryPoints: [modulePath],
    ...BUILD_OPTIONS,
    mainFields: [...BUILD_OPTIONS.mainFields],
    nodePaths: searched,
    outdir: dir,
    write: false,
    metafile: true,
    plugins: [recordInputs],
  }).catch(failed);
  const { code, map } = codeAndMap(out.outputFiles, modulePath);
  // Named by the map too: the same code built from another checkout (a worktree) has a map of its
  // own sources, and each checkout's record finds its own pair.
  const hash = sha256(Buffer.concat([code.contents, map.contents])).slice(0, 16);
  const name = `${basename(modulePath, extname(modulePath))}-${hash}.js`;
  const text = Buffer.from(
    Buffer.from(code.contents)
      .toString('utf8')
      .replace(/\/\/# sourceMappingURL=\S+\s*$/, `//# sourceMappingURL=${name}.map\n`),
  );
  // Made again if it went meanwhile; another user's in its place is not written into. A cache
  // directory that cannot be written (a read-only file system, a full disk, its mode) leaves the
  // bundle to this process's fallback directory, unrecorded, as one that is not the user's own
  // does: the build is done, and a cache is not worth failing the start (DynamoDB's) over.
  // With nowhere to write it, the bundle just built goes with the error, held in memory as
  // bundleInMemory holds one (bundleFunction), so that esbuild does not run a second time for it.
  const unwritten = (err: unknown): never => {
    throw new NoBundleDirectory(modulePath, err, {
      file: code.path,
      text: code.text,
      frames: frameTable(JSON.parse(map.text)),
    });
  };
  let recordable = cache;
  let file: string;
  try {
    if (!(await privateDir(dir))) throw new Error(`${dir} is not a directory of this user's own`);
    file = await place(dir, name, text, map.contents);
  } catch (err) {
    if (!cache) return unwritten(err);
    recordable = false;
    file = await fallbackDir()
      .then((fallbackTo) => place(fallbackTo, name, text, map.contents))
      .catch(unwritten);
  }
  const inputs = Object.keys(out.metafile?.inputs ?? {}).map((p) => resolve(p));
  // Recorded while the environments load the bundle, not before they may: reading and hashing
  // a thousand files is on this thread, and a process that ends first only leaves the next one
  // to build again.
  const recorded = (async () => {
    if (!recordable || inputs.length === 0) return;
    const read = new Map((await Promise.all(loaded)).map((s) => [s.path, s.stamp]));
    const now = await fingerprint(inputs, searched);
    if (!now) return;
    // What was hashed is what esbuild read only if nothing changed in between, checked after the
    // hashing, not before it. Each file esbuild loaded still has the stamp it had before esbuild
    // read it: its inode, size, mtime and ctime, so that a file rewritten with an old mtime (npm
    // extracts every package file dated 1985) is a change too. And no file or directory the record
    // holds was modified since the build began (a change within a coarse clock's tick).
    const loadedNow = await Promise.all(inputs.map(stampOf));
    if (loadedNow.some((s) => read.get(s.path) !== s.stamp)) return;
    const untouched = await Promise.all(
      [...Object.keys(now.files), ...Object.keys(now.listings)].map((p) =>
        stat(p).then(
          (s) => s.mtimeMs < startedAt,
          // A NODE_PATH directory that does not exist is recorded as absent, not as changed.
          () => now.listings[p] === 'absent',
        ),
      ),
    );
    if (!untouched.every(Boolean)) return;
    const tmp = temporary(recordPath);
    const record: InputsRecord = {
      bundle: name,
      bundleSha256: sha256(text),
      mapSha256: sha256(map.contents),
      inputs,
      ...now,
    };
    try {
      await writeFile(tmp, JSON.stringify(record));
      await rename(tmp, recordPath);
    } catch {
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  })().catch(() => undefined);
  return {
    file,
    frames: frameTable(JSON.parse(Buffer.from(map.contents).toString('utf8'))),
    origin: 'built',
    recorded,
  };
}

/**
 * The bundle of `modulePath`, built (or found built, buildBundle) on first use in this process
 * and shared by every function built from it. A failed build is not kept here: a cloud started later in the process builds
 * again (see FunctionBuild for the failure one cloud's function keeps).
 */
export function bundleFunction(modulePath: string): Promise<FunctionBundle> {
  // Per NODE_PATH too: another NODE_PATH may resolve the module's imports elsewhere.
  const key = `${modulePath}\0${nodePaths().join(delimiter)}`;
  let pending = builds.get(key);
  if (!pending) {
    // No directory to write it in: held in memory (bundleInMemory).
    pending = buildBundle(modulePath).then(
      ({ file, frames }) => ({ file, frames }),
      (err: unknown) => {
        if (err instanceof NoBundleDirectory) return err.built ?? bundleInMemory(modulePath);
        throw err;
      },
    );
    pending.catch(() => builds.delete(key));
    builds.set(key, pending);
  }
  return pending;
}

/**
 * One function's bundle (a LocalFunction's, for as long as its cloud runs): bundleFunction's,
 * and, when that build failed, the failure, answered again without building while every input
 * of that build is unchanged. A function whose module does not build fails every invocation with
 * its init error, and each one had run esbuild again: up to seconds of CPU on the cores the
 * whole cloud shares, for an answer known in advance. Its input changed (the module fixed, a
 * missing one created), the next environment builds again; so does a cloud started anew, whose
 * functions are new.
 */
export class FunctionBuild {
  private failure: BuildFailure | undefined;

  constructor(private readonly modulePath: string) {}

  async bundle(): Promise<FunctionBundle> {
    const failure = this.failure;
    if (failure && (await unchanged(failure.inputs))) throw failure;
    try {
      return await bundleFunction(this.modulePath);
    } catch (err) {
      // Kept only when it is the code's: esbuild itself failing (its service killed) had been
      // answered again to every later environment of the function while its code was unchanged,
      // though the next build, in a new service, would have worked.
      if (err instanceof BuildFailure && codeMessage(err) !== undefined) this.failure = err;
      throw err;
    }
  }
}
