import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * Makes `dir` ready to hold DynamoDB's tables (`npm start -- --data-dir`): creates it and any
 * missing parents, one at a time, and returns why it cannot be used, or undefined when it can.
 * Not `mkdir -p` (fs.mkdir's `recursive`): in a directory that refuses new entries with ENOENT,
 * as /proc does, node's recursive mkdir retries forever (mkdir /proc/x ENOENT, mkdir /proc EEXIST,
 * again), and LevelDB, which dynalite opens the store with, makes its directory that way.
 */
export function dataDirProblem(dir: string): string | undefined {
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
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (err) {
      return `cannot create ${d}: ${(err as Error).message}`;
    }
  }
  try {
    accessSync(full, constants.W_OK | constants.X_OK);
  } catch (err) {
    return `cannot write in ${full}: ${(err as Error).message}`;
  }
  return undefined;
}
