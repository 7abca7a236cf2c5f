import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { createLiveView, type LiveView } from '../../../local/live/server';
import { guardNetwork, launchChromium } from '../../support/chromium';
import { CHROMIUM, describeWithTool } from '../../support/system-tools';
import { edgeWith } from './edge-with';
import { applied, emfLine, suppressed } from './emf-lines';

const HOSTILE = '<img src=x onerror="window.pwned=1">';

describeWithTool(CHROMIUM, 'live page in headless Chromium (lines fed by the test)', () => {
  let browser: Browser;
  let live: LiveView;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    browser = await launchChromium();
  }, 660_000);
  afterAll(async () => {
    await browser?.close();
  });
  beforeEach(async () => {
    live = createLiveView({ flushMs: 20 });
    server = createServer(edgeWith(live));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/_localcloud/live`;
  });
  afterEach(async () => {
    live.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('draws counters, tracks with late applies and caught copies as lines arrive, values as text', async () => {
    const page = await browser.newPage();
    const outside = await guardNetwork(page);
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    await page.goto(url);
    await page.waitForSelector('#conn[data-state="open"]');

    live.ingest(emfLine('fifo', [applied('c1', 1), applied('c1', 2), applied(HOSTILE, 1)]));
    await page.waitForSelector(
      '.lane[data-queue="fifo"] dd[data-counter="applied"][data-value="3"]',
    );
    live.ingest(
      emfLine('standard', [
        applied('c1', 2),
        applied('c1', 1, { late: true, receiveCount: 2 }),
        suppressed('c1', 2),
        applied(HOSTILE, 1),
      ]),
    );
    await page.waitForSelector('.lane[data-queue="standard"] .caught li[data-order="c1-2"]');

    const view = await page.$eval('body', (body) => {
      const doc = body.ownerDocument;
      const lane = (q: string) => doc.querySelector(`.lane[data-queue="${q}"]`)!;
      const counter = (q: string, c: string) =>
        Number(lane(q).querySelector(`dd[data-counter="${c}"]`)?.getAttribute('data-value'));
      return {
        fifoApplied: counter('fifo', 'applied'),
        fifoLate: lane('fifo').querySelectorAll('.cell.late').length,
        standardApplied: counter('standard', 'applied'),
        standardOutOfOrder: counter('standard', 'outOfOrder'),
        standardRetries: counter('standard', 'retries'),
        standardLate: [...lane('standard').querySelectorAll('.cell.late')].map((c) =>
          c.getAttribute('data-sequence'),
        ),
        customers: [...lane('standard').querySelectorAll('.track')].map((t) =>
          t.getAttribute('data-customer'),
        ),
        images: doc.querySelectorAll('img').length,
        pwned: (doc.defaultView as unknown as { pwned?: number }).pwned ?? 0,
        hostileText: [...lane('fifo').querySelectorAll('.who')].some((w) =>
          w.textContent?.includes('<img'),
        ),
      };
    });
    expect(view).toEqual({
      fifoApplied: 3,
      fifoLate: 0,
      standardApplied: 3,
      standardOutOfOrder: 1,
      standardRetries: 1,
      standardLate: ['1'],
      customers: [HOSTILE, 'c1'],
      images: 0,
      pwned: 0,
      hostileText: true,
    });

    // A new run starts the page over from its snapshot.
    live.ingest(emfLine('fifo', [applied('c7', 1, { runId: 'run-2' })]));
    await page.waitForSelector('#run:text-is("run run-2")');
    expect(await page.$$eval('.lane[data-queue="standard"] .cell', (c) => c.length)).toBe(0);

    expect(outside).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it("labels each customer's track with the part of its id that differs, in full view", async () => {
    const page = await browser.newPage();
    const outside = await guardNetwork(page);
    await page.goto(url);
    await page.waitForSelector('#conn[data-state="open"]');
    // What a label shows, and whether the row clips it: the label's own element when it has one,
    // else the row's name span (whose first child is then the label's text).
    const labels = (q: string) =>
      page.$$eval(`.lane[data-queue="${q}"] .who`, (whos) =>
        whos.map((who) => {
          const box = who.firstElementChild?.classList.contains('name')
            ? who.firstElementChild
            : who;
          return {
            id: who.getAttribute('title'),
            text: who.firstChild?.textContent ?? '',
            clipped: box.scrollWidth > box.clientWidth,
          };
        }),
      );
    const check = async (ids: string[]) => {
      for (const q of ['fifo', 'standard']) {
        const shown = await labels(q);
        expect(shown.map((l) => l.id)).toEqual(ids);
        // Told apart: distinct, none cut by the row, each ending with its id's distinguishing tail.
        expect(new Set(shown.map((l) => l.text)).size).toBe(ids.length);
        expect(shown.filter((l) => l.clipped)).toEqual([]);
        for (const l of shown) expect(l.id!.endsWith(l.text.replace(/^\u2026/, ''))).toBe(true);
      }
    };

    // npm run demo -- --customers 5: the run key shared, standard with late applies.
    const five = [0, 1, 2, 3, 4].map((i) => `cust-1dwl8z5-${i}`);
    live.ingest(
      emfLine(
        'fifo',
        five.flatMap((c) => [applied(c, 1), applied(c, 2)]),
      ),
    );
    live.ingest(
      emfLine(
        'standard',
        five.flatMap((c) => [applied(c, 2), applied(c, 1, { late: true }), applied(c, 3)]),
      ),
    );
    await page.waitForSelector(
      '.lane[data-queue="standard"] dd[data-counter="applied"][data-value="15"]',
    );
    await check(five);

    // 20 customers (two digits), a new run: the page starts over and labels them apart too.
    const twenty = Array.from(
      { length: 20 },
      (_, i) => `cust-1qbghv7-${String(i).padStart(2, '0')}`,
    );
    const run2 = twenty.map((c) => applied(c, 1, { runId: 'run-2' }));
    live.ingest(emfLine('fifo', run2));
    live.ingest(emfLine('standard', run2));
    await page.waitForSelector(
      '.lane[data-queue="standard"] dd[data-counter="applied"][data-value="20"]',
    );
    await check(twenty);
    expect(outside).toEqual([]);
    await page.close();
  }, 60_000);

  it('keeps no more cells per track than the server, counts hidden customers as they come, and says when it is one page too many', async () => {
    live.close();
    live = createLiveView({
      flushMs: 20,
      maxClients: 1,
      limits: { pointsPerCustomer: 3, customers: 1 },
    });
    server.removeAllListeners('request');
    server.on('request', edgeWith(live));
    const page = await browser.newPage({ viewport: { width: 375, height: 800 } });
    const outside = await guardNetwork(page);
    await page.goto(url);
    await page.waitForSelector('#conn[data-state="open"]');
    live.ingest(
      emfLine('standard', [
        applied('customer-with-a-long-name-1', 2),
        applied('customer-with-a-long-name-1', 1, { late: true }),
        ...[3, 4, 5].map((s) => applied('customer-with-a-long-name-1', s)),
        applied('customer-with-a-long-name-2', 1),
      ]),
    );
    await page.waitForSelector(
      '.lane[data-queue="standard"] dd[data-counter="applied"][data-value="6"]',
    );
    const lane = await page.$eval('.lane[data-queue="standard"]', (l) => ({
      cells: [...l.querySelectorAll('.cell')].map((c) => c.getAttribute('data-sequence')),
      late: l.querySelector('.track')?.getAttribute('data-late'),
      who: l.querySelector('.who')?.firstChild?.textContent,
      hidden: l.querySelector('[data-hidden]')?.textContent,
    }));
    expect(lane).toEqual({
      cells: ['3', '4', '5'],
      // The late apply's cell was dropped; its count stays, as on the server.
      late: '1',
      // Both ends of a long id: the distinguishing suffix survives a narrow row.
      who: 'custo\u2026ong-name-1',
      hidden: '1 more customers not drawn',
    });
    const snapshot = await page.$eval(
      '.lane[data-queue="standard"]',
      (l) => l.querySelectorAll('.cell').length,
    );
    expect(snapshot).toBe(live.state.snapshot().queues.standard.customers[0]?.points.length);

    // A second page while the one stream allowed is open: told why, and it gets in by itself
    // once the first page closes.
    const second = await browser.newPage();
    await second.goto(url);
    await second.waitForSelector('#conn:text-is("too many live pages open; trying again")');
    await page.close();
    await second.waitForSelector('#conn[data-state="open"]', { timeout: 20_000 });
    await second.waitForSelector(
      '.lane[data-queue="standard"] dd[data-counter="applied"][data-value="6"]',
    );
    expect(outside).toEqual([]);
    await second.close();
  }, 60_000);
});
