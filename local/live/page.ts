/**
 * The live page: one self-contained HTML document (no external script, style, font or image, so
 * it works offline), whose script follows the server-sent events of the same origin. Every value
 * from the stream reaches the DOM through textContent or a data attribute, never as markup: a
 * customer id is whatever a client posted.
 */

const STYLE = `
:root{--fifo:#2563eb;--standard:#d97706;--late:#dc2626;--ok:#16a34a;--caught:#7c3aed;--muted:#4b5563}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:12px 16px;color:#111}
h1{font-size:20px;margin:4px 0}h2{margin:0 0 6px}h3{font-size:14px;margin:14px 0 4px}
.muted,.note{color:var(--muted)}.note{font-size:12px;margin:2px 0 6px}
#conn[data-state=open]::before{content:"\\25CF ";color:var(--ok)}
#conn[data-state=closed]::before{content:"\\25CF ";color:var(--late)}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;margin:8px 0;padding:0;list-style:none;font-size:12px}
.legend li{display:flex;align-items:center;gap:6px}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px}
.swatch.fifo{background:var(--fifo)}.swatch.standard{background:var(--standard)}
.swatch.late{background:var(--late)}.swatch.caught{background:var(--caught)}.swatch.ok{background:var(--ok)}
.lanes{display:grid;grid-template-columns:1fr 1fr;gap:16px}
@media (max-width:720px){.lanes{grid-template-columns:1fr}}
.lane{border:1px solid #e5e7eb;border-top:4px solid var(--q);border-radius:6px;padding:10px;min-width:0}
.lane[data-queue=fifo]{--q:var(--fifo)}.lane[data-queue=standard]{--q:var(--standard)}
.counters{display:grid;grid-template-columns:repeat(auto-fit,minmax(96px,1fr));gap:6px;margin:0}
.counters div{background:#f9fafb;border-radius:4px;padding:4px 8px}
.counters dt{font-size:11px;color:var(--muted)}.counters dd{margin:0;font-size:22px;font-variant-numeric:tabular-nums}
.counters dd[data-counter=outOfOrder].nonzero{color:var(--late)}
.counters dd[data-counter=suppressed].nonzero{color:var(--caught)}
.latency{font-variant-numeric:tabular-nums;margin:6px 0 0}
.tracks{display:flex;flex-direction:column;gap:3px}
.track{display:grid;grid-template-columns:minmax(56px,90px) 1fr;gap:6px;align-items:center}
.who{display:flex;gap:4px;min-width:0;font-size:11px;white-space:nowrap}
.who .name{overflow:hidden;text-overflow:ellipsis;min-width:0}
.who small{color:var(--late);flex-shrink:0}
.cells{display:flex;flex-wrap:wrap;gap:1px;min-width:0}
.cell{display:block;width:4px;height:10px;background:var(--q);opacity:.75}
.cell.late{background:var(--late);opacity:1;outline:1px solid var(--late);animation:flash 1.5s ease-out}
@keyframes flash{from{transform:scaleY(1.8);box-shadow:0 0 6px var(--late)}to{transform:none;box-shadow:none}}
.caught{list-style:none;margin:0;padding:0;font-size:12px;max-height:180px;overflow:auto}
.caught li{border-left:3px solid var(--caught);padding:1px 6px;margin:2px 0;animation:arrive 1.5s ease-out}
@keyframes arrive{from{background:#ede9fe}to{background:transparent}}
.empty{font-size:12px;color:var(--muted)}
`;

const SCRIPT = `
(function () {
  'use strict';
  var QUEUES = ['fifo', 'standard'];
  var COUNTERS = ['applied', 'outOfOrder', 'suppressed', 'retries', 'failures'];
  var CAUGHT_SHOWN = 12;
  var runId = null;
  // The server's bound per track, from the snapshot: the page keeps no more cells than it.
  var pointsPerCustomer = Infinity;
  var tracks = { fifo: new Map(), standard: new Map() };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function lane(q) { return document.querySelector('.lane[data-queue="' + q + '"]'); }
  // Ids often share a prefix (customer-with-a-long-name-1, -2): a narrow row keeps both ends.
  function shortId(id) {
    return id.length <= 16 ? id : id.slice(0, 5) + '\u2026' + id.slice(-10);
  }
  // The drawn customers of both lanes often share a long prefix (a run's cust-1dwl8z5-0 to -4): a
  // row's label leaves it out, from its last separator on, so what tells them apart fits the row
  // (the full id is the label's title). One customer, or no shared prefix: the id, both ends kept.
  function sharedCut() {
    var ids = [];
    QUEUES.forEach(function (q) {
      tracks[q].forEach(function (_, id) { if (ids.indexOf(id) < 0) ids.push(id); });
    });
    if (ids.length < 2) return 0;
    var prefix = ids[0];
    ids.forEach(function (id) {
      var n = 0;
      while (n < prefix.length && n < id.length && prefix[n] === id[n]) n++;
      prefix = prefix.slice(0, n);
    });
    var cut = -1;
    for (var i = prefix.length - 1; i >= 0 && cut < 0; i--) if ('-_.:/ '.indexOf(prefix[i]) >= 0) cut = i;
    return cut > 1 ? cut : 0;
  }
  function relabel() {
    var cut = sharedCut();
    QUEUES.forEach(function (q) {
      tracks[q].forEach(function (row, id) {
        row.name.textContent = cut > 0 ? '\u2026' + shortId(id.slice(cut)) : shortId(id);
      });
    });
  }
  function fmt(ms) { return ms === null || ms === undefined ? '\\u2013' : ms + ' ms'; }

  function setCounters(q, counters, latency) {
    var root = lane(q);
    COUNTERS.forEach(function (name) {
      var dd = root.querySelector('dd[data-counter="' + name + '"]');
      var v = Number(counters[name]) || 0;
      dd.textContent = String(v);
      dd.setAttribute('data-value', String(v));
      dd.classList.toggle('nonzero', v > 0);
    });
    var lat = root.querySelector('[data-latency]');
    lat.textContent = 'accepted to applied: p50 ' + fmt(latency.p50) + ', p95 ' + fmt(latency.p95) +
      ', p99 ' + fmt(latency.p99) + ', max ' + fmt(latency.max) + ' (' + latency.count + ' orders)';
  }

  function trackRow(q, customerId) {
    var map = tracks[q];
    var row = map.get(customerId);
    if (row) return row;
    var box = lane(q).querySelector('.tracks');
    var empty = box.querySelector('.empty');
    if (empty) empty.remove();
    var div = el('div', 'track');
    div.setAttribute('data-customer', customerId);
    var who = el('span', 'who');
    who.title = customerId;
    var name = el('span', 'name', shortId(customerId));
    var lateLabel = el('small', 'late-count');
    who.appendChild(name);
    who.appendChild(lateLabel);
    var cells = el('div', 'cells');
    div.appendChild(who);
    div.appendChild(cells);
    row = { div: div, cells: cells, name: name, lateLabel: lateLabel, late: 0 };
    // Customers in natural order (c2 before c10), the same in both lanes.
    var after = null;
    map.forEach(function (other, id) {
      if (!after && id.localeCompare(customerId, undefined, { numeric: true }) > 0) after = other.div;
    });
    box.insertBefore(div, after);
    map.set(customerId, row);
    relabel();
    return row;
  }

  function setLate(row, late) {
    row.late = late;
    row.lateLabel.textContent = late > 0 ? late + ' late' : '';
    if (late > 0) row.div.setAttribute('data-late', String(late));
  }

  function addPoint(q, customerId, sequence, late, fresh) {
    var row = trackRow(q, customerId);
    var cell = el('i', late ? 'cell late' : 'cell');
    cell.setAttribute('data-sequence', String(sequence));
    cell.title = customerId + ' #' + sequence + (late ? ': applied after a higher sequence' : '');
    if (!fresh) cell.style.animation = 'none';
    row.cells.appendChild(cell);
    // The oldest cell goes, as on the server: the late count keeps the dropped ones.
    while (row.cells.children.length > pointsPerCustomer) row.cells.removeChild(row.cells.firstChild);
    return row;
  }

  function addCaught(q, copy, fresh) {
    var list = lane(q).querySelector('.caught');
    var empty = list.querySelector('.empty');
    if (empty) empty.remove();
    var li = el('li', null, 'order ' + copy.orderId + ' (' + copy.customerId + ' #' + copy.sequence +
      ', receive ' + copy.receiveCount + ') caught');
    li.setAttribute('data-order', copy.orderId);
    if (!fresh) li.style.animation = 'none';
    list.insertBefore(li, list.firstChild);
    while (list.children.length > CAUGHT_SHOWN) list.removeChild(list.lastChild);
  }

  function clearLane(q) {
    var root = lane(q);
    tracks[q] = new Map();
    var box = root.querySelector('.tracks');
    box.replaceChildren(el('p', 'empty', 'no order applied yet'));
    root.querySelector('.caught').replaceChildren(el('li', 'empty', 'no copy caught yet'));
  }

  function setHidden(q, count, atLeast) {
    lane(q).querySelector('[data-hidden]').textContent = count > 0
      ? (atLeast ? 'at least ' : '') + count + ' more customers not drawn'
      : '';
  }

  function onSnapshot(s) {
    runId = s.runId;
    pointsPerCustomer = Number(s.pointsPerCustomer) > 0 ? Number(s.pointsPerCustomer) : Infinity;
    document.getElementById('run').textContent = runId === null
      ? 'waiting for the first order to be applied'
      : 'run ' + runId;
    QUEUES.forEach(function (q) {
      var v = s.queues[q];
      clearLane(q);
      setCounters(q, v.counters, v.latency);
      v.customers.forEach(function (t) {
        var row = trackRow(q, t.customerId);
        t.points.forEach(function (p) { addPoint(q, t.customerId, p[0], p[1] === 1, false); });
        setLate(row, Number(t.late) || 0);
      });
      setHidden(q, v.hiddenCustomers, v.hiddenAtLeast);
      v.caught.forEach(function (c) { addCaught(q, c, false); });
    });
  }

  function onDelta(d) {
    if (d.runId !== runId) return;
    QUEUES.forEach(function (q) {
      var v = d.queues[q];
      setCounters(q, v.counters, v.latency);
      v.applies.forEach(function (a) {
        var row = addPoint(q, a[0], a[1], a[2] === 1, true);
        if (a[2] === 1) setLate(row, row.late + 1);
      });
      v.caught.forEach(function (c) { addCaught(q, c, true); });
      setHidden(q, v.hiddenCustomers, v.hiddenAtLeast);
    });
  }

  var conn = document.getElementById('conn');
  var source = new EventSource(document.body.getAttribute('data-events'));
  // The server ends a stream it has no room for after a busy event; the browser then retries.
  var busy = false;
  source.addEventListener('error', function () {
    conn.setAttribute('data-state', 'closed');
    conn.textContent = busy ? 'too many live pages open; trying again' : 'disconnected, retrying';
  });
  source.addEventListener('busy', function () {
    busy = true;
    conn.setAttribute('data-state', 'closed');
    conn.textContent = 'too many live pages open; trying again';
  });
  // Live once the snapshot came: a busy stream opens too, and is not live.
  source.addEventListener('snapshot', function (e) {
    busy = false;
    conn.setAttribute('data-state', 'open');
    conn.textContent = 'live';
    onSnapshot(JSON.parse(e.data));
  });
  source.addEventListener('delta', function (e) { onDelta(JSON.parse(e.data)); });
})();
`;

const COUNTER_LABELS: Array<[string, string]> = [
  ['applied', 'orders applied'],
  ['outOfOrder', 'out-of-order applies'],
  ['suppressed', 'copies suppressed'],
  // The consumer counts every delivery whose receive count is above 1, whatever made it: the
  // report's "redeliveries", under the same name. Its "retry after failure" duplicates are a part
  // of them (a copy made by the queue can carry any count).
  ['retries', 'redeliveries (SQS receive count > 1)'],
  ['failures', 'failed deliveries'],
];

function laneHtml(queue: 'fifo' | 'standard', title: string): string {
  const counters = COUNTER_LABELS.map(
    ([key, label]) => `<div><dt>${label}</dt><dd data-counter="${key}" data-value="0">0</dd></div>`,
  ).join('');
  return `<section class="lane" data-queue="${queue}"><h2>${title}</h2>
<dl class="counters">${counters}</dl>
<p class="latency" data-latency>accepted to applied: no order yet</p>
<h3>Sequence tracks</h3>
<p class="note" data-tracks>One row per customer, one mark per applied order, left to right in the order their invocations reported them (each at its end): on standard, two invocations of one customer at once may report in either order, so a lower sequence can follow a higher one and not be late. In red: an apply late as the report counts it, after a higher sequence of the customer applied with a lower apply index, among the applies reported so far.</p>
<div class="tracks"><p class="empty">no order applied yet</p></div>
<p class="note" data-hidden></p>
<h3>Copies caught by idempotency</h3>
<ol class="caught"><li class="empty">no copy caught yet</li></ol>
</section>`;
}

/**
 * The page; `nonce` authorises its one inline script and style block under the CSP, and
 * `eventsPath` is where its script subscribes (a constant of the server, not request data).
 */
export function livePageHtml(nonce: string, eventsPath: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>FIFO vs standard, live</title>
<style nonce="${nonce}">${STYLE}</style></head><body data-events="${eventsPath}">
<header><h1>FIFO vs standard, live</h1>
<p class="muted"><span id="run">connecting</span> &middot; <span id="conn" data-state="connecting">connecting</span></p>
<p class="note">Every order goes to both queues. The counters and tracks below come from the consumers' own metric lines (the ones CloudWatch turns into the dashboard on AWS), as each batch finishes.</p>
<p class="note" data-differs>Where they can differ from the report of the same run: an invocation that dies writes no line, so counts can be lower; the out-of-order count can be lower on standard, where an apply reported before a higher sequence that applied ahead of it is not redrawn, and it counts the drawn customers only; latency percentiles are the upper edges of 9%-wide buckets, not exact values. Where they differ, the report, read from the ledger, is the reference.</p>
<ul class="legend" aria-label="legend">
<li><span class="swatch fifo"></span>FIFO: an order applied in sequence</li>
<li><span class="swatch standard"></span>standard: an order applied in sequence</li>
<li><span class="swatch late"></span>late apply: after a higher sequence of the same customer</li>
<li><span class="swatch caught"></span>a copy caught by idempotency (the record, or the effect's conditional write): its effect did not run again</li>
<li><span class="swatch ok"></span>stream connected</li>
</ul></header>
<main class="lanes">${laneHtml('fifo', 'FIFO')}${laneHtml('standard', 'standard')}</main>
<script nonce="${nonce}">${SCRIPT}</script>
</body></html>
`;
}
