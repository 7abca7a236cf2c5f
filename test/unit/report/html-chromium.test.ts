import type { Browser, Page } from 'playwright-core';
import { renderHtml } from '../../../services/report/src/domain/render-html';
import { buildReport, type ReportData } from '../../../services/report/src/domain/report';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { createRng } from '../../../shared/src/random';
import { type Box, guardNetwork, launchChromium, overlaps } from '../../support/chromium';
import { CHROMIUM, describeWithTool } from '../../support/system-tools';
import { LedgerBuilder } from './ledger-fixture';

const SEED = 424242;

/**
 * A seeded run: 8 customers x 8 orders. FIFO applies everything in order; standard shuffles the
 * apply order of some customers, delivers some copies (suppressed) and fails some first attempts.
 */
function seededRun(): ReportData {
  console.log(`html test seed ${SEED}`);
  const rng = createRng(SEED);
  const b = new LedgerBuilder();
  const ids: string[] = [];
  for (let c = 0; c < 8; c++)
    for (let s = 1; s <= 8; s++) {
      const id = `c${c}-${s}`;
      ids.push(id);
      b.accept(id, `customer-with-a-long-name-${c}`, s, ids.length * 10);
    }
  let t = 1000;
  for (const id of ids) {
    b.deliver('fifo', id, t, 'applied').apply('fifo', id, t + 20 + Math.floor(rng() * 50));
    t += 7;
  }
  const shuffled = ids.slice();
  for (let i = shuffled.length - 1; i > 0; i--) {
    // Only the first four customers are reordered, so the other four are in order on both.
    if (i < 32 && rng() < 0.4) {
      const j = Math.max(0, i - 1 - Math.floor(rng() * 3));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
  }
  for (const id of shuffled) {
    if (rng() < 0.1) b.deliver('standard', id, t, 'failed').fail('standard', id, 1, false);
    b.deliver('standard', id, t, 'applied').apply(
      'standard',
      id,
      t + 10 + Math.floor(rng() * 2000),
    );
    if (rng() < 0.2) b.deliver('standard', id, t + 300, 'suppressed');
    t += 5;
  }
  return buildReport({
    runId: 'html-run',
    target: 'local',
    config: pipelineConfig,
    ledger: b.ledger,
  });
}

/** Text-bearing elements that must never cover each other, with their boxes. */
async function labelBoxes(page: Page): Promise<Box[]> {
  return page.$$eval(
    'svg text, .label, h1, h2, p, .headline li, #comparison th, #comparison td',
    (els) => {
      // An element inside another listed one is part of its text, not a separate label.
      const leaves = els.filter((e) => !els.some((o) => o !== e && o.contains(e)));
      return leaves
        .map((e) => {
          const r = e.getBoundingClientRect();
          return {
            text: (e.textContent ?? '').slice(0, 40),
            x: r.x,
            y: r.y,
            width: r.width,
            height: r.height,
          };
        })
        .filter((b) => b.width > 0 && b.height > 0);
    },
  );
}

describeWithTool(CHROMIUM, 'HTML report in headless Chromium', () => {
  let browser: Browser;
  let data: ReportData;
  let html: string;

  beforeAll(async () => {
    browser = await launchChromium();
    data = seededRun();
    html = renderHtml(data, { maxCustomers: 12 });
  }, 660_000);

  afterAll(async () => {
    await browser?.close();
  });

  async function open(width: number): Promise<{ page: Page; outside: string[]; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    const outside = await guardNetwork(page);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.setContent(html, { waitUntil: 'load' });
    return { page, outside, errors };
  }

  it('states the run in its headline from the run numbers', async () => {
    const { page } = await open(1280);
    const claims = await page.$$eval('.headline li[data-claim]', (els) =>
      Object.fromEntries(els.map((e) => [e.getAttribute('data-claim'), e.textContent ?? ''])),
    );
    const s = data.report.queues.standard;
    expect(claims['order-fifo']).toContain("FIFO kept every customer's order");
    expect(claims['order-standard']).toContain(`${s.outOfOrder} orders`);
    expect(claims['order-standard']).toContain(`for ${s.customersAffected} of 8 customers`);
    expect(claims['copies-fifo']).toContain('FIFO delivered no extra copy');
    expect(claims['copies-standard']).toContain(`${s.duplicateDeliveries} extra copies`);
    expect(claims['copies-standard']).toContain(
      `Powertools' idempotency record answered ${data.suppressedBy.standard.record}`,
    );
    expect(data.suppressedBy.standard.record).toBe(s.suppressed);
    expect(claims.latency).toContain(
      `p99 ${data.report.queues.fifo.latencyMs.p99} ms vs ${s.latencyMs.p99} ms`,
    );
    expect(claims.loss).toContain('Nothing was lost');
    await page.close();
  }, 60_000);

  it('draws FIFO and standard side by side for the customers that differ, one statement for the rest', async () => {
    const { page } = await open(1280);
    const fifo = new Map(data.analysis.fifo.customers.map((c) => [c.customerId, c]));
    const standard = new Map(data.analysis.standard.customers.map((c) => [c.customerId, c]));
    const differ = [...standard.values()].filter((c) => c.inversions > 0).map((c) => c.customerId);
    expect(differ.length).toBeGreaterThan(0);
    expect(differ.length).toBeLessThan(8);

    const pairs = await page.$$eval('.pair', (els) =>
      els.map((e) => ({
        customer: e.getAttribute('data-customer'),
        charts: [...e.querySelectorAll('svg.apply-chart')].map((svg) => ({
          queue: svg.getAttribute('data-queue'),
          seqs: [...svg.querySelectorAll('circle.apply-point')].map((c) =>
            Number(c.getAttribute('data-sequence')),
          ),
          late: svg.querySelectorAll('circle.apply-point.late').length,
          x: svg.getBoundingClientRect().x,
        })),
      })),
    );
    expect(pairs.map((p) => p.customer).sort()).toEqual(differ.sort());
    for (const p of pairs) {
      const [f, s] = p.charts;
      expect([f?.queue, s?.queue]).toEqual(['fifo', 'standard']);
      // Side by side: FIFO to the left of standard on the same row.
      expect(f!.x).toBeLessThan(s!.x);
      expect(f?.seqs).toEqual(fifo.get(p.customer!)?.sequences);
      expect(s?.seqs).toEqual(standard.get(p.customer!)?.sequences);
      expect(s?.late).toBe(standard.get(p.customer!)?.outOfOrder);
      expect(f?.late).toBe(0);
    }
    const same = await page.$eval('.same', (e) =>
      Number(e.getAttribute('data-in-order-customers')),
    );
    expect(same).toBe(8 - differ.length);
    await page.close();
  }, 60_000);

  it('draws latency on a log axis with every applied order and the percentiles', async () => {
    const { page } = await open(1280);
    for (const q of ['fifo', 'standard'] as const) {
      const bars = await page.$$eval(`rect.latency-bar[data-queue="${q}"]`, (els) =>
        els.map((e) => ({
          from: Number(e.getAttribute('data-from')),
          to: Number(e.getAttribute('data-to')),
          count: Number(e.getAttribute('data-count')),
          x: Number(e.getAttribute('x')),
          width: Number(e.getAttribute('width')),
        })),
      );
      expect(bars.reduce((n, b) => n + b.count, 0)).toBe(data.report.queues[q].processed);
      // Log axis: a bucket ten times wider in ms is drawn no wider than one decade lower.
      for (const b of bars) expect(b.to / b.from).toBeLessThan(1.3);
      const marks = await page.$$eval(`line.latency-mark[data-queue="${q}"]`, (els) =>
        Object.fromEntries(
          els.map((e) => [e.getAttribute('data-percentile'), Number(e.getAttribute('data-value'))]),
        ),
      );
      const { p50, p95, p99 } = data.report.queues[q].latencyMs;
      expect(marks).toEqual({ p50, p95, p99 });
    }
    const ticks = await page.$$eval('.latency-chart text.tick', (els) =>
      els.map((e) => e.textContent),
    );
    // Every power of ten the axis spans is labelled (these latencies span 100 ms to a few s).
    expect(ticks).toEqual(expect.arrayContaining(['100 ms', '1 s']));
    await page.close();
  }, 60_000);

  it('gives every colour a legend entry, counts every suppressed copy, and loads nothing', async () => {
    const { page, outside, errors } = await open(1280);
    const used = await page.$$eval(
      'circle.apply-point, rect.latency-bar, .dup-bar:not([hidden]), .pair line',
      (els) =>
        els.map(
          (e) =>
            e.getAttribute('fill') ??
            e.getAttribute('stroke') ??
            (e as unknown as { style: { getPropertyValue(p: string): string } }).style
              .getPropertyValue('--c')
              .trim(),
        ),
    );
    const keyed = await page.$$eval('.legend .key', (els) =>
      els.map((e) => e.getAttribute('data-color')),
    );
    expect(used.length).toBeGreaterThan(0);
    expect([...new Set(used)].filter((c) => !keyed.includes(c))).toEqual([]);

    for (const q of ['fifo', 'standard'] as const) {
      const suppressed = await page.$eval(
        `.dup-bar[data-queue="${q}"][data-kind="suppressed"]`,
        (e) => Number(e.getAttribute('data-count')),
      );
      expect(suppressed).toBe(data.report.queues[q].suppressed);
      for (const cause of [
        'producerResend',
        'queueCopy',
        'retryAfterFailure',
        'dlqRedrive',
      ] as const) {
        const drawn = await page.$eval(`.dup-bar[data-queue="${q}"][data-kind="${cause}"]`, (e) =>
          Number(e.getAttribute('data-count')),
        );
        expect({ q, cause, drawn }).toEqual({
          q,
          cause,
          drawn: data.report.queues[q].duplicateCauses[cause],
        });
      }
    }
    const table = await page.$$eval('#comparison tbody tr', (rows) =>
      Object.fromEntries(
        rows.map((r) => [
          r.getAttribute('data-field'),
          [...r.querySelectorAll('td')].map((td) => td.textContent),
        ]),
      ),
    );
    expect(table.processed).toEqual(['64', '64']);
    const causes = data.report.queues.standard.duplicateCauses;
    expect(table['duplicateCauses.queueCopy']?.[1]).toBe(String(causes.queueCopy));
    expect(table['duplicateCauses.retryAfterFailure']?.[1]).toBe(String(causes.retryAfterFailure));
    expect(outside).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('draws red in the duplicates chart only for duplicate effects, not for a retry that applied the order once', async () => {
    const { page } = await open(1280);
    // The seeded run has first attempts that failed and were applied on their retry: extra
    // deliveries whose effect ran, and no order applied twice.
    expect(data.analysis.standard.duplicates.byOutcome.applied).toBeGreaterThan(0);
    const bars = await page.$$eval('.dup-bar', (els) =>
      els.map((e) => ({
        queue: e.getAttribute('data-queue'),
        kind: e.getAttribute('data-kind'),
        count: Number(e.getAttribute('data-count')),
        color: (e as unknown as { style: { getPropertyValue(p: string): string } }).style
          .getPropertyValue('--c')
          .trim(),
      })),
    );
    const red = (hex: string) => {
      const [r, g, b] = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
      return r! > 150 && g! < 90 && b! < 90;
    };
    for (const q of ['fifo', 'standard'] as const) {
      const redCount = bars
        .filter((b) => b.queue === q && red(b.color))
        .reduce((n, b) => n + b.count, 0);
      expect({ q, redCount }).toEqual({ q, redCount: data.report.queues[q].duplicateEffects });
      const effects = bars.find((b) => b.queue === q && b.kind === 'duplicateEffects');
      expect(effects?.count).toBe(data.report.queues[q].duplicateEffects);
      const outcomes = bars.filter(
        (b) => b.queue === q && ['suppressed', 'applied', 'failed', 'pending'].includes(b.kind!),
      );
      expect(outcomes.reduce((n, b) => n + b.count, 0)).toBe(
        data.report.queues[q].duplicateDeliveries,
      );
    }
    await page.close();
  }, 60_000);

  it.each([375, 1280])(
    'at %i px wide, no two text labels overlap and nothing overflows sideways',
    async (width) => {
      const { page } = await open(width);
      const boxes = await labelBoxes(page);
      expect(boxes.length).toBeGreaterThan(40);
      expect(overlaps(boxes).map(([a, b]) => `${a.text} / ${b.text}`)).toEqual([]);
      const scrollWidth = await page.$eval('html', (e) => e.scrollWidth);
      expect(scrollWidth).toBeLessThanOrEqual(width);
      await page.close();
    },
    60_000,
  );

  it('finds overlapping labels when there are some (the check can fail)', async () => {
    const page = await browser.newPage({ viewport: { width: 375, height: 400 } });
    await page.setContent(
      '<p>first paragraph</p><svg width="300" height="40"><text x="10" y="20">p95 400</text><text x="14" y="22">p99 420</text></svg>',
    );
    const found = overlaps(await labelBoxes(page)).map(([a, b]) => [a.text, b.text]);
    expect(found).toEqual([['p95 400', 'p99 420']]);
    await page.close();
  }, 60_000);
});
