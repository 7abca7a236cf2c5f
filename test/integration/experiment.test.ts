import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main as experiment } from '../../lab/experiments/cli';
import type { KeyResult, SweepResult } from '../../lab/experiments/experiments';
import { runOnLocalCloud } from '../../lab/local-run';

/** `npm run experiment` on real in-process local clouds, at a small size. */
describe('npm run experiment', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'experiment-'));
  });

  beforeEach(() => {
    jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('idempotency-key: messageId keying lets re-sent orders through, orderId does not', async () => {
    const out = join(dir, 'key');
    const code = await experiment([
      'idempotency-key',
      '--orders',
      '60',
      '--customers',
      '4',
      '--retry-rate',
      '0.2',
      '--lost-answers',
      '0.1',
      '--faults',
      'none',
      '--seed',
      '11',
      '--out',
      out,
    ]);
    expect(code).toBe(0);
    const { results } = JSON.parse(await readFile(join(out, 'idempotency-key.json'), 'utf8')) as {
      results: KeyResult[];
    };
    const [byOrder, byMessage] = results;
    expect(byOrder?.key).toBe('orderId');
    expect(byMessage?.key).toBe('messageId');
    expect(byOrder?.clientRetries).toBeGreaterThan(0);
    expect(byMessage?.clientRetries).toBe(byOrder?.clientRetries);
    expect(byOrder?.queues.standard.duplicateEffects).toBe(0);
    // Client retries of recorded orders send nothing; a lost answer's re-send is a new message.
    // Without SQS faults, every extra standard effect is one re-send applied again.
    expect(byMessage?.lostAnswers.standard).toBeGreaterThan(0);
    expect(byMessage?.lostAnswers).toEqual(byOrder?.lostAnswers);
    expect(byMessage?.queues.standard.duplicateEffects).toBe(byMessage?.lostAnswers.standard);
    // The report finds exactly those re-sends in the ledger, as producer re-sends, on both runs.
    for (const r of [byOrder, byMessage]) {
      expect(r?.queues.standard.duplicateCauses.producerResend).toBe(r?.lostAnswers.standard);
      expect(r?.queues.fifo.duplicateCauses.producerResend).toBe(0);
    }
    expect([
      byOrder?.queues.fifo.duplicateEffects,
      byMessage?.queues.fifo.duplicateEffects,
    ]).toEqual([0, 0]);
  }, 120_000);

  it('sweep: one run per point, with the charts of every point in sweep.html', async () => {
    const out = join(dir, 'sweep');
    const code = await experiment([
      'sweep',
      '--groups',
      '1,3',
      '--concurrency',
      '2',
      '--batch-size',
      '5',
      '--orders',
      '40',
      '--seed',
      '12',
      '--out',
      out,
    ]);
    expect(code).toBe(0);
    const { results } = JSON.parse(await readFile(join(out, 'sweep.json'), 'utf8')) as {
      results: SweepResult[];
    };
    expect(results.map((r) => r.point.groups)).toEqual([1, 3]);
    for (const r of results) {
      expect(r.queues.fifo.outOfOrder).toBe(0);
      expect(r.queues.fifo.lost + r.queues.standard.lost).toBe(0);
      expect(r.queues.fifo.consumptionPerSec).toBeGreaterThan(0);
      expect(r.queues.standard.consumptionPerSec).toBeGreaterThan(0);
    }
    const html = await readFile(join(out, 'sweep.html'), 'utf8');
    for (const r of results) {
      expect(html).toContain(
        `data-point="g${r.point.groups} c2 b5" data-value="${r.queues.standard.consumptionPerSec}"`,
      );
    }
    expect(html).toMatch(/id="measures">[^<]*filled with the same 40 orders/);
  }, 180_000);
});

describe('a preloaded local run (what the sweep times)', () => {
  it('fills both queues before any consumer runs, then drains one queue at a time', async () => {
    // Prepare
    let loadDoneAt = 0;
    const orders = 30;

    // Act
    const result = await runOnLocalCloud({
      runId: 'preload-1',
      seed: 21,
      orders,
      customers: 3,
      retryRate: 0,
      faults: 'none',
      preload: true,
      onLoadProgress: (p) => {
        if (p.done === p.total) loadDoneAt = Date.now();
      },
    });

    // Assess
    const c = result.consumption;
    expect(c).toBeDefined();
    expect(result.load.accepted).toBe(orders);
    expect([c?.fifo.processed, c?.standard.processed]).toEqual([orders, orders]);
    // Consumers were enabled after the last order was accepted, FIFO first and alone: the
    // standard consumers started only once FIFO's last effect had committed.
    expect(c?.fifo.startedAt).toBeGreaterThanOrEqual(loadDoneAt);
    expect(c?.standard.startedAt).toBeGreaterThanOrEqual(c?.fifo.lastEffectAt ?? Infinity);
    expect(result.data.report.queues.fifo.outOfOrder).toBe(0);
  }, 120_000);
});
