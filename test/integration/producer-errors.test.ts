import { getOrder, ledgerRecords, newRunId, order, postOrder } from './support/pipeline-client';
import { stopsAfterAll } from './support/stop-after-all';
import { startTarget, type Target } from './support/target';

/**
 * What POST /orders answers end to end (HTTP through the API gateway to the producer) for a body
 * declared as JSON that does not parse: 400, a malformed request, whoever answers it. For
 * `application/json` the REST API's request validator answers before the producer (its model is
 * mapped to that content type); for another JSON type (`+json`) no model applies ("If no matching
 * content type is found, request validation is not performed", API Gateway Developer Guide,
 * Request validation for REST APIs) and the producer answers. 415 stays for a media type the API
 * does not take. Each is refused before anything is written.
 */
describe('POST /orders with a body declared as JSON that does not parse', () => {
  let target: Target;
  const runId = newRunId('broken-json');

  const keep = stopsAfterAll();
  beforeAll(async () => {
    target = await keep(startTarget({ seed: 20261203, faults: 'none' }));
  }, 60_000);

  it.each([
    ['a truncated object', 'application/json', '{"customerId":'],
    ['a stray character', 'application/json; charset=utf-8', '{not json'],
    [
      'an order with a trailing comma',
      'application/json',
      `${JSON.stringify(order('cust-broken')).slice(0, -1)},}`,
    ],
  ])(
    'answers 400 for %s as %s (the request validator, before the producer)',
    async (_what, contentType, body) => {
      const key = `broken-${newRunId('k')}`;

      const res = await postOrder(target, body, { runId, contentType, idempotencyKey: key });

      expect(res.status).toBe(400);
      expect(res.json.message).toEqual(expect.any(String));
      expect((await getOrder(target, key)).status).toBe(404);
    },
  );

  it('answers 400 from the producer for a +json type, saying why (found in review: was 415)', async () => {
    const key = `broken-${newRunId('k')}`;

    const res = await postOrder(target, '{"customerId":', {
      runId,
      contentType: 'application/vnd.order+json',
      idempotencyKey: key,
    });

    expect(res.status).toBe(400);
    expect(res.json.message).toMatch(
      /^request body is not valid JSON \(.+\); send the order as one JSON object$/,
    );
    expect((await getOrder(target, key)).status).toBe(404);
  });

  it('answers 415 for the same broken body sent as text/plain: a media type the API does not take', async () => {
    const res = await postOrder(target, '{"customerId":', { runId, contentType: 'text/plain' });

    expect(res.status).toBe(415);
    expect(res.json.message).toBe('Content-Type must be application/json');
  });

  it('takes the same order, well formed, under the +json type', async () => {
    const res = await postOrder(target, order('cust-plus-json'), {
      runId,
      contentType: 'application/vnd.order+json',
    });

    expect(res.status).toBe(202);
  });

  it('wrote nothing for any refused request', async () => {
    // The run holds what the accepted order wrote (its customer's sequence counter) and, as far
    // as the consumers have got with it when this reads (they run), their records of that order:
    // each names its customer, in an attribute or in its key. Nothing else.
    const written = await ledgerRecords(target, runId, '');
    const ofAccepted = (r: Record<string, unknown>) =>
      r.customerId === 'cust-plus-json' || String(r.sk).endsWith('#cust-plus-json');
    expect(written.map((r) => r.sk)).toContain('COUNTER#sequence#cust-plus-json');
    expect(written.filter((r) => !ofAccepted(r))).toEqual([]);
  });
});
