import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main as demo } from '../../lab/demo/cli';
import { planLoad } from '../../lab/loadgen/domain/plan';
import { decideFaults, NO_FAULTS } from '../../services/consumer/src/domain/faults';
import type { Report } from '../../services/report/src/domain/report';

const SEED = 2026;
const ORDERS = 300;
const CUSTOMERS = 10;
const FAILURE_RATE = 0.02;

/**
 * The orders whose first receive the consumers fail in the default run (the consumers decide per
 * order from the cloud's seed, which is the demo's), and that have a later order of the same
 * customer. On the standard queue each of them is applied late, whatever the machine's speed:
 * the load sends a customer's next order as soon as this one is accepted, so it is applied within
 * a batch or two, while this one waits for its visibility timeout (skipped on the cloud's clock
 * only once the load is over and nothing is processed). FIFO holds the later orders back instead.
 * Without failures the standard queue can only reorder a customer's orders that happen to be in
 * the queue together, which on a loaded machine (the consumers outpacing the load) may be none.
 */
function lateOnStandard(): string[] {
  const plan = planLoad({
    runId: `demo-${SEED.toString(36)}`,
    orders: ORDERS,
    customers: CUSTOMERS,
    retryRate: 0.05,
    seed: SEED,
  });
  const faults = { ...NO_FAULTS, seed: SEED, firstAttemptFailureRate: FAILURE_RATE };
  return plan.customers.flatMap((list) =>
    list
      .slice(0, -1)
      .map((o) => o.idempotencyKey)
      .filter((key) => decideFaults(faults, key, 1).failure === 'first-attempt'),
  );
}

/**
 * `npm run demo` end to end at a small size (its own code path: local cloud in this process,
 * the demo fault model, client retries), checked against what the README promises it shows.
 */
/**
 * 300 orders through every part of the local cloud take well under a minute on an idle 2-core
 * machine and several times that while other test runs share its cores; the bound is for a hung
 * run, not a measure of speed.
 */
const DEMO_TIMEOUT_MS = 300_000;

describe('npm run demo', () => {
  let dir: string;
  const written: string[] = [];
  let stdout: jest.SpyInstance;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'demo-'));
  });

  beforeEach(() => {
    written.length = 0;
    stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (name: string, extra: string[] = []): Promise<Report> => {
    const out = join(dir, name);
    const code = await demo([
      '--orders',
      String(ORDERS),
      '--customers',
      String(CUSTOMERS),
      '--seed',
      String(SEED),
      '--out',
      out,
      ...extra,
    ]);
    expect(code).toBe(0);
    expect((await readdir(out)).sort()).toEqual(['report.html', 'report.json', 'report.md']);
    return JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as Report;
  };

  it(
    'shows FIFO in order without duplicates, and standard duplicates suppressed and orders out of sequence, nothing lost',
    async () => {
      const late = lateOnStandard();
      expect(late.length).toBeGreaterThan(0);
      const report = await run('default', ['--failure-rate', String(FAILURE_RATE)]);
      const { fifo, standard } = report.queues;
      expect(report.accepted).toBe(ORDERS);
      expect(written.join('')).toMatch(/out-of-order applies\s+0\s+[1-9]/);
      // FIFO: client retries answered from the order's record, re-sends after a lost answer
      // dropped by deduplication, no copy of its own, every customer in sequence. (A retry after
      // an attempt that failed or timed out is possible on a busy machine; it is not a copy.)
      expect([
        fifo.duplicateCauses.producerResend,
        fifo.duplicateCauses.queueCopy,
        fifo.outOfOrder,
        fifo.lost,
        fifo.duplicateEffects,
      ]).toEqual([0, 0, 0, 0, 0]);
      // Standard: duplicates delivered (re-sends after lost answers and the fault model), none
      // applied twice.
      expect(standard.duplicateDeliveries).toBeGreaterThan(0);
      expect(standard.duplicateCauses.producerResend).toBeGreaterThan(0);
      for (const m of [fifo, standard]) {
        const c = m.duplicateCauses;
        // Nothing is redriven in the demo: no new message of an order is taken for a redrive.
        expect(c.dlqRedrive).toBe(0);
        expect(c.producerResend + c.queueCopy + c.retryAfterFailure + c.dlqRedrive).toBe(
          m.duplicateDeliveries,
        );
      }
      expect(standard.suppressed).toBeGreaterThan(0);
      // Each failed order with a later one of its customer is applied late on standard (at
      // least; the queue may reorder more), and the same failures leave FIFO in sequence.
      expect(standard.outOfOrder).toBeGreaterThanOrEqual(late.length);
      expect(standard.duplicateCauses.retryAfterFailure).toBeGreaterThanOrEqual(late.length);
      expect([standard.lost, standard.duplicateEffects]).toEqual([0, 0]);
      // The last line says where the wall time went: phases that follow one another, so they add
      // up to the whole (each rounded to 0.1 s).
      const took = written
        .at(-1)
        ?.match(
          /^took (\d+\.\d) s: start (\d+\.\d) s, load (\d+\.\d) s, drain (\d+\.\d) s, report (\d+\.\d) s, stop (\d+\.\d) s, files (\d+\.\d) s\n$/,
        );
      expect(took).not.toBeNull();
      const [total, ...phases] = took!.slice(1).map(Number);
      expect(phases[1]).toBeGreaterThan(0);
      expect(Math.abs(phases.reduce((a, b) => a + b, 0) - total!)).toBeLessThanOrEqual(0.35);
      stdout.mockRestore();
    },
    DEMO_TIMEOUT_MS,
  );

  it(
    'with --no-idempotency, the standard queue applies duplicates twice',
    async () => {
      const report = await run('no-idempotency', ['--no-idempotency']);
      expect(report.queues.standard.duplicateEffects).toBeGreaterThan(0);
      expect(report.queues.standard.suppressed).toBe(0);
      // FIFO makes no copy of its own: a second effect there can only follow a failed or
      // timed-out attempt (a busy machine can time an invocation out), never a copy or a re-send.
      const fifo = report.queues.fifo;
      expect(fifo.duplicateCauses.queueCopy + fifo.duplicateCauses.producerResend).toBe(0);
      expect(fifo.duplicateEffects).toBeLessThanOrEqual(fifo.duplicateCauses.retryAfterFailure);
      expect(report.queues.standard.lost).toBe(0);
    },
    DEMO_TIMEOUT_MS,
  );

  it('with --live, prints the live url first and keeps the cloud up after the run until Ctrl-C', async () => {
    const out = join(dir, 'live');
    const finished = demo([
      '--orders',
      '20',
      '--customers',
      '2',
      '--seed',
      '7',
      '--out',
      out,
      '--live',
    ]);
    const line = async (pattern: RegExp): Promise<RegExpExecArray> => {
      for (;;) {
        const match = pattern.exec(written.join(''));
        if (match) return match;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const [, liveUrl] = await line(/^live: (http:\/\/127\.0\.0\.1:\d+\/_localcloud\/live)$/m);
    await line(/stays up; Ctrl-C stops the local cloud/);
    // The run is over and its report written, and the page is still served.
    expect((await readdir(out)).sort()).toEqual(['report.html', 'report.json', 'report.md']);
    expect(written.join('').indexOf(`live: ${liveUrl}\n`)).toBeLessThan(
      written.join('').indexOf('wrote '),
    );
    const page = await fetch(liveUrl!);
    expect(page.status).toBe(200);
    process.emit('SIGINT');
    expect(await finished).toBe(0);
    await expect(fetch(liveUrl!)).rejects.toThrow();
  }, 120_000);
});
