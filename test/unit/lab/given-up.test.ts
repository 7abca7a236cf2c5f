import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cutOffLine,
  GIVEN_UP_NAMED,
  givenUpFile,
  givenUpHeadline,
  givenUpNote,
  loadFailure,
  reportGivenUp,
} from '../../../lab/given-up';
import type { GivenUpOrder } from '../../../lab/loadgen/run-load';

/** What the demo, the experiments and the soak print and write of a run's given-up orders. */
describe('the given-up orders of a run', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'given-up-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const order = (key: string, atApi: GivenUpOrder['atApi']): GivenUpOrder => ({
    idempotencyKey: key,
    attempts: 7,
    why: 'retries ran out',
    last: 'HTTP 502: Bad Gateway',
    ...(atApi ? { atApi } : {}),
  });
  /** 9 the API does not hold, 2 it holds, 1 it did not answer for, 1 refused (not asked). */
  const list: GivenUpOrder[] = [
    ...Array.from({ length: 9 }, (_, i) => order(`n${i + 1}`, 'not found')),
    order('h1', 'accepted'),
    order('u1', 'unknown'),
    { idempotencyKey: 'r1', attempts: 1, why: 'refused', last: 'HTTP 413: too large' },
    order('h2', 'accepted'),
  ];

  it('writes them all, names the first 10 and says which the API holds and that the rest are lost by the client', async () => {
    const lines = await reportGivenUp(list, dir);
    const path = join(dir, 'given-up.json');
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(list);
    expect(lines).toEqual([
      `given up by the client: 13 orders got no 202; 2 of them held by the API all the same (counted accepted), 11 not accepted by the API (1 of them unconfirmed: the API did not answer for them): lost by the client, not by a queue (no queue was sent them, so the queues' counts, lost included, leave them out); all 13 in ${path}`,
      ...Array.from(
        { length: 9 },
        (_, i) =>
          `  n${i + 1}: retries ran out after 7 tries, last HTTP 502: Bad Gateway; at the API: not found`,
      ),
      '  h1: retries ran out after 7 tries, last HTTP 502: Bad Gateway; at the API: accepted',
      '  ... and 3 more',
    ]);
    expect(GIVEN_UP_NAMED).toBe(10);
  });

  it('names a refused order as not asked of the API, and says none is lost when the API holds every one', async () => {
    const lines = await reportGivenUp([list[11]!, list[12]!], dir, givenUpFile('g1 c2 b10'));
    expect(lines.slice(1)).toEqual([
      '  r1: refused after 1 try, last HTTP 413: too large; not asked of the API',
      '  h2: retries ran out after 7 tries, last HTTP 502: Bad Gateway; at the API: accepted',
    ]);
    expect(await readdir(dir)).toEqual(['given-up-g1-c2-b10.json']);
    expect(givenUpHeadline([list[9]!, list[12]!], 'f.json')).toBe(
      'given up by the client: 2 orders got no 202; 2 of them held by the API all the same (counted accepted), none lost; all 2 in f.json',
    );
    expect(givenUpNote([list[9]!])).toBe(
      'the load client gave up on 1 orders, 0 not accepted by the API',
    );
    expect(givenUpNote(list)).toBe(
      'the load client gave up on 13 orders, 11 not accepted by the API (lost by the client, not by a queue)',
    );
  });

  it('says of an unreadable answer that it was a 202 naming no order, in the headline and its line', async () => {
    const unreadable: GivenUpOrder = {
      idempotencyKey: 'x1',
      attempts: 1,
      why: 'unreadable answer',
      last: 'HTTP 202',
      atApi: 'not found',
    };
    const lines = await reportGivenUp([unreadable, list[9]!], dir);
    expect(lines).toEqual([
      `given up by the client: 2 orders got no 202 naming them (1 of them a 202 that named no order); 1 of them held by the API all the same (counted accepted), 1 not accepted by the API: lost by the client, not by a queue (no queue was sent them, so the queues' counts, lost included, leave them out); all 2 in ${join(dir, 'given-up.json')}`,
      '  x1: unreadable answer (a 202 that named no order) after 1 try, last HTTP 202; at the API: not found',
      '  h1: retries ran out after 7 tries, last HTTP 502: Bad Gateway; at the API: accepted',
    ]);
  });

  it('says an order not looked up was not asked, not that the API did not answer for it', () => {
    const unasked = order('q1', 'not asked');
    expect(givenUpHeadline([unasked, list[0]!], 'f.json')).toBe(
      "given up by the client: 2 orders got no 202; 0 of them held by the API all the same (counted accepted), 2 not accepted by the API (1 of them unconfirmed: not asked of the API (the look-ups' time had run out)): lost by the client, not by a queue (no queue was sent them, so the queues' counts, lost included, leave them out); all 2 in f.json",
    );
    expect(givenUpHeadline([unasked, list[10]!], 'f.json')).toContain(
      "2 not accepted by the API (2 of them unconfirmed: the API did not answer for 1, 1 not asked of the API (the look-ups' time had run out))",
    );
  });

  it('names the orders given up when every connection to the API was refused or had no route, sent or not, and not asked of it, saying both (a try with no route counts too)', async () => {
    const gone: GivenUpOrder[] = [
      {
        idempotencyKey: 'g1',
        attempts: 3,
        why: 'API unreachable',
        last: 'network error ECONNREFUSED',
        atApi: 'not asked',
      },
      {
        idempotencyKey: 'g2',
        attempts: 2,
        why: 'API unreachable',
        last: 'network error EHOSTUNREACH',
      },
      { idempotencyKey: 'g3', attempts: 0, why: 'API unreachable', last: 'not sent' },
    ];
    expect(await reportGivenUp(gone, dir)).toEqual([
      `given up by the client: 3 orders got no 202 (3 of them given up when every connection to the API was refused or had no route); 0 of them held by the API all the same (counted accepted), 3 not accepted by the API (1 of them unconfirmed: not asked of the API (it was unreachable)): lost by the client, not by a queue (no queue was sent them, so the queues' counts, lost included, leave them out); all 3 in ${join(dir, 'given-up.json')}`,
      '  g1: API unreachable (every connection to it was refused or had no route; the client stopped sending) after 3 tries, last network error ECONNREFUSED; at the API: not asked',
      "  g2: API unreachable (every connection to it was refused or had no route; the client stopped sending) after 2 tries, last network error EHOSTUNREACH; never reached the API (every try's connection was refused or had no route)",
      '  g3: API unreachable (every connection to it was refused or had no route; the client stopped sending) before its first try; never sent',
    ]);
  });

  it("says why a run's load fails the command that sent it, as npm run load exits 1 for it, and nothing when the API holds every given-up order", () => {
    const clean = { givenUp: [], errors: 0, retryMismatches: 0, retriesUnanswered: 0 };
    expect(loadFailure(clean, 'f.json')).toBeUndefined();
    expect(loadFailure({ ...clean, givenUp: [list[9]!, list[12]!] }, 'f.json')).toBeUndefined();
    // 11 not held, 2 retries answered with another order, 1 not answered, the API found gone.
    expect(
      loadFailure(
        {
          givenUp: list,
          errors: 14,
          retryMismatches: 2,
          retriesUnanswered: 1,
          retriesNotMade: 3,
          unreachable: { sinceMs: 0, atMs: 500, refusals: 9, windowMs: 500 },
        },
        'f.json',
      ),
    ).toBe(
      'the load client gave up on 11 orders the API does not hold (lost by the client, not by a queue): n1, n2, n3, n4, n5, n6, n7, n8, n9, u1, ... (1 more), all in f.json; 2 client retries were answered with a different order; 1 client retries were not answered (the API was unreachable); the API could not be reached for 0.5 s (every connection refused or with no route, --unreachable-after): the load client stopped sending, 3 planned client retries not made',
    );
  });

  it('fails a load cut off with every order accepted and only planned client retries left unmade (no error, nothing given up)', () => {
    const cutOff = {
      givenUp: [],
      errors: 0,
      retryMismatches: 0,
      retriesUnanswered: 0,
      retriesNotMade: 2,
      unreachable: { sinceMs: 100, atMs: 300, refusals: 4, windowMs: 200 },
    };
    const line =
      'the API could not be reached for 0.2 s (every connection refused or with no route, --unreachable-after): the load client stopped sending, 2 planned client retries not made';
    expect(cutOffLine(cutOff)).toBe(line);
    expect(loadFailure(cutOff, 'f.json')).toBe(line);
    expect(cutOffLine({ ...cutOff, unreachable: undefined })).toBeUndefined();
  });

  it('writes nothing and says nothing when the client gave up on none', async () => {
    expect(await reportGivenUp([], dir)).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });
});
