import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  type ClientOptions,
  type ClientTimeouts,
  createDocumentClient,
  createSqsClient,
  LOCAL_CREDENTIALS,
} from '../../../../shared/src/aws-clients';
import {
  CliError,
  type CommandSpec,
  choiceOption,
  intOption,
  type ParsedValues,
  parseCommandLine,
  runMain,
  UsageError,
} from '../../../../shared/src/cli/args';
import { ensureDirectory, outputDirectory } from '../../../../shared/src/cli/directory';
import { pipelineConfig } from '../../../../shared/src/config/pipeline';
import { runIdSchema } from '../../../../shared/src/order';
import { readStackOutputs, requireOutput } from '../../../../shared/src/stack-outputs';
import { queueUrlByName } from '../adapters/queues';
import { renderHtml } from '../domain/render-html';
import { renderJson, renderMarkdown, renderTable } from '../domain/render-text';
import type { ReportTarget } from '../domain/report';
import { DRAIN_WAIT, generateReport, type ReportSource } from '../generate';

export const REPORT_SPEC: CommandSpec = {
  usage: 'npm run report -- --run <id> [options]',
  summary:
    'Reads one run from the ledger, waits until both queues have drained, and compares FIFO with standard.\n' +
    "It shows the repository's config (shared/src/config/pipeline.ts) for the batch settings. Each\n" +
    "queue's maxReceiveCount is from its RedrivePolicy, and its visibility timeout from its\n" +
    "VisibilityTimeout (the config's, with a note, when the queue has none or reading it is refused).\n" +
    'The function timeout is the deadline each consumer invocation stamped in the ledger (the\n' +
    "config's for a ledger written before the consumers stamped one).",
  options: {
    run: { type: 'string', value: '<id>', description: 'run id (the X-Run-Id the load used)' },
    target: {
      type: 'string',
      value: '<local|localstack|aws>',
      description: 'where the run lives',
      default: 'local',
    },
    endpoint: {
      type: 'string',
      value: '<url>',
      description: 'edge url for local/localstack',
      default: 'http://127.0.0.1:4566',
    },
    stack: {
      type: 'string',
      value: '<name>',
      description: 'CloudFormation stack (aws target)',
      default: pipelineConfig.stackName,
    },
    region: {
      type: 'string',
      value: '<region>',
      description: 'AWS region (default: SDK default; us-east-1 for local)',
    },
    format: {
      type: 'string',
      value: '<table|json|md|html>',
      description: 'what to print',
      default: 'table',
    },
    out: {
      type: 'string',
      value: '<dir>',
      description: 'also write report.json, report.md, report.html here',
    },
    'wait-timeout': {
      type: 'string',
      value: '<s>',
      description: 'seconds to wait for the drain',
      default: '300',
    },
    'no-wait': { type: 'boolean', description: 'compute now, without waiting for the drain' },
  },
  examples: [
    'npm run report -- --run demo-1',
    'npm run report -- --run load-42 --format html --out reports/load-42',
    'npm run report -- --run load-42 --target aws --stack OrderPipelineLab',
  ],
};

const FORMATS = ['table', 'json', 'md', 'html'] as const;
const TARGETS = ['local', 'localstack', 'aws'] as const;

export interface ReportArgs {
  runId: string;
  target: ReportTarget;
  endpoint: string;
  stack: string;
  region?: string;
  format: (typeof FORMATS)[number];
  out?: string;
  waitTimeoutMs: number;
}

export function parseReportArgs(argv: string[]): ReportArgs {
  const v: ParsedValues = parseCommandLine(REPORT_SPEC, argv);
  if (typeof v.run !== 'string') throw new UsageError('--run <id> is required');
  if (!runIdSchema.safeParse(v.run).success) {
    throw new UsageError(`--run must be 1-64 letters, digits, _ or -, got "${v.run}"`);
  }
  const endpoint = String(v.endpoint);
  try {
    new URL(endpoint);
  } catch {
    throw new UsageError(`--endpoint must be a url, got "${endpoint}"`);
  }
  const wait = intOption(v, 'wait-timeout', { min: 1, max: 24 * 3600 }) ?? 300;
  const target = choiceOption(v, 'target', TARGETS) ?? 'local';
  // The drain ends only after the queues stayed quiet for DRAIN_WAIT's span (60 s of polls on AWS,
  // whose counts can lag a minute): a shorter wait could only time out.
  const { quietMs, intervalMs } = DRAIN_WAIT[target];
  const shortest = Math.ceil((quietMs + intervalMs) / 1000);
  if (!v['no-wait'] && quietMs > 0 && wait < shortest) {
    throw new UsageError(
      `--wait-timeout must be at least ${shortest} with --target ${target} (the queues must stay empty for ${quietMs / 1000} s of polls before the report computes; --no-wait computes now), got ${wait}`,
    );
  }
  return {
    runId: v.run,
    target,
    endpoint,
    stack: String(v.stack),
    ...(typeof v.region === 'string' ? { region: v.region } : {}),
    format: choiceOption(v, 'format', FORMATS) ?? 'table',
    ...(typeof v.out === 'string' ? { out: v.out } : {}),
    waitTimeoutMs: v['no-wait'] ? 0 : wait * 1000,
  };
}

/**
 * The report's clients' timeouts: each try of a call ends with a TimeoutError when it has not
 * connected within 3 s or not been answered within 5 s (NodeHttpHandler's connectionTimeout and
 * requestTimeout, see shared/src/aws-clients.ts), and the SDK retries it (SQS 3 tries, DynamoDB
 * 4). Without them an endpoint that accepts a connection and never answers held the report
 * forever: the drain's --wait-timeout is checked between polls, not during one, and a DLQ read
 * waits for each receive and release call. The longest call the report makes is a
 * ReceiveMessage long poll of 1 s; a ledger page is at most 1 MB.
 */
export const REPORT_CLIENT_TIMEOUTS: ClientTimeouts = {
  connectionTimeoutMs: 3000,
  requestTimeoutMs: 5000,
};

/** The report's SQS and DynamoDB clients for one target, with REPORT_CLIENT_TIMEOUTS. */
export function reportClients(options: ClientOptions): {
  sqsClient: SQSClient;
  documentClient: ReportSource['documentClient'];
} {
  const client = { ...options, ...REPORT_CLIENT_TIMEOUTS };
  return { sqsClient: createSqsClient(client), documentClient: createDocumentClient(client) };
}

async function resolveSource(args: ReportArgs): Promise<ReportSource> {
  if (args.target === 'aws') {
    // The stack is read in the region the report's other clients use: --region, else the SDK's.
    const region = args.region ? { region: args.region } : {};
    const outputs = await readStackOutputs(args.stack, new CloudFormationClient(region));
    return {
      ...reportClients(region),
      ledgerTable: requireOutput(outputs, 'ledgerTableName', args.stack),
      queueUrls: {
        fifo: requireOutput(outputs, 'fifoQueueUrl', args.stack),
        standard: requireOutput(outputs, 'standardQueueUrl', args.stack),
        fifoDlq: requireOutput(outputs, 'fifoDlqUrl', args.stack),
        standardDlq: requireOutput(outputs, 'standardDlqUrl', args.stack),
      },
    };
  }
  const { sqsClient, documentClient } = reportClients({
    endpoint: args.endpoint,
    region: args.region ?? 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  let urls: string[];
  try {
    urls = await Promise.all(
      [
        pipelineConfig.queues.fifo.name,
        pipelineConfig.queues.standard.name,
        pipelineConfig.queues.fifo.dlq.name,
        pipelineConfig.queues.standard.dlq.name,
      ].map((name) => queueUrlByName(sqsClient, name)),
    );
  } catch (err) {
    throw new CliError(
      `cannot reach the pipeline's queues at ${args.endpoint} (${(err as Error).message}); is \`npm start\` running?`,
      { cause: err },
    );
  }
  return {
    documentClient,
    sqsClient,
    ledgerTable: pipelineConfig.tables.ledger.name,
    queueUrls: {
      fifo: urls[0] ?? '',
      standard: urls[1] ?? '',
      fifoDlq: urls[2] ?? '',
      standardDlq: urls[3] ?? '',
    },
  };
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  const args = parseReportArgs(argv);
  // Before the drain wait and the ledger read: --out /proc/x printed the report, then hung.
  if (args.out) outputDirectory('out', args.out);
  const source = await resolveSource(args);
  const tty = process.stderr.isTTY;
  const data = await generateReport({
    runId: args.runId,
    target: args.target,
    config: pipelineConfig,
    source,
    waitTimeoutMs: args.waitTimeoutMs,
    onProgress: (s, ms) => {
      const line = `waiting for drain: fifo ${s.queued.fifo} standard ${s.queued.standard} queued, ledger ${s.ledgerItems} items, ${Math.round(ms / 1000)} s`;
      process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
    },
  });
  if (tty && args.waitTimeoutMs > 0) process.stderr.write('\n');
  if (data.report.accepted === 0) {
    throw new CliError(`run ${args.runId} has no accepted orders in ${source.ledgerTable}`);
  }
  const text =
    args.format === 'json'
      ? renderJson(data.report)
      : args.format === 'md'
        ? renderMarkdown(data.report)
        : args.format === 'html'
          ? renderHtml(data)
          : renderTable(data.report);
  process.stdout.write(text);
  if (args.out) {
    ensureDirectory(args.out);
    await writeFile(join(args.out, 'report.json'), renderJson(data.report));
    await writeFile(join(args.out, 'report.md'), renderMarkdown(data.report));
    await writeFile(join(args.out, 'report.html'), renderHtml(data));
    process.stderr.write(`wrote ${args.out}/report.{json,md,html}\n`);
  }
  return 0;
}

if (require.main === module) runMain(() => main());
