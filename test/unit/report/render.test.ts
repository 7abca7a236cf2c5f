import { logBins, renderHtml } from '../../../services/report/src/domain/render-html';
import {
  renderJson,
  renderMarkdown,
  renderTable,
} from '../../../services/report/src/domain/render-text';
import { buildReport } from '../../../services/report/src/domain/report';
import { comparisonRows } from '../../../services/report/src/domain/rows';
import { pipelineConfig } from '../../../shared/src/config/pipeline';
import { LedgerBuilder } from './ledger-fixture';

function data(ledgerDlq?: LedgerBuilder['ledger']['dlq']) {
  const b = new LedgerBuilder()
    .accept('a1', 'a', 1, 0)
    .accept('a2', 'a', 2, 10)
    .accept('a3', 'a', 3, 20);
  for (const id of ['a1', 'a2', 'a3']) b.deliver('fifo', id, 100, 'applied').apply('fifo', id, 150);
  b.deliver('standard', 'a2', 100, 'applied')
    .apply('standard', 'a2', 120)
    .deliver('standard', 'a1', 110, 'applied')
    .apply('standard', 'a1', 130)
    .deliver('standard', 'a1', 140, 'suppressed');
  if (ledgerDlq) b.ledger.dlq = ledgerDlq;
  return buildReport({
    runId: 'run-x',
    target: 'local',
    config: pipelineConfig,
    ledger: b.ledger,
    now: new Date(0),
  });
}

describe('renderTable', () => {
  it('prints one line per metric with the fifo and standard values side by side', () => {
    const d = data();
    const lines = renderTable(d.report).split('\n');
    const row = (label: string) =>
      lines
        .find((l) => l.startsWith(`${label} `))
        ?.trim()
        .split(/\s{2,}/);
    expect(row('metric')).toEqual(['metric', 'fifo', 'standard']);
    expect(row('deliveries')).toEqual(['deliveries', '3', '3']);
    expect(row('out-of-order applies')).toEqual(['out-of-order applies', '0', '1']);
    expect(row('suppressed by idempotency')).toEqual(['suppressed by idempotency', '0', '1']);
    expect(row('lost')).toEqual(['lost', '0', '1']);
    expect(lines.filter((l) => l.trim()).length).toBe(comparisonRows(d.report).length + 3);
  });
});

describe('renderMarkdown', () => {
  it('writes a pipe table with a row per metric and the settings', () => {
    const md = renderMarkdown(data().report);
    expect(md).toContain('| metric | fifo | standard |');
    expect(md).toContain('| inversions (Kendall distance) | 0 | 1 |');
    expect(md).toContain(
      `| queue | ${pipelineConfig.queues.fifo.name} | ${pipelineConfig.queues.standard.name} |`,
    );
    const tableRows = md
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| metric') && !l.startsWith('| setting'));
    // The settings: queue, batch size, maximum concurrency, batch processing, maxReceiveCount,
    // visibility timeout, function timeout (each with where it came from).
    expect(tableRows.length).toBe(comparisonRows(data().report).length + 7);
    expect(md).toContain(
      `| function timeout | ${pipelineConfig.consumers.fifo.timeoutSeconds} s (config) | ${pipelineConfig.consumers.standard.timeoutSeconds} s (config) |`,
    );
  });
});

describe('renderJson', () => {
  it('round-trips the report with the contract fields', () => {
    const d = data();
    const parsed = JSON.parse(renderJson(d.report));
    expect(parsed).toEqual(JSON.parse(JSON.stringify(d.report)));
    expect(parsed.queues.standard.outOfOrder).toBe(1);
    // latencies 150, 140, 130 ms: nearest-rank p50 is the 2nd of 3.
    expect(parsed.queues.fifo.latencyMs).toEqual({ p50: 140, p95: 150, p99: 150, max: 150 });
  });
});

describe('renderHtml', () => {
  it('is self-contained: no external urls, scripts or stylesheets', () => {
    const html = renderHtml(data());
    expect(html).not.toMatch(/\b(src|href)=/);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script(?![^>]*application\/json)/);
  });
  it('escapes run ids and customer ids', () => {
    const b = new LedgerBuilder().accept('o', '<b>c</b>', 1, 0);
    b.deliver('fifo', 'o', 1, 'applied').apply('fifo', 'o', 2);
    const d = buildReport({
      runId: 'r',
      target: 'local',
      config: pipelineConfig,
      ledger: b.ledger,
    });
    const html = renderHtml(d);
    expect(html).not.toContain('<b>c</b>');
    expect(html).toContain('&#60;b&#62;c&#60;/b&#62;');
  });

  it('draws a second effect in red on a bar of its own, a retry that applied the order once in grey', () => {
    const b = new LedgerBuilder().accept('r1', 'a', 1, 0).accept('d1', 'a', 2, 10);
    for (const q of ['fifo', 'standard'] as const) {
      b.deliver(q, 'r1', 100, 'failed').fail(q, 'r1', 1, false);
      b.deliver(q, 'r1', 200, 'applied').apply(q, 'r1', 210);
      b.deliver(q, 'd1', 300, 'applied').apply(q, 'd1', 310);
    }
    // Standard only: a copy of d1 whose effect ran again (no idempotency).
    b.deliver('standard', 'd1', 400, 'applied').apply('standard', 'd1', 410);
    const d = buildReport({
      runId: 'r',
      target: 'local',
      config: pipelineConfig,
      ledger: b.ledger,
    });
    expect(d.report.queues.standard.duplicateEffects).toBe(1);
    expect(d.report.queues.fifo.duplicateEffects).toBe(0);
    const bars = [
      ...renderHtml(d).matchAll(
        /class="dup-bar" data-queue="(\w+)" data-kind="(\w+)" data-count="(\d+)"(?: style="--c:(#[0-9a-f]{6}))?/g,
      ),
    ].map(([, queue, kind, count, color]) => ({ queue, kind, count: Number(count), color }));
    const count = (queue: string, kind: string) =>
      bars.find((x) => x.queue === queue && x.kind === kind)?.count;
    expect(count('fifo', 'applied')).toBe(1);
    expect(count('fifo', 'duplicateEffects')).toBe(0);
    expect(count('standard', 'applied')).toBe(2);
    expect(count('standard', 'duplicateEffects')).toBe(1);
    const appliedColor = bars.find((x) => x.kind === 'applied' && x.color)?.color;
    const effectColor = bars.find((x) => x.kind === 'duplicateEffects' && x.color)?.color;
    expect(appliedColor).toBeDefined();
    expect(effectColor).toBeDefined();
    expect(appliedColor).not.toBe(effectColor);
  });

  it('counts the duplicate causes in words that agree with the count: "2 queue copies", "1 retry after failure"', () => {
    // Standard: two orders each delivered twice, no failure between (queue copies); one order
    // failed once and received again (a retry after failure).
    const b = new LedgerBuilder().accept('c1', 'a', 1, 0).accept('c2', 'a', 2, 10);
    for (const id of ['c1', 'c2']) {
      b.deliver('fifo', id, 100, 'applied').apply('fifo', id, 110);
      b.deliver('standard', id, 100, 'applied').apply('standard', id, 110);
      b.deliver('standard', id, 200, 'suppressed');
    }
    b.accept('r1', 'b', 1, 20);
    b.deliver('fifo', 'r1', 100, 'applied').apply('fifo', 'r1', 110);
    b.deliver('standard', 'r1', 100, 'failed').fail('standard', 'r1', 1, false);
    b.deliver('standard', 'r1', 200, 'applied', 2).apply('standard', 'r1', 210);
    const d = buildReport({
      runId: 'r',
      target: 'local',
      config: pipelineConfig,
      ledger: b.ledger,
    });
    expect(d.report.queues.standard.duplicateCauses).toMatchObject({
      queueCopy: 2,
      retryAfterFailure: 1,
    });

    const html = renderHtml(d);

    expect(html).toContain('2 queue copies (');
    expect(html).toContain('1 retry after failure (');
    expect(html).not.toMatch(/\bcopys\b/);
  });

  it('bins latency on unrounded edges: no bucket reads "1-1 ms"', () => {
    const bins = logBins([1, 1, 2, 9, 10], { lo: 0, hi: 1 }, 10);
    expect(bins[0]).toEqual({ from: 1, to: 1.26, count: 2 });
    expect(bins.every((x) => x.from < x.to)).toBe(true);
    expect(bins.reduce((n, x) => n + x.count, 0)).toBe(5);
  });

  it('declares a Content-Security-Policy that allows nothing but its inline style', () => {
    const html = renderHtml(data());
    expect(html).toContain(
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    );
  });
});

describe('an order counted lost while some of the DLQ was not read', () => {
  // Standard loses a3 (never delivered); its DLQ held 2 messages the report could not read.
  const unread = { standard: { depth: 2, orderIds: [], messages: [], unread: 2 } };
  const note =
    "standard: 1 order counts as lost while 2 DLQ messages were not read (SQS's approximate depth less what the report read): it may be in the DLQ; run the report again later";

  it('says in the notes, so every format shows it, that the lost order may be in the DLQ', () => {
    const d = data(unread);
    expect(d.report.queues.standard.lost).toBe(1);
    expect(d.report.notes).toContain(note);
    expect(renderTable(d.report)).toContain(`note: ${note}`);
    expect(renderMarkdown(d.report)).toContain(`- ${note}`);
  });

  it('says so in the HTML headline next to the orders lost', () => {
    const html = renderHtml(data(unread));
    expect(html).toContain(
      '(accepted but neither applied nor in a DLQ); DLQ messages the report could not read (standard 2) may hold some of them.',
    );
  });

  it('says nothing of the kind when the whole DLQ was read', () => {
    const d = data({ standard: { depth: 0, orderIds: [], messages: [], unread: 0 } });
    expect(d.report.notes.filter((n) => n.includes('may be in the DLQ'))).toEqual([]);
    expect(renderHtml(d)).toContain('(accepted but neither applied nor in a DLQ).');
  });
});
