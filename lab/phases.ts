import { readdirSync, readFileSync } from 'node:fs';

/**
 * Where a run's time went, phase by phase: the demo's and the soak's last line. RunTimings
 * (below) holds the phases of runOnLocalCloud (lab/local-run.ts); each command adds its own after it.
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

/**
 * The wall time of a run's phases, in ms, one after the other: `start` until the local cloud is
 * ready (DynamoDB's thread, the emulator, the edge, the queues and tables, the functions' bundles
 * and first environments); `load` until every order of the load has its answer; `drain` until
 * the drain wait is certain both queues are empty and the ledger stands still (with the idle
 * environments ended, where asked); `report` the report's reads (ledger, DLQs, queue settings)
 * and its numbers; `stop` the cloud's shutdown. With `preload`, `drain` holds the consumers' whole
 * work. `stop` is set once the cloud has stopped, before
 * runOnLocalCloud resolves; with `beforeStop`, the time spent there is in none of them.
 */
export interface RunTimings extends Record<RunPhase, number> {
  /**
   * The process's use of the CPU in each phase (CpuReading, below): its CPU time (user +
   * system, every thread: the functions' environments, DynamoDB's thread and the main one) and,
   * on Linux, its threads' time runnable but queued for a core. Against the phase's wall time:
   * how much of it the process worked, and how much it waited rather than was starved.
   */
  cpu?: Record<RunPhase, CpuReading>;
  /**
   * The drain's skips of a visibility timeout on the cloud's clock (skipVisibilityWaits): each
   * one a wait for failed, crashed or surviving copies that the run did not spend in real time.
   */
  visibilitySkips?: number;
}

export type RunPhase = 'startMs' | 'loadMs' | 'drainMs' | 'reportMs' | 'stopMs';
