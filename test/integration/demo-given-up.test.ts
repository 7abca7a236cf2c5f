import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main as demo } from '../../lab/demo/cli';
import { planLoad } from '../../lab/loadgen/domain/plan';
import type { GivenUpOrder } from '../../lab/loadgen/run-load';
import { runOnLocalCloud } from '../../lab/local-run';
import type { Report } from '../../services/report/src/domain/report';
import { ENV } from '../../shared/src/config/function-env';

const SEED = 77;
const ORDERS = 40;
const CUSTOMERS = 4;

/** A hung run's bound, not a measure of speed (40 orders take seconds on an idle machine). */
const DEMO_TIMEOUT_MS = 300_000;

/**
 * `npm run demo` on its own local cloud, the producer deployed with a body limit (MAX_BODY_BYTES)
 * below half the planned orders' bodies: it answers those 413, which the load client does not
 * retry, so it gives them up as refused. The demo must name them as lost by the client, write
 * them all to given-up.json, count only the others in its report, losing none, and exit 1.
 */
describe('npm run demo with orders the API refuses', () => {
  let dir: string;
  const written: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'demo-given-up-'));
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    await rm(dir, { recursive: true, force: true });
  });

  it(
    'names the orders given up under the table as lost by the client, keeps them all in given-up.json, and the report counts the rest',
    async () => {
      jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
        written.push(String(chunk));
        return true;
      });
      const errors: string[] = [];
      jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
        errors.push(String(chunk));
        return true;
      });
      const plan = planLoad({
        runId: `demo-${SEED.toString(36)}`,
        orders: ORDERS,
        customers: CUSTOMERS,
        retryRate: 0.05,
        seed: SEED,
      });
      const sizes = plan.customers
        .flat()
        .map((o) => ({ key: o.idempotencyKey, bytes: Buffer.byteLength(JSON.stringify(o.body)) }));
      const limit = [...sizes].sort((a, b) => a.bytes - b.bytes)[Math.floor(ORDERS / 2)]!.bytes;
      const refused = sizes.filter((s) => s.bytes > limit).map((s) => s.key);
      expect(refused.length).toBeGreaterThan(10);
      expect(refused.length).toBeLessThan(ORDERS);
      const out = join(dir, 'run');
      const code = await demo(
        [
          '--orders',
          String(ORDERS),
          '--customers',
          String(CUSTOMERS),
          '--seed',
          String(SEED),
        ].concat(['--out', out]),
        (options) =>
          runOnLocalCloud({
            ...options,
            producerEnv: { ...options.producerEnv, [ENV.MAX_BODY_BYTES]: String(limit) },
          }),
      );
      // Orders lost by the client fail the demo, as they fail `npm run load`: exit 1, one line.
      expect(code).toBe(1);
      const path = join(out, 'given-up.json');
      const errorLines = errors
        .join('')
        .split('\n')
        .filter((l) => l.startsWith('error: '));
      expect(errorLines).toEqual([
        expect.stringContaining(
          `error: the load client gave up on ${refused.length} orders the API does not hold (lost by the client, not by a queue): `,
        ),
      ]);
      expect(errorLines[0]).toContain(`all in ${path}`);
      const givenUp = JSON.parse(await readFile(path, 'utf8')) as GivenUpOrder[];
      expect(givenUp.map((g) => g.idempotencyKey).sort()).toEqual([...refused].sort());
      for (const g of givenUp) {
        expect(g).toMatchObject({ why: 'refused', attempts: 1 });
        expect(g.last).toMatch(/^HTTP 413/);
        expect(g.atApi).toBeUndefined();
      }
      const text = written.join('');
      expect(text).toContain(
        `given up by the client: ${refused.length} orders got no 202; 0 of them held by the API all the same (counted accepted), ${refused.length} not accepted by the API: lost by the client, not by a queue (no queue was sent them, so the queues' counts, lost included, leave them out); all ${refused.length} in ${path}\n`,
      );
      expect(text).toContain(`  ... and ${refused.length - 10} more\n`);
      const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as Report;
      expect(report.accepted).toBe(ORDERS - refused.length);
      expect([report.queues.fifo.lost, report.queues.standard.lost]).toEqual([0, 0]);
    },
    DEMO_TIMEOUT_MS,
  );
});
