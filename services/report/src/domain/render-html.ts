import { QUEUE_KINDS, type QueueKind } from '../../../../shared/src/queue-kind';
import type { CustomerApplies, QueueAnalysis } from './metrics';
import type { ReportData } from './report';
import { comparisonRows, DUPLICATE_CAUSES, METRIC_LABELS } from './rows';

const CAUSES = ['producerResend', 'queueCopy', 'retryAfterFailure', 'dlqRedrive'] as const;

/**
 * One self-contained HTML file: inline CSS and SVG, no script or font from the network, so it
 * opens from a CI artifact or an e-mail attachment. It reads top down as an answer: a headline
 * stating, from this run's numbers, what each queue did; then the evidence, FIFO and standard
 * side by side, each colour named in a legend next to its chart. Every chart element carries
 * `data-*` attributes with the numbers it draws, which is also what the Chromium test reads back.
 * Text lives in HTML, not in SVG, wherever it can, so the browser lays it out at any width
 * (down to a 375 px phone) without two labels landing on each other.
 */

export interface HtmlOptions {
  /** Customers drawn side by side (those whose order differs between the queues, worst first). */
  maxCustomers?: number;
  /** Latency histogram buckets per decade of the log axis. */
  bucketsPerDecade?: number;
}

const esc = (s: string | number): string =>
  String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const COLORS = {
  fifo: '#2563eb',
  standard: '#d97706',
  late: '#dc2626',
  suppressed: '#16a34a',
  // A delivery that ran the effect is neutral: after a failed attempt that is the order's one
  // apply. Red is kept for a second effect (duplicateEffects), drawn on a bar of its own.
  applied: '#64748b',
  duplicateEffects: '#b91c1c',
  failed: '#7c3aed',
  pending: '#9ca3af',
  producerResend: '#ca8a04',
  queueCopy: '#0891b2',
  retryAfterFailure: '#db2777',
  dlqRedrive: '#78350f',
  diagonal: '#9ca3af',
} as const;

const QUEUE_LABEL: Record<QueueKind, string> = { fifo: 'FIFO', standard: 'standard' };

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const pct = (part: number, whole: number) =>
  whole > 0 ? `${((100 * part) / whole).toFixed(part * 1000 < whole ? 2 : 1)}%` : '0%';
const ms = (v: number | null) => (v === null ? 'n/a' : `${v} ms`);

function legend(
  items: Array<{ color: string; label: string; shape?: 'dot' | 'line' | 'dash' | 'dotted' }>,
) {
  return `<ul class="legend">${items
    .map(
      (i) =>
        `<li class="label"><span class="key ${i.shape ?? 'box'}" data-color="${i.color}" style="--c:${i.color}"></span>${esc(i.label)}</li>`,
    )
    .join('')}</ul>`;
}

// ---------------------------------------------------------------------------------- headline

function orderSentence(data: ReportData, q: QueueKind): string {
  const a = data.analysis[q];
  const m = a.metrics;
  const customers = a.customers.length;
  if (m.outOfOrder === 0) {
    return `<b>${QUEUE_LABEL[q]} kept every customer's order</b>: all ${plural(m.processed, 'order')} of ${plural(customers, 'customer')} applied in sequence.`;
  }
  return `<b>${QUEUE_LABEL[q]} did not keep order</b>: ${plural(m.outOfOrder, 'order')} (${pct(m.outOfOrder, m.processed)}) applied after a higher sequence of the same customer, for ${m.customersAffected} of ${plural(customers, 'customer')}.`;
}

function duplicateSentence(data: ReportData, q: QueueKind): string {
  const m = data.analysis[q].metrics;
  const d = data.analysis[q].duplicates;
  if (m.duplicateDeliveries === 0) {
    const retries =
      q === 'fifo' && data.clientRetries > 0
        ? ` The ${plural(data.clientRetries, 'client retry', 'client retries')} (a 409 telling a client to come back counts as one) were answered from the orders' records or with 409; an order is sent again only where SQS's answer was lost, and FIFO drops such a re-send within its 5-minute deduplication window.`
        : '';
    return `<b>${QUEUE_LABEL[q]} delivered no extra copy.</b>${retries}`;
  }
  const c = d.causes;
  const causes = (['producerResend', 'queueCopy', 'retryAfterFailure', 'dlqRedrive'] as const)
    .filter((k) => c[k] > 0)
    .map((k) => {
      const { label, labels, why } = DUPLICATE_CAUSES[k];
      return `${plural(c[k], label, labels)} (${why})`;
    });
  const by = data.suppressedBy[q];
  const guards = [
    by.record > 0 ? `Powertools' idempotency record answered ${by.record}` : '',
    by.effect > 0
      ? `the effect's own conditional write refused ${by.effect} (the record had expired or was left in progress)`
      : '',
  ].filter(Boolean);
  const rest = m.duplicateDeliveries - m.suppressed;
  const stopped =
    m.duplicateEffects === 0
      ? `${guards.length > 0 ? `${guards.join(' and ')}, so the effect did not run again` : 'no copy reached the effect'}${rest > 0 ? `; the other ${rest} ended as a failed attempt, or as the retry that applied the order after one` : ''}; none was applied twice`
      : `<b class="bad">${plural(m.duplicateEffects, 'order')} applied twice</b> (duplicate effects: idempotency was off or failed)`;
  return `<b>${QUEUE_LABEL[q]} delivered ${plural(m.duplicateDeliveries, 'extra copy', 'extra copies')}</b>: ${causes.join('; ')}. What stopped them: ${stopped}.`;
}

function latencySentence(data: ReportData): string {
  const f = data.report.queues.fifo.latencyMs;
  const s = data.report.queues.standard.latencyMs;
  if (f.p99 === null || s.p99 === null || f.p50 === null || s.p50 === null) {
    return 'Latency: not enough applied orders on both queues to compare.';
  }
  const d99 = f.p99 - s.p99;
  const d50 = f.p50 - s.p50;
  const signed = (v: number) => (v >= 0 ? `+${v} ms` : `${v} ms`);
  const failed = data.failedDeliveries.fifo;
  const why =
    failed > 0
      ? `${plural(failed, 'FIFO delivery', 'FIFO deliveries')} failed, and each held back every later order of its customer (its message group) until it was retried: head-of-line blocking, the price of keeping order.`
      : 'No FIFO delivery failed in this run, so no customer waited behind a retry; the difference is batching and one batch in flight per message group.';
  return `<b>What FIFO paid for its order</b>: accepted to applied p50 ${ms(f.p50)} vs ${ms(s.p50)} on standard (${signed(d50)}), p99 ${ms(f.p99)} vs ${ms(s.p99)} (${signed(d99)}). ${why}`;
}

/** Where an order counted lost may yet be: DLQ messages the report did not read. */
function unreadSentence(data: ReportData): string {
  const unread = QUEUE_KINDS.filter(
    (q) => data.report.queues[q].lost > 0 && data.report.queues[q].dlqUnread > 0,
  ).map((q) => `${q === 'fifo' ? 'FIFO' : 'standard'} ${data.report.queues[q].dlqUnread}`);
  return unread.length > 0
    ? `; DLQ messages the report could not read (${unread.join(', ')}) may hold some of them`
    : '';
}

function headline(data: ReportData): string {
  const { report } = data;
  const lost = QUEUE_KINDS.map((q) => report.queues[q].lost);
  const dlq = QUEUE_KINDS.map((q) => report.queues[q].inDlq);
  const loss =
    lost[0] === 0 && lost[1] === 0
      ? `Nothing was lost: every one of the ${report.accepted} accepted orders was applied${dlq[0]! + dlq[1]! > 0 ? ` or is in a DLQ (FIFO ${dlq[0]}, standard ${dlq[1]})` : ''} on both queues.`
      : `<b class="bad">Orders lost</b>: FIFO ${lost[0]}, standard ${lost[1]} (accepted but neither applied nor in a DLQ)${unreadSentence(data)}.`;
  const items = [
    ...QUEUE_KINDS.map((q) => `<li data-claim="order-${q}">${orderSentence(data, q)}</li>`),
    ...QUEUE_KINDS.map((q) => `<li data-claim="copies-${q}">${duplicateSentence(data, q)}</li>`),
    `<li data-claim="latency">${latencySentence(data)}</li>`,
    `<li data-claim="loss">${loss}</li>`,
  ];
  return `<section class="headline"><h2>What this run showed</h2><ul>${items.join('')}</ul></section>`;
}

// ------------------------------------------------------------------------- per-customer order

const APPLY_W = 200;
const APPLY_H = 110;
const APPLY_PAD = 8;

function applyChart(queue: QueueKind, c: CustomerApplies | undefined, customerId: string): string {
  if (!c) {
    return `<figure class="apply"><figcaption class="label">${QUEUE_LABEL[queue]}: nothing applied</figcaption></figure>`;
  }
  const n = c.sequences.length;
  let maxSeq = Number.NEGATIVE_INFINITY;
  let minSeq = Number.POSITIVE_INFINITY;
  for (const s of c.sequences) {
    if (s > maxSeq) maxSeq = s;
    if (s < minSeq) minSeq = s;
  }
  const x = (i: number) => APPLY_PAD + (n <= 1 ? 0 : (i / (n - 1)) * (APPLY_W - 2 * APPLY_PAD));
  const y = (s: number) =>
    APPLY_H -
    APPLY_PAD -
    (maxSeq === minSeq ? 0 : ((s - minSeq) / (maxSeq - minSeq)) * (APPLY_H - 2 * APPLY_PAD));
  let high = Number.NEGATIVE_INFINITY;
  const points = c.sequences
    .map((s, i) => {
      const late = s < high;
      if (!late) high = s;
      return `<circle class="apply-point${late ? ' late' : ''}" cx="${x(i).toFixed(1)}" cy="${y(s).toFixed(1)}" r="${late ? 3 : 2.2}" fill="${late ? COLORS.late : COLORS[queue]}" data-apply="${i + 1}" data-sequence="${s}"><title>apply #${i + 1}: sequence ${s}${late ? ' (after a higher sequence)' : ''}</title></circle>`;
    })
    .join('');
  const diagonal = `<line x1="${x(0)}" y1="${y(minSeq)}" x2="${x(Math.max(0, n - 1))}" y2="${y(maxSeq)}" stroke="${COLORS.diagonal}" stroke-dasharray="4 3"/>`;
  const status =
    c.outOfOrder === 0
      ? `<span class="ok">in order</span>`
      : `<span class="bad">${c.outOfOrder} late, ${c.inversions} inverted pairs</span>`;
  return `<figure class="apply"><figcaption class="label">${QUEUE_LABEL[queue]}: ${status}</figcaption><svg class="apply-chart" data-queue="${queue}" data-customer="${esc(customerId)}" data-points="${n}" data-out-of-order="${c.outOfOrder}" viewBox="0 0 ${APPLY_W} ${APPLY_H}" role="img" aria-label="apply order of ${esc(customerId)} on ${queue}"><rect x="0" y="0" width="${APPLY_W}" height="${APPLY_H}" fill="#fff"/>${diagonal}${points}</svg></figure>`;
}

function orderingSection(data: ReportData, maxCustomers: number): string {
  const by = (q: QueueKind) => new Map(data.analysis[q].customers.map((c) => [c.customerId, c]));
  const fifo = by('fifo');
  const standard = by('standard');
  const ids = [...new Set([...fifo.keys(), ...standard.keys()])].sort((a, b) =>
    a.localeCompare(b, undefined, { numeric: true }),
  );
  const disorder = (id: string) =>
    (fifo.get(id)?.inversions ?? 0) + (standard.get(id)?.inversions ?? 0);
  const inOrder = ids.filter((id) => fifo.has(id) && standard.has(id) && disorder(id) === 0);
  const differ = ids
    .filter((id) => !inOrder.includes(id))
    .sort((a, b) => disorder(b) - disorder(a) || a.localeCompare(b, undefined, { numeric: true }));
  const shown = differ.slice(0, maxCustomers);

  const sameList =
    inOrder.length === 0
      ? ''
      : `<p class="same" data-in-order-customers="${inOrder.length}">${inOrder.length === ids.length ? `<b>All ${ids.length} customers</b>` : `<b>${plural(inOrder.length, 'customer')}</b>`} had every order applied in sequence on <b>both</b> queues${inOrder.length <= 30 ? ` (${inOrder.map(esc).join(', ')})` : ''}: their charts would be the same rising line twice, so they are not drawn.</p>`;
  const differNote =
    differ.length === 0
      ? ''
      : `<p class="note">${plural(differ.length, 'customer')} had at least one order applied out of sequence on one queue${shown.length < differ.length ? `; the ${shown.length} most disordered are drawn` : ''}. Left FIFO, right standard, same customer on one row.</p>`;
  const pairs = shown
    .map(
      (id) =>
        `<div class="pair" data-customer="${esc(id)}"><h3 class="label">${esc(id)}</h3><div class="charts">${applyChart('fifo', fifo.get(id), id)}${applyChart('standard', standard.get(id), id)}</div></div>`,
    )
    .join('\n');
  const keys = legend([
    { color: COLORS.fifo, label: 'FIFO: an order applied in sequence', shape: 'dot' },
    { color: COLORS.standard, label: 'standard: an order applied in sequence', shape: 'dot' },
    { color: COLORS.late, label: 'late: applied after a higher sequence', shape: 'dot' },
    { color: COLORS.diagonal, label: 'perfect order (the diagonal)', shape: 'dash' },
  ]);
  return `<section class="ordering"><h2>Per-customer apply order, side by side</h2>
<p class="note">In each chart one dot is one order: left to right in the order its effect committed, height its sequence within the customer. In order, the dots climb the dashed diagonal.</p>
${keys}${sameList}${differNote}<div class="pairs">${pairs}</div></section>`;
}

// -------------------------------------------------------------------------------- duplicates

function barRow(
  queue: QueueKind,
  label: string,
  parts: Array<{ kind: string; count: number; color: string }>,
  scale: number,
): string {
  const total = parts.reduce((n, p) => n + p.count, 0);
  const segments = parts
    .filter((p) => p.count > 0)
    .map(
      (p) =>
        `<span class="dup-bar" data-queue="${queue}" data-kind="${p.kind}" data-count="${p.count}" style="--c:${p.color};width:${((100 * p.count) / scale).toFixed(2)}%" title="${queue} ${p.kind}: ${p.count}"></span>`,
    )
    .join('');
  // Zero-width parts still carry their count, so a reader (or test) finds every kind.
  const zeros = parts
    .filter((p) => p.count === 0)
    .map(
      (p) =>
        `<span class="dup-bar" data-queue="${queue}" data-kind="${p.kind}" data-count="0" hidden></span>`,
    )
    .join('');
  return `<div class="bar-row"><span class="label">${esc(label)}</span><span class="bar">${segments}${zeros}</span><span class="label total">${total}</span></div>`;
}

function duplicatesSection(data: ReportData): string {
  let scale = 1;
  for (const q of QUEUE_KINDS) {
    const c = data.analysis[q].duplicates.causes;
    scale = Math.max(
      scale,
      CAUSES.reduce((n, cause) => n + c[cause], 0),
      data.analysis[q].metrics.duplicateEffects,
    );
  }
  const rows = QUEUE_KINDS.map((q) => {
    const d = data.analysis[q].duplicates;
    return [
      barRow(
        q,
        `${QUEUE_LABEL[q]}: why`,
        CAUSES.map((cause) => ({ kind: cause, count: d.causes[cause], color: COLORS[cause] })),
        scale,
      ),
      barRow(
        q,
        `${QUEUE_LABEL[q]}: outcome`,
        [
          { kind: 'suppressed', count: d.byOutcome.suppressed, color: COLORS.suppressed },
          { kind: 'applied', count: d.byOutcome.applied, color: COLORS.applied },
          { kind: 'failed', count: d.byOutcome.failed, color: COLORS.failed },
          { kind: 'pending', count: d.byOutcome.pending, color: COLORS.pending },
        ],
        scale,
      ),
      // Effects, not deliveries: a delivery that failed after its effect committed can leave
      // one too, so this is not a part of the outcome bar above.
      barRow(
        q,
        `${QUEUE_LABEL[q]}: ${METRIC_LABELS.duplicateEffects}`,
        [
          {
            kind: 'duplicateEffects',
            count: data.analysis[q].metrics.duplicateEffects,
            color: COLORS.duplicateEffects,
          },
        ],
        scale,
      ),
    ].join('');
  }).join('');
  const keys = legend([
    ...CAUSES.map((cause) => ({
      color: COLORS[cause],
      label: `why: ${DUPLICATE_CAUSES[cause].label} (${DUPLICATE_CAUSES[cause].why})`,
    })),
    {
      color: COLORS.suppressed,
      label: `outcome: ${METRIC_LABELS.suppressed} (the record, or the effect's conditional write)`,
    },
    {
      color: COLORS.applied,
      label:
        "outcome: the effect ran (after an earlier attempt failed or never finished, the order's one apply; otherwise a second one)",
    },
    { color: COLORS.failed, label: 'outcome: the attempt failed' },
    { color: COLORS.pending, label: 'outcome: still pending when the report was read' },
    {
      color: COLORS.duplicateEffects,
      label: `${METRIC_LABELS.duplicateEffects}: effects written beyond the first of an order (idempotency off or failed)`,
    },
  ]);
  return `<section class="duplicates"><h2>Extra deliveries and what stopped them</h2>
<p class="note">Every delivery of an order after its first, per queue: first why it came (from the ledger: which message it was, whether the producer sent it, and how earlier attempts at it ended, not its receive count), then how it ended; the third bar counts effects, not deliveries: orders whose effect was written more than once. Client retries with the same Idempotency-Key: ${data.clientRetries} (every request of an order after its first, a 409 answer included); the API answered each from the order's record, or with 409 while another request might still be sending the order, and sent the order again only to a queue whose answer the producer never got: those are the producer re-sends.</p>
${keys}<div class="bars">${rows}</div></section>`;
}

// ----------------------------------------------------------------------------------- latency

const LAT_W = 400;
const LAT_H = 120;
const LAT_LEFT = 6;
const LAT_RIGHT = 6;
const LAT_TOP = 6;
const LAT_AXIS = 22;

interface LogAxis {
  lo: number;
  hi: number;
  x(v: number): number;
}

function logAxis(samples: number[]): LogAxis {
  let min = Number.POSITIVE_INFINITY;
  let max = 1;
  for (const s of samples) {
    const v = Math.max(1, s);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!Number.isFinite(min)) min = 1;
  const lo = Math.floor(Math.log10(min));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(max + 1)));
  const span = LAT_W - LAT_LEFT - LAT_RIGHT;
  return { lo, hi, x: (v) => LAT_LEFT + ((Math.log10(Math.max(1, v)) - lo) / (hi - lo)) * span };
}

const tickLabel = (v: number) => (v >= 1000 ? `${v / 1000} s` : `${v} ms`);
/** 12-unit system-ui characters are at most about 7.5 units wide; a little more keeps labels apart. */
const labelWidth = (text: string) => text.length * 7.5 + 6;

/** Where a tick label goes: centred, or pinned inside the chart at either end. */
function tickPlacement(axis: LogAxis, v: number) {
  const x = axis.x(v);
  const w = labelWidth(tickLabel(v));
  if (x - w / 2 < 0) return { x, anchor: 'start', left: x, right: x + w };
  if (x + w / 2 > LAT_W) return { x, anchor: 'end', left: x - w, right: x };
  return { x, anchor: 'middle', left: x - w / 2, right: x + w / 2 };
}

/** 1-2-5 ticks across the axis, skipping any whose label would touch the previous one. */
function ticks(axis: LogAxis): number[] {
  const out: number[] = [];
  let right = Number.NEGATIVE_INFINITY;
  for (let d = axis.lo; d <= axis.hi; d++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** d;
      if (v > 10 ** axis.hi) continue;
      const place = tickPlacement(axis, v);
      // Decades first: a 2 or 5 never pushes out the next power of ten.
      const nextDecade = 10 ** (d + 1);
      if (m !== 1 && nextDecade <= 10 ** axis.hi) {
        if (place.right > tickPlacement(axis, nextDecade).left) continue;
      }
      if (place.left < right) continue;
      out.push(v);
      right = place.right;
    }
  }
  return out;
}

function latencyChart(
  q: QueueKind,
  a: QueueAnalysis,
  axis: LogAxis,
  perDecade: number,
  maxShare: number,
): string {
  const bins = logBins(a.latencies, axis, perDecade);
  const n = a.latencies.length;
  const plot = LAT_H - LAT_AXIS - LAT_TOP;
  const bars = bins
    .filter((b) => b.count > 0)
    .map((b) => {
      const x0 = axis.x(b.from);
      const x1 = axis.x(b.to);
      const h = maxShare > 0 ? (b.count / n / maxShare) * plot : 0;
      return `<rect class="latency-bar" data-queue="${q}" data-from="${b.from}" data-to="${b.to}" data-count="${b.count}" x="${x0.toFixed(1)}" y="${(LAT_TOP + plot - h).toFixed(1)}" width="${Math.max(0.8, x1 - x0 - 0.6).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[q]}"><title>${b.from}-${b.to} ms: ${b.count} orders</title></rect>`;
    })
    .join('');
  const marks = (['p50', 'p95', 'p99'] as const)
    .map((p) => {
      const v = a.metrics.latencyMs[p];
      if (v === null) return '';
      const xm = axis.x(v).toFixed(1);
      const dash =
        p === 'p50' ? '' : p === 'p95' ? ' stroke-dasharray="4 2"' : ' stroke-dasharray="1 2"';
      return `<line class="latency-mark" data-queue="${q}" data-percentile="${p}" data-value="${v}" x1="${xm}" x2="${xm}" y1="${LAT_TOP}" y2="${LAT_TOP + plot}" stroke="#111" stroke-width="1.2"${dash}/>`;
    })
    .join('');
  const axisY = LAT_TOP + plot;
  const tickMarks = ticks(axis)
    .map((t) => {
      const { x: xt, anchor } = tickPlacement(axis, t);
      return `<line x1="${xt.toFixed(1)}" x2="${xt.toFixed(1)}" y1="${axisY}" y2="${axisY + 4}" stroke="#555"/><text class="tick" x="${xt.toFixed(1)}" y="${axisY + 16}" font-size="12" text-anchor="${anchor}">${tickLabel(t)}</text>`;
    })
    .join('');
  const m = a.metrics.latencyMs;
  return `<figure class="latency-figure"><figcaption class="label"><b style="color:${COLORS[q]}">${QUEUE_LABEL[q]}</b>: ${plural(n, 'order')}; p50 ${ms(m.p50)}, p95 ${ms(m.p95)}, p99 ${ms(m.p99)}, max ${ms(m.max)}</figcaption><svg class="latency-chart" data-queue="${q}" data-samples="${n}" viewBox="0 0 ${LAT_W} ${LAT_H}" role="img" aria-label="${q} latency distribution, log scale"><line x1="${LAT_LEFT}" y1="${axisY}" x2="${LAT_W - LAT_RIGHT}" y2="${axisY}" stroke="#555"/>${bars}${marks}${tickMarks}</svg></figure>`;
}

/**
 * Log-spaced buckets over the axis: `perDecade` per power of ten, each [from, to). Edges keep
 * three significant digits: rounded to whole ms, the buckets below 10 ms would read "1-1 ms".
 */
export function logBins(
  samples: readonly number[],
  axis: Pick<LogAxis, 'lo' | 'hi'>,
  perDecade: number,
): Array<{ from: number; to: number; count: number }> {
  const total = (axis.hi - axis.lo) * perDecade;
  const edge = (i: number) => Number((10 ** (axis.lo + i / perDecade)).toPrecision(3));
  const bins = Array.from({ length: total }, (_, i) => ({
    from: edge(i),
    to: edge(i + 1),
    count: 0,
  }));
  for (const s of samples) {
    const pos = (Math.log10(Math.max(1, s)) - axis.lo) * perDecade;
    const i = Math.min(total - 1, Math.max(0, Math.floor(pos)));
    bins[i]!.count++;
  }
  return bins;
}

function latencySection(data: ReportData, perDecade: number): string {
  const all = QUEUE_KINDS.flatMap((q) => data.analysis[q].latencies);
  const axis = logAxis(all);
  let maxShare = 0;
  for (const q of QUEUE_KINDS) {
    const n = data.analysis[q].latencies.length;
    for (const b of logBins(data.analysis[q].latencies, axis, perDecade)) {
      if (n > 0) maxShare = Math.max(maxShare, b.count / n);
    }
  }
  const keys = legend([
    { color: COLORS.fifo, label: 'FIFO: share of orders per latency bucket' },
    { color: COLORS.standard, label: 'standard: share of orders per latency bucket' },
    { color: '#111', label: 'p50', shape: 'line' },
    { color: '#111', label: 'p95', shape: 'dash' },
    { color: '#111', label: 'p99', shape: 'dotted' },
  ]);
  return `<section class="latency"><h2>Latency: accepted to applied, distributions on a log axis</h2>
<p class="note">Both charts share one logarithmic time axis and one height scale (share of that queue's orders), so a long tail shows as bars far to the right. Vertical lines mark the percentiles.</p>
${keys}${QUEUE_KINDS.map((q) => latencyChart(q, data.analysis[q], axis, perDecade, maxShare)).join('\n')}</section>`;
}

// -------------------------------------------------------------------------------------- page

const STYLE = `
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:1100px;color:#111;padding:12px 16px}
h1{font-size:22px;margin:8px 0;overflow-wrap:anywhere}h2{font-size:18px;margin:28px 0 8px}h3{font-size:14px;margin:0 0 4px;overflow-wrap:anywhere}
.meta,.note{color:#4b5563}.note{max-width:820px;font-size:14px}
.headline ul{padding-left:20px;margin:0}.headline li{margin:6px 0}
.bad{color:#b91c1c}.ok{color:#15803d}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse}th,td{padding:3px 8px;border-bottom:1px solid #e5e7eb;text-align:right;white-space:nowrap}
tbody th{white-space:normal}
th{text-align:left;font-weight:normal}thead th{font-weight:600}
.legend{list-style:none;display:flex;flex-wrap:wrap;gap:4px 18px;padding:0;margin:8px 0;font-size:13px}
.legend li{display:flex;align-items:center;gap:6px}
.key{display:inline-block;flex:none;width:14px;height:10px;background:var(--c)}
.key.dot{width:10px;height:10px;border-radius:50%}
.key.line{height:0;border-top:2px solid var(--c);background:none}
.key.dash{height:0;border-top:2px dashed var(--c);background:none}
.key.dotted{height:0;border-top:2px dotted var(--c);background:none}
.pairs{display:flex;flex-direction:column;gap:12px}
.pair{border:1px solid #e5e7eb;border-radius:6px;padding:8px}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:8px}
.apply{margin:0;min-width:0}.apply figcaption{font-size:13px}
.apply-chart{display:block;width:100%;height:auto;max-height:220px;border:1px solid #f3f4f6}
.bars{display:flex;flex-direction:column;gap:6px;max-width:820px}
.bar-row{display:grid;grid-template-columns:minmax(90px,140px) 1fr auto;gap:8px;align-items:center;font-size:13px}
.bar{display:flex;height:16px;background:#f9fafb;min-width:0}
.dup-bar{display:block;height:100%;background:var(--c)}
.latency-figure{margin:10px 0;max-width:560px}.latency-figure figcaption{font-size:14px}
.latency-chart{display:block;width:100%;height:auto}
`;

export function renderHtml(data: ReportData, options: HtmlOptions = {}): string {
  const { report } = data;
  const rows = comparisonRows(report)
    .map(
      (r) =>
        `<tr data-field="${esc(r.field)}"><th>${esc(r.label)}</th><td>${esc(r.fifo)}</td><td>${esc(r.standard)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Order pipeline report: ${esc(report.runId)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>${STYLE}</style></head><body>
<h1>FIFO vs standard: run <code>${esc(report.runId)}</code></h1>
<p class="meta">Target ${esc(report.target)}, generated ${esc(report.generatedAt)}, ${report.accepted} accepted orders, each sent to both queues.</p>
${headline(data)}
<section class="summary"><h2>Side by side</h2><div class="table-wrap"><table id="comparison"><thead><tr><th>metric</th><th style="color:${COLORS.fifo}">FIFO</th><th style="color:${COLORS.standard}">standard</th></tr></thead><tbody>
${rows}
</tbody></table></div>${
    report.notes.length > 0
      ? `<ul class="notes">${report.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`
      : ''
  }</section>
${orderingSection(data, options.maxCustomers ?? 12)}
${duplicatesSection(data)}
${latencySection(data, options.bucketsPerDecade ?? 10)}
<script type="application/json" id="report-data">${JSON.stringify(report).replace(/</g, '\\u003c')}</script>
</body></html>
`;
}
