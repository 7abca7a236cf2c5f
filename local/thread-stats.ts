import fs from 'node:fs';
import v8 from 'node:v8';

/**
 * What one thread of the local cloud has used: CPU time from Linux's /proc/thread-self/stat
 * (utime + stime, in clock ticks of 10 ms; undefined where /proc is not there) and the V8 heap
 * it holds. Event-loop utilisation says how long a thread was busy by the wall clock, which on
 * a shared machine includes time it waited for a core; CPU time says what it used.
 */
export interface ThreadStats {
  cpuMs?: number;
  /** The thread's nice value (Linux, /proc/thread-self/stat); undefined where /proc is not there. */
  nice?: number;
  /** V8 heap committed by the thread's isolate, MiB. */
  heapMb: number;
  /**
   * The committed heap by V8 space, MiB: `new` (the young generation, both semi-spaces), `old`,
   * `code`, `large` (large objects, old and young), `other` (map and read-only spaces); plus
   * `malloced`, what V8 itself took with malloc outside the heap (compiler zones, tables).
   */
  spacesMb?: Record<'new' | 'old' | 'code' | 'large' | 'other' | 'malloced', number>;
  /**
   * Memory outside the heap that the thread's objects hold, MiB: V8's `external_memory`, mostly
   * ArrayBuffer and Buffer contents. It counts in the process's RSS and in no heap figure.
   */
  externalMb?: number;
}

/**
 * What threadStats() does, as plain JavaScript: worker threads run this text, and the main
 * thread evaluates the same text, so no thread measures differently. (A compiled function's own
 * text is no source for a worker: a transform or coverage instrumentation rewrites it.)
 */
export const THREAD_STATS_SOURCE = `function threadStats() {
  function spaceGroup(name) {
    if (name === 'new_space') return 'new';
    if (name === 'old_space') return 'old';
    if (name === 'code_space' || name === 'code_large_object_space') return 'code';
    if (name.endsWith('large_object_space')) return 'large';
    return 'other';
  }
  let cpuMs;
  let nice;
  try {
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    const stat = require('node:fs').readFileSync('/proc/thread-self/stat', 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    cpuMs = (Number(fields[11]) + Number(fields[12])) * 10;
    nice = Number(fields[16]);
  } catch {}
  const v8 = require('node:v8');
  const heap = v8.getHeapStatistics();
  const spacesMb = { new: 0, old: 0, code: 0, large: 0, other: 0, malloced: heap.malloced_memory / 1048576 };
  for (const s of v8.getHeapSpaceStatistics()) spacesMb[spaceGroup(s.space_name)] += s.space_size / 1048576;
  const stats = { cpuMs, nice, heapMb: heap.total_heap_size / 1048576, spacesMb };
  if (typeof heap.external_memory === 'number') stats.externalMb = heap.external_memory / 1048576;
  return stats;
}`;

/** THREAD_STATS_SOURCE evaluated here, with this module's fs and v8. */
const evaluated = new Function('require', `${THREAD_STATS_SOURCE}\nreturn threadStats;`)(
  (id: string) => (id === 'node:v8' ? v8 : id === 'node:fs' ? fs : undefined),
) as () => ThreadStats;

export function threadStats(): ThreadStats {
  const stats = evaluated();
  if (stats.cpuMs === undefined) delete stats.cpuMs;
  if (stats.nice === undefined) delete stats.nice;
  return stats;
}
