import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLimitedServer } from '../../../local/edge';
import { createLiveView, type LiveView } from '../../../local/live/server';
import { edgeWith } from './edge-with';
import { applied, emfLine, suppressed } from './emf-lines';

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

  it('keeps a quiet stream open past the request timeout, with heartbeats', async () => {
    const started = Date.now();
    let beats = 0;
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/_localcloud/live/events' }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          beats += chunk.split(': keep-alive').length - 1;
          // Ten heartbeats at 50 ms: well past the 200 ms request timeout.
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

  it('answers 405 to anything but GET, 404 elsewhere, 503 beyond the stream cap', async () => {
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
    const third = await get(port, '/_localcloud/live/events');
    expect(third.status).toBe(503);
  });
});
