import { validateHeaderValue } from 'node:http';
import { join } from 'node:path';
import {
  CliError,
  type CommandSpec,
  intOption,
  numberOption,
  parseCommandLine,
  runMain,
  UsageError,
} from '../../shared/src/cli/args';
import {
  defaultOutputDirectory,
  ensureDirectory,
  outputDirectory,
} from '../../shared/src/cli/directory';
import { runIdSchema } from '../../shared/src/order';
import { freshSeed } from '../../shared/src/random';
import {
  GIVEN_UP_FILE,
  GIVEN_UP_NAMED,
  givenUpHeadline,
  givenUpLines,
  reportGivenUp,
} from '../given-up';
import { OrdersApi } from './adapters/orders-api';
import { apiFromStack } from './adapters/stack-api';
import {
  defaultRunId,
  type LoadOptions,
  type LoadProgress,
  RETRY_DEADLINE_MS,
  runLoad,
} from './run-load';
import { UNREACHABLE_AFTER_OPTION, unreachableAfterMs } from './unreachable-flag';

/**
 * --rate's range besides 0 (unlimited): one order every 1000 s at the slowest, whose wait a timer
 * holds (1e-300 made a wait past setTimeout's 24.8 days, which fires at once: every order went
 * out together); faster than 100,000 a second is what unlimited does.
 */
export const MIN_RATE = 0.001;
export const MAX_RATE = 100_000;

/**
 * --retry-deadline's most, a day: with no bound, `1e308` read as Infinity ms (an order retried
 * forever), and a deadline past 24.8 days let a Retry-After as long make a wait that a timer fires
 * at once (a POST per millisecond).
 */
export const MAX_RETRY_DEADLINE_S = 86_400;

export const LOAD_SPEC: CommandSpec = {
  usage: 'npm run load -- (--api <url> | --stack <name>) [options]',
  summary: `Sends orders to POST /orders, each customer's orders in sequence, with simulated client retries; prints the run id for \`npm run report\`, and the orders it gave up on (no 202 after its retries): how many the API holds all the same, the first ${GIVEN_UP_NAMED} named, every one in <out>/${GIVEN_UP_FILE}. Exits 1 when the API does not hold an order it gave up on, a client retry was answered with another order or not at all, or the API was taken as gone (every connection refused or with no route for --unreachable-after; the retries line counts the client retries not answered and not made).`,
  options: {
    api: {
      type: 'string',
      value: '<url>',
      description:
        "API base url: `npm start`'s is http://127.0.0.1:3000 (the ready line's second url); a deployed stack's is its ApiUrl output, ending in /v1/",
    },
    stack: {
      type: 'string',
      value: '<name>',
      description: 'read ApiUrl and the API key from this deployed stack',
    },
    region: {
      type: 'string',
      value: '<region>',
      description:
        "with --stack: the AWS region the stack is deployed in, for every AWS call the load makes (default: the SDK's, AWS_REGION or the profile's)",
    },
    'api-key': { type: 'string', value: '<key>', description: 'x-api-key header value' },
    orders: { type: 'string', value: '<n>', description: 'orders to send', default: '1000' },
    customers: {
      type: 'string',
      value: '<m>',
      description: 'customers (FIFO message groups)',
      default: '10',
    },
    concurrency: { type: 'string', value: '<c>', description: 'requests in flight', default: '16' },
    rate: {
      type: 'string',
      value: '<r>',
      description: `orders started per second, ${MIN_RATE} to ${MAX_RATE}; 0 = unlimited`,
      default: '0',
    },
    'retry-rate': {
      type: 'string',
      value: '<p>',
      description: 'share of orders POSTed twice (client retry)',
      default: '0.05',
    },
    'retry-deadline': {
      type: 'string',
      value: '<s>',
      description: `seconds an order's POSTs are retried (same Idempotency-Key) after a network error, timeout, 429, 500, 502, 503, 504 or a 409 with Retry-After before it is given up (sooner when every connection is refused: --unreachable-after), at most ${MAX_RETRY_DEADLINE_S}`,
      default: String(RETRY_DEADLINE_MS / 1000),
    },
    'unreachable-after': UNREACHABLE_AFTER_OPTION,
    seed: {
      type: 'string',
      value: '<s>',
      description: 'seed of the load plan (random when absent, printed)',
    },
    run: {
      type: 'string',
      value: '<id>',
      description: 'run id sent as X-Run-Id (generated when absent)',
    },
    out: {
      type: 'string',
      value: '<dir>',
      description: `where ${GIVEN_UP_FILE} goes: every order the load client gave up on, when it gave up on any (default reports/<runId>, made only then; either is checked before the load)`,
    },
  },
  examples: [
    'npm run load -- --api http://127.0.0.1:3000 --orders 2000 --customers 20',
    'npm run load -- --stack OrderPipelineLab --orders 500 --rate 50 --seed 7',
    'npm run load -- --stack OrderPipelineLab --region eu-west-1 --orders 500',
  ],
};

export interface LoadArgs extends Omit<LoadOptions, 'apiUrl' | 'seed' | 'runId'> {
  apiUrl?: string;
  stack?: string;
  /** The region of --stack's stack, for the CloudFormation and API Gateway clients. */
  region?: string;
  /** --out: the directory given-up.json goes to, checked before any order is sent. */
  out?: string;
  seed: number;
  runId: string;
}

export function parseLoadArgs(argv: string[]): LoadArgs {
  const v = parseCommandLine(LOAD_SPEC, argv);
  const api = typeof v.api === 'string' ? v.api : undefined;
  const stack = typeof v.stack === 'string' ? v.stack : undefined;
  if (!api && !stack) throw new UsageError('one of --api <url> or --stack <name> is required');
  if (api && stack) throw new UsageError('use either --api or --stack, not both');
  const region = typeof v.region === 'string' ? v.region : undefined;
  if (region !== undefined && !stack) {
    throw new UsageError('--region goes with --stack: an --api url makes no AWS call');
  }
  if (api) {
    let url: URL;
    try {
      url = new URL(api);
    } catch {
      throw new UsageError(`--api must be an http(s) url, got "${api}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new UsageError(`--api must be an http(s) url, got "${api}"`);
    }
  }
  const seed = intOption(v, 'seed', { min: 0, max: 0xffffffff }) ?? freshSeed();
  const runId = typeof v.run === 'string' ? v.run : defaultRunId(seed);
  if (!runIdSchema.safeParse(runId).success) {
    throw new UsageError(`--run must be 1-64 letters, digits, _ or -, got "${runId}"`);
  }
  const apiKey = typeof v['api-key'] === 'string' ? v['api-key'] : undefined;
  if (apiKey !== undefined) {
    // A value no HTTP header can carry (a newline, a control character, a character past
    // U+00FF) made every request fail, reported as "no API answers at <url>".
    try {
      validateHeaderValue('x-api-key', apiKey);
    } catch {
      throw new UsageError(
        `--api-key must be a value an HTTP header can carry (no newline or other control character), got ${JSON.stringify(apiKey)}`,
      );
    }
  }
  const rate = numberOption(v, 'rate', { min: 0, max: MAX_RATE })!;
  if (rate !== 0 && rate < MIN_RATE) {
    throw new UsageError(
      `--rate must be 0 (unlimited) or from ${MIN_RATE} to ${MAX_RATE} orders per second, got ${v.rate}`,
    );
  }
  const options = {
    orders: intOption(v, 'orders', { min: 1, max: 10_000_000 })!,
    customers: intOption(v, 'customers', { min: 1, max: 1_000_000 })!,
    concurrency: intOption(v, 'concurrency', { min: 1, max: 1000 })!,
    rate,
    retryRate: numberOption(v, 'retry-rate', { min: 0, max: 1 })!,
    retryDeadlineMs:
      numberOption(v, 'retry-deadline', { min: 0, max: MAX_RETRY_DEADLINE_S })! * 1000,
    unreachableWindowMs: unreachableAfterMs(v),
  };
  // Last, once every flag is known good, and before any order is sent: an --out that cannot hold
  // the file was found after the whole load. The default, reports/<run id>, too (without making
  // it: it is made only for a file), where a `reports` file in the way or a directory it may not
  // write in was found after the whole load. Checked before the flags, a directory problem hid a
  // bad flag (fixed, the next run failed on the flag), and a command line refused for its flags
  // had made directories (--out) or probed the file system for nothing.
  const out = typeof v.out === 'string' ? outputDirectory('out', v.out) : undefined;
  if (out === undefined) defaultOutputDirectory('out', join('reports', runId));
  return {
    ...(api ? { apiUrl: api } : {}),
    ...(stack ? { stack } : {}),
    ...(region ? { region } : {}),
    ...(apiKey !== undefined ? { apiKey } : {}),
    ...(out !== undefined ? { out } : {}),
    ...options,
    seed,
    runId,
  };
}

/** An order id no order has: the probe's GET /orders/{id} reads nothing. */
const PROBE_ORDER_ID = 'load-probe-no-such-order';

/**
 * One GET before the load, so a url where no API answers, or an API with no /orders route, is one
 * line saying what to fix instead of every order retried and failed the same way (minutes for a
 * big load). Any other answer (404 for the unknown order, 403 Forbidden for a missing key) goes on.
 */
export async function checkApi(apiUrl: string, apiKey?: string, timeoutMs = 10_000): Promise<void> {
  const api = new OrdersApi({ apiUrl, ...(apiKey ? { apiKey } : {}), runId: 'load-probe' });
  try {
    const r = await api.probe(PROBE_ORDER_ID, timeoutMs);
    if (r.networkError) {
      const host = new URL(apiUrl).hostname;
      const local = host === 'localhost' || host === '[::1]' || host.startsWith('127.');
      throw new CliError(
        `no API answers at ${apiUrl} (${r.networkError})${local ? ": is `npm start` running? Its API is the ready line's second url, http://127.0.0.1:3000 by default" : ''}`,
      );
    }
    const message = (r.body as { message?: unknown } | undefined)?.message;
    if (r.status === 403 && message === 'Missing Authentication Token') {
      throw new CliError(
        `${apiUrl} has no /orders route (403 Missing Authentication Token): \`npm start\`'s API is http://127.0.0.1:3000, with no stage in the path; a deployed stack's is its ApiUrl output, ending in /v1/ (or use --stack)`,
      );
    }
  } finally {
    api.close();
  }
}

/** A bar on a terminal; a plain line every 10% otherwise (CI logs stay readable). */
export function progressPrinter(
  tty: boolean,
  write: (s: string) => void,
): (p: LoadProgress) => void {
  let lastDecile = -1;
  return (p) => {
    const frac = p.total ? p.done / p.total : 1;
    const rate = p.elapsedMs > 0 ? Math.round(p.accepted / (p.elapsedMs / 1000)) : 0;
    // Accepted counts an order at its first 202, done once its client retries are sent too: the
    // difference is said, so more accepted than done does not read as a miscount.
    const sending = p.sendingRetries ? ` (${p.sendingRetries} still sending client retries)` : '';
    const text = `${p.done}/${p.total} orders done, ${p.accepted} accepted${sending}, ${p.errors} errors, ${rate}/s`;
    if (tty) {
      const width = 30;
      const filled = Math.round(frac * width);
      write(
        `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K${p.done === p.total ? '\n' : ''}`,
      );
      return;
    }
    const decile = Math.floor(frac * 10);
    if (decile !== lastDecile) {
      lastDecile = decile;
      write(`progress: ${text}\n`);
    }
  };
}

/**
 * The report's command for the run just sent: against a stack (`--stack`), the report's AWS
 * target, that stack and the region the load read it in; the report's default target is the
 * local cloud, where a stack's run is not.
 */
export function reportCommand(args: Pick<LoadArgs, 'stack' | 'region'>, runId: string): string {
  const aws = args.stack
    ? ` --target aws --stack ${args.stack}${args.region ? ` --region ${args.region}` : ''}`
    : '';
  return `npm run report -- --run ${runId}${aws}`;
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  const args = parseLoadArgs(argv);
  let apiUrl = args.apiUrl;
  let apiKey = args.apiKey;
  if (args.stack) {
    const found = await apiFromStack(args.stack, args.region ? { region: args.region } : {});
    apiUrl = found.apiUrl;
    apiKey = apiKey ?? found.apiKey;
  }
  await checkApi(apiUrl!, apiKey);
  const err = (s: string) => process.stderr.write(s);
  err(
    `run ${args.runId} seed ${args.seed}: ${args.orders} orders, ${args.customers} customers -> ${apiUrl}\n`,
  );
  const { stack: _stack, region: _region, apiUrl: _url, out: _out, ...rest } = args;
  const s = await runLoad({
    ...rest,
    apiUrl: apiUrl!,
    ...(apiKey ? { apiKey } : {}),
    onProgress: progressPrinter(Boolean(process.stderr.isTTY), err),
  });
  // The default directory is made only when there is a file for it; it and --out's were checked
  // up front (and may have been removed or replaced during the load).
  const out = args.out ?? join('reports', s.runId);
  // A directory that cannot take the file (either, replaced by a file during the load, or on a
  // full disk) threw here, and the whole load's summary was lost: it is printed all the same,
  // the headline saying the file was not written.
  let notWritten: string | undefined;
  let givenUp: string[];
  try {
    if (s.givenUp.length > 0) ensureDirectory(out);
    givenUp = await reportGivenUp(s.givenUp, out);
  } catch (e) {
    notWritten = (e as Error).message;
    givenUp = [
      givenUpHeadline(s.givenUp, `${join(out, GIVEN_UP_FILE)} (not written: ${notWritten})`),
      ...givenUpLines(s.givenUp).map((l) => `  ${l}`),
    ];
  }
  const lines = [
    `run id:    ${s.runId}`,
    `seed:      ${s.seed}`,
    `sent:      ${s.sent} requests${s.refused > 0 ? `, ${s.refused} connections refused or with no route (no request sent)` : ''}`,
    `accepted:  ${s.accepted} of ${args.orders} orders`,
    `retries:   ${s.retries} client retries (${s.retryMismatches} answered with a different order${s.unreachable ? `, ${s.retriesUnanswered} not answered: the API was unreachable` : ''}), ${s.backoffRetries} backoff retries${s.unreachable ? `, ${s.retriesNotMade} planned client retries not made` : ''}`,
    `errors:    ${s.errors}`,
    ...givenUp,
    `rate:      ${s.ratePerSec} orders/s over ${(s.elapsedMs / 1000).toFixed(1)} s`,
    ...s.errorSamples.map((e) => `  error: ${e}`),
    `next:      ${reportCommand(args, s.runId)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  // The cut-off always leaves planned work undone (the try that found the API gone was given up):
  // an order, or a client retry of an accepted one. The latter, at the very end of a run, left no
  // order given up and no error, and the load ended silently with exit 0.
  const left = s.givenUp.filter((g) => g.why === 'API unreachable').length;
  if (s.unreachable) {
    const u = s.unreachable;
    const undone = [
      `${left} orders given up as 'API unreachable'`,
      ...(s.retriesUnanswered > 0 ? [`${s.retriesUnanswered} client retries not answered`] : []),
      ...(s.retriesNotMade > 0 ? [`${s.retriesNotMade} planned client retries not made`] : []),
    ];
    err(
      `error: the API at ${apiUrl} could not be reached for ${(u.windowMs / 1000).toFixed(1)} s (every connection refused or with no route: ${u.refusals} tries, none answered, from ${(u.sinceMs / 1000).toFixed(1)} s into the load): stopped sending, ${undone.join(', ')}\n`,
    );
  }
  if (notWritten !== undefined) err(`error: ${GIVEN_UP_FILE} not written: ${notWritten}\n`);
  return s.errors > 0 || s.unreachable !== undefined || notWritten !== undefined ? 1 : 0;
}

if (require.main === module) runMain(() => main());
