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
});
