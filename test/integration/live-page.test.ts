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
import { QUEUE_KINDS } from '../../shared/src/config/pipeline';
import { guardNetwork, launchChromium } from '../support/chromium';
import { CHROMIUM, describeWithTool } from '../support/system-tools';

const SEED = 1212;
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
    const applied = (q: string) =>
      page.$eval(`.lane[data-queue="${q}"] dd[data-counter="applied"]`, (e) =>
        Number(e.getAttribute('data-value')),
      );

    // Act: the load runs while the page watches; a retried message waits out its visibility
    // timeout on the emulator's clock once nothing is in flight.
    const seen: number[] = [];
    let loading = true;
    const sampler = (async () => {
      while (loading) {
        seen.push(await applied('standard'));
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
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
      loading = false;
      await sampler;
    }

    // Assess
    expect(load.accepted).toBe(ORDERS);
    // The counter rose while orders applied, through values between 0 and the total.
    const rising = [...new Set(seen)];
    expect(rising.filter((v) => v > 0 && v < ORDERS).length).toBeGreaterThanOrEqual(2);
    expect(rising).toEqual([...rising].sort((a, b) => a - b));

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
