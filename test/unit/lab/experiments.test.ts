import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batchesInFlight, consumptionFromLedger, skippedWithin } from '../../../lab/consumption';
import { main as experimentMain, intList } from '../../../lab/experiments/cli';
import {
  DEFAULT_SERVICE_MS,
  idempotencyKeyEnv,
  lostAnswersOf,
  pointOverrides,
  type RunOnCloud,
  runIdempotencyKeyExperiment,
  runSweep,
  serviceTimeEnv,
  sweepGrid,
} from '../../../lab/experiments/experiments';
import { renderKeyTable, renderSweepHtml, renderSweepTable } from '../../../lab/experiments/render';
import { type GivenUpOrder, runLoad } from '../../../lab/loadgen/run-load';
import type { LocalRunOptions } from '../../../lab/local-run';
import type { RunLedger } from '../../../services/report/src/domain/metrics';
import { cliScratch } from '../../support/cli-scratch';
import { closingApi, emptyReport, loadOptionsOf, quietRunParts, standInRun } from './given-up-run';

describe('experiment plumbing', () => {
  it('builds every combination of the sweep grid in a stable order', () => {
    const grid = sweepGrid([1, 10], [2, 5], [1, 10]);
    expect(grid).toHaveLength(8);
    expect(grid[0]).toEqual({ groups: 1, maximumConcurrency: 2, batchSize: 1 });
    expect(grid[7]).toEqual({ groups: 10, maximumConcurrency: 5, batchSize: 10 });
  });
  it('turns a point into consumer overrides for both queues', () => {
    expect(pointOverrides({ groups: 3, maximumConcurrency: 7, batchSize: 4 })).toEqual({
      fifo: { maximumConcurrency: 7, batchSize: 4 },
      standard: { maximumConcurrency: 7, batchSize: 4 },
    });
  });
  it('sets the consumers idempotency key variable', () => {
    expect(idempotencyKeyEnv('messageId')).toEqual({
      fifo: { IDEMPOTENCY_KEY: 'messageId' },
      standard: { IDEMPOTENCY_KEY: 'messageId' },
    });
  });
});

const ORDER_IDS = Array.from({ length: 40 }, (_, i) => `order-${i}`);

describe('experiment runs (the local cloud replaced by a recording fake)', () => {
  const consumed = (ordersPerSec: number, inFlight: number) => ({
    startedAt: 0,
    firstReceivedAt: 0,
    lastEffectAt: 1,
    processed: 1,
    ordersPerSec,
    skippedMs: 0,
    unendedInvocations: 0,
    batches: { count: 4, mean: inFlight - 0.25, max: inFlight, batchMs: 700 },
  });
  function fakeRun(calls: LocalRunOptions[]): RunOnCloud {
    return async (options) => {
      calls.push(options);
      const data = emptyReport(options.runId);
      // What the options would produce: throughput grows with concurrency, messageId keying
      // lets client retries through on the standard queue.
      const c = options.pipeline?.fifo?.maximumConcurrency ?? 0;
      data.report.queues.fifo.throughputPerSec = c * 10;
      data.report.queues.standard.throughputPerSec = c * 12;
      const messageId = options.consumerEnv?.standard?.IDEMPOTENCY_KEY === 'messageId';
      data.report.queues.standard.duplicateEffects = messageId ? 7 : 0;
      // A preloaded run times the consumers: FIFO bound by groups, standard by concurrency.
      const consumption = options.preload
        ? {
            fifo: consumed(Math.min(c, options.customers) * 5, Math.min(c, options.customers)),
            standard: consumed(c * 6, c),
          }
        : undefined;
      return {
        data,
        load: {
          accepted: options.orders,
          retries: 0,
          backoffRetries: 0,
          errors: 0,
          givenUp: [],
          orderIds: ORDER_IDS,
        } as never,
        ...quietRunParts(),
        ...(consumption ? { consumption } : {}),
      };
    };
  }

  it('runs one fresh cloud per sweep point with that point as the consumer settings', async () => {
    const calls: LocalRunOptions[] = [];
    const points = sweepGrid([1, 4], [2], [10]);
    const results = await runSweep(
      points,
      { orders: 50, retryRate: 0, seed: 9 },
      { run: fakeRun(calls) },
    );
    expect(
      calls.map((c) => [
        c.customers,
        c.pipeline?.standard?.maximumConcurrency,
        c.pipeline?.fifo?.batchSize,
      ]),
    ).toEqual([
      [1, 2, 10],
      [4, 2, 10],
    ]);
    expect(calls.every((c) => c.seed === 9 && c.orders === 50 && c.skipVisibilityWaits)).toBe(true);
    // Both queues are filled first, and every effect gets the default service time.
    expect(calls.every((c) => c.preload === true)).toBe(true);
    expect(calls[0]?.consumerEnv).toEqual({
      fifo: { FAULT_SLOW_RATE: '1', FAULT_SLOW_MS: String(DEFAULT_SERVICE_MS) },
      standard: { FAULT_SLOW_RATE: '1', FAULT_SLOW_MS: String(DEFAULT_SERVICE_MS) },
    });
    // The sweep reports the consumers' rate on a full queue, not the end-to-end figure.
    expect(results.map((r) => r.queues.fifo.consumptionPerSec)).toEqual([5, 10]);
    expect(results.map((r) => r.queues.fifo.throughputPerSec)).toEqual([20, 20]);
    expect(results.map((r) => r.queues.fifo.batches.max)).toEqual([1, 2]);
    const table = renderSweepTable(results);
    expect(table).toContain('fifo orders/s');
    expect(table).toContain('fifo in flight');
    // Per queue: orders/s, batches in flight mean (max), ms per batch, out-of-order applies.
    expect(table.split('\n')[2]).toMatch(
      /^1\s+2\s+10\s+5\.0\s+0\.8 \(1\)\s+700\s+0\s+12\.0\s+1\.8 \(2\)\s+700\s+0$/,
    );
    // No clock skipped in any window: no notes under the table.
    expect(table.trimEnd().split('\n')).toHaveLength(2 + results.length);
    // A point whose FIFO window had a skip says so under the table, with its timed-out batches.
    const skipped = structuredClone(results);
    skipped[0]!.queues.fifo.skippedMs = 61_000;
    skipped[0]!.queues.fifo.unendedInvocations = 1;
    expect(
      renderSweepTable(skipped)
        .trimEnd()
        .split('\n')
        .slice(2 + results.length),
    ).toEqual([
      'g1 c2 b10 fifo: 61.0 s of skipped clock inside its window, left out of orders/s; 1 invocation(s) did not end (timed out or died)',
    ]);
  });

  it('gives no service time when asked for 0 ms', () => {
    expect(serviceTimeEnv(0)).toEqual({ fifo: {}, standard: {} });
    expect(serviceTimeEnv(50).standard).toEqual({ FAULT_SLOW_RATE: '1', FAULT_SLOW_MS: '50' });
  });

  it('charts every point and queue in a self-contained page', async () => {
    const results = await runSweep(
      sweepGrid([1], [2, 5], [1]),
      { orders: 10, retryRate: 0, seed: 3 },
      { run: fakeRun([]) },
    );
    const html = renderSweepHtml(results, { seed: 3, orders: 10, serviceMs: 20, faults: 'none' });
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\//);
    // The page says what its numbers measure.
    expect(html).toMatch(
      /id="measures">[^<]*filled with the same 10 orders[^<]*20 ms of simulated work/,
    );
    const bars = [
      ...html.matchAll(/<rect data-queue="(\w+)" data-point="([^"]+)" data-value="([\d.]+)"/g),
    ];
    expect(
      bars.filter((b) => b[2] === 'g1 c5 b1' && b[1] === 'standard').map((b) => b[3]),
    ).toContain('30');
    // Three charts (orders/s, batches in flight, out-of-order), two points, two queues.
    expect(bars).toHaveLength(3 * 2 * 2);
    const inFlight = html.split('<figure id="in-flight">')[1]?.split('</figure>')[0] ?? '';
    expect(inFlight).toContain('data-point="g1 c5 b1" data-value="4.75"');
    expect(html).toMatch(/id="measures">[^<]*in flight: batches at work at once/);
  });

  it('keys the same load on orderId and then on messageId, with lost send answers injected', async () => {
    const calls: LocalRunOptions[] = [];
    const results = await runIdempotencyKeyExperiment(
      { orders: 40, customers: 4, retryRate: 0.1, seed: 5, lostAnswerRate: 0.25 },
      { run: fakeRun(calls) },
    );
    expect(calls.map((c) => c.consumerEnv?.fifo?.IDEMPOTENCY_KEY)).toEqual([
      'orderId',
      'messageId',
    ]);
    expect(calls.map((c) => c.producerEnv?.FAULT_LOST_SEND_ANSWER_RATE)).toEqual(['0.25', '0.25']);
    // The lost answers are the producer's own seeded decisions for the accepted orders.
    expect(results[0]?.lostAnswers).toEqual(
      lostAnswersOf(ORDER_IDS, { seed: 5, lostAnswerRate: 0.25 }),
    );
    expect(results[0]?.lostAnswers.standard).toBeGreaterThan(0);
    expect(results.map((r) => [r.key, r.queues.standard.duplicateEffects])).toEqual([
      ['orderId', 0],
      ['messageId', 7],
    ]);
    expect(renderKeyTable(results)).toMatch(/messageId\s+0\s+.*\s7$/m);
  });

  it('fails the idempotency-key experiment when either run had client retries answered wrongly or an order given up, even one the API holds (the two loads differ)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'idem-exit-'));
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const argv = ['idempotency-key', '--orders', '40', '--seed', '5', '--out', dir];
      // Both runs sent the whole load: a comparison, exit 0.
      expect(await experimentMain(argv, fakeRun([]))).toBe(0);
      expect(await readdir(dir)).toEqual(['idempotency-key.json']);
      // The second run (keyed on messageId) had 3 client retries answered wrongly (errors, with
      // no order given up): exit 1, and said why.
      const mismatched: RunOnCloud = async (options) => {
        const r = await fakeRun([])(options);
        if (options.consumerEnv?.standard?.IDEMPOTENCY_KEY === 'messageId') {
          (r.load as { errors: number }).errors = 3;
        }
        return r;
      };
      expect(await experimentMain(argv, mismatched)).toBe(1);
      expect(err.mock.calls.map(([line]) => String(line))).toContain(
        'error: keyed on messageId, 3 client retries were not answered 202 with the same order id: the two runs did not send the same load\n',
      );
      // The first run (keyed on orderId) gave up on an order the API holds all the same: no load
      // error, but that order went without its planned client retries: exit 1 too.
      const held: RunOnCloud = async (options) => {
        const r = await fakeRun([])(options);
        if (options.consumerEnv?.standard?.IDEMPOTENCY_KEY === 'orderId') {
          r.load.givenUp = [
            {
              idempotencyKey: 'order-3',
              attempts: 9,
              why: 'retries ran out',
              last: 'HTTP 500: internal error',
              atApi: 'accepted',
            },
          ];
        }
        return r;
      };
      expect(await experimentMain(argv, held)).toBe(1);
      expect(err.mock.calls.map(([line]) => String(line))).toContain(
        'error: keyed on orderId, the client gave up on 1 orders (0 not accepted by the API): the two runs did not send the same load\n',
      );
    } finally {
      out.mockRestore();
      err.mockRestore();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/**
 * A load the client cut off (--unreachable-after: every connection refused or with no route for
 * the window) did not send what the experiment claims to compare: as `npm run load` and the demo,
 * the command exits 1 with a line naming the point or run (it exited 0).
 */
describe('experiment runs whose load was cut off', () => {
  const s = cliScratch('experiment-cut-off-');
  const run = (options: LocalRunOptions, load: Record<string, unknown>) => ({
    data: emptyReport(options.runId),
    load: {
      accepted: options.orders,
      retries: 0,
      backoffRetries: 0,
      errors: 0,
      retryMismatches: 0,
      retriesUnanswered: 0,
      retriesNotMade: 0,
      givenUp: [],
      orderIds: ORDER_IDS,
      ...load,
    } as never,
    ...quietRunParts(),
  });
  /** Cut off with every order accepted: only planned client retries left unmade, no error. */
  const cutOff = {
    retriesNotMade: 3,
    unreachable: { sinceMs: 100, atMs: 300, refusals: 5, windowMs: 200 },
  };
  const cutOffLine =
    'the API could not be reached for 0.2 s (every connection refused or with no route, --unreachable-after): the load client stopped sending, 3 planned client retries not made';
  const errors = () => s.stderr.filter((l) => l.startsWith('error:'));

  it('sweep: a clean sweep exits 0; one whose point c5 was cut off with only client retries left exits 1 naming that point alone', async () => {
    const argv = ['sweep', '--groups', '1', '--concurrency', '2,5', '--batch-size', '1'];
    const clean: RunOnCloud = async (options) => run(options, {});
    expect(await experimentMain([...argv, '--seed', '3', '--out', s.dir], clean)).toBe(0);
    expect(errors()).toEqual([]);
    const one: RunOnCloud = async (options) =>
      run(options, options.pipeline?.fifo?.maximumConcurrency === 5 ? cutOff : {});
    const out = join(s.dir, 'cut');
    expect(await experimentMain([...argv, '--seed', '3', '--out', out], one)).toBe(1);
    expect(errors()).toEqual([`error: g1 c5 b1: ${cutOffLine}\n`]);
    // The results file says so of that point.
    const written = JSON.parse(await readFile(join(out, 'sweep.json'), 'utf8'));
    expect(
      written.results.map((r: { load: { unreachable?: unknown } }) => r.load.unreachable),
    ).toEqual([undefined, cutOff.unreachable]);
  });

  it('sweep: the real load client, its API gone mid-load, gives up the rest and the point is named with them (--unreachable-after 0.2 reaches it)', async () => {
    const argv = ['sweep', '--groups', '1', '--concurrency', '2,5', '--batch-size', '1'];
    // Point c5's API accepts 2 orders and closes at the 3rd POST: every later try is refused.
    const gone: RunOnCloud = async (options) => {
      if (options.pipeline?.fifo?.maximumConcurrency !== 5) return run(options, {});
      const api = await closingApi(3);
      try {
        const load = await runLoad({
          ...loadOptionsOf(options),
          apiUrl: api.url,
          concurrency: 1,
          rate: 0,
          backoff: { baseMs: 1, capMs: 4 },
          retryDeadlineMs: 5_000,
          lookupDeadlineMs: 500,
          ...(options.unreachableWindowMs !== undefined
            ? { unreachableWindowMs: options.unreachableWindowMs }
            : {}),
        });
        return { ...run(options, {}), load };
      } finally {
        await api.close();
      }
    };
    const code = await experimentMain(
      [...argv, '--orders', '6', '--seed', '3', '--unreachable-after', '0.2', '--out', s.dir],
      gone,
    );
    expect(code).toBe(1);
    const file = join(s.dir, 'given-up-g1-c5-b1.json');
    const given = JSON.parse(await readFile(file, 'utf8')) as GivenUpOrder[];
    expect(given.map((g) => g.why)).toEqual(Array(4).fill('API unreachable'));
    expect(errors()).toEqual([
      `error: g1 c5 b1: the load client gave up on 4 orders the API does not hold (lost by the client, not by a queue): ${given.map((g) => g.idempotencyKey).join(', ')}, all in ${file}; the API could not be reached for 0.2 s (every connection refused or with no route, --unreachable-after): the load client stopped sending\n`,
    ]);
  }, 60_000);

  it('idempotency-key: a run cut off with only client retries left fails, saying so (no error, nothing given up)', async () => {
    const argv = ['idempotency-key', '--orders', '40', '--seed', '5', '--out', s.dir];
    const one: RunOnCloud = async (options) =>
      run(options, options.consumerEnv?.standard?.IDEMPOTENCY_KEY === 'messageId' ? cutOff : {});
    expect(await experimentMain(argv, one)).toBe(1);
    expect(errors()).toEqual([
      `error: keyed on messageId, ${cutOffLine}: the two runs did not send the same load\n`,
    ]);
  });
});

/**
 * What the experiments say of the orders their load client gave up on: the real load client sends
 * each run's load to a stand-in API that refuses some orders (422) and answers 500 to every try
 * of others, some of them recorded all the same (given-up-run.ts).
 */
describe('experiment runs whose load client gave up on orders', () => {
  const s = cliScratch('experiment-given-up-');

  const read = async (file: string) =>
    JSON.parse(await readFile(join(s.dir, file), 'utf8')) as GivenUpOrder[];

  it("idempotency-key: names them per run, writes each run's to its own file and fails, the two loads being different", async () => {
    const { run, roles } = standInRun();
    const argv = ['idempotency-key', '--orders', '20', '--customers', '2', '--seed', '5'];
    expect(await experimentMain([...argv, '--out', s.dir], run)).toBe(1);
    expect((await readdir(s.dir)).sort()).toEqual([
      'given-up-messageId.json',
      'given-up-orderId.json',
      'idempotency-key.json',
    ]);
    // Of 20 orders, 4 refused, 4 failed and not recorded, 4 failed after their record.
    for (const key of ['orderId', 'messageId']) {
      const path = join(s.dir, `given-up-${key}.json`);
      const written = await read(`given-up-${key}.json`);
      expect(written).toHaveLength(12);
      expect(
        written.filter((g) => g.atApi === 'accepted').map((g) => roles.get(g.idempotencyKey)),
      ).toEqual(Array(4).fill('fail-recorded'));
      expect(s.stderr).toContain(
        `keyed on ${key}: given up by the client: 12 orders got no 202; 4 of them held by the API all the same (counted accepted), 8 not accepted by the API: lost by the client, not by a queue (no queue was sent them, so the queues' counts, lost included, leave them out); all 12 in ${path}\n`,
      );
      expect(s.stderr).toContain(
        `error: keyed on ${key}, the client gave up on 12 orders (8 not accepted by the API): the two runs did not send the same load\n`,
      );
      // Its summary line says so too.
      expect(s.stderr.find((l) => l.startsWith(`keyed on ${key}: standard lost answers`))).toMatch(
        /; the load client gave up on 12 orders, 8 not accepted by the API \(lost by the client, not by a queue\)\n$/,
      );
    }
    // The first 10 of each run named, then how many more.
    expect(
      s.stderr.filter((l) => /^ {2}\S+: (refused|retries ran out) after /.test(l)),
    ).toHaveLength(20);
    expect(s.stderr.filter((l) => l === '  ... and 2 more\n')).toHaveLength(2);
    // The results file holds them too.
    const results = JSON.parse(await readFile(join(s.dir, 'idempotency-key.json'), 'utf8'));
    expect(results.results[0].load.givenUp).toEqual(await read('given-up-orderId.json'));
  });

  it("sweep: notes them under the table per point, writes each point's to its own file and exits 1 naming the point and the orders the API does not hold (it exited 0)", async () => {
    const { run } = standInRun();
    const argv = ['sweep', '--groups', '2', '--concurrency', '2', '--batch-size', '1'];
    expect(
      await experimentMain([...argv, '--orders', '10', '--seed', '4', '--out', s.dir], run),
    ).toBe(1);
    expect((await readdir(s.dir)).sort()).toEqual([
      'given-up-g2-c2-b1.json',
      'sweep.html',
      'sweep.json',
    ]);
    // Of 10 orders, 2 refused, 2 failed and not recorded, 2 failed after their record.
    expect(await read('given-up-g2-c2-b1.json')).toHaveLength(6);
    expect(s.stdout.join('')).toContain(
      'g2 c2 b1: the load client gave up on 6 orders, 4 not accepted by the API (lost by the client, not by a queue); its queues were filled with 6 orders\n',
    );
    expect(s.stderr).toContain(
      `g2 c2 b1: given up by the client: 6 orders got no 202; 2 of them held by the API all the same (counted accepted), 4 not accepted by the API: lost by the client, not by a queue (no queue was sent them, so the queues' counts, lost included, leave them out); all 6 in ${join(s.dir, 'given-up-g2-c2-b1.json')}\n`,
    );
    expect(
      s.stderr.filter((l) => /^ {2}\S+: (refused|retries ran out) after /.test(l)),
    ).toHaveLength(6);
    // As `npm run load` and the demo say of the same load: one error line, the lost ones named.
    const lost = (await read('given-up-g2-c2-b1.json'))
      .filter((g) => g.atApi !== 'accepted')
      .map((g) => g.idempotencyKey);
    expect(s.stderr.filter((l) => l.startsWith('error:'))).toEqual([
      `error: g2 c2 b1: the load client gave up on 4 orders the API does not hold (lost by the client, not by a queue): ${lost.join(', ')}, all in ${join(s.dir, 'given-up-g2-c2-b1.json')}\n`,
    ]);
  });
});

describe('npm run experiment flags', () => {
  it('reads a comma-separated list of integers within range', () => {
    expect(intList({ groups: '1, 5,20,5' }, 'groups', 1, 100)).toEqual([1, 5, 20]);
    expect(() => intList({ groups: '1,,3' }, 'groups', 1, 100)).toThrow(/comma-separated list/);
    expect(() => intList({ groups: 'a' }, 'groups', 1, 100)).toThrow(/comma-separated list/);
    expect(() => intList({ 'batch-size': '11' }, 'batch-size', 1, 10)).toThrow(
      /11 is outside 1-10/,
    );
  });

  it('names the experiments on an unknown one, before starting anything', async () => {
    await expect(experimentMain(['sideways'], fakeNever)).rejects.toThrow(
      /unknown experiment "sideways"; use sweep or idempotency-key/,
    );
    await expect(experimentMain(['sweep', '--concurrency', '1'], fakeNever)).rejects.toThrow(
      /--concurrency: 1 is outside 2-1000/,
    );
    // A FIFO batch of 10 at 600 ms is 6 s of work: with each order's overhead it would run into
    // the consumers' 10 s timeout, and the sweep would time retries.
    await expect(
      experimentMain(['sweep', '--batch-size', '1,10', '--service-ms', '600'], fakeNever),
    ).rejects.toThrow(/--service-ms 600 x batch size 10 is 6000 ms of work per FIFO batch/);
    await expect(
      experimentMain(['sweep', '--batch-size', '5', '--service-ms', '1001'], fakeNever),
    ).rejects.toThrow(/at most half the consumers' 10 s timeout/);
  });
});

const fakeNever: RunOnCloud = async () => {
  throw new Error('must not run');
};

const effect = (queue: 'fifo' | 'standard', orderId: string, committedAt: number) =>
  ({ queue, orderId, committedAt }) as RunLedger['effects'][number];

describe('consumptionFromLedger', () => {
  const receipt = (queue: 'fifo' | 'standard', receivedAt: number) =>
    ({ queue, receivedAt }) as RunLedger['deliveries'][number];

  it("rates each queue from its consumers' first receive to its last effect, orders counted once", () => {
    const ledger: RunLedger = {
      accepted: [],
      deliveries: [receipt('fifo', 1_200), receipt('fifo', 1_000), receipt('standard', 3_000)],
      failures: [],
      effects: [
        effect('fifo', 'a', 1_500),
        effect('fifo', 'b', 3_000),
        effect('fifo', 'b', 2_000),
        effect('standard', 'a', 4_000),
      ],
    };
    const c = consumptionFromLedger(ledger, { fifo: 900, standard: 2_500 });
    expect(c.fifo).toEqual({
      startedAt: 900,
      firstReceivedAt: 1_000,
      lastEffectAt: 3_000,
      processed: 2,
      ordersPerSec: 1,
      skippedMs: 0,
      unendedInvocations: 0,
      // These receipts carry no invocation: no batch to time.
      batches: { count: 0, mean: 0, max: 0, batchMs: 0 },
    });
    expect(c.standard.ordersPerSec).toBe(1);
  });

  it('leaves out time the clock skipped before the first receive (a visibility skip between queues)', () => {
    // The standard consumers were enabled at 10_000; the cloud's clock then skipped 61 s of
    // visibility timeouts before their first receive. The rate is 2 orders in 2 s, not in 63 s.
    const ledger: RunLedger = {
      accepted: [],
      deliveries: [receipt('standard', 71_000)],
      failures: [],
      effects: [effect('standard', 'a', 72_000), effect('standard', 'b', 73_000)],
    };
    const c = consumptionFromLedger(ledger, { fifo: 0, standard: 10_000 });
    expect(c.standard).toMatchObject({ firstReceivedAt: 71_000, ordersPerSec: 1 });
  });

  it('leaves out clock time the run skipped inside the window (a timed-out FIFO batch), and only that', () => {
    // One FIFO group. Batch i1 applied a and b; batch i2 timed out (its records stay pending, no
    // end mark); nothing else was in flight, so the run skipped the clock 61 s at 3_000; the
    // group's messages came back and batch i3 applied c and d. The consumers worked 5 s, not 66 s.
    const delivery = (
      invocationId: string,
      receivedAt: number,
      end?: { outcomeAt: number; invocationEnd: true },
    ) =>
      ({
        queue: 'fifo',
        invocationId,
        receivedAt,
        outcome: end ? 'applied' : 'pending',
        ...end,
      }) as RunLedger['deliveries'][number];
    const ledger: RunLedger = {
      accepted: [],
      failures: [],
      deliveries: [
        delivery('i1', 0, { outcomeAt: 2_000, invocationEnd: true }),
        delivery('i2', 2_000),
        delivery('i3', 64_000, { outcomeAt: 66_000, invocationEnd: true }),
      ],
      effects: [
        effect('fifo', 'a', 1_000),
        effect('fifo', 'b', 2_000),
        effect('fifo', 'c', 65_000),
        effect('fifo', 'd', 66_000),
      ],
    };
    const inside = { at: 3_000, ms: 61_000 };
    // Before the first receive (between enabling the consumers and it), and after the last effect.
    const outside = [
      { at: -70_000, ms: 61_000 },
      { at: 67_000, ms: 61_000 },
    ];
    const c = consumptionFromLedger(ledger, { fifo: -80_000, standard: 0 }, [inside, ...outside]);
    expect(c.fifo).toMatchObject({
      firstReceivedAt: 0,
      lastEffectAt: 66_000,
      processed: 4,
      ordersPerSec: 0.8,
      skippedMs: 61_000,
      unendedInvocations: 1,
    });
    // The mean in flight averages over the 5 s worked: i1 and i3 each ran 2 s of them.
    expect(c.fifo.batches).toEqual({ count: 2, mean: 0.8, max: 1, batchMs: 2_000 });
    // The skips outside the window change nothing: the same as no skips at all there.
    expect(
      consumptionFromLedger(ledger, { fifo: -80_000, standard: 0 }, outside).fifo,
    ).toMatchObject({ ordersPerSec: Math.round((4 / 66) * 100) / 100, skippedMs: 0 });
  });

  it('counts only the part of a skip that overlaps the window', () => {
    const skips = [
      { at: 500, ms: 1_000 },
      { at: 1_800, ms: 1_000 },
      { at: 5_000, ms: 1_000 },
    ];
    expect(skippedWithin(skips, 1_000, 2_000)).toBe(700);
    expect(skippedWithin(skips, 0, 10_000)).toBe(3_000);
    expect(skippedWithin(skips, 2_800, 5_000)).toBe(0);
  });

  it("counts the invocations that did not end per queue, each queue's own", () => {
    // FIFO: f1 ended, f2 never did (its record stays pending); standard: s1 ended.
    const delivery = (
      queue: 'fifo' | 'standard',
      invocationId: string,
      end?: { outcomeAt: number; invocationEnd: true },
    ) =>
      ({
        queue,
        invocationId,
        receivedAt: 0,
        outcome: end ? 'applied' : 'pending',
        ...end,
      }) as RunLedger['deliveries'][number];
    const ledger: RunLedger = {
      accepted: [],
      failures: [],
      deliveries: [
        delivery('fifo', 'f1', { outcomeAt: 100, invocationEnd: true }),
        delivery('fifo', 'f2'),
        delivery('standard', 's1', { outcomeAt: 100, invocationEnd: true }),
      ],
      effects: [effect('fifo', 'a', 100), effect('standard', 'a', 100)],
    };
    const c = consumptionFromLedger(ledger, { fifo: 0, standard: 0 });
    expect([c.fifo.unendedInvocations, c.standard.unendedInvocations]).toEqual([1, 0]);
  });

  it('gives 0 orders/s for a queue that applied nothing', () => {
    const c = consumptionFromLedger(
      { accepted: [], deliveries: [], failures: [], effects: [] },
      { fifo: 1, standard: 2 },
    );
    expect(c.fifo).toMatchObject({ processed: 0, ordersPerSec: 0, firstReceivedAt: 1 });
  });
});

describe('batchesInFlight', () => {
  it('counts invocations at work at once: back to back is one at a time, overlapping is more', () => {
    // One FIFO group: each batch starts when the last one ended.
    expect(
      batchesInFlight(
        [
          { start: 0, end: 1_000 },
          { start: 1_000, end: 2_000 },
          { start: 2_000, end: 3_000 },
        ],
        { from: 0, to: 3_000 },
      ),
    ).toEqual({ count: 3, mean: 1, max: 1, batchMs: 1_000 });
    // Two batches overlap for half their time, then one runs alone.
    expect(
      batchesInFlight(
        [
          { start: 0, end: 1_000 },
          { start: 500, end: 1_500 },
          { start: 1_500, end: 2_000 },
        ],
        { from: 0, to: 2_000 },
      ),
    ).toEqual({ count: 3, mean: 1.25, max: 2, batchMs: 833 });
  });

  it('takes an invocation that ends as another starts as one at a time, whatever order they are listed in', () => {
    expect(
      batchesInFlight(
        [
          { start: 1_000, end: 2_000 },
          { start: 0, end: 1_000 },
        ],
        { from: 0, to: 2_000 },
      ),
    ).toEqual({ count: 2, mean: 1, max: 1, batchMs: 1_000 });
  });

  it("leaves out an invocation that started after the window's last effect (a copy after a skipped visibility timeout)", () => {
    expect(
      batchesInFlight(
        [
          { start: 0, end: 1_000 },
          { start: 0, end: 1_000 },
          { start: 62_000, end: 62_100 },
        ],
        { from: 0, to: 1_000 },
      ),
    ).toEqual({ count: 2, mean: 2, max: 2, batchMs: 1_000 });
  });

  it('gives zeros without invocations', () => {
    expect(batchesInFlight([], { from: 0, to: 1 })).toEqual({
      count: 0,
      mean: 0,
      max: 0,
      batchMs: 0,
    });
  });

  it("reads invocations from the ledger's receipts and outcomes, per queue, ignoring ones that died", () => {
    const delivery = (
      queue: 'fifo' | 'standard',
      invocationId: string,
      receivedAt: number,
      outcomeAt?: number,
    ) =>
      ({
        queue,
        invocationId,
        receivedAt,
        ...(outcomeAt !== undefined ? { outcomeAt } : {}),
      }) as RunLedger['deliveries'][number];
    const ledger: RunLedger = {
      accepted: [],
      failures: [],
      effects: [effect('standard', 'x', 1_000), effect('fifo', 'y', 100)],
      deliveries: [
        delivery('standard', 'a', 0, 400),
        delivery('standard', 'a', 0, 1_000),
        delivery('standard', 'b', 200, 800),
        // An invocation that died: no outcome, no span.
        delivery('standard', 'c', 300),
        delivery('fifo', 'd', 0, 100),
        // A copy of an applied order, received after a skipped visibility timeout.
        delivery('standard', 'e', 40_000, 40_010),
      ],
    };
    const c = consumptionFromLedger(ledger, { fifo: 0, standard: 0 });
    expect(c.standard.batches).toEqual({ count: 2, mean: 1.6, max: 2, batchMs: 800 });
    expect(c.fifo.batches).toMatchObject({ count: 1, max: 1 });
  });
});
