import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main as demo } from '../../../../lab/demo/cli';
import type { GivenUpOrder } from '../../../../lab/loadgen/run-load';
import { cliScratch } from '../../../support/cli-scratch';
import { standInRun } from '../given-up-run';

/**
 * What `npm run demo` says of the orders its load client gave up on: the real load client sends
 * the demo's load to a stand-in API that refuses some orders (422) and answers 500 to every try
 * of others, some of them recorded all the same (given-up-run.ts).
 */
describe('npm run demo: the orders the load client gave up on', () => {
  const s = cliScratch('demo-given-up-');

  it('names the first 10 under the table, says which the API holds and that the rest are lost by the client, writes them all to given-up.json, and exits 1 naming the lost ones (it exited 0)', async () => {
    const { run, roles } = standInRun();
    const out = join(s.dir, 'run');
    const argv = ['--orders', '30', '--customers', '3', '--seed', '11', '--out', out];
    expect(await demo(argv, run)).toBe(1);
    // Of 30 orders, 6 refused, 6 failed and not recorded, 6 failed after their record.
    const path = join(out, 'given-up.json');
    const written = JSON.parse(await readFile(path, 'utf8')) as GivenUpOrder[];
    expect(written).toHaveLength(18);
    for (const g of written) {
      const role = roles.get(g.idempotencyKey);
      expect([g.why, g.atApi]).toEqual(
        role === 'refuse'
          ? ['refused', undefined]
          : ['retries ran out', role === 'fail' ? 'not found' : 'accepted'],
      );
    }
    expect((await readdir(out)).sort()).toEqual([
      'given-up.json',
      'report.html',
      'report.json',
      'report.md',
    ]);
    const text = s.stdout.join('');
    const headline = `given up by the client: 18 orders got no 202; 6 of them held by the API all the same (counted accepted), 12 not accepted by the API: lost by the client, not by a queue (no queue was sent them, so the queues' counts, lost included, leave them out); all 18 in ${path}\n`;
    // Under the table, before the files written.
    expect(text.indexOf(headline)).toBeGreaterThan(text.indexOf('out-of-order applies'));
    expect(text.indexOf(headline)).toBeLessThan(text.indexOf('wrote '));
    const named = s.stdout.filter((l) => l.startsWith('  '));
    expect(named).toHaveLength(11);
    expect(named.slice(0, 10)).toEqual(
      written
        .slice(0, 10)
        .map((g) =>
          g.why === 'refused'
            ? `  ${g.idempotencyKey}: refused after 1 try, last HTTP 422: Idempotency-Key reused with a different body; not asked of the API\n`
            : `  ${g.idempotencyKey}: retries ran out after 3 tries, last HTTP 500: internal error; at the API: ${g.atApi}\n`,
        ),
    );
    expect(named[10]).toBe('  ... and 8 more\n');
    // As `npm run load` says of the same load: one error line, the lost ones named.
    const lost = written.filter((g) => g.atApi !== 'accepted').map((g) => g.idempotencyKey);
    expect(lost).toHaveLength(12);
    expect(s.stderr.filter((l) => l.startsWith('error:'))).toEqual([
      `error: the load client gave up on 12 orders the API does not hold (lost by the client, not by a queue): ${lost.slice(0, 10).join(', ')}, ... (2 more), all in ${path}\n`,
    ]);
  });

  it('exits 0 when the API holds every order the client gave up on (none lost), as npm run load does', async () => {
    const { run } = standInRun();
    const out = join(s.dir, 'held');
    // The same run, its load keeping only the given-up orders the API holds (counted accepted).
    const held: typeof run = async (options) => {
      const result = await run(options);
      const givenUp = result.load.givenUp.filter((g) => g.atApi === 'accepted');
      return { ...result, load: { ...result.load, givenUp, errors: 0 } };
    };
    expect(
      await demo(['--orders', '30', '--customers', '3', '--seed', '11', '--out', out], held),
    ).toBe(0);
    expect(s.stdout.join('')).toMatch(/given up by the client: 6 orders .* none lost/);
    expect(s.stderr.join('')).not.toMatch(/error:/);
  });

  it('says nothing of given-up orders and writes no file when the client gave up on none', async () => {
    const { run } = standInRun();
    const out = join(s.dir, 'clean');
    // The same run, its load summary with nothing given up.
    const clean: typeof run = async (options) => {
      const result = await run(options);
      return { ...result, load: { ...result.load, givenUp: [], errors: 0 } };
    };
    expect(await demo(['--orders', '5', '--seed', '3', '--out', out], clean)).toBe(0);
    expect(s.stdout.join('')).not.toMatch(/given up/);
    expect((await readdir(out)).sort()).toEqual(['report.html', 'report.json', 'report.md']);
  });
});
