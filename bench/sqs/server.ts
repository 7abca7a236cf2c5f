import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSqsEmulator } from '../../local/sqs';

/**
 * One SQS server per child process, so /proc/<pid>/stat gives that server's own CPU time.
 * `tsx bench/sqs/server.ts <ours|fauxqs|local-aws-sqs|noop>` prints `PORT <n>` when listening
 * on 127.0.0.1.
 */

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** The ceiling: fixed valid answers (the SDK checks body MD5s, so those are computed). */
function noopServer(): Server {
  const body10 = Array.from({ length: 10 }, (_, i) => ({
    MessageId: `00000000-0000-0000-0000-00000000000${i}`,
    ReceiptHandle: `rh-${i}`,
    MD5OfBody: md5('x'.repeat(1024)),
    Body: 'x'.repeat(1024),
  }));
  const receive = JSON.stringify({ Messages: body10 });
  return createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const op = String(req.headers['x-amz-target'] ?? '').replace('AmazonSQS.', '');
      const input = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : {};
      let out: unknown = {};
      if (op === 'CreateQueue' || op === 'GetQueueUrl')
        out = { QueueUrl: `http://${req.headers.host}/000000000000/${input.QueueName}` };
      else if (op === 'SendMessage')
        out = { MessageId: 'fixed-id', MD5OfMessageBody: md5(input.MessageBody) };
      else if (op === 'SendMessageBatch')
        out = {
          Successful: input.Entries.map((e: { Id: string; MessageBody: string }) => ({
            Id: e.Id,
            MessageId: 'fixed-id',
            MD5OfMessageBody: md5(e.MessageBody),
          })),
          Failed: [],
        };
      else if (op === 'ReceiveMessage') out = null;
      else if (op === 'DeleteMessageBatch')
        out = { Successful: input.Entries.map((e: { Id: string }) => ({ Id: e.Id })), Failed: [] };
      else if (op === 'GetQueueAttributes')
        out = { Attributes: { ApproximateNumberOfMessages: '0' } };
      const text = out === null ? receive : JSON.stringify(out);
      res.writeHead(200, {
        'content-type': 'application/x-amz-json-1.0',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    });
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
}

async function main(): Promise<void> {
  const kind = process.argv[2];
  let port: number;
  switch (kind) {
    case 'ours':
      ({ port } = await createSqsEmulator({ faults: 'none', seed: 1 }).listen(0));
      break;
    case 'noop':
      port = await listen(noopServer());
      break;
    case 'fauxqs': {
      // fauxqs's own startFauxqs binds 0.0.0.0; its app is bound to loopback here instead.
      const { buildApp } = (await import('fauxqs')) as unknown as {
        buildApp: (o: object) => { listen(o: object): Promise<string> };
      };
      const app = buildApp({ logger: false });
      const address = await app.listen({ port: 0, host: '127.0.0.1' });
      port = Number(new URL(address).port);
      break;
    }
    case 'local-aws-sqs': {
      const { createSqsServer } = (await import('local-aws-sqs')) as unknown as {
        createSqsServer: (o: object) => Promise<Server>;
      };
      const server = await createSqsServer({
        port: 0,
        hostname: '127.0.0.1',
        emulateQueueCreationLifecycle: false,
        validateDlqDestination: false,
      });
      port = (server.address() as AddressInfo).port;
      break;
    }
    default:
      throw new Error(`unknown server ${kind}`);
  }
  // A clean exit on the runner's SIGTERM, so `--cpu-prof` (BENCH_SQS_PROFILE) writes its profile.
  process.on('SIGTERM', () => process.exit(0));
  process.stdout.write(`PORT ${port}\n`);
}

void main();
