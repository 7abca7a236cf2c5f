import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Clock } from '../../local/sqs/clock';
import type { FaultConfig, FaultDice } from '../../local/sqs/faults';
import type { Queue } from '../../local/sqs/queue';
import { UsageError } from '../../shared/src/cli/args';

/** One checkout's local/sqs queue, clock and no-fault dice, as the in-process benches drive it. */
export interface Impl {
  name: string;
  Queue: new (
    name: string,
    attributes: Record<string, string>,
    accountId: string,
    region: string,
    clock: Clock,
  ) => Queue;
  Clock: new () => Clock;
  dice: FaultDice;
  none: FaultConfig;
}

/** Imports local/sqs from the tree at `root` (the working tree or an extracted revision). */
export async function load(name: string, root: string): Promise<Impl> {
  const mod = (p: string) => import(pathToFileURL(path.join(root, p)).href);
  const [{ Queue }, { Clock }, { FaultDice, PRESETS }] = await Promise.all([
    mod('local/sqs/queue.ts'),
    mod('local/sqs/clock.ts'),
    mod('local/sqs/faults.ts'),
  ]);
  return { name, Queue, Clock, dice: new FaultDice(1), none: PRESETS.none };
}

/**
 * The working tree's local/sqs and, with `before`, that revision's (extracted with git archive into
 * a temporary directory, listed first); `cleanup` removes the extraction.
 */
export async function loadImpls(
  before: string | undefined,
  bench: string,
): Promise<{ impls: Impl[]; cleanup: () => void }> {
  const repo = path.resolve(import.meta.dirname, '../..');
  const impls = [await load('working tree', repo)];
  if (before === undefined) return { impls, cleanup: () => {} };
  if (!/^[\w./~^-]+$/.test(before)) throw new UsageError(`--before: not a revision: ${before}`);
  const tmp = mkdtempSync(path.join(os.tmpdir(), `bench-sqs-${bench}-`));
  const cleanup = () => rmSync(tmp, { recursive: true, force: true });
  try {
    const tar = execFileSync('git', ['-C', repo, 'archive', before, 'local/sqs', 'shared/src']);
    execFileSync('tar', ['-x', '-C', tmp], { input: tar });
    impls.unshift(await load(`before (${before})`, tmp));
  } catch (err) {
    cleanup();
    throw err;
  }
  return { impls, cleanup };
}
