import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseReportArgs } from '../../../services/report/src/cli/report';
import { UsageError } from '../../../shared/src/cli/args';
import { isolatedAwsEnv } from '../../support/aws-env';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../../..');
const TSX = resolve(ROOT, 'node_modules/.bin/tsx');
const CLI = resolve(ROOT, 'services/report/src/cli/report.ts');

async function cli(
  args: string[],
  env?: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(TSX, [CLI, ...args], {
      cwd: ROOT,
      timeout: 30_000,
      ...(env ? { env } : {}),
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('parseReportArgs', () => {
  it('applies the defaults', () => {
    expect(parseReportArgs(['--run', 'r1'])).toEqual({
      runId: 'r1',
      target: 'local',
      endpoint: 'http://127.0.0.1:4566',
      stack: 'OrderPipelineLab',
      format: 'table',
      waitTimeoutMs: 300_000,
    });
  });
  it('reads every flag', () => {
    expect(
      parseReportArgs([
        '--run',
        'r1',
        '--target',
        'aws',
        '--stack',
        'S',
        '--format',
        'html',
        '--out',
        'o',
        '--wait-timeout',
        '90',
        '--region',
        'eu-west-1',
      ]),
    ).toMatchObject({
      target: 'aws',
      stack: 'S',
      format: 'html',
      out: 'o',
      waitTimeoutMs: 90_000,
      region: 'eu-west-1',
    });
    expect(parseReportArgs(['--run', 'r1', '--no-wait']).waitTimeoutMs).toBe(0);
    // The shortest wait that can end on AWS, and --no-wait there, are taken; locally any wait is.
    expect(
      parseReportArgs(['--run', 'r1', '--target', 'aws', '--wait-timeout', '65']).waitTimeoutMs,
    ).toBe(65_000);
    expect(parseReportArgs(['--run', 'r1', '--target', 'aws', '--no-wait']).waitTimeoutMs).toBe(0);
    expect(parseReportArgs(['--run', 'r1', '--wait-timeout', '1']).waitTimeoutMs).toBe(1000);
  });
  it.each([
    [[], '--run <id> is required'],
    [['--run', 'a b'], '--run must be 1-64 letters, digits, _ or -, got "a b"'],
    [['--run', 'r', '--format', 'xml'], '--format must be one of table, json, md, html, got "xml"'],
    [
      ['--run', 'r', '--target', 'gcp'],
      '--target must be one of local, localstack, aws, got "gcp"',
    ],
    [
      ['--run', 'r', '--wait-timeout', 'soon'],
      '--wait-timeout must be an integer in decimal digits, got "soon"',
    ],
    [['--run', 'r', '--wait-timeout', '0'], '--wait-timeout must be at least 1, got 0'],
    [
      ['--run', 'r', '--target', 'aws', '--wait-timeout', '64'],
      '--wait-timeout must be at least 65 with --target aws (the queues must stay empty for 60 s of polls',
    ],
    [['--run', 'r', '--endpoint', 'nowhere'], '--endpoint must be a url, got "nowhere"'],
    [['--run', 'r', '--bogus'], "Unknown option '--bogus'"],
  ])('rejects %j with a UsageError', (argv, message) => {
    let caught: unknown;
    try {
      parseReportArgs(argv as string[]);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as Error).message).toContain(message);
  });
});

describe('npm run report (process)', () => {
  // Each case starts tsx in a new process: seconds on a loaded 2-core machine, not jest's 5 s default.
  jest.setTimeout(60_000);
  it('exits 2 with one line on stderr for a bad flag', async () => {
    const r = await cli(['--run', 'r', '--format', 'xml']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      'error: --format must be one of table, json, md, html, got "xml"',
    ]);
    expect(r.stdout).toBe('');
  });
  it('exits 2 with one line for a flag given an empty value, where --region= had been ignored', async () => {
    const r = await cli(['--run', 'r', '--region=']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      'error: --region needs a value (<region>), got an empty one',
    ]);
    expect(r.stdout).toBe('');
  });
  it('exits 2 with one line for a flag given twice, where the last one was reported', async () => {
    const r = await cli(['--run', 'nosuch1', '--run', 'race']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      'error: --run takes one value, given more than once: "nosuch1", "race"',
    ]);
    expect(r.stdout).toBe('');
  });
  it('exits 2 with one line when --run is missing', async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('error: --run <id> is required');
  });
  it('prints usage and exits 0 on --help', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: npm run report -- --run <id>');
    expect(r.stdout).toContain('--wait-timeout');
    // What it assumes about the pipeline that ran (the batch settings, not read from the target).
    expect(r.stdout).toContain("the repository's config (shared/src/config/pipeline.ts)");
  });
});

describe('npm run report --target aws --region (process)', () => {
  jest.setTimeout(60_000);

  it('reads the stack in the region --region names, with no region in the environment', async () => {
    // A CloudFormation endpoint on 127.0.0.1 that records each request's signing scope and
    // answers DescribeStacks as CloudFormation does for a stack that is not there.
    const scopes: string[] = [];
    const server = createServer((req, res) => {
      scopes.push(
        /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '',
      );
      req.resume();
      req.on('end', () => {
        res.writeHead(400, { 'content-type': 'text/xml' });
        res.end(
          '<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code>' +
            '<Message>Stack with id S does not exist</Message></Error><RequestId>r</RequestId></ErrorResponse>',
        );
      });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    try {
      const env = isolatedAwsEnv({ AWS_ENDPOINT_URL_CLOUDFORMATION: `http://127.0.0.1:${port}` });
      const r = await cli(
        ['--run', 'r1', '--target', 'aws', '--stack', 'S', '--region', 'eu-west-1'],
        env,
      );
      expect(r.code).toBe(1);
      // Before: the stack was read with the SDK's default region, here none: "no AWS region".
      expect(r.stderr).not.toContain('no AWS region');
      expect(r.stderr).toContain('Stack with id S does not exist');
      expect(scopes.length).toBeGreaterThan(0);
      expect(new Set(scopes)).toEqual(new Set(['eu-west-1']));
    } finally {
      await new Promise<void>((done) => server.close(() => done()));
    }
  });
});
