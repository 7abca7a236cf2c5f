import type { Browser } from 'playwright-core';
import { runLoad } from '../../lab/loadgen/run-load';
import { type LocalCloud, skipVisibilityWhenIdle, startLocalCloud } from '../../local/cloud';
import type { ReportData } from '../../services/report/src/domain/report';
import { generateReport } from '../../services/report/src/generate';
import {
  createDocumentClient,
  createSqsClient,
  LOCAL_CREDENTIALS,
} from '../../shared/src/aws-clients';
import { QUEUE_KINDS } from '../../shared/src/queue-kind';
import { guardNetwork, launchChromium } from '../support/chromium';
import { CHROMIUM, describeWithTool } from '../support/system-tools';

const SEED = 1212;

/** The page's window as the test uses it (the project's TypeScript has no DOM library). */
interface PageWindow {
  seen: number[];
  MutationObserver: new (
    callback: (records: Array<{ oldValue: string | null }>) => void,
  ) => { observe(target: unknown, options: Record<string, unknown>): void };
}
const ORDERS = 300;

/**
 * The live page in headless Chromium while a real load runs through the local cloud with faults
 * on (the demo fault model on standard, first-attempt failures on both consumers): its numbers
 * come from the consumers' own metric lines, and it must show what the report later shows.
 */
describeWithTool(CHROMIUM, 'live page while a load runs', () => {
  let browser: Browser;
  let cloud: LocalCloud;

  beforeAll(async () => {
    console.log(`live page test seed ${SEED}`);
    browser = await launchChromium();
    const faults = { FAULT_FIRST_ATTEMPT_FAILURE_RATE: '0.03' };
    cloud = await startLocalCloud({
      port: 0,
      apiPort: 0,
      seed: SEED,
      faults: 'demo',
      pollWaitSeconds: 1,
      consumerEnv: { fifo: faults, standard: faults },
      // The page gets a delta after every metric line, pushed by the test rather than a timer:
      // however fast or slow the machine, each batch's applies reach it as a step of its own.
      liveView: { flushMs: 3_600_000, onIngest: (view) => view.flush() },
    });
  }, 660_000);

  afterAll(async () => {
    await browser?.close();
    await cloud?.stop();
  });

  it('counts up as orders apply, lights a late apply on standard and none on FIFO, and stays on this machine', async () => {
    // Prepare
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const outside = await guardNetwork(page);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(cloud.liveUrl);
    await page.waitForSelector('#conn[data-state="open"]');
    // Every value the standard counter takes, as the page sets it (not sampled on a timer).
    await page.$eval('.lane[data-queue="standard"] dd[data-counter="applied"]', (dd) => {
      const win = dd.ownerDocument.defaultView as unknown as PageWindow;
      const seen: number[] = [];
      win.seen = seen;
      // Each record's old value: deltas handled in one task still leave one record each.
      new win.MutationObserver((records) => {
        for (const r of records) seen.push(Number(r.oldValue));
      }).observe(dd, {
        attributes: true,
        attributeFilter: ['data-value'],
        attributeOldValue: true,
      });
    });

    // Act: the load runs while the page watches; a retried message waits out its visibility
    // timeout on the emulator's clock once nothing is in flight.
    const load = await runLoad({
      apiUrl: cloud.apiUrl,
      orders: ORDERS,
      customers: 6,
      concurrency: 8,
      rate: 0,
      retryRate: 0.05,
      seed: SEED,
      runId: `live-${SEED}`,
    });
    const visibilityMs = cloud.config.queues.standard.visibilityTimeoutSeconds * 1000 + 1000;
    const skip = skipVisibilityWhenIdle(
      () => cloud.invocationsInFlight(),
      () => cloud.clock.advance(visibilityMs),
      3,
    );
    const client = {
      endpoint: cloud.edgeUrl,
      region: cloud.region,
      credentials: LOCAL_CREDENTIALS,
    };
    const documentClient = createDocumentClient(client);
    const sqsClient = createSqsClient(client);
    let report: ReportData;
    try {
      report = await generateReport({
        runId: `live-${SEED}`,
        target: 'local',
        config: cloud.config,
        waitTimeoutMs: 300_000,
        pollIntervalMs: 500,
        source: {
          documentClient,
          sqsClient,
          ledgerTable: cloud.tableNames.ledger,
          queueUrls: cloud.queueUrls,
        },
        onProgress: () => void skip(),
      });
      // Drained: the page catches up with the last metric lines the live view took.
      for (const q of QUEUE_KINDS) {
        const held = cloud.live!.state.snapshot().queues[q].counters.applied;
        await page.waitForSelector(
          `.lane[data-queue="${q}"] dd[data-counter="applied"][data-value="${held}"]`,
        );
      }
    } finally {
      documentClient.destroy();
      sqsClient.destroy();
    }

    // Assess
    expect(load.accepted).toBe(ORDERS);
    // The counter rose while orders applied, one batch at a time, never down, to what the view
    // holds: a batch holds at most 10 orders, so 300 cannot arrive in fewer than 30 steps.
    const seen = await page.$eval(
      '.lane[data-queue="standard"] dd[data-counter="applied"]',
      (dd) => [
        ...(dd.ownerDocument.defaultView as unknown as PageWindow).seen,
        Number(dd.getAttribute('data-value')),
      ],
    );
    const rising = [...new Set(seen)];
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(rising.filter((v) => v > 0 && v < ORDERS).length).toBeGreaterThanOrEqual(2);
    expect(rising.at(-1)).toBe(cloud.live!.state.snapshot().queues.standard.counters.applied);

    const view = await page.$eval('body', (body) => {
      const lane = (q: string) => body.querySelector(`.lane[data-queue="${q}"]`)!;
      const counter = (q: string, c: string) =>
        Number(lane(q).querySelector(`dd[data-counter="${c}"]`)?.getAttribute('data-value'));
      return {
        fifoLate: lane('fifo').querySelectorAll('.cell.late').length,
        fifoOutOfOrder: counter('fifo', 'outOfOrder'),
        standardLate: lane('standard').querySelectorAll('.cell.late').length,
        standardOutOfOrder: counter('standard', 'outOfOrder'),
        standardSuppressed: counter('standard', 'suppressed'),
        caught: lane('standard').querySelectorAll('.caught li[data-order]').length,
        fifoCells: lane('fifo').querySelectorAll('.cell').length,
      };
    });
    expect(view.fifoLate).toBe(0);
    expect(view.fifoOutOfOrder).toBe(0);
    // An invocation that dies (a timeout on a busy machine) loses its metric line, as on AWS; the
    // page can only undercount, never invent an apply.
    console.log(
      `live page: fifo ${view.fifoCells} applies drawn, report ${report.report.queues.fifo.processed}; standard late ${view.standardLate}, report ${report.report.queues.standard.outOfOrder}; mappings ${JSON.stringify(cloud.mappingStats())}`,
    );
    expect(view.fifoCells).toBeGreaterThan(0);
    expect(view.fifoCells).toBeLessThanOrEqual(report.report.queues.fifo.processed);
    expect(report.report.queues.fifo.outOfOrder).toBe(0);
    expect(view.standardLate).toBeGreaterThan(0);
    expect(view.standardLate).toBe(view.standardOutOfOrder);
    expect(view.standardLate).toBeLessThanOrEqual(report.report.queues.standard.outOfOrder);
    expect(view.standardSuppressed).toBeGreaterThan(0);
    expect(view.caught).toBeGreaterThan(0);
    expect(outside).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 600_000);
});
