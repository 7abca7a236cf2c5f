import { EventEmitter } from 'node:events';
import { type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { createLimitedServer } from '../../../local/edge';
import { createLiveView, type LiveView } from '../../../local/live/server';
import { METRIC_LABELS } from '../../../services/report/src/domain/rows';
import { edgeWith } from './edge-with';
import { applied, emfLine, suppressed } from './emf-lines';

/**
 * A stream's response whose unsent bytes the test sets: each write adds its bytes and 8 of
 * chunk framing, as a response's writableLength counts them; `take` is the reader taking some.
 */
class HeldResponse extends EventEmitter {
  writableLength = 0;
  destroyed = false;
  writeHead() {
    this.writableLength += 100;
    return this;
  }
  write(chunk: string) {
    this.writableLength += Buffer.byteLength(chunk) + 8;
    return false;
  }
  take(bytes: number) {
    this.writableLength = Math.max(0, this.writableLength - bytes);
  }
  destroy() {
    this.destroyed = true;
    this.emit('close');
  }
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request (fetch would not let a test set Host or Sec-Fetch-Site). */
function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads server-sent events until `until` says stop; then closes the stream. */
function readEvents(
  port: number,
  until: (events: Array<{ event: string; data: unknown }>) => boolean,
  onEvent: (event: string) => void = () => undefined,
): Promise<Array<{ event: string; data: unknown }>> {
  return new Promise((resolve, reject) => {
    const events: Array<{ event: string; data: unknown }> = [];
    const req = request({ host: '127.0.0.1', port, path: '/_localcloud/live/events' }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) {
            events.push({ event, data: JSON.parse(data) });
            onEvent(event);
          }
          end = buffer.indexOf('\n\n');
        }
        if (until(events)) {
          req.destroy();
          resolve(events);
        }
      });
    });
    req.on('error', (err) => {
      if (!req.destroyed) reject(err);
    });
    req.end();
  });
}

/** A customer id as long as the API allows: few applies make a large delta. */
const LONG_ID = 'c'.repeat(64);

/**
 * Two live pages on the edge at `port`: one that reads everything (its bytes so far from
 * `readBytes()`), and a raw socket that takes the headers and then reads nothing more (`closed`
 * settles when the server cuts it; `reader` is the first page's request, for the test to end).
 * They send `X-Page: reader` and `X-Page: stalled`.
 */
async function readerAndStalledPages(port: number): Promise<{
  reader: ReturnType<typeof request>;
  readBytes: () => number;
  socket: ReturnType<typeof connect>;
  closed: Promise<void>;
}> {
  let read = 0;
  const reader = request(
    {
      host: '127.0.0.1',
      port,
      path: '/_localcloud/live/events',
      headers: { 'x-page': 'reader' },
    },
    (res) =>
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
      }),
  );
  reader.on('error', () => undefined);
  reader.end();
  const socket = connect(port, '127.0.0.1');
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    socket.once('data', () => {
      socket.pause();
      resolve();
    });
    socket.write(
      'GET /_localcloud/live/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Page: stalled\r\n\r\n',
    );
  });
  return { reader, readBytes: () => read, socket, closed };
}

describe('live view served by the edge', () => {
  let live: LiveView;
  let server: Server;
  let port: number;

  beforeEach(async () => {
    live = createLiveView({ flushMs: 20, maxClients: 2, heartbeatMs: 50 });
    // The edge's own limits, shortened: a stream must outlive the request timeout.
    server = createLimitedServer(edgeWith(live), { headersTimeoutMs: 200, requestTimeoutMs: 200 });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterEach(async () => {
    live.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('serves a self-contained page under a nonce-only CSP that nothing may frame', async () => {
    const page = await get(port, '/_localcloud/live');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(page.headers['content-security-policy']);
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeDefined();
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.body).toContain(`<script nonce="${nonce}">`);
    expect(page.body).toContain(`<style nonce="${nonce}">`);
    // No asset from anywhere: no URL, no src or href, no inline style attribute.
    expect(page.body).not.toMatch(/https?:\/\/|\bsrc=|\bhref=|\bstyle="/);
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['cache-control']).toBe('no-store');
    const again = await get(port, '/_localcloud/live');
    expect(again.headers['content-security-policy']).not.toBe(csp);
  });

  it('says on the page where its numbers can differ from the report of the same run', async () => {
    const page = await get(port, '/_localcloud/live');
    const note = /<p class="note" data-differs>([^<]*)<\/p>/.exec(page.body)?.[1] ?? '';
    // The three differences docs/local-cloud.md names: lost lines, late applies reported out of
    // index order on standard (fewer, never more: the view judges as the report does), latency
    // buckets; and which of the two to trust.
    expect(note).toMatch(/invocation that dies writes no line/);
    expect(note).toMatch(/out-of-order count can be lower on standard/);
    expect(note).not.toMatch(/count can be higher/);
    expect(note).toMatch(/upper edges of 9%-wide buckets/);
    expect(note).toMatch(/the report, read from the ledger, is the reference/);
  });

  it('names each counter the report also shows as the report does, where the meaning is the same', async () => {
    const page = await get(port, '/_localcloud/live');
    const label = (counter: string) =>
      new RegExp(`<dt>([^<]*)</dt><dd data-counter="${counter}"`).exec(page.body)?.[1];
    // Deliveries with a receive count above 1, whatever the cause: the report's redeliveries, not
    // its "retry after failure" duplicates (a queue copy can carry any count).
    expect(label('retries')).toBe(METRIC_LABELS.redeliveries);
    expect(label('outOfOrder')).toBe(METRIC_LABELS.outOfOrder);
  });

  it('draws a track in the order the lines came, and says so: not the order the effects committed', async () => {
    // Two standard invocations of one customer at once: the one that committed sequence 1 first
    // ends last, so its line comes second. The line carries no commit order to sort by.
    live.ingest(emfLine('standard', [applied('c1', 2)]));
    live.ingest(emfLine('standard', [applied('c1', 1)]));
    const track = live.state.snapshot().queues.standard.customers[0];
    expect(track?.points).toEqual([
      [2, 0],
      [1, 0],
    ]);
    const page = await get(port, '/_localcloud/live');
    const note = /<p class="note" data-tracks>([^<]*)<\/p>/.exec(page.body)?.[1] ?? '';
    expect(note).not.toMatch(/order the effects committed/);
    expect(note).toMatch(/in the order their invocations reported them/);
    expect(note).toMatch(/red: an apply late as the report counts it/);
  });

  it('streams a snapshot on connect, then the applies and caught copies as deltas', async () => {
    live.ingest(emfLine('standard', [applied('c1', 2)]));
    // More lines only once the snapshot arrived, so what follows must come as a delta.
    const got = await readEvents(
      port,
      (e) => e.some((x) => x.event === 'delta'),
      (event) => {
        if (event === 'snapshot') {
          live.ingest(emfLine('standard', [applied('c1', 1, { late: true }), suppressed('c1', 2)]));
        }
      },
    );
    const snapshot = got.find((e) => e.event === 'snapshot')?.data as {
      runId: string;
      queues: { standard: { counters: { applied: number } } };
    };
    expect(snapshot.runId).toBe('run-1');
    const delta = got.find((e) => e.event === 'delta')?.data as {
      queues: {
        standard: { applies: unknown[]; caught: { orderId: string }[]; counters: object };
      };
    };
    expect(delta.queues.standard.applies).toContainEqual(['c1', 1, 1]);
    expect(delta.queues.standard.caught.map((c) => c.orderId)).toEqual(['c1-2']);
    expect(delta.queues.standard.counters).toMatchObject({ applied: 2, outOfOrder: 1 });
  });

  it('sends a heartbeat every heartbeatMs on a quiet stream', async () => {
    const started = Date.now();
    let beats = 0;
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/_localcloud/live/events' }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          beats += chunk.split(': keep-alive').length - 1;
          // Heartbeats are for proxies and idle timeouts between the page and the edge; the
          // edge's own request timeout no longer applies once the GET was received.
          if (beats >= 10) {
            req.destroy();
            resolve();
          }
        });
        res.on('end', () => reject(new Error(`stream ended after ${Date.now() - started} ms`)));
      });
      req.on('error', (err) => {
        if (beats < 10) reject(err);
      });
      req.end();
    });
    expect(beats).toBeGreaterThanOrEqual(10);
  });

  it('answers the snapshot as JSON, and says which lines were metric lines', async () => {
    expect(live.ingest('{"level":"INFO","message":"delivery handled"}')).toBe(false);
    expect(live.ingest(emfLine('fifo', [applied('<b>c1</b>', 1)]))).toBe(true);
    const state = await get(port, '/_localcloud/live/state');
    expect(state.headers['content-type']).toBe('application/json');
    expect(JSON.parse(state.body).queues.fifo.customers[0].customerId).toBe('<b>c1</b>');
  });

  it.each([
    ['a foreign Host (DNS rebinding)', { host: 'evil.example:4566' }],
    ['a cross-origin page', { origin: 'http://evil.example' }],
    ['a cross-site request without Origin', { 'sec-fetch-site': 'cross-site' }],
  ])('refuses %s with 403', async (_name, headers) => {
    for (const path of [
      '/_localcloud/live',
      '/_localcloud/live/events',
      '/_localcloud/live/state',
    ]) {
      const answer = await get(port, path, headers);
      expect(answer.status).toBe(403);
      expect(answer.body).not.toContain('runId');
    }
  });

  it("accepts loopback names and the page's own stream (no Origin, no Referer, same-origin)", async () => {
    const answer = await get(port, '/_localcloud/live/state', {
      host: `localhost:${port}`,
      'sec-fetch-site': 'same-origin',
    });
    expect(answer.status).toBe(200);
  });

  it('answers 405 to anything but GET, 404 elsewhere, and a busy stream beyond the cap', async () => {
    expect((await get(port, '/_localcloud/live/state', {}, 'POST')).status).toBe(405);
    expect((await get(port, '/_localcloud/live/nope')).status).toBe(404);
    const streams = [0, 1].map(
      () =>
        new Promise<void>((resolve) => {
          const req = request({ host: '127.0.0.1', port, path: '/_localcloud/live/events' }, () =>
            resolve(),
          );
          req.on('error', () => undefined);
          req.end();
        }),
    );
    await Promise.all(streams);
    // EventSource retries only a 200 event stream: the third page is told why, the stream ends
    // (get resolves on its end) and the browser tries again after the retry delay.
    const third = await get(port, '/_localcloud/live/events');
    expect(third.status).toBe(200);
    expect(third.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(third.body).toBe('retry: 5000\n\nevent: busy\ndata: {"maxStreams":2}\n\n');
    expect(live.streams()).toBe(2);
  });

  it('answers odd requests on its routes with a 4xx, changes nothing and keeps serving', async () => {
    live.ingest(emfLine('fifo', [applied('c1', 1)]));
    const before = JSON.stringify(live.state.snapshot());
    /** One raw request on its own connection; resolves with the status line's code. */
    const raw = (text: string) =>
      new Promise<number>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.write(text));
        let got = '';
        socket.setEncoding('utf8');
        socket.on('data', (c: string) => {
          got += c;
        });
        socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0)));
        socket.on('error', reject);
      });
    const big = 'a'.repeat(20_000);
    const many = Array.from({ length: 3_000 }, (_, i) => `x-${i}: 1\r\n`).join('');
    expect(
      await raw(`GET /_localcloud/live/state HTTP/1.1\r\nHost: a\r\nX-Big: ${big}\r\n\r\n`),
    ).toBe(431);
    expect(await raw(`GET /_localcloud/live/events HTTP/1.1\r\nHost: a\r\n${many}\r\n`)).toBe(431);
    expect(await raw('BREW /_localcloud/live HTTP/1.1\r\nHost: a\r\n\r\n')).toBe(400);
    expect(
      await raw(
        'DELETE /_localcloud/live/state HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc',
      ),
    ).toBe(405);
    for (const method of ['OPTIONS', 'PUT', 'PATCH']) {
      const refused = await get(port, '/_localcloud/live/events', {}, method);
      expect(refused.status).toBe(405);
      // The answer names what is served, as its Allow header does: HEAD is, too.
      expect(refused.headers.allow).toBe('GET, HEAD');
      expect(refused.body).toBe('this path answers GET and HEAD only\n');
    }
    for (const path of [
      '/_localcloud/live/%2e%2e/state',
      '/_localcloud/live/events/',
      '/_localcloud/live//state',
    ]) {
      expect((await get(port, path)).status).toBe(404);
    }
    expect((await get(port, '/_localcloud/live/state?x=%zz&&=')).status).toBe(200);
    expect(JSON.stringify(live.state.snapshot())).toBe(before);
    expect(live.streams()).toBe(0);
    const got = await readEvents(port, (e) => e.some((x) => x.event === 'snapshot'));
    expect(got[0]?.data).toEqual(JSON.parse(before));
  });

  it('answers HEAD on the stream with its headers and opens no stream', async () => {
    const head = await get(port, '/_localcloud/live/events', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(head.body).toBe('');
    expect(live.streams()).toBe(0);
  });

  it('ends the streams open when it closes, and opens none after', async () => {
    const ended = new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/_localcloud/live/events' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
    while (live.streams() < 1) await new Promise((r) => setImmediate(r));
    live.close();
    expect(await ended).toContain('event: snapshot');
    // A page retrying while the cloud stops is told to come back later, not left hanging on a
    // stream that nothing writes to any more (and that would hold the edge's close).
    const late = await Promise.race([
      get(port, '/_localcloud/live/events'),
      new Promise<string>((r) => setTimeout(() => r('still open after 2 s'), 2000).unref()),
    ]);
    expect(late).toMatchObject({ status: 200, body: 'retry: 2000\n\n' });
    expect(live.streams()).toBe(0);
  });

  it('draws each apply once when a page connects between two flushes', async () => {
    // Flushes only when the test says so.
    live.close();
    live = createLiveView({ flushMs: 3_600_000, heartbeatMs: 3_600_000 });
    server.removeAllListeners('request');
    server.on('request', edgeWith(live));
    live.ingest(emfLine('standard', [applied('c1', 1)]));
    live.flush();
    // Pending when the page connects: in its snapshot, and must not come again as a delta.
    live.ingest(emfLine('standard', [applied('c1', 3), applied('c1', 2, { late: true })]));
    const got = await readEvents(
      port,
      (e) => e.some((x) => x.event === 'delta'),
      (event) => {
        if (event === 'snapshot') {
          live.ingest(emfLine('standard', [applied('c1', 4)]));
          live.flush();
        }
      },
    );
    type Snap = { queues: { standard: { customers: Array<{ points: unknown[] }> } } };
    type Delta = { queues: { standard: { applies: Array<[string, number, 0 | 1]> } } };
    const marks: number[] = [];
    for (const e of got) {
      if (e.event === 'snapshot') {
        for (const t of (e.data as Snap).queues.standard.customers) {
          for (const p of t.points as Array<[number, 0 | 1]>) marks.push(p[0]);
        }
      } else if (e.event === 'delta') {
        for (const a of (e.data as Delta).queues.standard.applies) marks.push(a[1]);
      }
    }
    expect(marks).toEqual([1, 3, 2, 4]);
    expect(live.state.snapshot().queues.standard.counters.applied).toBe(marks.length);
  });

  it('cuts a stream that stops reading once it holds more than its bound', async () => {
    live.close();
    live = createLiveView({
      flushMs: 3_600_000,
      heartbeatMs: 3_600_000,
      maxBufferedBytes: 64 * 1024,
    });
    server.removeAllListeners('request');
    server.on('request', edgeWith(live));
    // A page that reads everything, and one that takes the headers and then reads nothing more.
    const { reader, readBytes, socket, closed } = await readerAndStalledPages(port);
    while (live.streams() < 2) await new Promise((r) => setImmediate(r));
    // Each flush writes one delta of 1,000 applies of a long customer id (about 75 KB), and the
    // loop yields so both
    // sockets get their turn. The kernel's buffers take the stalled stream's first few MB; after
    // that the bytes queue in the process, until the bound cuts that stream. 400 rounds (30 MB)
    // is several times what loopback buffers hold.
    let sequence = 0;
    let rounds = 0;
    while (live.streams() === 2 && rounds < 400) {
      const events = Array.from({ length: 1_000 }, () => applied(LONG_ID, ++sequence));
      live.ingest(emfLine('standard', events));
      live.flush();
      rounds++;
      await new Promise((r) => setImmediate(r));
    }
    expect(live.streams()).toBe(1);
    socket.resume();
    await closed;
    // The page that kept reading is still served.
    const before = readBytes();
    live.ingest(emfLine('standard', [applied('c1', ++sequence)]));
    live.flush();
    while (readBytes() === before) await new Promise((r) => setImmediate(r));
    expect(live.streams()).toBe(1);
    reader.destroy();
    console.log(
      `stalled stream cut after ${rounds} deltas (${sequence} applies, ${readBytes()} bytes read by the other page)`,
    );
  }, 120_000);

  it('leaves a reader that keeps taking bytes however far behind it falls, and cuts it once it takes none', async () => {
    // Prepare: a stream whose unsent bytes the test holds (the kernel's steps out of the way).
    live.close();
    live = createLiveView({
      flushMs: 3_600_000,
      heartbeatMs: 3_600_000,
      maxBufferedBytes: 1024 * 1024 * 1024,
      stallMs: 300,
    });
    const req = Object.assign(new EventEmitter(), {
      method: 'GET',
      url: '/_localcloud/live/events',
      headers: {},
    });
    const res = new HeldResponse();
    live.handle(req as unknown as IncomingMessage, res as unknown as ServerResponse);
    expect(live.streams()).toBe(1);

    // Act: for five times stallMs a delta every 50 ms, and the reader taking 200 bytes every
    // 100 ms, far less than is written: its backlog only grows.
    let sequence = 0;
    const backlog: number[] = [];
    for (let t = 0; t < 30; t++) {
      live.ingest(emfLine('standard', [applied('c1', ++sequence)]));
      live.flush();
      if (t % 2 === 1) res.take(200);
      backlog.push(res.writableLength);
      await new Promise((r) => setTimeout(r, 50));
    }
    const slowReaderCut = res.destroyed;
    // Then the reader takes nothing, and deltas keep coming.
    const stoppedAt = Date.now();
    while (!res.destroyed && Date.now() - stoppedAt < 3_000) {
      live.ingest(emfLine('standard', [applied('c1', ++sequence)]));
      live.flush();
      await new Promise((r) => setTimeout(r, 50));
    }

    // Assess
    expect(backlog.at(-1)).toBeGreaterThan(backlog[0]!);
    expect(slowReaderCut).toBe(false);
    expect(res.destroyed).toBe(true);
    expect(Date.now() - stoppedAt).toBeLessThan(1_500);
    expect(live.streams()).toBe(0);
  }, 30_000);

  it('frees the slot of a stream that stops reading and is written to no more, and serves the others on', async () => {
    // Prepare: a bound on bytes no stream reaches here, a 300 ms bound on a stalled backlog, no
    // heartbeat; the test sees each stream's response (a stalled one holds unsent bytes).
    live.close();
    live = createLiveView({
      flushMs: 3_600_000,
      heartbeatMs: 3_600_000,
      maxBufferedBytes: 1024 * 1024 * 1024,
      stallMs: 300,
    });
    const responses = new Map<string, ServerResponse>();
    const edge = edgeWith(live);
    server.removeAllListeners('request');
    server.on('request', (req, res) => {
      responses.set(String(req.headers['x-page']), res);
      edge(req, res);
    });
    // A page that reads everything, and one that takes the headers and then reads nothing more.
    const { reader, readBytes, socket, closed } = await readerAndStalledPages(port);
    while (live.streams() < 2) await new Promise((r) => setImmediate(r));
    // Deltas (about 75 KB each) until the stalled stream's connection buffers are full and bytes
    // wait in the process; then nothing more is written to it.
    const stalled = responses.get('stalled')!;
    let sequence = 0;
    while (stalled.writableLength === 0 && !stalled.destroyed) {
      const events = Array.from({ length: 1_000 }, () => applied(LONG_ID, ++sequence));
      live.ingest(emfLine('standard', events));
      live.flush();
      await new Promise((r) => setImmediate(r));
    }
    const pushed = sequence;

    // Act: time passes with nothing written.
    const waitedFrom = Date.now();
    while (live.streams() === 2 && Date.now() - waitedFrom < 3_000) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const cutAfter = Date.now() - waitedFrom;

    // Assess: the stalled stream was cut (its slot is free: a new page gets a stream, not
    // `busy`), and the page that kept reading is still served.
    expect(live.streams()).toBe(1);
    socket.resume();
    await closed;
    const third = await readEvents(port, (e) => e.some((x) => x.event === 'snapshot'));
    expect(third.map((e) => e.event)).toContain('snapshot');
    const before = readBytes();
    live.ingest(emfLine('standard', [applied('c1', ++sequence)]));
    live.flush();
    while (readBytes() === before) await new Promise((r) => setImmediate(r));
    expect(responses.get('reader')!.destroyed).toBe(false);
    reader.destroy();
    console.log(
      `stalled stream cut ${cutAfter} ms after the last write (stallMs 300; ${pushed} applies pushed first)`,
    );
  }, 60_000);
});
