import { QUEUE_KINDS } from '../../shared/src/queue-kind';
import { givenUpNote, notAccepted } from '../given-up';
import type { KeyResult, PointMetrics, SweepResult } from './experiments';

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

/** Batches at work at once, mean (max), e.g. `4.6 (5)`. */
export const inFlightLabel = (m: PointMetrics): string =>
  `${m.batches.mean.toFixed(1)} (${m.batches.max})`;

/**
 * What a reader must know of a queue whose rate window had clock time skipped in it or
 * invocations that did not end: the rate leaves the skipped time out, and the point had a
 * timed-out batch. Undefined when neither happened.
 */
export function skipNote(m: PointMetrics): string | undefined {
  if (m.skippedMs === 0 && m.unendedInvocations === 0) return undefined;
  return `${(m.skippedMs / 1000).toFixed(1)} s of skipped clock inside its window, left out of orders/s; ${m.unendedInvocations} invocation(s) did not end (timed out or died)`;
}

/** One line per queue of a point that has a skipNote, e.g. for under the table. */
export function sweepSkipNotes(results: SweepResult[]): string[] {
  return results.flatMap((r) =>
    QUEUE_KINDS.flatMap((q) => {
      const note = skipNote(r.queues[q]);
      return note ? [`${pointLabel(r)} ${q}: ${note}`] : [];
    }),
  );
}

/**
 * One line per point whose load client gave up on orders, e.g. for under the table: an order the
 * API does not hold never reached the point's queues, which were filled with that many fewer.
 */
export function sweepGivenUpNotes(results: SweepResult[]): string[] {
  return results.flatMap((r) => {
    if (r.load.givenUp.length === 0) return [];
    const lost = notAccepted(r.load.givenUp).length;
    const fewer = lost > 0 ? `; its queues were filled with ${r.load.accepted} orders` : '';
    return [`${pointLabel(r)}: ${givenUpNote(r.load.givenUp)}${fewer}`];
  });
}

export function renderSweepTable(results: SweepResult[]): string {
  const head = ['groups', 'max conc', 'batch'];
  for (const q of QUEUE_KINDS) {
    head.push(`${q} orders/s`, `${q} in flight`, `${q} ms/batch`, `${q} out-of-order`);
  }
  const rows = results.map((r) => [
    String(r.point.groups),
    String(r.point.maximumConcurrency),
    String(r.point.batchSize),
    ...QUEUE_KINDS.flatMap((q) => [
      r.queues[q].consumptionPerSec.toFixed(1),
      inFlightLabel(r.queues[q]),
      String(r.queues[q].batches.batchMs),
      String(r.queues[q].outOfOrder),
    ]),
  ]);
  const notes = [...sweepSkipNotes(results), ...sweepGivenUpNotes(results)];
  return `${textTable(head, rows)}\n${notes.map((n) => `${n}\n`).join('')}`;
}

/** What the sweep's numbers measure, and under which settings (said with every table and page). */
export interface SweepSettings {
  seed: number;
  orders: number;
  serviceMs: number;
  faults?: string;
}

export function sweepExplanation(s: SweepSettings): string {
  return [
    `orders/s: each queue was filled with the same ${s.orders} orders before any consumer ran, then its consumers drained it alone;`,
    "orders/s = distinct orders applied / (last effect - first receive), both on the functions' clock, less any clock time the run skipped in between",
    '(a visibility timeout waited out while nothing was in flight, listed under the table with the invocations that did not end), so it measures the consumers on a full queue,',
    `not the load generator or the producer. Every effect does ${s.serviceMs} ms of simulated work (service time).`,
    'in flight: batches at work at once while the queue drained, mean (max), from the ledger; ms/batch: how long one took.',
    'orders/s is about in flight x orders per batch / ms/batch, so the two say which bound a rate measures:',
    'FIFO lets one batch per message group run, so its in flight is at most min(groups, max concurrency) and one group serialises it;',
    'standard hands any message to any poller, so only the maximum concurrency bounds its in flight, never the groups.',
    "Where in flight sits at the queue's bound and ms/batch stays near the work (FIFO: batch size x service time, one record",
    'after another; standard in parallel: about one service time), the queue type sets the rate; where ms/batch is well above',
    "the work, the machine's CPU (each order's DynamoDB requests and the SDK's work) sets it, not the queue. The service time",
    'is there to make the work, not that overhead, the larger part of ms/batch.',
    "out-of-order: applies of an order after a higher sequence of the same customer (the report's outOfOrder).",
  ].join('\n');
}

/**
 * One row per run. "standard re-sends" is what the ledger shows (a second message id of an order),
 * next to the lost answers injected: on a loaded machine a send retried after a timeout adds some.
 */
export function renderKeyTable(results: KeyResult[]): string {
  const head = ['idempotency key', 'client retries', 'standard lost answers', 'standard re-sends'];
  for (const q of QUEUE_KINDS)
    head.push(`${q} dup deliveries`, `${q} suppressed`, `${q} dup effects`);
  const rows = results.map((r) => [
    r.key,
    String(r.clientRetries),
    String(r.lostAnswers.standard),
    String(r.queues.standard.duplicateCauses.producerResend),
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
export function renderSweepHtml(results: SweepResult[], settings: SweepSettings): string {
  const { seed } = settings;
  const table = renderSweepTable(results);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sweep ${seed}: groups x max concurrency x batch size</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;padding:0 16px}figure{margin:16px 0;overflow-x:auto}pre{background:#f9fafb;padding:8px}.k{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}</style>
</head><body>
<h1>Sweep: message groups x maximum concurrency x batch size</h1>
<p>Seed ${seed}, ${settings.orders} orders per point${settings.faults ? `, SQS faults ${esc(settings.faults)}` : ''}, effect service time ${settings.serviceMs} ms. Point labels: g = message groups (customers), c = maximum concurrency, b = batch size.
<span class="k" style="background:${COLORS.fifo}"></span>fifo<span class="k" style="background:${COLORS.standard}"></span>standard</p>
<p id="measures">${esc(sweepExplanation(settings)).replace(/\n/g, ' ')}</p>
${barChart('throughput', 'Consumers on a full queue (orders/s: applied / (last effect - first receive))', results, (m) => m.consumptionPerSec, 'orders/s')}
${barChart('in-flight', 'Batches at work at once while the queue drained (mean; FIFO at most one per message group)', results, (m) => m.batches.mean, 'batches')}
${barChart('out-of-order', 'Out-of-order applies (per customer, against sequence)', results, (m) => m.outOfOrder, 'applies')}
<h2>Data</h2><pre>${esc(table)}</pre>
<script type="application/json" id="sweep-data">${JSON.stringify(results).replace(/</g, '\\u003c')}</script>
</body></html>
`;
}
