import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main as experiment } from '../../lab/experiments/cli';
import type { KeyResult, SweepResult } from '../../lab/experiments/experiments';
import { planLoad } from '../../lab/loadgen/domain/plan';
import { runOnLocalCloud } from '../../lab/local-run';
import { pipelineConfig } from '../../shared/src/config/pipeline';

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
    // 30 orders, not 60: the claim is per order (a re-sent order applied once or twice), so it
    // needs re-sends, not volume, and seed 11 with 30 orders still loses 3 standard answers
    // (asserted > 0 below, with 6 planned client retries). The test's time is two cloud starts
    // plus the load and its processing, all CPU work that a loaded 2-core machine stretches
    // (measured on a loaded machine: no timed wait in it; timed-out invocations' visibility
    // timeouts are skipped on the emulator's clock once nothing is in flight), so halving the
    // orders halves the part that grows with load instead of raising jest's timeout.
    const code = await experiment([
      'idempotency-key',
      '--orders',
      '30',
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
    // The same load in both runs, by construction: the seed plans every order and client retry,
    // and every order was accepted, so every planned retry was sent. (The producer's own count,
    // clientRetries, also holds the load generator's retries after a 503 or no answer, which a
    // loaded machine adds; it can differ between the runs and is not compared.)
    const plan = planLoad({
      runId: byOrder!.runId,
      orders: 30,
      customers: 4,
      retryRate: 0.2,
      seed: 11,
    });
    expect(plan.totalClientRetries).toBeGreaterThan(0);
    for (const r of [byOrder, byMessage]) {
      expect(r?.load).toMatchObject({ accepted: 30, retries: plan.totalClientRetries, errors: 0 });
      expect(r?.clientRetries).toBeGreaterThanOrEqual(plan.totalClientRetries);
    }
    expect(byMessage?.lostAnswers.standard).toBeGreaterThan(0);
    expect(byMessage?.lostAnswers).toEqual(byOrder?.lostAnswers);
    // The claim, from the ledger's evidence: the producer sent orders to the standard queue again
    // (a lost answer's re-send, or a send retried after its answer timed out on a loaded machine:
    // a second message id of one order). Keyed on orderId no re-send is applied again; keyed on
    // messageId every one is (faults none: no copy of SQS's own has a new message id).
    const resends = (r: KeyResult | undefined) => r?.queues.standard.duplicateCauses.producerResend;
    expect(resends(byOrder)).toBeGreaterThan(0);
    expect(resends(byMessage)).toBeGreaterThan(0);
    expect(byOrder?.queues.standard.duplicateEffects).toBe(0);
    expect(byMessage?.queues.standard.duplicateEffects).toBe(resends(byMessage));
    // FIFO drops every re-send (its deduplication id is the order id): none reaches a consumer.
    for (const r of [byOrder, byMessage]) {
      expect(r?.queues.fifo.duplicateCauses.producerResend).toBe(0);
      expect(r?.queues.fifo.duplicateEffects).toBe(0);
    }
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
      // Not the default 500 ms: what is asserted here does not depend on the service time, and
      // one group's 40 orders one at a time would take 20 s of it.
      '--service-ms',
      '50',
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
      // What bounds each queue, from the ledger's invocations: FIFO runs at most one batch per
      // message group (one group: one batch at a time), neither more than the maximum concurrency.
      expect(r.queues.fifo.batches.max).toBeLessThanOrEqual(Math.min(r.point.groups, 2));
      expect(r.queues.standard.batches.max).toBeLessThanOrEqual(2);
      for (const q of [r.queues.fifo, r.queues.standard]) {
        expect(q.batches.count).toBeGreaterThanOrEqual(40 / 5);
        expect(q.batches.max).toBeGreaterThanOrEqual(1);
      }
    }
    expect(results[0]?.queues.fifo.batches).toMatchObject({ max: 1 });
    const html = await readFile(join(out, 'sweep.html'), 'utf8');
    for (const r of results) {
      expect(html).toContain(
        `data-point="g${r.point.groups} c2 b5" data-value="${r.queues.standard.consumptionPerSec}"`,
      );
    }
    expect(html).toMatch(
      /id="measures">[^<]*filled with the same 40 orders[^<]*50 ms of simulated work/,
    );
    expect(html).toContain('<figure id="in-flight">');
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
      // A consumer timeout of its own, which the result must give the check as deployed.
      pipeline: { standard: { timeoutSeconds: 5 } },
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
    // The rate's span starts at the first receive, after the consumers were enabled (one clock).
    for (const q of [c?.fifo, c?.standard]) {
      expect(q?.firstReceivedAt).toBeGreaterThanOrEqual(q?.startedAt ?? Infinity);
      expect(q?.lastEffectAt).toBeGreaterThan(q?.firstReceivedAt ?? Infinity);
    }
    expect(result.data.report.queues.fifo.outOfOrder).toBe(0);
    // The consumers' timeout as the cloud deployed them (the override, the config's elsewhere).
    expect(result.functionTimeoutMs).toEqual({
      fifo: pipelineConfig.consumers.fifo.timeoutSeconds * 1000,
      standard: 5_000,
    });
  }, 120_000);
});
