import {
  type CommandSpec,
  choiceOption,
  intOption,
  numberOption,
  parseCommandLine,
  runMain,
  UsageError,
} from '../shared/src/cli/args';
import { directoryProblem } from '../shared/src/cli/directory';
import { writeFailed } from '../shared/src/cli/output';
import { onStopSignal } from '../shared/src/cli/signals';
import { isLoopback, isValidHost } from './address';
import { ALLOW_ORIGINS_ENV, allowedOriginProblem, originsFromEnv } from './browser-guard';
import { type FunctionLogLevel, type LocalCloud, startLocalCloud } from './cloud';
import { installLastResortGuard } from './edge';
import { FAULT_PRESETS, type FaultConfig, PRESETS } from './sqs';

/** One flag per knob of the emulator's fault model; each overrides the chosen preset's rate. */
const RATE_FLAGS: Record<string, keyof FaultConfig> = {
  'duplicate-rate': 'duplicateRate',
  'surviving-copy-rate': 'survivingCopyRate',
  'reorder-rate': 'reorderRate',
  'false-empty-rate': 'falseEmptyRate',
  'short-poll-skip-rate': 'shortPollSkipRate',
};
const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

export const START_SPEC: CommandSpec = {
  usage: 'npm start -- [options]',
  summary:
    'Runs the local cloud: SQS and DynamoDB on one edge port (AWS_ENDPOINT_URL=<edge url>), ' +
    'the order pipeline deployed in it, and its API. Ctrl-C stops it.',
  options: {
    port: {
      type: 'string',
      value: '<n>',
      description: 'edge port (SQS + DynamoDB), 0 = free',
      default: '4566',
    },
    'api-port': {
      type: 'string',
      value: '<n>',
      description: 'API port (POST /orders), 0 = free',
      default: '3000',
    },
    host: {
      type: 'string',
      value: '<addr>',
      description:
        'address to listen on; anything but loopback lets other machines use SQS, DynamoDB and the API without authentication',
      default: '127.0.0.1',
    },
    'allow-origin': {
      type: 'string',
      value: '<origin>',
      multiple: true,
      description: `a web origin (http://host:port) whose pages may call the edge and the API; repeatable, added to ${ALLOW_ORIGINS_ENV} (comma separated); * allows any. Default: none, browsers are refused`,
    },
    seed: {
      type: 'string',
      value: '<n>',
      description: 'seed of the fault model (random and printed when absent)',
    },
    faults: {
      type: 'string',
      value: `<${FAULT_PRESETS.join('|')}>`,
      description: 'standard-queue fault model preset',
      default: 'demo',
    },
    ...Object.fromEntries(
      Object.entries(RATE_FLAGS).map(([flag, knob]) => [
        flag,
        {
          type: 'string' as const,
          value: '<0..1>',
          description: `fault model: ${knob} (overrides the preset's)`,
        },
      ]),
    ),
    'data-dir': {
      type: 'string',
      value: '<dir>',
      description: 'keep DynamoDB tables on disk here',
    },
    'services-only': {
      type: 'boolean',
      description: 'only SQS + DynamoDB on the edge port: no pipeline, no API',
    },
    'log-level': {
      type: 'string',
      value: `<${LOG_LEVELS.join('|')}>`,
      description:
        "info: component states and the functions' warnings; debug adds the rest of the functions' logs; warn: only the functions' warnings; error: only a component's own failure (shown at every level)",
      default: 'info',
    },
  },
  examples: [
    'npm start',
    'npm start -- --port 0 --api-port 0 --seed 42 --faults chaos',
    'npm start -- --services-only --data-dir .data',
    'npm start -- --allow-origin http://localhost:5173',
  ],
};

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** npm start's flags, with its integer flags read (a usage error for a bad one). */
export function parseStartArgs(argv: string[] = process.argv.slice(2)) {
  const values = parseCommandLine(START_SPEC, argv);
  return {
    values,
    port: intOption(values, 'port', { min: 0, max: 65535 })!,
    apiPort: intOption(values, 'api-port', { min: 0, max: 65535 })!,
    seed: intOption(values, 'seed', { min: 0, max: 0xffffffff }),
  };
}

/** The port of a `http://host:port` URL the cloud gives (stated even when it is 80). */
const portOf = (url: string): string => /:(\d+)\/?$/.exec(url)?.[1] ?? url;

function exposureWarning(host: string, cloud: Pick<LocalCloud, 'edgeUrl' | 'apiUrl'>): string {
  const edge = portOf(cloud.edgeUrl);
  return cloud.apiUrl
    ? `warning: --host ${host} is not loopback: SQS, DynamoDB and the API answer anyone who can reach it, without authentication, on the edge port ${edge} and the API port ${portOf(cloud.apiUrl)}`
    : `warning: --host ${host} is not loopback: SQS and DynamoDB answer anyone who can reach them, without authentication, on the edge port ${edge}`;
}

async function main(): Promise<number | undefined> {
  const { values, port, apiPort, seed } = parseStartArgs();
  const preset = choiceOption(values, 'faults', FAULT_PRESETS)!;
  const rates: Partial<FaultConfig> = {};
  for (const [flag, knob] of Object.entries(RATE_FLAGS)) {
    const rate = numberOption(values, flag, { min: 0, max: 1 });
    if (rate !== undefined) rates[knob] = rate;
  }
  const faults = Object.keys(rates).length === 0 ? preset : { ...PRESETS[preset], ...rates };
  const logLevel = choiceOption(values, 'log-level', LOG_LEVELS)!;
  const functionLogLevel: FunctionLogLevel = logLevel === 'debug' ? 'DEBUG' : 'WARN';
  const host = String(values.host);
  if (!isValidHost(host)) {
    throw new UsageError(`--host must be an IP address or a host name, got "${host}"`);
  }
  const flagOrigins = (values['allow-origin'] as string[] | undefined) ?? [];
  const allowedOrigins = [...flagOrigins, ...originsFromEnv()];
  for (const origin of allowedOrigins) {
    const problem = allowedOriginProblem(origin);
    if (problem !== undefined) {
      throw new UsageError(
        `--allow-origin and ${ALLOW_ORIGINS_ENV} take origins like http://localhost:5173, got "${origin}": ${problem}`,
      );
    }
  }
  const dataDir = typeof values['data-dir'] === 'string' ? values['data-dir'] : undefined;
  const dataDirUnusable = dataDir === undefined ? undefined : directoryProblem(dataDir);
  if (dataDirUnusable !== undefined) {
    throw new UsageError(`--data-dir ${dataDir} cannot hold the tables: ${dataDirUnusable}`);
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const log = (line: string) => {
    // Function log lines (Powertools JSON) carry their own level; the cloud's own lines are info.
    const isFunctionLine = /^[\w-]+: \{/.test(line);
    // A component's own error (DynamoDB's thread ended, tables lost) is shown at every level.
    if (/^[\w-]+: error: /.test(line)) process.stderr.write(`${line}\n`);
    else if (isFunctionLine ? RANK[logLevel] <= RANK.warn : RANK[logLevel] <= RANK.info) out(line);
  };

  installLastResortGuard((line) => process.stderr.write(`${line}\n`));
  if (allowedOrigins.length > 0) out(`allowed origins: ${allowedOrigins.join(', ')}`);
  let cloud: LocalCloud;
  try {
    cloud = await startLocalCloud({
      port,
      apiPort,
      host,
      faults,
      functionLogLevel,
      servicesOnly: Boolean(values['services-only']),
      allowedOrigins,
      log,
      ...(seed !== undefined ? { seed } : {}),
      ...(dataDir !== undefined ? { dataDir } : {}),
    });
  } catch (err) {
    if ((err as { expose?: boolean }).expose) {
      process.stderr.write(`error: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
  // After binding, so it names the ports bound (--port 0 is a free one) and what answers on
  // them (--services-only: no API); a listen that failed exposes nothing and says so itself.
  if (!isLoopback(host)) process.stderr.write(`${exposureWarning(host, cloud)}\n`);
  out(`seed: ${cloud.seed}`);
  out(
    cloud.apiUrl
      ? `ready: ${cloud.edgeUrl} ${cloud.apiUrl} ${cloud.liveUrl}`
      : `ready: ${cloud.edgeUrl}`,
  );
  if (cloud.liveUrl) out(`live: open ${cloud.liveUrl} to watch FIFO and standard side by side`);
  if (cloud.apiUrl)
    out(
      `try: curl -X POST ${cloud.apiUrl}/orders -H 'content-type: application/json' -d '{"customerId":"c1","items":[{"sku":"a","quantity":1,"unitPrice":5}],"amount":5,"currency":"EUR"}'`,
    );

  await new Promise<void>((resolve) => {
    onStopSignal(
      (signal) => {
        // With stdout's reader gone ("output closed"), why it stops is said where it is read.
        if (writeFailed('stdout')) process.stderr.write(`${signal}: stopping\n`);
        else out(`${signal}: stopping`);
        cloud.stop().then(resolve, (err: unknown) => {
          process.stderr.write(`error while stopping: ${(err as Error).message}\n`);
          resolve();
        });
      },
      (signal) => out(`${signal} again: exiting now`),
    );
  });
  // Every server and worker is closed by now; this only guards against a stray keep-alive handle.
  // process.exit() keeps the exit code set on the way (1 when output was lost: runMain).
  setTimeout(() => process.exit(), 2000).unref();
  return 0;
}

if (require.main === module) runMain(main, START_SPEC);
