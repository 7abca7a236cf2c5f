import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import {
  checkApi,
  LOAD_SPEC,
  parseLoadArgs,
  progressPrinter,
  reportCommand,
} from '../../../../lab/loadgen/cli';
import { CliError, helpText, UsageError } from '../../../../shared/src/cli/args';
import { isolatedAwsEnv } from '../../../support/aws-env';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../../../..');

describe('parseLoadArgs', () => {
  it('reads the flags and applies defaults', () => {
    const a = parseLoadArgs([
      '--api',
      'http://127.0.0.1:3000/v1',
      '--orders',
      '20',
      '--seed',
      '5',
      '--run',
      'r1',
    ]);
    expect(a).toEqual({
      apiUrl: 'http://127.0.0.1:3000/v1',
      orders: 20,
      customers: 10,
      concurrency: 16,
      rate: 0,
      retryRate: 0.05,
      retryDeadlineMs: 120_000,
      unreachableWindowMs: 30_000,
      seed: 5,
      runId: 'r1',
    });
    expect(parseLoadArgs(['--api', 'http://x/', '--retry-deadline', '2.5']).retryDeadlineMs).toBe(
      2500,
    );
    expect(
      parseLoadArgs(['--api', 'http://x/', '--unreachable-after', '0.5']).unreachableWindowMs,
    ).toBe(500);
    for (const rate of ['0.001', '1e-3', '100000']) {
      expect(parseLoadArgs(['--api', 'http://x/', '--rate', rate]).rate).toBe(Number(rate));
    }
    expect(parseLoadArgs(['--api', 'http://x/', '--api-key', 'k\u00e9 y']).apiKey).toBe(
      'k\u00e9 y',
    );
  });
  it('refuses a bad flag before looking at the output directory: no --out made, no default directory problem shown in its place', () => {
    // Prepare: a scratch directory holding a file named reports (the default directory's way
    // blocked), and an --out that does not exist yet.
    const cwd = mkdtempSync(join(tmpdir(), 'load-flags-first-'));
    writeFileSync(join(cwd, 'reports'), '');
    const out = join(cwd, 'out');
    const before = process.cwd();
    process.chdir(cwd);
    try {
      // Act
      const withOut = () => parseLoadArgs(['--api', 'http://x/', '--orders', '0', '--out', out]);
      const withDefault = () =>
        parseLoadArgs(['--api', 'http://x/', '--customers', '0', '--run', 'r1']);

      // Assess: the bad flag is the error; --out was not made for a command refused anyway, and
      // the default directory's problem did not hide the flag's.
      expect(withOut).toThrow(new UsageError('--orders must be at least 1, got 0'));
      expect(existsSync(out)).toBe(false);
      expect(withDefault).toThrow(new UsageError('--customers must be at least 1, got 0'));
    } finally {
      process.chdir(before);
      rmSync(cwd, { recursive: true, force: true });
    }
  });
  it('makes a run id from the seed when none is given', () => {
    expect(parseLoadArgs(['--api', 'http://x/', '--seed', '35']).runId).toMatch(
      /^load-\d{8}-\d{6}-z$/,
    );
  });
  it.each([
    [[], 'one of --api <url> or --stack <name> is required'],
    [['--api', 'http://a', '--stack', 'S'], 'use either --api or --stack, not both'],
    [['--api', 'ftp://a'], '--api must be an http(s) url, got "ftp://a"'],
    [['--api', 'http://a', '--orders', '0'], '--orders must be at least 1, got 0'],
    [['--api', 'http://a', '--orders', '-5'], '--orders must be at least 1, got -5'],
    [['--api', 'http://a', '--customers', '-1'], '--customers must be at least 1, got -1'],
    [['--api', 'http://a', '--rate', '-0.5'], '--rate must be at least 0, got -0.5'],
    [['--api', 'http://a', '--seed', '-1'], '--seed must be at least 0, got -1'],
    [['--api', 'http://a', '--retry-rate', '1.5'], '--retry-rate must be at most 1, got 1.5'],
    [
      ['--api', 'http://a', '--region', 'eu-west-1'],
      '--region goes with --stack: an --api url makes no AWS call',
    ],
    [['--api', 'http://a', '--rate', 'fast'], '--rate must be a number, got "fast"'],
    // A rate whose wait overflowed the timer sent every order at once; past 100,000/s is unlimited.
    [
      ['--api', 'http://a', '--rate', '1e-300'],
      '--rate must be 0 (unlimited) or from 0.001 to 100000 orders per second, got 1e-300',
    ],
    [
      ['--api', 'http://a', '--rate', '0.0009'],
      '--rate must be 0 (unlimited) or from 0.001 to 100000 orders per second, got 0.0009',
    ],
    [['--api', 'http://a', '--rate', '100001'], '--rate must be at most 100000, got 100001'],
    [['--api', 'http://a', '--rate', '1e400'], '--rate must be a number, got "1e400"'],
    [['--api', 'http://a', '--rate', '0x10'], '--rate must be a number, got "0x10"'],
    // Read as 0, which is unlimited: every order at once.
    [
      ['--api', 'http://a', '--rate', '1e-400'],
      '--rate must be a number, got "1e-400", which is too small to be one',
    ],
    // 1e308 s was Infinity ms: an order retried forever.
    [
      ['--api', 'http://a', '--retry-deadline', '1e308'],
      '--retry-deadline must be at most 86400, got 1e+308',
    ],
    [
      ['--api', 'http://a', '--retry-deadline', '86401'],
      '--retry-deadline must be at most 86400, got 86401',
    ],
    [
      // A window of no time would take one refused connection for an API gone.
      ['--api', 'http://a', '--unreachable-after', '0'],
      '--unreachable-after must be at least 0.1, got 0',
    ],
    // Not a value an HTTP header can carry: was "no API answers at <url>", exit 1.
    [
      ['--api', 'http://a', '--api-key', 'a\nb'],
      '--api-key must be a value an HTTP header can carry (no newline or other control character), got "a\\nb"',
    ],
    [
      ['--api', 'http://a', '--api-key', 'k\u20ac'],
      '--api-key must be a value an HTTP header can carry (no newline or other control character), got "k\u20ac"',
    ],
    [
      ['--api', 'http://a', '--run', 'a/b'],
      '--run must be 1-64 letters, digits, _ or -, got "a/b"',
    ],
  ])('rejects %j', (argv, message) => {
    expect(() => parseLoadArgs(argv as string[])).toThrow(new UsageError(message));
  });
});

describe('--help', () => {
  it("names npm start's API url, which has no stage, and a deployed one's, which ends in /v1/", () => {
    const help = helpText(LOAD_SPEC);
    expect(help).toContain("`npm start`'s is http://127.0.0.1:3000 (the ready line's second url)");
    expect(help).toContain('ending in /v1/');
    expect(help).toContain('npm run load -- --api http://127.0.0.1:3000 --orders');
    expect(help).not.toContain('127.0.0.1:3000/v1');
  });
});

describe('checkApi (the one GET before a load)', () => {
  async function serve(
    status: number,
    body: string,
  ): Promise<{ url: string; server: Server; seen: IncomingMessage[] }> {
    const seen: IncomingMessage[] = [];
    const server = createServer((req, res) => {
      seen.push(req);
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, seen };
  }
  async function stop(server: Server): Promise<void> {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }

  it('says no API answers, and to start the local cloud, when nothing listens on a loopback url', async () => {
    const { url, server } = await serve(404, '{}');
    await stop(server);
    await expect(checkApi(url)).rejects.toThrow(
      new CliError(
        `no API answers at ${url} (ECONNREFUSED): is \`npm start\` running? Its API is the ready line's second url, http://127.0.0.1:3000 by default`,
      ),
    );
  });

  it('says the url has no /orders route when the gateway answers 403 Missing Authentication Token', async () => {
    const { url, server, seen } = await serve(403, '{"message":"Missing Authentication Token"}');
    try {
      await expect(checkApi(`${url}/v1`)).rejects.toThrow(
        new CliError(
          `${url}/v1 has no /orders route (403 Missing Authentication Token): \`npm start\`'s API is http://127.0.0.1:3000, with no stage in the path; a deployed stack's is its ApiUrl output, ending in /v1/ (or use --stack)`,
        ),
      );
    } finally {
      await stop(server);
    }
    expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /v1/orders/load-probe-no-such-order',
    ]);
  });

  it.each([
    [404, '{"message":"order load-probe-no-such-order not found"}'],
    [403, '{"message":"Forbidden"}'],
  ])('goes on when the API answers %i (%s), sending the key it was given', async (status, body) => {
    const { url, server, seen } = await serve(status, body);
    try {
      await expect(checkApi(url, 'k-1')).resolves.toBeUndefined();
    } finally {
      await stop(server);
    }
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers['x-api-key']).toBe('k-1');
  });
});

describe('progressPrinter', () => {
  it('prints a plain line at the start and once per tenth when not a terminal', () => {
    const out: string[] = [];
    const p = progressPrinter(false, (s) => out.push(s));
    for (let done = 1; done <= 100; done++)
      p({ done, total: 100, accepted: done, errors: 0, elapsedMs: 1000 });
    expect(out).toHaveLength(11);
    expect(out.at(-1)).toBe('progress: 100/100 orders done, 100 accepted, 0 errors, 100/s\n');
  });
  it('says how many accepted orders are not done yet, still sending client retries', () => {
    const out: string[] = [];
    const p = progressPrinter(false, (s) => out.push(s));
    p({ done: 40, total: 200, accepted: 41, sendingRetries: 1, errors: 0, elapsedMs: 1000 });
    expect(out).toEqual([
      'progress: 40/200 orders done, 41 accepted (1 still sending client retries), 0 errors, 41/s\n',
    ]);
  });
  it('redraws one bar line on a terminal', () => {
    const out: string[] = [];
    const p = progressPrinter(true, (s) => out.push(s));
    p({ done: 5, total: 10, accepted: 5, errors: 0, elapsedMs: 500 });
    expect(out[0]).toMatch(/^\r\[#{15}\.{15}\] 5\/10 orders/);
  });
});

describe('npm run load (process)', () => {
  // Each case starts tsx in a new process: seconds on a loaded 2-core machine, not jest's 5 s default.
  jest.setTimeout(60_000);
  it('exits 2 with one line for a bad flag', async () => {
    const err = await run(
      resolve(ROOT, 'node_modules/.bin/tsx'),
      [resolve(ROOT, 'lab/loadgen/cli.ts'), '--api', 'http://127.0.0.1:1', '--customers', 'x'],
      { cwd: ROOT },
    ).catch((e: { code: number; stderr: string }) => e);
    expect((err as { code: number }).code).toBe(2);
    expect((err as { stderr: string }).stderr.trim()).toBe(
      'error: --customers must be an integer in decimal digits, got "x"',
    );
  });
  it('exits 2 with one line, before any request, when its default output directory reports/<run id> cannot be made (a file named reports in the way), where it found out after the whole load', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'load-default-out-'));
    writeFileSync(join(cwd, 'reports'), '');
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.writeHead(422, { 'content-type': 'application/json' }).end('{"message":"refused"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const err = await run(
        resolve(ROOT, 'node_modules/.bin/tsx'),
        [resolve(ROOT, 'lab/loadgen/cli.ts'), '--api', url, '--orders', '3', '--run', 'r1'],
        { cwd, timeout: 30_000 },
      ).catch((e: { code: number; stderr: string }) => e);
      expect((err as { code: number }).code).toBe(2);
      expect((err as { stderr: string }).stderr).toBe(
        `error: the default output directory ${join('reports', 'r1')} cannot be used: ${join(cwd, 'reports')} is not a directory; give --out <dir>\n`,
      );
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      rmSync(cwd, { recursive: true, force: true });
    }
    // Not the probe, not an order.
    expect(requests).toBe(0);
  });

  it('exits 1 with one line, before sending any order, when no API answers', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await new Promise((r) => server.close(r));
    const err = await run(
      resolve(ROOT, 'node_modules/.bin/tsx'),
      [resolve(ROOT, 'lab/loadgen/cli.ts'), '--api', url, '--orders', '2000'],
      // Without the check, 2,000 orders each retried with backoff would run for minutes.
      { cwd: ROOT, timeout: 30_000 },
    ).catch((e: { code: number; stderr: string }) => e);
    expect((err as { code: number }).code).toBe(1);
    expect((err as { stderr: string }).stderr.trim()).toBe(
      `error: no API answers at ${url} (ECONNREFUSED): is \`npm start\` running? Its API is the ready line's second url, http://127.0.0.1:3000 by default`,
    );
  });

  it('reads the stack and its API key in the region --region names, with no region in the environment', async () => {
    // CloudFormation and API Gateway on 127.0.0.1, recording each request's signing scope: the
    // stack's outputs name this server's /v1/ as the API and an API key, whose value API Gateway
    // answers; the API then answers the probe as a url with no /orders route does, so the load
    // ends there with one line, having sent no order.
    const scopes: string[] = [];
    const seen: string[] = [];
    const server = createServer((req, res) => {
      const scope = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\//.exec(
        req.headers.authorization ?? '',
      );
      if (scope) scopes.push(`${scope[2]} ${scope[1]}`);
      seen.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => {
        if (req.method === 'POST' && req.url === '/') {
          res.writeHead(200, { 'content-type': 'text/xml' });
          res.end(
            '<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>' +
              '<StackName>S</StackName><StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-01-01T00:00:00Z</CreationTime><Outputs>' +
              `<member><OutputKey>ApiUrl</OutputKey><OutputValue>${url}/v1/</OutputValue></member>` +
              '<member><OutputKey>ApiKeyId</OutputKey><OutputValue>k1</OutputValue></member>' +
              '</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeStacksResponse>',
          );
        } else if (req.url?.startsWith('/apikeys/k1')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"id":"k1","value":"the-key"}');
        } else {
          res.writeHead(403, { 'content-type': 'application/json' });
          res.end('{"message":"Missing Authentication Token"}');
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const err = await run(
        resolve(ROOT, 'node_modules/.bin/tsx'),
        [resolve(ROOT, 'lab/loadgen/cli.ts'), '--stack', 'S', '--region', 'eu-west-1'],
        {
          cwd: ROOT,
          timeout: 30_000,
          env: isolatedAwsEnv({
            AWS_ENDPOINT_URL_CLOUDFORMATION: url,
            AWS_ENDPOINT_URL_API_GATEWAY: url,
          }),
        },
      ).catch((e: { code: number; stderr: string }) => e);
      // Before: "unknown option --region", exit 2; without it, "no AWS region". (The SDK may
      // warn about the Node version first.)
      expect((err as { stderr: string }).stderr.trim().split('\n').at(-1)).toBe(
        `error: ${url}/v1/ has no /orders route (403 Missing Authentication Token): \`npm start\`'s API is http://127.0.0.1:3000, with no stage in the path; a deployed stack's is its ApiUrl output, ending in /v1/ (or use --stack)`,
      );
      expect((err as { code: number }).code).toBe(1);
      expect(scopes).toEqual(['cloudformation eu-west-1', 'apigateway eu-west-1']);
      expect(seen.at(-1)).toBe('GET /v1/orders/load-probe-no-such-order');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it("names the report's AWS target, the stack and its region in its next: line after a load against a stack, where it named the local cloud's", () => {
    const next = (argv: string[]) => reportCommand(parseLoadArgs([...argv, '--run', 'r1']), 'r1');
    expect(next(['--api', 'http://127.0.0.1:3000'])).toBe('npm run report -- --run r1');
    expect(next(['--stack', 'OrderPipelineLab'])).toBe(
      'npm run report -- --run r1 --target aws --stack OrderPipelineLab',
    );
    expect(next(['--stack', 'OrderPipelineLab', '--region', 'eu-west-1'])).toBe(
      'npm run report -- --run r1 --target aws --stack OrderPipelineLab --region eu-west-1',
    );
  });

  it('says what --region is in --help', () => {
    expect(helpText(LOAD_SPEC)).toContain('--region <region>');
    expect(helpText(LOAD_SPEC)).toContain('the AWS region the stack is deployed in');
  });
});
