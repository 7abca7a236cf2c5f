import { CreateQueueCommand, ListQueuesCommand } from '@aws-sdk/client-sqs';
import { type Harness, startEmulator } from './helpers';

/**
 * ListQueues paging as AWS documents it (SQS Developer Guide, "Amazon SQS list queue
 * pagination"): without MaxResults an answer holds up to 1,000 queues and no NextToken; with
 * MaxResults it holds at most that many, and a NextToken while more remain. A NextToken with no
 * MaxResults goes on from where the token points, up to 1,000 again.
 */
describe('ListQueues paging', () => {
  let h: Harness;
  const names = Array.from({ length: 1105 }, (_, i) => `p${String(i).padStart(5, '0')}`);
  beforeAll(async () => {
    h = await startEmulator('none');
    for (const QueueName of names) await h.sqs.send(new CreateQueueCommand({ QueueName }));
  }, 60_000);
  afterAll(() => h.stop());

  const nameOf = (url: string) => url.split('/').pop();

  /** The same request over the Query protocol: queue names and NextToken from its XML. */
  async function listOverQuery(params: Record<string, string>) {
    const res = await fetch(h.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ Action: 'ListQueues', ...params }).toString(),
    });
    const xml = await res.text();
    expect(res.status).toBe(200);
    return {
      names: [...xml.matchAll(/<QueueUrl>([^<]+)<\/QueueUrl>/g)].map((m) => nameOf(m[1]!)),
      nextToken: /<NextToken>([^<]+)<\/NextToken>/.exec(xml)?.[1],
    };
  }

  it('answers up to 1,000 queues and no NextToken without MaxResults', async () => {
    const all = await h.sqs.send(new ListQueuesCommand({}));
    expect(all.QueueUrls?.map(nameOf)).toEqual(names.slice(0, 1000));
    expect(all.NextToken).toBeUndefined();
    const query = await listOverQuery({});
    expect(query.names).toEqual(names.slice(0, 1000));
    expect(query.nextToken).toBeUndefined();
  });

  it('goes on past the first 1,000 from a NextToken given without MaxResults', async () => {
    const first = await h.sqs.send(new ListQueuesCommand({ MaxResults: 1000 }));
    expect(first.QueueUrls).toHaveLength(1000);
    expect(first.NextToken).toBeDefined();
    const rest = await h.sqs.send(new ListQueuesCommand({ NextToken: first.NextToken! }));
    expect(rest.QueueUrls?.map(nameOf)).toEqual(names.slice(1000));
    expect(rest.NextToken).toBeUndefined();
    const query = await listOverQuery({ NextToken: first.NextToken! });
    expect(query.names).toEqual(names.slice(1000));
    expect(query.nextToken).toBeUndefined();
  });

  it('answers up to 1,000 queues from a NextToken without MaxResults, not only up to the 1,000th', async () => {
    const first = await h.sqs.send(new ListQueuesCommand({ MaxResults: 10 }));
    const next = await h.sqs.send(new ListQueuesCommand({ NextToken: first.NextToken! }));
    expect(next.QueueUrls?.map(nameOf)).toEqual(names.slice(10, 1010));
    expect(next.NextToken).toBeUndefined();
    const query = await listOverQuery({ NextToken: first.NextToken! });
    expect(query.names).toEqual(names.slice(10, 1010));
  });

  it('walks every queue in pages of MaxResults, over both protocols alike', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await h.sqs.send(new ListQueuesCommand({ MaxResults: 400, NextToken: token }));
      const query = await listOverQuery({
        MaxResults: '400',
        ...(token === undefined ? {} : { NextToken: token }),
      });
      expect(query.names).toEqual(page.QueueUrls?.map(nameOf));
      expect(query.nextToken).toBe(page.NextToken);
      seen.push(...(page.QueueUrls ?? []).map((u) => nameOf(u)!));
      token = page.NextToken;
    } while (token !== undefined);
    expect(seen).toEqual(names);
  });
});
