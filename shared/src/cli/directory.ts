import { randomBytes } from 'node:crypto';
import { mkdirSync, realpathSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { CliError, UsageError } from './args';

/** Kernel file systems: no files can be made there, and a mkdir can make a kernel object. */
const KERNEL_FILE_SYSTEMS = ['/proc', '/sys'];

/**
 * Makes `dir` ready to hold files a CLI writes (`--out`, `npm start -- --data-dir`): creates it
 * and any missing parents, one at a time, and returns why it cannot be used, or undefined when it
 * can. Not `mkdir -p` (fs.mkdir's `recursive`): in a directory that refuses new entries with
 * ENOENT, as /proc does, node's recursive mkdir retries forever (mkdir /proc/x ENOENT, mkdir /proc
 * EEXIST, again; node 20 and 24), and LevelDB, which dynalite opens the store with, makes its
 * directory that way. A path in /proc or /sys is refused before any mkdir (under /sys a mkdir can
 * make a cgroup). Whether files can be made in it is tried with one (removed at once): access()
 * says yes to root for a directory no one can write in, /proc/self.
 *
 * With `make: false` (a default directory made only when there is a file for it, as `npm run
 * load`'s reports/<run id>), the same checks leave no directory behind: a file is made and removed
 * in the deepest directory that exists, which is what making the missing ones later needs of it.
 */
export function directoryProblem(
  dir: string,
  { make = true }: { make?: boolean } = {},
): string | undefined {
  const full = resolve(dir);
  const missing: string[] = [];
  let at = full;
  for (;;) {
    try {
      if (!statSync(at).isDirectory()) return `${at} is not a directory`;
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // ENOTDIR: a parent further up is a file, which the walk up reaches.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return (err as Error).message;
      const up = dirname(at);
      if (up === at) return (err as Error).message;
      missing.unshift(at);
      at = up;
    }
  }
  let real: string;
  try {
    real = realpathSync(at);
  } catch (err) {
    return (err as Error).message;
  }
  const kernel = KERNEL_FILE_SYSTEMS.find((k) => real === k || real.startsWith(`${k}${sep}`));
  if (kernel !== undefined)
    return `${full} is in ${kernel}, a kernel file system that holds no files`;
  if (!make && missing.length > 0) {
    // A file of a name no other process uses, in the deepest directory that exists: making
    // an entry there is what making the missing ones later needs. Not the first missing
    // directory made and removed again: checks of one default path in several processes at once
    // (jest's workers, two loads) took each other's directory away between the mkdir and the
    // rmdir, or between a stat and a mkdir, and about one check in 200 read EEXIST or ENOENT.
    const probe = join(at, `.write-check-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      writeFileSync(probe, '', { flag: 'wx' });
    } catch (err) {
      return `cannot create ${missing[0]}: ${(err as Error).message}`;
    }
    try {
      unlinkSync(probe);
    } catch {
      // Removed meanwhile by someone else: nothing of ours is left.
    }
    return undefined;
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (err) {
      // Made meanwhile by another process (another run making the same parents): it serves.
      if (madeMeanwhile(err, d)) continue;
      return `cannot create ${d}: ${(err as Error).message}`;
    }
  }
  const probe = join(full, `.write-check-${process.pid}`);
  try {
    writeFileSync(probe, '', { flag: 'wx' });
    unlinkSync(probe);
  } catch (err) {
    return `cannot write in ${full}: ${(err as Error).message}`;
  }
  return undefined;
}

/** Whether a mkdir of `dir` failed because another process made it between the stat and the mkdir. */
function madeMeanwhile(err: unknown, dir: string): boolean {
  if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false;
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The directory a `--<flag>` names, made ready before the CLI does any work: a usage error (one
 * line, exit 2) when it cannot hold files, where the run used to end after its work with a stack
 * trace (`--out /dev/null`: EEXIST) or never (`--out /proc/x`).
 */
export function outputDirectory(flag: string, dir: string): string {
  const problem = directoryProblem(dir);
  if (problem !== undefined) throw new UsageError(`--${flag} ${dir} cannot be used: ${problem}`);
  return dir;
}

/**
 * A default output directory (`dir`, used when `--<flag>` is not given), checked before the CLI
 * does any work and not made (it is made when a file is written into it): a usage error (one
 * line, exit 2) when it could not hold files, where `npm run load` found a `reports` file in the
 * way, or a directory it may not write in, only after the whole load.
 */
export function defaultOutputDirectory(flag: string, dir: string): string {
  const problem = directoryProblem(dir, { make: false });
  if (problem !== undefined) {
    throw new UsageError(
      `the default output directory ${dir} cannot be used: ${problem}; give --${flag} <dir>`,
    );
  }
  return dir;
}

/**
 * Makes sure `dir` still exists right before files are written into it (it was checked up front
 * with outputDirectory; something may have removed it since): a one-line error, exit 1, when it
 * cannot be made.
 */
export function ensureDirectory(dir: string): void {
  const problem = directoryProblem(dir);
  if (problem !== undefined) throw new CliError(`cannot write files into ${dir}: ${problem}`);
}
