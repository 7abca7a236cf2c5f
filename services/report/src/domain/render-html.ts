import { QUEUE_KINDS, type QueueKind } from '../../../../shared/src/config/pipeline';
import type { CustomerApplies, QueueAnalysis } from './metrics';
import { histogram } from './percentiles';
import type { ReportData } from './report';
import { comparisonRows } from './rows';

/**
 * One self-contained HTML file: inline CSS and SVG, no script or font from the network, so it
 * opens from a CI artifact or an e-mail attachment. Every chart element carries `data-*`
 * attributes with the numbers it draws, which is also what the Chromium test reads back.
 */

export interface HtmlOptions {
  /** Customers drawn per queue in the ordering chart (most disordered first). */
  maxCustomers?: number;
  /** Latency histogram buckets. */
  latencyBuckets?: number;
}

const esc = (s: string | number): string =>
  String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const COLORS = {
  fifo: '#2563eb',
  standard: '#d97706',
  bad: '#dc2626',
  ok: '#16a34a',
  grey: '#9ca3af',
};

function applyChart(queue: QueueKind, c: CustomerApplies): string {
  const n = c.sequences.length;
  const w = 220;
  const h = 160;
  const pad = 24;
  let maxSeq = 1;
  let minSeq = Number.POSITIVE_INFINITY;
  for (const s of c.sequences) {
    if (s > maxSeq) maxSeq = s;
    if (s < minSeq) minSeq = s;
  }
  if (!Number.isFinite(minSeq)) minSeq = 0;
  const x = (i: number) => pad + (n <= 1 ? 0 : (i / (n - 1)) * (w - 2 * pad));
  const y = (s: number) =>
    h - pad - (maxSeq === minSeq ? 0 : ((s - minSeq) / (maxSeq - minSeq)) * (h - 2 * pad));
  let high = Number.NEGATIVE_INFINITY;
  const points = c.sequences
    .map((s, i) => {
      const late = s < high;
      if (!late) high = s;
      return `<circle class="apply-point${late ? ' late' : ''}" cx="${x(i).toFixed(1)}" cy="${y(s).toFixed(1)}" r="2.5" fill="${late ? COLORS.bad : COLORS[queue]}" data-apply="${i + 1}" data-sequence="${s}"><title>apply #${i + 1}: sequence ${s}${late ? ' (after a higher sequence)' : ''}</title></circle>`;
    })
    .join('');
  const diagonal = `<line x1="${x(0)}" y1="${y(minSeq)}" x2="${x(Math.max(0, n - 1))}" y2="${y(maxSeq)}" stroke="${COLORS.grey}" stroke-dasharray="4 3"/>`;
  return `<figure class="customer"><svg class="apply-chart" data-queue="${queue}" data-customer="${esc(c.customerId)}" data-points="${n}" data-out-of-order="${c.outOfOrder}" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="apply order of ${esc(c.customerId)} on ${queue}">
<rect x="0" y="0" width="${w}" height="${h}" fill="#fff"/>${diagonal}${points}
<text x="${pad}" y="14" font-size="11">${esc(c.customerId)}</text>
<text x="${w - pad}" y="14" font-size="11" text-anchor="end" fill="${c.outOfOrder ? COLORS.bad : COLORS.ok}">${c.outOfOrder} late, ${c.inversions} inv.</text>
<text x="${w / 2}" y="${h - 6}" font-size="10" text-anchor="middle">apply order &#8594;</text>
</svg></figure>`;
}

function orderingSection(queue: QueueKind, a: QueueAnalysis, maxCustomers: number): string {
  const shown = a.customers
    .slice()
    .sort((p, q) => q.inversions - p.inversions || (p.customerId < q.customerId ? -1 : 1))
    .slice(0, maxCustomers);
  const note =
    shown.length < a.customers.length
      ? `<p class="note">Showing ${shown.length} of ${a.customers.length} customers, most disordered first.</p>`
      : '';
  return `<section class="ordering" data-queue="${queue}"><h3>${queue}: apply order against sequence</h3>
<p class="note">Each dot is one order, left to right in the order its effect committed; height is the customer's sequence. In order, the dots climb the dashed diagonal; a red dot was applied after a higher sequence.</p>
${note}<div class="grid">${shown.map((c) => applyChart(queue, c)).join('\n')}</div></section>`;
}

function barRow(
  queue: QueueKind,
  label: string,
  parts: { kind: string; count: number; color: string }[],
  scale: number,
  yPos: number,
): string {
  let x = 150;
  const rects = parts
    .map((p) => {
      const width = scale > 0 ? (p.count / scale) * 400 : 0;
      const r = `<rect class="dup-bar" data-queue="${queue}" data-kind="${p.kind}" data-count="${p.count}" x="${x.toFixed(1)}" y="${yPos}" width="${width.toFixed(1)}" height="18" fill="${p.color}"><title>${queue} ${p.kind}: ${p.count}</title></rect>`;
      x += width;
      return r;
    })
    .join('');
  const total = parts.reduce((n, p) => n + p.count, 0);
  return `<text x="0" y="${yPos + 13}" font-size="12">${esc(label)}</text>${rects}<text x="${(x + 6).toFixed(1)}" y="${yPos + 13}" font-size="12">${total}</text>`;
}

function duplicatesSection(data: ReportData): string {
  const rows: string[] = [];
  let scale = 1;
  for (const q of QUEUE_KINDS) {
    const d = data.analysis[q].duplicates;
    scale = Math.max(scale, d.copies + d.redelivered);
  }
  let yPos = 10;
  for (const q of QUEUE_KINDS) {
    const d = data.analysis[q].duplicates;
    rows.push(
      barRow(
        q,
        `${q}: why`,
        [
          { kind: 'copies', count: d.copies, color: COLORS.standard },
          { kind: 'redelivered', count: d.redelivered, color: COLORS.fifo },
        ],
        scale,
        yPos,
      ),
    );
    yPos += 26;
    rows.push(
      barRow(
        q,
        `${q}: outcome`,
        [
          { kind: 'suppressed', count: d.byOutcome.suppressed, color: COLORS.ok },
          { kind: 'applied', count: d.byOutcome.applied, color: COLORS.bad },
          { kind: 'failed', count: d.byOutcome.failed, color: '#7c3aed' },
          { kind: 'pending', count: d.byOutcome.pending, color: COLORS.grey },
        ],
        scale,
        yPos,
      ),
    );
    yPos += 36;
  }
  return `<section class="duplicates"><h2>Duplicate deliveries and what stopped them</h2>
<p class="note">Every delivery of an order after its first. <b>copies</b>: another stored copy of the message arrived (receive count 1, SQS at-least-once); <b>redelivered</b>: the message came back after its visibility timeout or a failed batch (receive count above 1). <b>suppressed</b>: the idempotency record answered and the effect did not run again; <b>applied</b>: the effect ran again (a duplicate effect). Client retries with the same Idempotency-Key: ${data.clientRetries}; the producer accepted each such order once.</p>
<svg class="dup-chart" viewBox="0 0 620 ${yPos}" width="620" height="${yPos}" role="img" aria-label="duplicate deliveries">${rows.join('\n')}</svg></section>`;
}

function latencySection(data: ReportData, buckets: number): string {
  const w = 620;
  const h = 180;
  const charts = QUEUE_KINDS.map((q) => {
    const a = data.analysis[q];
    const bins = histogram(a.latencies, buckets);
    const maxCount = Math.max(1, ...bins.map((b) => b.count));
    const bw = (w - 40) / Math.max(1, bins.length);
    const bars = bins
      .map(
        (b, i) =>
          `<rect class="latency-bar" data-queue="${q}" data-from="${b.from}" data-to="${b.to}" data-count="${b.count}" x="${(30 + i * bw).toFixed(1)}" y="${(h - 20 - (b.count / maxCount) * (h - 40)).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${((b.count / maxCount) * (h - 40)).toFixed(1)}" fill="${COLORS[q]}"><title>${b.from}-${b.to} ms: ${b.count}</title></rect>`,
      )
      .join('');
    const last = bins.at(-1)?.to ?? 1;
    const marks = (['p50', 'p95', 'p99'] as const)
      .map((p) => {
        const v = a.metrics.latencyMs[p];
        if (v === null) return '';
        const xm = 30 + (v / last) * (w - 40);
        return `<line class="latency-mark" data-queue="${q}" data-percentile="${p}" data-value="${v}" x1="${xm.toFixed(1)}" x2="${xm.toFixed(1)}" y1="16" y2="${h - 20}" stroke="#111" stroke-dasharray="3 3"/><text x="${xm.toFixed(1)}" y="12" font-size="10" text-anchor="middle">${p} ${v}</text>`;
      })
      .join('');
    return `<figure><figcaption>${q}: accepted to effect committed (${a.latencies.length} orders)</figcaption><svg class="latency-chart" data-queue="${q}" data-samples="${a.latencies.length}" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${q} latency histogram"><line x1="30" y1="${h - 20}" x2="${w - 10}" y2="${h - 20}" stroke="#555"/>${bars}${marks}<text x="30" y="${h - 4}" font-size="10">0 ms</text><text x="${w - 10}" y="${h - 4}" font-size="10" text-anchor="end">${last} ms</text></svg></figure>`;
  });
  return `<section class="latency"><h2>Latency distribution</h2>${charts.join('\n')}</section>`;
}

export function renderHtml(data: ReportData, options: HtmlOptions = {}): string {
  const { report } = data;
  const maxCustomers = options.maxCustomers ?? 12;
  const rows = comparisonRows(report)
    .map(
      (r) =>
        `<tr data-field="${esc(r.field)}"><th>${esc(r.label)}</th><td>${esc(r.fifo)}</td><td>${esc(r.standard)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Order pipeline report: ${esc(report.runId)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#111;padding:0 16px}
table{border-collapse:collapse}th,td{padding:3px 12px;border-bottom:1px solid #e5e7eb;text-align:right}
th{text-align:left;font-weight:normal}thead th{font-weight:600}
.grid{display:flex;flex-wrap:wrap;gap:8px}.customer{margin:0;border:1px solid #e5e7eb}
.note{color:#4b5563;max-width:800px}figure{margin:8px 0}
</style></head><body>
<h1>FIFO vs standard: run <code>${esc(report.runId)}</code></h1>
<p>Target ${esc(report.target)}, generated ${esc(report.generatedAt)}, ${report.accepted} accepted orders.</p>
<section class="summary"><h2>Side by side</h2><table id="comparison"><thead><tr><th>metric</th><th style="color:${COLORS.fifo}">fifo</th><th style="color:${COLORS.standard}">standard</th></tr></thead><tbody>
${rows}
</tbody></table></section>
<section><h2>Per-customer apply order</h2>
${QUEUE_KINDS.map((q) => orderingSection(q, data.analysis[q], maxCustomers)).join('\n')}
</section>
${duplicatesSection(data)}
${latencySection(data, options.latencyBuckets ?? 30)}
<script type="application/json" id="report-data">${JSON.stringify(report).replace(/</g, '\\u003c')}</script>
</body></html>
`;
}
