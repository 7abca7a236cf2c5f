import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';

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
}

/** The same function as source, for worker threads that run plain JavaScript. */
export const THREAD_STATS_SOURCE = `function threadStats() {
  let cpuMs;
  try {
    const stat = require('node:fs').readFileSync('/proc/thread-self/stat', 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    cpuMs = (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {}
  return { cpuMs, heapMb: require('node:v8').getHeapStatistics().total_heap_size / 1048576 };
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
  return {
    ...(cpuMs === undefined ? {} : { cpuMs }),
    heapMb: getHeapStatistics().total_heap_size / 1048576,
  };
}
