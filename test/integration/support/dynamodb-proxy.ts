import { createServer, type IncomingHttpHeaders, type IncomingMessage, request } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP proxy in front of a local DynamoDB, for what a function's client does when an
 * answer is late, lost or never comes: a rule decides, request by request, whether the proxy
 * forwards it, answers it itself, holds it without an answer, or resets the client's connection
 * (ECONNRESET) so that the SDK sends it again.
 */

/** A request as the proxy received it, to forward now or later. */
export interface ProxiedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The DynamoDB operation a request names (`PutItem`, `BatchWriteItem`, ...), from X-Amz-Target. */
export function operationOf(received: ProxiedRequest): string {
  return String(received.headers['x-amz-target']).split('.').pop() ?? '';
}

/** A request's JSON body, or `{}` when it is empty or not JSON (the request is forwarded as it came). */
export function jsonBodyOf<T extends object>(received: ProxiedRequest): T {
  try {
    return JSON.parse(received.body.toString() || '{}') as T;
  } catch {
    return {} as T;
  }
}

/** DynamoDB's answer to a forwarded request. */
export interface UpstreamAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * What the proxy does with one request: `'reset'` resets the client's connection without an
 * answer; `'hold'` never answers (the client's request timeout ends the try); an answer is sent
 * to the client as it is; undefined forwards the request and sends DynamoDB's answer. `forward`
 * sends a request to DynamoDB as it came.
 */
export type ProxyRule = (
  received: ProxiedRequest,
  forward: (kept: ProxiedRequest) => Promise<UpstreamAnswer>,
) =>
  | Promise<UpstreamAnswer | 'reset' | 'hold' | undefined>
  | UpstreamAnswer
  | 'reset'
  | 'hold'
  | undefined;

export interface DynamoDbProxy {
  /** The proxy's URL. */
  endpoint: string;
  /** Sends a request (one the rule kept) to DynamoDB as it came, past the rule. */
  forward: (kept: ProxiedRequest) => Promise<UpstreamAnswer>;
  /** Points the proxy at DynamoDB; until then it answers every forwarded request 503. */
  setUpstream(url: string): void;
  /** Closes the proxy and every connection to it, held ones included. */
  close(): Promise<void>;
}

const bodyOf = async (stream: IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

/** Starts the proxy on a port of 127.0.0.1 the system picks, in front of `upstreamUrl` if given. */
export async function startDynamoDbProxy(
  rule: ProxyRule,
  upstreamUrl?: string,
): Promise<DynamoDbProxy> {
  let upstream = upstreamUrl === undefined ? undefined : new URL(upstreamUrl);
  const forward = (kept: ProxiedRequest): Promise<UpstreamAnswer> =>
    new Promise((resolve, reject) => {
      if (!upstream) {
        resolve({ status: 503, headers: {}, body: Buffer.alloc(0) });
        return;
      }
      const out = request({
        host: upstream.hostname,
        port: upstream.port,
        method: kept.method,
        path: kept.path,
        // The local DynamoDB answers only requests addressed to itself.
        headers: { ...kept.headers, host: upstream.host },
      });
      out.once('error', reject).once('response', async (answer) => {
        resolve({
          status: answer.statusCode ?? 500,
          headers: answer.headers,
          body: await bodyOf(answer),
        });
      });
      out.end(kept.body);
    });
  const server = createServer(async (req, res) => {
    const received: ProxiedRequest = {
      method: req.method ?? 'POST',
      path: req.url ?? '/',
      headers: req.headers,
      body: await bodyOf(req),
    };
    const verdict = await rule(received, forward);
    if (verdict === 'hold') return;
    if (verdict === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    try {
      const answer = verdict ?? (await forward(received));
      res.writeHead(answer.status, answer.headers).end(answer.body);
    } catch {
      // DynamoDB could not be reached: the client's connection ends without an answer.
      res.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    forward,
    setUpstream: (url) => {
      upstream = new URL(url);
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
