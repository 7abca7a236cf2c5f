import { QUEUE_KINDS } from '../../../../shared/src/config/pipeline';
import type { KeyResult, PointMetrics, SweepResult } from '../experiments';

/** Tables and charts of the experiments: pure functions of their results. */

/** Columns padded to their widest cell; numbers right-aligned. */
export function textTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export const pointLabel = (r: SweepResult): string =>
  `g${r.point.groups} c${r.point.maximumConcurrency} b${r.point.batchSize}`;

export function renderSweepTable(results: SweepResult[]): string {
  const head = ['groups', 'max conc', 'batch'];
  for (const q of QUEUE_KINDS) head.push(`${q} orders/s`, `${q} out-of-order`, `${q} p95 ms`);
  const rows = results.map((r) => [
    String(r.point.groups),
    String(r.point.maximumConcurrency),
    String(r.point.batchSize),
    ...QUEUE_KINDS.flatMap((q) => [
      r.queues[q].throughputPerSec.toFixed(1),
      String(r.queues[q].outOfOrder),
      r.queues[q].latencyP95Ms === null ? '-' : String(r.queues[q].latencyP95Ms),
    ]),
  ]);
  return `${textTable(head, rows)}\n`;
}

export function renderKeyTable(results: KeyResult[]): string {
  const head = ['idempotency key', 'client retries'];
  for (const q of QUEUE_KINDS)
    head.push(`${q} dup deliveries`, `${q} suppressed`, `${q} dup effects`);
  const rows = results.map((r) => [
    r.key,
    String(r.clientRetries),
    ...QUEUE_KINDS.flatMap((q) => [
      String(r.queues[q].duplicateDeliveries),
      String(r.queues[q].suppressed),
      String(r.queues[q].duplicateEffects),
    ]),
  ]);
  return `${textTable(head, rows)}\n`;
}

const esc = (s: string | number): string =>
  String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const COLORS = { fifo: '#2563eb', standard: '#d97706' } as const;

/** Grouped bars: one group per sweep point, one bar per queue, values labelled. */
function barChart(
  id: string,
  title: string,
  results: SweepResult[],
  value: (m: PointMetrics) => number,
  unit: string,
): string {
  const barW = 18;
  const groupW = barW * 2 + 16;
  const h = 180;
  const top = 24;
  const left = 8;
  const max = Math.max(1, ...results.flatMap((r) => QUEUE_KINDS.map((q) => value(r.queues[q]))));
  const width = left * 2 + groupW * results.length;
  const bars = results
    .map((r, i) =>
      QUEUE_KINDS.map((q, j) => {
        const v = value(r.queues[q]);
        const bh = Math.round((v / max) * h);
        const x = left + i * groupW + j * barW;
        const y = top + h - bh;
        return `<rect data-queue="${q}" data-point="${esc(pointLabel(r))}" data-value="${v}" x="${x}" y="${y}" width="${barW - 2}" height="${bh}" fill="${COLORS[q]}"><title>${q} ${esc(pointLabel(r))}: ${v} ${esc(unit)}</title></rect><text x="${x + (barW - 2) / 2}" y="${y - 3}" font-size="9" text-anchor="middle">${esc(Number.isInteger(v) ? v : v.toFixed(1))}</text>`;
      }).join(''),
    )
    .join('\n');
  const labels = results
    .map(
      (r, i) =>
        `<text x="${left + i * groupW + barW}" y="${top + h + 14}" font-size="10" text-anchor="middle">${esc(pointLabel(r))}</text>`,
    )
    .join('');
  return `<figure id="${id}"><figcaption>${esc(title)}</figcaption><svg width="${width}" height="${top + h + 24}" role="img" aria-label="${esc(title)}">
<line x1="${left}" y1="${top + h}" x2="${width - left}" y2="${top + h}" stroke="#9ca3af"/>
${bars}
${labels}
</svg></figure>`;
}

/** One self-contained page (inline SVG, no network) with the sweep's charts and its data. */
export function renderSweepHtml(results: SweepResult[], seed: number): string {
  const table = renderSweepTable(results);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sweep ${seed}: groups x max concurrency x batch size</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;padding:0 16px}figure{margin:16px 0;overflow-x:auto}pre{background:#f9fafb;padding:8px}.k{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}</style>
</head><body>
<h1>Sweep: message groups x maximum concurrency x batch size</h1>
<p>Seed ${seed}. Point labels: g = message groups (customers), c = maximum concurrency, b = batch size.
<span class="k" style="background:${COLORS.fifo}"></span>fifo<span class="k" style="background:${COLORS.standard}"></span>standard</p>
${barChart('throughput', 'Throughput (orders/s, first accept to last effect)', results, (m) => m.throughputPerSec, 'orders/s')}
${barChart('out-of-order', 'Out-of-order applies (per customer, against sequence)', results, (m) => m.outOfOrder, 'applies')}
${barChart('latency-p95', 'Latency p95 (ms, accepted to applied)', results, (m) => m.latencyP95Ms ?? 0, 'ms')}
<h2>Data</h2><pre>${esc(table)}</pre>
<script type="application/json" id="sweep-data">${JSON.stringify(results).replace(/</g, '\\u003c')}</script>
</body></html>
`;
}
