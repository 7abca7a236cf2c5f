import { readFileSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

/**
 * What one thread of the local cloud has used: CPU time from Linux's /proc/thread-self/stat
 * (utime + stime, in clock ticks of 10 ms; undefined where /proc is not there) and the V8 heap
 * it holds. Event-loop utilisation says how long a thread was busy by the wall clock, which on
 * a shared machine includes time it waited for a core; CPU time says what it used.
 */
export interface ThreadStats {
  cpuMs?: number;
  /** V8 heap committed by the thread's isolate, MiB. */
  heapMb: number;
  /**
   * The committed heap by V8 space, MiB: `new` (the young generation, both semi-spaces), `old`,
   * `code`, `large` (large objects, old and young), `other` (map and read-only spaces); plus
   * `malloced`, what V8 itself took with malloc outside the heap (compiler zones, tables).
   */
  spacesMb?: Record<'new' | 'old' | 'code' | 'large' | 'other' | 'malloced', number>;
}

type SpaceGroup = Exclude<keyof NonNullable<ThreadStats['spacesMb']>, 'malloced'>;

/**
 * Which of ThreadStats' groups a V8 heap space belongs to, written once as plain JavaScript:
 * worker threads run it inside THREAD_STATS_SOURCE and the main thread evaluates the same text,
 * so the two cannot group a space differently. (A compiled function's own text is no source
 * for a worker: a transform or coverage instrumentation rewrites it.)
 */
const SPACE_GROUP_SOURCE = `function spaceGroup(name) {
    if (name === 'new_space') return 'new';
    if (name === 'old_space') return 'old';
    if (name === 'code_space' || name === 'code_large_object_space') return 'code';
    if (name.endsWith('large_object_space')) return 'large';
    return 'other';
  }`;

const spaceGroup = new Function(`return ${SPACE_GROUP_SOURCE}`)() as (name: string) => SpaceGroup;

/** The same function as source, for worker threads that run plain JavaScript. */
export const THREAD_STATS_SOURCE = `function threadStats() {
  ${SPACE_GROUP_SOURCE}
  let cpuMs;
  try {
    const stat = require('node:fs').readFileSync('/proc/thread-self/stat', 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    cpuMs = (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {}
  const v8 = require('node:v8');
  const heap = v8.getHeapStatistics();
  const spacesMb = { new: 0, old: 0, code: 0, large: 0, other: 0, malloced: heap.malloced_memory / 1048576 };
  for (const s of v8.getHeapSpaceStatistics()) spacesMb[spaceGroup(s.space_name)] += s.space_size / 1048576;
  return { cpuMs, heapMb: heap.total_heap_size / 1048576, spacesMb };
}`;

export function threadStats(): ThreadStats {
  let cpuMs: number | undefined;
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'latin1');
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    cpuMs = (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    cpuMs = undefined;
  }
  const heap = getHeapStatistics();
  const spacesMb = { new: 0, old: 0, code: 0, large: 0, other: 0, malloced: 0 };
  spacesMb.malloced = heap.malloced_memory / 1048576;
  for (const s of getHeapSpaceStatistics())
    spacesMb[spaceGroup(s.space_name)] += s.space_size / 1048576;
  return {
    ...(cpuMs === undefined ? {} : { cpuMs }),
    heapMb: heap.total_heap_size / 1048576,
    spacesMb,
  };
}
