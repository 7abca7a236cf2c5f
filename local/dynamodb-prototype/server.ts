import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { dirname } from 'node:path';
import { collectBody } from '../body';
import { PrototypeStore } from './store';

/**
 * The prototype store (store.ts) behind an HTTP server with dynalite's shape: a function of
 * options returning an unstarted http.Server, so the local cloud's DynamoDB thread (dynamodb.ts)
 * runs it in dynalite's place, with the same guards, counters and supervision around it.
 */

/** dynalite's cap on a request body. */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;
const API = 'DynamoDB_20120810.';

function send(
  res: import('node:http').ServerResponse,
  status: number,
  body: string,
  contentType = 'application/x-amz-json-1.0',
): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'x-amzn-requestid': randomBytes(39).toString('base64url').toUpperCase(),
  });
  res.end(body);
}

export default function prototypeServer(options: { path?: string } = {}): Server {
  if (options.path !== undefined) {
    throw new Error('the DynamoDB prototype keeps its tables in memory only (no data directory)');
  }
  const store = new PrototypeStore({ dynaliteDir: dirname(require.resolve('dynalite')) });
  return createServer((req, res) => {
    collectBody(req, MAX_REQUEST_BYTES, {
      tooLarge: () => send(res, 413, ''),
      body: (body) => {
        const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
        if (
          req.method !== 'POST' ||
          (type !== 'application/x-amz-json-1.0' && type !== 'application/json')
        ) {
          send(res, 404, '<UnknownOperationException/>\n', 'text/plain');
          return;
        }
        const target = req.headers['x-amz-target'];
        if (typeof target !== 'string' || !target.startsWith(API)) {
          send(
            res,
            400,
            JSON.stringify({ __type: 'com.amazon.coral.service#UnknownOperationException' }),
          );
          return;
        }
        const signed =
          (req.headers.authorization ?? '').trim().startsWith('AWS4-') ||
          (req.url ?? '').includes('X-Amz-Algorithm=');
        if (!signed) {
          send(
            res,
            400,
            JSON.stringify({
              __type: 'com.amazon.coral.service#MissingAuthenticationTokenException',
              message: 'Request is missing Authentication Token',
            }),
          );
          return;
        }
        const answer = store.handle(target.slice(API.length), body.toString('utf8'));
        send(res, answer.status, answer.body);
      },
    });
  });
}
