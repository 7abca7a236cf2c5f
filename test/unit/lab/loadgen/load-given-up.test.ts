import { rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main as load } from '../../../../lab/loadgen/cli';
import { planLoad } from '../../../../lab/loadgen/domain/plan';
import type { GivenUpOrder } from '../../../../lab/loadgen/run-load';
import { UsageError } from '../../../../shared/src/cli/args';
import { cliScratch } from '../../../support/cli-scratch';
import { type Role, roleOf, standInApi } from '../given-up-run';

/**
 * What `npm run load` says of the orders it gave up on, as the demo, the experiments and the soak
 * say it (lab/given-up.ts): the real CLI sends its load to the stand-in API of given-up-run.ts,
 * which refuses some orders (422), answers 500 to every try of others (some recorded all the
 * same) and answers a few with a 202 that names no order.
 */
describe('npm run load: the orders the load client gave up on', () => {
  const s = cliScratch('load-given-up-');

  const argvOf = (url: string, out: string) => [
    ...['--api', url, '--orders', '30', '--customers', '3', '--seed', '11', '--run', 'lg-1'],
    // Each failed order given up after its first 500s, not retried for 120 s.
    ...['--retry-rate', '0', '--retry-deadline', '0', '--concurrency', '4', '--out', out],
  ];

  it('prints the shared headline and the first 10, every `why` included, and writes them all to <out>/given-up.json', async () => {
    // The plan's orders in the demo's roles, every second accepted one (3 of 30) answered with a
    // 202 whose body names no order.
    const plan = planLoad({ runId: 'lg-1', orders: 30, customers: 3, retryRate: 0, seed: 11 });
    const roles = new Map<string, Role>(
      plan.customers
        .flat()
        .map((o, i) => [o.idempotencyKey, i % 10 === 3 ? 'unreadable' : roleOf(i)]),
    );
    const api = await standInApi((key) => roles.get(key));
    const out = join(s.dir, 'run');
    try {
      // Exit 1: the refused orders stay errors.
      expect(await load(argvOf(api.url, out))).toBe(1);
    } finally {
      await api.close();
    }
    const path = join(out, 'given-up.json');
    const written = JSON.parse(await readFile(path, 'utf8')) as GivenUpOrder[];
    // 6 refused, 6 failed and not recorded, 6 failed after their record, 3 unreadable (recorded).
    expect(written).toHaveLength(21);
    for (const g of written) {
      const role = roles.get(g.idempotencyKey);
      expect([g.why, g.atApi]).toEqual(
        role === 'refuse'
          ? ['refused', undefined]
          : role === 'unreadable'
            ? ['unreadable answer', 'accepted']
            : ['retries ran out', role === 'fail' ? 'not found' : 'accepted'],
      );
    }
    expect(await readdir(out)).toEqual(['given-up.json']);
    const lines = s.stdout.join('').split('\n');
    const headline = `given up by the client: 21 orders got no 202 naming them (3 of them a 202 that named no order); 9 of them held by the API all the same (counted accepted), 12 not accepted by the API: lost by the client, not by a queue (no queue was sent them, so the queues' counts, lost included, leave them out); all 21 in ${path}`;
    const at = lines.indexOf(headline);
    // After the summary's errors line, then the 10 named and how many more, then the rate.
    expect(lines[at - 1]).toMatch(/^errors: {4}\d+$/);
    const tries = (n: number) => `${n} ${n === 1 ? 'try' : 'tries'}`;
    expect(lines.slice(at + 1, at + 12)).toEqual([
      ...written
        .slice(0, 10)
        .map((g) =>
          g.why === 'refused'
            ? `  ${g.idempotencyKey}: refused after 1 try, last HTTP 422: Idempotency-Key reused with a different body; not asked of the API`
            : g.why === 'unreadable answer'
              ? `  ${g.idempotencyKey}: unreadable answer (a 202 that named no order) after 1 try, last HTTP 202; at the API: accepted`
              : `  ${g.idempotencyKey}: retries ran out after ${tries(g.attempts)}, last HTTP 500: internal error; at the API: ${g.atApi}`,
        ),
      '  ... and 11 more',
    ]);
    expect(lines[at + 12]).toMatch(/^rate: /);
    expect(s.stdout.join('')).not.toMatch(/given up: /);
  });

  it('says nothing of given-up orders and writes no file when it gave up on none', async () => {
    const api = await standInApi(() => 'accept');
    const out = join(s.dir, 'clean');
    try {
      expect(await load(argvOf(api.url, out))).toBe(0);
    } finally {
      await api.close();
    }
    expect(s.stdout.join('')).toMatch(/^accepted: {2}30 of 30 orders$/m);
    expect(s.stdout.join('')).not.toMatch(/given up/);
    expect(await readdir(out)).toEqual([]);
  });

  it('refuses an --out that cannot hold the file before sending any order, as the other CLIs do', async () => {
    const file = join(s.dir, 'a-file');
    await writeFile(file, '');
    let posts = 0;
    const api = await standInApi(() => {
      posts++;
      return 'accept';
    });
    try {
      await expect(load(argvOf(api.url, file))).rejects.toThrow(
        new UsageError(`--out ${file} cannot be used: ${file} is not a directory`),
      );
    } finally {
      await api.close();
    }
    expect(posts).toBe(0);
  });

  it('prints the whole summary all the same, and exits 1, when the file cannot be written after the load', async () => {
    // --out passes the check up front, then becomes a file while the load runs (as a default
    // reports/<run id> under a `reports` that is a file, or a full disk, fails only then).
    const out = join(s.dir, 'gone');
    let replaced = false;
    const api = await standInApi(() => {
      if (!replaced) {
        replaced = true;
        rmSync(out, { recursive: true, force: true });
        writeFileSync(out, '');
      }
      return 'refuse';
    });
    let code: number;
    try {
      code = await load(argvOf(api.url, out));
    } finally {
      await api.close();
    }
    expect(code).toBe(1);
    const text = s.stdout.join('');
    expect(text).toMatch(/^accepted: {2}0 of 30 orders$/m);
    expect(text).toMatch(/^next: {6}npm run report -- --run lg-1$/m);
    const path = join(out, 'given-up.json');
    expect(text).toContain(
      `all 30 in ${path} (not written: cannot write files into ${out}: ${out} is not a directory)`,
    );
    expect(text).toContain('  ... and 20 more');
    expect(
      s.stderr
        .join('')
        .split('\n')
        .filter((l) => l.startsWith('error: ')),
    ).toEqual([
      `error: given-up.json not written: cannot write files into ${out}: ${out} is not a directory`,
    ]);
  });
});
