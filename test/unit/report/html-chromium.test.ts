import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { renderHtml } from '../../../services/report/src/domain/render-html';
import { buildReport } from '../../../services/report/src/domain/report';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { createRng } from '../../../shared/src/random';
import { LedgerBuilder } from './ledger-fixture';

const CHROMIUM = '/usr/bin/chromium';
const SEED = 424242;

/** Debian's chromium, installed on demand; a machine that cannot install it fails loudly. */
function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  try {
    execFileSync('apt-get', ['install', '-y', 'chromium'], { stdio: 'pipe', timeout: 600_000 });
  } catch (err) {
    throw new Error(
      `headless Chromium is required for the HTML report test: ${CHROMIUM} is missing and "apt-get install -y chromium" failed (run the tests as root on Debian, or install chromium): ${(err as Error).message.split('\n')[0]}`,
    );
  }
  if (!existsSync(CHROMIUM))
    throw new Error(`apt-get install chromium did not produce ${CHROMIUM}`);
}

/** A seeded run: 5 customers x 8 orders; standard applies shuffled a little, some duplicates. */
function seededRun() {
  console.log(`html test seed ${SEED}`);
  const rng = createRng(SEED);
  const b = new LedgerBuilder();
  const ids: string[] = [];
  for (let c = 0; c < 5; c++)
    for (let s = 1; s <= 8; s++) {
      const id = `c${c}-${s}`;
      ids.push(id);
      b.accept(id, `cust-${c}`, s, ids.length * 10);
    }
  let t = 1000;
  for (const id of ids) {
    b.deliver('fifo', id, t, 'applied').apply('fifo', id, t + 20 + Math.floor(rng() * 50));
    t += 7;
  }
  const shuffled = ids.slice();
  for (let i = shuffled.length - 1; i > 0; i--) {
    if (rng() < 0.3) {
      const j = Math.max(0, i - 1 - Math.floor(rng() * 3));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
  }
  for (const id of shuffled) {
    b.deliver('standard', id, t, 'applied').apply('standard', id, t + 10 + Math.floor(rng() * 200));
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

describe('HTML report in headless Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    ensureChromium();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  }, 660_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('renders every chart with the run data and makes no network request', async () => {
    const data = seededRun();
    const html = renderHtml(data, { maxCustomers: 12, latencyBuckets: 20 });
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.setContent(html, { waitUntil: 'load' });

    for (const q of ['fifo', 'standard'] as const) {
      const a = data.analysis[q];
      const charts = await page.$$eval(`svg.apply-chart[data-queue="${q}"]`, (els) =>
        els.map((e) => ({
          customer: e.getAttribute('data-customer'),
          points: e.querySelectorAll('circle.apply-point').length,
          late: e.querySelectorAll('circle.apply-point.late').length,
          seqs: [...e.querySelectorAll('circle.apply-point')].map((c) =>
            Number(c.getAttribute('data-sequence')),
          ),
          box: e.getBoundingClientRect().width * e.getBoundingClientRect().height,
        })),
      );
      expect(charts).toHaveLength(a.customers.length);
      for (const c of charts) {
        const expected = a.customers.find((x) => x.customerId === c.customer)!;
        expect(c.seqs).toEqual(expected.sequences);
        expect(c.late).toBe(expected.outOfOrder);
        expect(c.box).toBeGreaterThan(0);
      }
      expect(charts.reduce((n, c) => n + c.late, 0)).toBe(data.report.queues[q].outOfOrder);

      const latencyTotal = await page.$$eval(`rect.latency-bar[data-queue="${q}"]`, (els) =>
        els.reduce((n, e) => n + Number(e.getAttribute('data-count')), 0),
      );
      expect(latencyTotal).toBe(data.report.queues[q].processed);
      const marks = await page.$$eval(`line.latency-mark[data-queue="${q}"]`, (els) =>
        Object.fromEntries(
          els.map((e) => [e.getAttribute('data-percentile'), Number(e.getAttribute('data-value'))]),
        ),
      );
      expect(marks).toEqual({
        p50: data.report.queues[q].latencyMs.p50,
        p95: data.report.queues[q].latencyMs.p95,
        p99: data.report.queues[q].latencyMs.p99,
      });

      const suppressed = await page.$eval(
        `rect.dup-bar[data-queue="${q}"][data-kind="suppressed"]`,
        (e) => Number(e.getAttribute('data-count')),
      );
      // Every suppressed delivery in this run is an extra delivery of an applied order.
      expect(suppressed).toBe(data.report.queues[q].suppressed);
    }
    expect(data.report.queues.standard.outOfOrder).toBeGreaterThan(0);
    expect(data.report.queues.standard.suppressed).toBeGreaterThan(0);

    const table = await page.$$eval('#comparison tbody tr', (rows) =>
      Object.fromEntries(
        rows.map((r) => [
          r.getAttribute('data-field'),
          [...r.querySelectorAll('td')].map((td) => td.textContent),
        ]),
      ),
    );
    expect(table.inversions).toEqual([
      String(data.report.queues.fifo.inversions),
      String(data.report.queues.standard.inversions),
    ]);
    expect(table.processed).toEqual(['40', '40']);

    expect(requests.filter((u) => !u.startsWith('about:') && !u.startsWith('data:'))).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
