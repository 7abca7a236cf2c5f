import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main as soak } from '../../lab/soak/run';

/**
 * A bound for a hung run, not a measure of speed: 60 orders take seconds on an idle 2-core
 * machine and several times that while other test runs share its cores.
 */
const SOAK_TIMEOUT_MS = 300_000;

/**
 * `npm run soak` end to end at a small size, on its own code path (a local cloud in this
 * process, the demo fault model, consumer failures and crashes, client retries, lost answers):
 * it passes, and its `took` line accounts for the run's wall time phase by phase, with the CPU
 * time runOnLocalCloud measured for each.
 */
describe('npm run soak', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'soak-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(
    'passes, and says where its time went with how many cores each phase kept busy',
    async () => {
      const stderr: string[] = [];
      const err = jest.spyOn(process.stderr, 'write').mockImplementation((line) => {
        stderr.push(String(line));
        return true;
      });
      const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
      let code: number;
      try {
        code = await soak([
          '--orders',
          '60',
          '--customers',
          '6',
          '--seed',
          '7',
          '--failure-rate',
          '0.05',
          '--out',
          dir,
        ]);
      } finally {
        err.mockRestore();
        out.mockRestore();
      }
      expect({ code, last: stderr.at(-1) }).toEqual({
        code: 0,
        last: expect.stringMatching(/^soak passed in \d+ s \(seed 7\): 60 orders/),
      });
      // The consumers failed first receives: the drain skipped their visibility timeouts.
      const skips = stderr
        .find((l) => l.startsWith('visibility timeouts skipped'))
        ?.match(/in flight: (\d+);/);
      expect(Number(skips?.[1])).toBeGreaterThan(0);
      // Cores busy, and (Linux) cores more queued for.
      const cores = '\\((\\d+\\.\\d\\d) cores, (\\d+\\.\\d\\d) queued\\)';
      const phase = (name: string) => `${name} (\\d+\\.\\d) s ${cores}`;
      const took = stderr
        .at(-2)
        ?.match(
          new RegExp(
            `^took (\\d+\\.\\d) s ${cores}: ${['start', 'load', 'drain', 'report', 'stop', 'files', 'check'].map(phase).join(', ')}\\n$`,
          ),
        );
      expect(took).not.toBeNull();
      const [total, totalCores, totalQueued, ...rest] = took!.slice(1).map(Number);
      const walls = rest.filter((_, i) => i % 3 === 0);
      // Phases one after the other, from node's start to the check's end: they add up to the
      // whole (each rounded to 0.1 s). The load and the drain did work on the CPU.
      expect(Math.abs(walls.reduce((a, b) => a + b, 0) - total!)).toBeLessThanOrEqual(0.45);
      expect(totalCores).toBeGreaterThan(0);
      expect(totalQueued).toBeGreaterThanOrEqual(0);
      expect(rest[4]).toBeGreaterThan(0);
      expect(rest[7]).toBeGreaterThan(0);
    },
    SOAK_TIMEOUT_MS,
  );
});
