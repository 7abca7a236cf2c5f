import { SqsError } from '../../../local/sqs/errors';
import { MAX_QUERY_PARAMETERS, parseQueryRequest } from '../../../local/sqs/protocol';

/**
 * A Query request's parameters are counted before any is decoded: past MAX_QUERY_PARAMETERS the
 * request is refused (InvalidParameterValue, 400) having decoded none, so what one request costs
 * the main thread is bounded by the cap, whatever its size. A 4 MB form of 200,000 parameters
 * had been decoded, split and sorted whole: 2 to 4 s of the main thread (found in review).
 * The work is counted as the parameters URLSearchParams hands out: every parameter the parser
 * reads passes through its iterator once.
 */
describe('the Query protocol parameter cap', () => {
  /** `n` parameters in the costliest shape the parser reads: a queue attribute entry each (which GetQueueUrl ignores, once read). */
  const form = (n: number) => {
    const parts = ['Action=GetQueueUrl', 'QueueName=q'];
    for (let i = 1; parts.length < n; i++) parts.push(`Attribute.${i}.Name=a${i}`);
    return Buffer.from(parts.join('&'));
  };

  /** Runs `work`, counting the parameters every URLSearchParams iterator hands out meanwhile. */
  function countReads(work: () => void): { reads: number; error: unknown } {
    const proto = URLSearchParams.prototype as unknown as {
      [Symbol.iterator]: () => Iterator<[string, string]>;
    };
    const original = proto[Symbol.iterator];
    let reads = 0;
    const spy = jest.spyOn(proto, Symbol.iterator).mockImplementation(function (
      this: URLSearchParams,
    ) {
      const it = original.call(this);
      return {
        next() {
          const r = it.next();
          if (!r.done) reads++;
          return r;
        },
        [Symbol.iterator]() {
          return this;
        },
      } as IterableIterator<[string, string]>;
    });
    let error: unknown;
    try {
      work();
    } catch (e) {
      error = e;
    } finally {
      spy.mockRestore();
    }
    return { reads, error };
  }

  it('refuses 200,000 parameters in 4 MB having read none of them', () => {
    const body = form(200_000);
    expect(body.length).toBeGreaterThan(3_000_000);
    const { reads, error } = countReads(() => parseQueryRequest(body, ''));
    expect(error).toBeInstanceOf(SqsError);
    expect(error).toMatchObject({
      status: 400,
      queryCode: 'InvalidParameterValue',
      message: expect.stringMatching(
        new RegExp(`^The request has more than ${MAX_QUERY_PARAMETERS} parameters`),
      ),
    });
    expect(reads).toBe(0);
  });

  it('counts the parameters of the query string and the body together', () => {
    const half = Math.ceil(MAX_QUERY_PARAMETERS / 2) + 1;
    const search = `?${Array.from({ length: half }, (_, i) => `X${i}=1`).join('&')}`;
    const { reads, error } = countReads(() => parseQueryRequest(form(half), search));
    expect(error).toMatchObject({ queryCode: 'InvalidParameterValue' });
    expect(reads).toBe(0);
  });

  it('reads a request of exactly the cap, each parameter a bounded number of times', () => {
    const body = form(MAX_QUERY_PARAMETERS);
    const { reads, error } = countReads(() => parseQueryRequest(body, ''));
    expect(error).toBeUndefined();
    expect(reads).toBeGreaterThanOrEqual(MAX_QUERY_PARAMETERS);
    expect(reads).toBeLessThanOrEqual(4 * MAX_QUERY_PARAMETERS);
  });

  it('takes a SendMessageBatch of 10 entries with every attribute well under the cap', () => {
    const params: [string, string][] = [
      ['Action', 'SendMessageBatch'],
      ['QueueUrl', 'http://localhost/000000000000/q.fifo'],
    ];
    for (let e = 1; e <= 10; e++) {
      const p = `SendMessageBatchRequestEntry.${e}`;
      params.push([`${p}.Id`, `e${e}`], [`${p}.MessageBody`, 'b'], [`${p}.DelaySeconds`, '0']);
      params.push([`${p}.MessageGroupId`, 'g'], [`${p}.MessageDeduplicationId`, `d${e}`]);
      for (let a = 1; a <= 10; a++) {
        params.push([`${p}.MessageAttribute.${a}.Name`, `a${a}`]);
        params.push([`${p}.MessageAttribute.${a}.Value.DataType`, 'String']);
        params.push([`${p}.MessageAttribute.${a}.Value.StringValue`, 'v']);
      }
      params.push([`${p}.MessageSystemAttribute.1.Name`, 'AWSTraceHeader']);
      params.push([`${p}.MessageSystemAttribute.1.Value.DataType`, 'String']);
      params.push([
        `${p}.MessageSystemAttribute.1.Value.StringValue`,
        'Root=1-5759e988-bd862e3fe1be46a994272793',
      ]);
    }
    expect(params.length * 2).toBeLessThan(MAX_QUERY_PARAMETERS);
    const { input } = parseQueryRequest(Buffer.from(new URLSearchParams(params).toString()), '');
    expect(input.Entries).toHaveLength(10);
    expect(Object.keys(input.Entries[9].MessageAttributes)).toHaveLength(10);
  });
});
