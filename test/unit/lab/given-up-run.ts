import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { planLoad } from '../../../lab/loadgen/domain/plan';
import { runLoad } from '../../../lab/loadgen/run-load';
import type { LocalRunOptions, LocalRunResult } from '../../../lab/local-run';
import { buildReport } from '../../../services/report/src/domain/report';
import { pipelineConfig } from '../../../shared/src/config/pipeline';

/**
 * What the stand-in API does with every POST of an order: accepts it (202), refuses it (422, a
 * 4xx the client does not retry), answers 500 to every try, with the order's record written
 * first (`fail-recorded`: GET /orders/{key} finds it) or not (`fail`), or records it and answers
 * 202 with an empty body (`unreadable`).
 */
export type Role = 'accept' | 'refuse' | 'fail' | 'fail-recorded' | 'unreadable';

/**
 * The role of the i-th order of the plan (customers one after another, each in sequence): of
 * every five, one refused, one failed and not recorded, one failed after its record, two accepted.
 */
export const roleOf = (i: number): Role =>
  (['refuse', 'fail', 'fail-recorded', 'accept', 'accept'] as const)[i % 5]!;

/** The report built from an empty ledger for run `runId`. */
export const emptyReport = (runId: string) =>
  buildReport({
    runId,
    target: 'local',
    config: pipelineConfig,
    ledger: { accepted: [], deliveries: [], effects: [], failures: [] },
  });

/**
 * The parts of a LocalRunResult a stand-in run has nothing for: no DynamoDB requests or lost
 * deletes, the default function timeout and record budget, every phase timed 0 ms.
 */
export const quietRunParts = () => ({
  dynamodbRequests: {},
  lostDeletes: { fifo: [], standard: [] },
  functionTimeoutMs: { fifo: 10_000, standard: 10_000 },
  recordBudgetMs: { fifo: 5_175, standard: 5_175 },
  timings: { startMs: 0, loadMs: 0, drainMs: 0, reportMs: 0, stopMs: 0 },
});

/** What the load client takes of a run's options: its plan (orders, customers, retries, seed) and id. */
export const loadOptionsOf = (options: LocalRunOptions) => ({
  orders: options.orders,
  customers: options.customers,
  retryRate: options.retryRate,
  seed: options.seed,
  runId: options.runId,
});

/**
 * A run as the demo, the experiments and the soak get it from runOnLocalCloud, with the local
 * cloud replaced by a stand-in API on 127.0.0.1 (a port it picks) that plays each planned order's
 * role: the real load client (runLoad, as runOnLocalCloud calls it, with at most 3 tries and a
 * 1 ms backoff) sends the run's load to it, gives up on the orders refused or failed, and asks
 * the API about the latter. The report is built from an empty ledger. `roles` maps every planned
 * key to its role, per run id, for the test's assertions.
 */
export function standInRun(): {
  run: (options: LocalRunOptions) => Promise<LocalRunResult>;
  roles: Map<string, Role>;
} {
  const roles = new Map<string, Role>();
  const run = async (options: LocalRunOptions): Promise<LocalRunResult> => {
    const plan = planLoad({
      runId: options.runId,
      orders: options.orders,
      customers: options.customers,
      retryRate: options.retryRate,
      seed: options.seed,
    });
    const keys = plan.customers.flat().map((o) => o.idempotencyKey);
    const role = new Map(keys.map((k, i) => [k, roleOf(i)]));
    for (const [k, r] of role) roles.set(k, r);
    const api = await standInApi((key) => role.get(key));
    try {
      const load = await runLoad({
        ...loadOptionsOf(options),
        apiUrl: api.url,
        concurrency: 4,
        rate: 0,
        maxAttempts: 3,
        backoff: { baseMs: 1, capMs: 1 },
      });
      return { data: emptyReport(options.runId), load, ...quietRunParts() };
    } finally {
      await api.close();
    }
  };
  return { run, roles };
}

/**
 * The stand-in API on 127.0.0.1 (a port it picks): each POST plays its Idempotency-Key's role
 * (`roleFor(key)`; a key with none is accepted), GET /orders/{key} finds the orders it recorded
 * (200) and no other (404, as for the load client's probe). `unreadable` records the order and
 * answers 202 with an empty body, which names no order.
 */
export async function standInApi(
  roleFor: (key: string) => Role | undefined,
): Promise<{ url: string; close: () => Promise<void> }> {
  const recorded = new Set<string>();
  const server = createServer(async (req, res) => {
    for await (const _ of req);
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'GET') {
      const key = decodeURIComponent(String(req.url).split('/').pop() ?? '');
      if (recorded.has(key)) json(200, { orderId: key });
      else json(404, { message: 'not found' });
      return;
    }
    const key = String(req.headers['idempotency-key']);
    switch (roleFor(key)) {
      case 'refuse':
        json(422, { message: 'Idempotency-Key reused with a different body' });
        return;
      case 'fail':
        json(500, { message: 'internal error' });
        return;
      case 'fail-recorded':
        recorded.add(key);
        json(500, { message: 'internal error' });
        return;
      case 'unreadable':
        recorded.add(key);
        res.writeHead(202, { 'content-type': 'application/json' }).end();
        return;
      default:
        recorded.add(key);
        json(202, { orderId: key, messageIds: { fifo: 'f', standard: 's' } });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The stand-in API accepting every order, closed when the `closeAt`th POST arrives (that POST's
 * connection is cut with the others: a lost answer, then refusals), and how many POSTs came.
 */
export async function closingApi(closeAt: number) {
  let posts = 0;
  let closed: Promise<void> | undefined;
  const api = await standInApi(() => {
    posts++;
    if (posts === closeAt) closed = api.close();
    return 'accept';
  });
  return { url: api.url, posts: () => posts, close: () => closed ?? api.close() };
}
