import { createSqsEmulator } from '../../local/sqs';
import { parseJsonRequest, parseQueryRequest } from '../../local/sqs/protocol';

/**
 * How long one large Query (form) request holds the emulator's main thread, and what it answers:
 * bodies of just under 4 MB (the emulator's MAX_REQUEST_BYTES) made of as many parameters as fit,
 * in the shapes the Query parser reads (and one it skips), plus one AWS JSON 1.0 request of the
 * same size for comparison. The emulator runs in this process; a 10 ms ticker notes the longest
 * gap between its ticks while each request is answered. Median of `ROUNDS` (default 3) after one
 * warm-up. Run: `node --import tsx bench/sqs/query-parameters.ts`.
 */

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const LIMIT = 4 * 1024 * 1024 - 1024;

function form(head: string, part: (i: number) => string): { body: string; params: number } {
  const parts = [head];
  let length = head.length;
  for (let i = 1; ; i++) {
    const p = part(i);
    if (length + p.length + 1 > LIMIT) break;
    parts.push(p);
    length += p.length + 1;
  }
  return { body: parts.join('&'), params: parts.length };
}

async function main(): Promise<void> {
  const emulator = createSqsEmulator({ seed: 1, faults: 'none' });
  const { url } = await emulator.listen(0);
  const post = (body: string, headers: Record<string, string>) =>
    fetch(url, { method: 'POST', headers, body });
  const formHeaders = { 'content-type': 'application/x-www-form-urlencoded' };
  const created = await (await post('Action=CreateQueue&QueueName=bench', formHeaders)).text();
  const queueUrl = /<QueueUrl>([^<]+)</.exec(created)?.[1] ?? '';
  const q = `Action=SendMessage&QueueUrl=${encodeURIComponent(queueUrl)}&MessageBody=hi`;
  const cases: { name: string; body: string; params: number; headers: Record<string, string> }[] = [
    { name: 'unread names (X<i>=a)', ...form(q, (i) => `X${i}=a`), headers: formHeaders },
    {
      name: 'queue attributes (Attribute.<i>.Name)',
      ...form(q, (i) => `Attribute.${i}.Name=a${i}`),
      headers: formHeaders,
    },
    {
      name: 'message attributes (MessageAttribute.<i>.Name)',
      ...form(q, (i) => `MessageAttribute.${i}.Name=a${i}`),
      headers: formHeaders,
    },
    {
      name: 'batch entries (SendMessageBatchRequestEntry.<i>.Id)',
      ...form(
        `Action=SendMessageBatch&QueueUrl=${encodeURIComponent(queueUrl)}`,
        (i) => `SendMessageBatchRequestEntry.${i}.Id=e${i}`,
      ),
      headers: formHeaders,
    },
  ];
  const attributes: Record<string, unknown> = {};
  const head = JSON.stringify({ QueueUrl: queueUrl, MessageBody: 'hi', MessageAttributes: {} });
  for (let i = 0, length = head.length; ; i++) {
    const entry = `"a${i}":{"DataType":"String","StringValue":"v"},`;
    if (length + entry.length > LIMIT) break;
    attributes[`a${i}`] = { DataType: 'String', StringValue: 'v' };
    length += entry.length;
  }
  const json = JSON.stringify({
    QueueUrl: queueUrl,
    MessageBody: 'hi',
    MessageAttributes: attributes,
  });
  cases.push({
    name: 'JSON: SendMessage with MessageAttributes',
    body: json,
    params: Object.keys(attributes).length,
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'AmazonSQS.SendMessage',
    },
  });

  console.log(`node ${process.version}, ${ROUNDS} rounds after 1 warm-up, median`);
  console.log(
    '| request | bytes | parameters | answer | answered in | longest stall | parse alone |',
  );
  console.log('|---|---:|---:|---|---:|---:|---:|');
  for (const c of cases) {
    const times: number[] = [];
    const stalls: number[] = [];
    const parses: number[] = [];
    let answer = '';
    for (let round = 0; round <= ROUNDS; round++) {
      let longest = 0;
      let last = performance.now();
      const ticker = setInterval(() => {
        const now = performance.now();
        longest = Math.max(longest, now - last);
        last = now;
      }, 10);
      const start = performance.now();
      const res = await post(c.body, c.headers);
      const text = await res.text();
      const took = performance.now() - start;
      clearInterval(ticker);
      longest = Math.max(longest, performance.now() - last);
      const code =
        /<Code>([^<]*)</.exec(text)?.[1] ?? /"__type":"[^#"]*#([^"]*)"/.exec(text)?.[1] ?? 'ok';
      answer = `${res.status} ${code}`;
      // The protocol layer alone, in this process: what the request costs before any action.
      const bytes = Buffer.from(c.body);
      const parseStart = performance.now();
      try {
        if (c.headers['x-amz-target']) parseJsonRequest(bytes);
        else parseQueryRequest(bytes, '');
      } catch {}
      const parse = performance.now() - parseStart;
      if (round > 0) {
        times.push(took);
        stalls.push(longest);
        parses.push(parse);
      }
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(
      `| ${c.name} | ${c.body.length} | ${c.params} | ${answer} | ${Math.round(median(times))} ms | ${Math.round(median(stalls))} ms | ${median(parses).toFixed(2)} ms |`,
    );
  }
  await emulator.close();
}

void main();
