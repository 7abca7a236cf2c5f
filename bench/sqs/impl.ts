import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Clock } from '../../local/sqs/clock';
import type { FaultConfig, FaultDice } from '../../local/sqs/faults';
import type { Queue } from '../../local/sqs/queue';

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
