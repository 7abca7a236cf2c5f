import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import {
  type JsonKeysScript,
  jsonKeysScript,
  type LocalDynamoDb,
  startDynamoDb,
} from '../../local/dynamodb';
import { createActiveTable, keyedTable } from '../../local/tables';
import {
  createDocumentClient,
  createDynamoDbClient,
  LOCAL_CREDENTIALS,
} from '../../shared/src/aws-clients';
import { type CommandSpec, intOption, parseCommandLine, runMain } from '../../shared/src/cli/args';
import { parseJson } from '../../shared/src/json-keys';

/**
 * What DynamoDB's thread pays for reading every JSON text with parseJson (local/dynamodb.ts)
 * rather than V8's JSON.parse, per request, in one run:
 *
 * 1. Parse: the texts the thread reads for each request of the ledger's shape (bench:pipeline's
 *    floor: a conditional PutItem of a delivery, an UpdateItem of a counter, a GetItem of it, and
 *    the stored counter item the update and the read load), plus a delivery whose value holds a
 *    `"` (a backslash in the text, no escaped key) and one with an attribute named `"` (a key
 *    that needs its escape). Each text parsed by JSON.parse and by parseJson in turn, in
 *    alternating rounds; the median ns per parse.
 * 2. Start: json-keys.ts's bundle (once per process, before the first thread: found in the
 *    bundle cache, or built by esbuild) and compiling the script in a fresh worker thread, as the
 *    thread does at each start.
 * 3. Context: the thread's CPU per request for the same mix sent with the SDK to a local DynamoDB
 *    (now reading with parseJson), so the parse cost can be read as a share of it.
 */
export const SPEC: CommandSpec = {
  usage: 'npx tsx bench/dynamodb-json/run.ts [options]',
  summary: "What parseJson costs DynamoDB's thread per request, against V8's JSON.parse.",
  options: {
    rounds: { type: 'string', value: '<n>', description: 'alternating rounds', default: '15' },
    parses: {
      type: 'string',
      value: '<n>',
      description: 'parses of each text per round',
      default: '20000',
    },
    requests: {
      type: 'string',
      value: '<n>',
      description: 'requests sent for the CPU context',
      default: '6000',
    },
  },
};

const TABLE = 'ledger';

const delivery = (i: number, extra: Record<string, unknown> = {}) => ({
  pk: 'RUN#bench',
  sk: `DELIVERY#standard#${randomUUID()}#${i}`,
  type: 'delivery',
  orderId: randomUUID(),
  customerId: `c-${i % 100}`,
  sequence: i,
  messageId: randomUUID(),
  receiveCount: 1,
  sentAt: 1_764_800_000_000 + i,
  receivedAt: 1_764_800_000_100 + i,
  outcome: 'pending',
  items: [{ sku: 'sku-1', quantity: 2, unitPrice: 5 }],
  ...extra,
});
const counterKey = { pk: 'RUN#bench', sk: 'COUNTER#apply#standard#c-7' };

/** The texts the thread parses, by what they are; each as the SDK or dynalite writes it. */
function texts(): Record<string, string> {
  const put = (item: object) =>
    JSON.stringify({
      TableName: TABLE,
      Item: marshall(item),
      ConditionExpression: 'attribute_not_exists(pk)',
    });
  return {
    'PutItem body (delivery)': put(delivery(1)),
    'UpdateItem body (counter)': JSON.stringify({
      TableName: TABLE,
      Key: marshall(counterKey),
      UpdateExpression: 'ADD #v :one',
      ExpressionAttributeNames: { '#v': 'value' },
      ExpressionAttributeValues: marshall({ ':one': 1 }),
    }),
    'GetItem body (counter)': JSON.stringify({ TableName: TABLE, Key: marshall(counterKey) }),
    'stored counter item': JSON.stringify(marshall({ ...counterKey, value: 1234 })),
    'PutItem body, a value with a "': put(delivery(2, { note: 'said "hi"' })),
    'PutItem body, an attribute named "': put(delivery(3, { '"': 'quote' })),
  };
}

function nsPerParse(read: (text: string) => unknown, text: string, parses: number): number {
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < parses; i++) sink += (read(text) as object) === null ? 1 : 0;
  const ns = ((performance.now() - t0) * 1e6) / parses;
  return sink === -1 ? Number.NaN : ns;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** ms for a fresh thread to compile the bundled json-keys.ts, as DynamoDB's thread does at start. */
async function threadCompileMs(jsonKeys: JsonKeysScript): Promise<number> {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const Module = require('node:module');
     const t0 = performance.now();
     const m = new Module(workerData.path);
     m.filename = workerData.path;
     m._compile(workerData.script, workerData.path);
     m.exports.parseJson('{}');
     parentPort.postMessage(performance.now() - t0);`,
    { eval: true, workerData: jsonKeys },
  );
  const ms = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  return ms;
}

/** The thread's CPU µs per request of the ledger mix (Put, Update, Get in turn), 8 at a time. */
export async function threadCpuPerRequest(
  requests: number,
  start: () => Promise<LocalDynamoDb> = startDynamoDb,
): Promise<number> {
  const db = await start();
  const options = { endpoint: db.url, region: 'us-east-1', credentials: LOCAL_CREDENTIALS };
  const raw = createDynamoDbClient(options);
  const docs = createDocumentClient(options);
  try {
    await createActiveTable(raw, keyedTable(TABLE, 'pk', 'sk'));
    const send = (i: number) =>
      i % 3 === 0
        ? docs.send(
            new PutCommand({
              TableName: TABLE,
              Item: delivery(i),
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          )
        : i % 3 === 1
          ? docs.send(
              new UpdateCommand({
                TableName: TABLE,
                Key: counterKey,
                UpdateExpression: 'ADD #v :one',
                ExpressionAttributeNames: { '#v': 'value' },
                ExpressionAttributeValues: { ':one': 1 },
              }),
            )
          : docs.send(new GetCommand({ TableName: TABLE, Key: counterKey }));
    for (let i = 0; i < 300; i++) await send(i); // warm-up
    const before = (await db.threadStats())?.cpuMs ?? Number.NaN;
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = next++; i < requests; i = next++) await send(i);
      }),
    );
    const after = (await db.threadStats())?.cpuMs ?? Number.NaN;
    return ((after - before) * 1000) / requests;
  } finally {
    raw.destroy();
    docs.destroy();
    await db.close();
  }
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  const v = parseCommandLine(SPEC, argv);
  const rounds = intOption(v, 'rounds', { min: 1, max: 1000 })!;
  const parses = intOption(v, 'parses', { min: 1, max: 10_000_000 })!;
  const requests = intOption(v, 'requests', { min: 1, max: 1_000_000 })!;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(
    `node ${process.version}, ${cpus().length} cpus (${cpus()[0]?.model ?? '?'}), load average ${loadavg()
      .map((n) => n.toFixed(1))
      .join(' ')}, ${new Date().toISOString()}`,
  );

  out('');
  out(`| text | bytes | JSON.parse ns | parseJson ns | extra ns |`);
  out('|---|---:|---:|---:|---:|');
  for (const [name, text] of Object.entries(texts())) {
    const engine: number[] = [];
    const ours: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternated, so a slow stretch of the machine falls on both.
      if (r % 2 === 0) {
        engine.push(nsPerParse(JSON.parse, text, parses));
        ours.push(nsPerParse(parseJson, text, parses));
      } else {
        ours.push(nsPerParse(parseJson, text, parses));
        engine.push(nsPerParse(JSON.parse, text, parses));
      }
    }
    const [e, o] = [median(engine), median(ours)];
    out(`| ${name} | ${text.length} | ${e.toFixed(0)} | ${o.toFixed(0)} | ${(o - e).toFixed(0)} |`);
  }

  const t0 = performance.now();
  const jsonKeys = await jsonKeysScript();
  const bundleMs = performance.now() - t0;
  const compiles: number[] = [];
  for (let i = 0; i < 5; i++) compiles.push(await threadCompileMs(jsonKeys));
  out('');
  out(`json-keys.ts's bundle (cached, or esbuild; once per process): ${bundleMs.toFixed(0)} ms`);
  out(
    `compiling it in a fresh thread: median ${median(compiles).toFixed(1)} ms (${compiles.map((ms) => ms.toFixed(1)).join(', ')})`,
  );

  const cpu = await threadCpuPerRequest(requests);
  out(`thread CPU per request (Put, Update, Get in turn, ${requests}): ${cpu.toFixed(0)} µs`);
  return 0;
}

if (require.main === module) runMain(() => main(), SPEC);
