import { readdirSync, readFileSync } from 'node:fs';
import type { RunTimings } from './local-run';

/**
 * Where a run's time went, phase by phase: the demo's and the soak's last line. RunTimings
 * (lab/local-run.ts) holds the phases of runOnLocalCloud; each command adds its own after it.
 */

/** The process's CPU time so far (user + system, all its threads), in ms. */
export function cpuMsNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Each thread's run delay last read, by thread id (runnableMsNow). */
const runDelayByThread = new Map<string, number>();

/**
 * The time the process's threads have spent runnable but waiting for a core, in ms: Linux's
 * run delay (/proc/self/task/<tid>/schedstat, its second field), summed over every thread seen
 * so far, an ended one with its last value read. Against a phase's wall time, the cores the
 * process wanted beyond those it got: on a machine shared with other work, a phase with few cores
 * busy and few queued waited; one with many queued was starved. Undefined where /proc does not
 * say (not Linux, or schedstats off).
 */
export function runnableMsNow(): number | undefined {
  let threads: string[];
  try {
    threads = readdirSync('/proc/self/task');
  } catch {
    return undefined;
  }
  for (const tid of threads) {
    try {
      const delayNs = Number(
        readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[1],
      );
      if (Number.isFinite(delayNs)) runDelayByThread.set(tid, delayNs / 1e6);
    } catch {
      // The thread ended since the directory was read: its last value stands.
    }
  }
  if (runDelayByThread.size === 0) return undefined;
  let total = 0;
  for (const ms of runDelayByThread.values()) total += ms;
  return total;
}

/** The process's use of the CPU so far: cpuMsNow(), and runnableMsNow() where known. */
export interface CpuReading {
  cpuMs: number;
  queuedMs?: number;
}

export function cpuReadingNow(): CpuReading {
  const queuedMs = runnableMsNow();
  return { cpuMs: cpuMsNow(), ...(queuedMs !== undefined ? { queuedMs } : {}) };
}

/** What the process used of the CPU from `from` to `to`. */
export function cpuBetween(from: CpuReading, to: CpuReading): CpuReading {
  return {
    cpuMs: to.cpuMs - from.cpuMs,
    ...(from.queuedMs !== undefined && to.queuedMs !== undefined
      ? { queuedMs: to.queuedMs - from.queuedMs }
      : {}),
  };
}

/** A phase of a run: its wall time, and what the process used of the CPU in it where measured. */
export interface Phase {
  name: string;
  ms: number;
  cpu?: CpuReading;
}

/**
 * A run's last line, `took ...`: where its wall time went, from node's start to the end the
 * caller gives. `start` counts from node's start (loading the modules, then the local cloud:
 * DynamoDB's thread, the emulator, the functions' bundles and first environments); the phases
 * RunTimings holds follow; then the caller's own after the run (the demo's and the soak's
 * `files`, rendering and writing the report files; the soak's `check`). Given the process's CPU
 * readings at the run's start and end (the soak's line), each phase also says how many cores
 * the process kept busy in it on average (CPU time over wall time) and, where Linux says, how
 * many more its threads were ready to use but queued for (run delay over wall time): few busy
 * and few queued is a phase that waited; many queued, one that other work on the machine starved.
 */
export function phasesLine(
  timings: RunTimings,
  run: {
    /** performance.now() when the run began: node's start up to then is start-up too. */
    startedAt: number;
    /** cpuReadingNow() then, where measured. */
    startedCpu?: CpuReading;
    endedAt: number;
    /** cpuReadingNow() at the end, where measured. */
    endedCpu?: CpuReading;
    /** The caller's phases after the run, in order. */
    after: readonly Phase[];
  },
): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const cores = (ms: number, cpu: CpuReading | undefined) => {
    if (cpu === undefined || ms <= 0) return '';
    const queued = cpu.queuedMs === undefined ? '' : `, ${(cpu.queuedMs / ms).toFixed(2)} queued`;
    return ` (${(cpu.cpuMs / ms).toFixed(2)} cores${queued})`;
  };
  const measured = run.endedCpu !== undefined && run.startedCpu !== undefined;
  const cpu = measured ? timings.cpu : undefined;
  const startCpu =
    cpu && run.startedCpu
      ? {
          cpuMs: run.startedCpu.cpuMs + cpu.startMs.cpuMs,
          ...(run.startedCpu.queuedMs !== undefined && cpu.startMs.queuedMs !== undefined
            ? { queuedMs: run.startedCpu.queuedMs + cpu.startMs.queuedMs }
            : {}),
        }
      : undefined;
  const phases: Phase[] = [
    { name: 'start', ms: run.startedAt + timings.startMs, ...(startCpu ? { cpu: startCpu } : {}) },
    { name: 'load', ms: timings.loadMs, ...(cpu ? { cpu: cpu.loadMs } : {}) },
    { name: 'drain', ms: timings.drainMs, ...(cpu ? { cpu: cpu.drainMs } : {}) },
    { name: 'report', ms: timings.reportMs, ...(cpu ? { cpu: cpu.reportMs } : {}) },
    { name: 'stop', ms: timings.stopMs, ...(cpu ? { cpu: cpu.stopMs } : {}) },
    ...run.after.map((p) => (cpu ? p : { name: p.name, ms: p.ms })),
  ];
  const parts = phases.map((p) => `${p.name} ${s(p.ms)}${cores(p.ms, p.cpu)}`);
  const total = measured ? run.endedCpu : undefined;
  return `took ${s(run.endedAt)}${cores(run.endedAt, total)}: ${parts.join(', ')}\n`;
}
