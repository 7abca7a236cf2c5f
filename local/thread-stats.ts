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

/** The same function as source, for worker threads that run plain JavaScript. */
export const THREAD_STATS_SOURCE = `function threadStats() {
  let cpuMs;
  try {
    const stat = require('node:fs').readFileSync('/proc/thread-self/stat', 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    cpuMs = (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {}
  const v8 = require('node:v8');
  const spacesMb = { new: 0, old: 0, code: 0, large: 0, other: 0, malloced: v8.getHeapStatistics().malloced_memory / 1048576 };
  for (const s of v8.getHeapSpaceStatistics()) {
    const key = s.space_name === 'new_space' ? 'new' : s.space_name === 'old_space' ? 'old' : s.space_name === 'code_space' || s.space_name === 'code_large_object_space' ? 'code' : s.space_name.endsWith('large_object_space') ? 'large' : 'other';
    spacesMb[key] += s.space_size / 1048576;
  }
  return { cpuMs, heapMb: v8.getHeapStatistics().total_heap_size / 1048576, spacesMb };
}`;

/** Which of ThreadStats' groups a V8 heap space belongs to. */
function spaceGroup(name: string): 'new' | 'old' | 'code' | 'large' | 'other' {
  if (name === 'new_space') return 'new';
  if (name === 'old_space') return 'old';
  if (name === 'code_space' || name === 'code_large_object_space') return 'code';
  if (name.endsWith('large_object_space')) return 'large';
  return 'other';
}

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
