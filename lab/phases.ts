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

/**
 * A run's last line, `took ...`: where its wall time went, from node's start to the end the
 * caller gives. `start` counts from node's start (loading the modules, then the local cloud:
 * DynamoDB's thread, the emulator, the functions' bundles and first environments); the phases
 * RunTimings holds follow; then the caller's own after the run (the demo's and the soak's
 * `files`, rendering and writing the report files; the soak's `check`). Given the CPU time at
 * the run's start and end (the soak's line), each phase also says how many cores the process kept
 * busy in it on average, its CPU time over its wall time: RunTimings.cpuMs for the run's phases,
 * the caller's `cpuMs` for its own.
 */
export function phasesLine(
  timings: RunTimings,
  run: {
    /** performance.now() when the run began: node's start up to then is start-up too. */
    startedAt: number;
    /** The process's CPU time then (cpuMsNow()), where measured. */
    startedCpuMs?: number;
    endedAt: number;
    /** The process's CPU time at the end, where measured. */
    endedCpuMs?: number;
    /** The caller's phases after the run, in order, with their wall and (optionally) CPU time. */
    after: readonly { name: string; ms: number; cpuMs?: number }[];
  },
): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const cores = (ms: number, cpuMs: number | undefined) =>
    cpuMs === undefined || ms <= 0 ? '' : ` (${(cpuMs / ms).toFixed(2)} cores)`;
  const cpu = run.endedCpuMs === undefined ? undefined : timings.cpuMs;
  const phases = [
    {
      name: 'start',
      ms: run.startedAt + timings.startMs,
      cpuMs: cpu && run.startedCpuMs !== undefined ? run.startedCpuMs + cpu.startMs : undefined,
    },
    { name: 'load', ms: timings.loadMs, cpuMs: cpu?.loadMs },
    { name: 'drain', ms: timings.drainMs, cpuMs: cpu?.drainMs },
    { name: 'report', ms: timings.reportMs, cpuMs: cpu?.reportMs },
    { name: 'stop', ms: timings.stopMs, cpuMs: cpu?.stopMs },
    ...run.after.map((p) => (cpu ? p : { name: p.name, ms: p.ms })),
  ];
  const parts = phases.map((p) => `${p.name} ${s(p.ms)}${cores(p.ms, p.cpuMs)}`);
  return `took ${s(run.endedAt)}${cores(run.endedAt, run.endedCpuMs)}: ${parts.join(', ')}\n`;
}
