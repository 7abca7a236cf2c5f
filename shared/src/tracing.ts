import type { Tracer } from '@aws-lambda-powertools/tracer';
import type { Env } from './env';
import { quietly } from './quietly';

/**
 * Powertools Tracer for the functions, or nothing at all. Loading the tracer pulls in the X-Ray
 * SDK (about half a second of CPU and 4 MB of heap per execution environment here), and the local
 * cloud starts a dozen environments; so the module is only required when tracing can be on, by
 * the same rule Tracer applies to itself: in a Lambda execution environment (AWS_EXECUTION_ENV)
 * and not switched off with POWERTOOLS_TRACE_ENABLED=false.
 */
export interface Tracing {
  /** The Powertools tracer, when tracing is on. */
  readonly tracer: Tracer | undefined;
  /** Records every call of an AWS SDK v3 client as an X-Ray subsegment (unchanged when off). */
  captureClient<T>(client: T): T;
  /**
   * Runs one invocation inside a `## <handler>` subsegment with the cold-start and service
   * annotations (what Powertools' captureLambdaHandler does for a class method), recording an
   * error thrown through it.
   */
  handler<R>(name: string, run: () => Promise<R>): Promise<R>;
  /**
   * Runs `work` in its own subsegment carrying `annotations` (searchable in X-Ray: for example
   * `annotation.orderId = "..."` finds the producer's and both consumers' segments of one order).
   * Concurrent calls each get their own context, so parallel records do not mix.
   */
  subsegment<R>(
    name: string,
    annotations: Record<string, string | number | boolean>,
    work: () => Promise<R>,
  ): Promise<R>;
  /** Adds annotations to the current (sub)segment. */
  annotate(annotations: Record<string, string | number | boolean>): void;
}

/** Where the tracing says what it could not do (the function's logger). */
export interface TracingLog {
  warn(message: string, data: Record<string, unknown>): void;
}

/** The log when none is given: one JSON line on stderr. */
const STDERR_LOG: TracingLog = {
  warn: (message, data) => console.warn(JSON.stringify({ level: 'WARN', message, ...data })),
};

export function tracingEnabled(env: Env = process.env): boolean {
  return Boolean(env.AWS_EXECUTION_ENV) && env.POWERTOOLS_TRACE_ENABLED?.toLowerCase() !== 'false';
}

const OFF: Tracing = {
  tracer: undefined,
  captureClient: (client) => client,
  handler: (_name, run) => run(),
  subsegment: (_name, _annotations, work) => work(),
  annotate: () => undefined,
};

/**
 * The tracing of a function. Tracing is a record of the work, never part of it: what the
 * (sub)segments' bookkeeping throws (closing a subsegment, which can stream it to the daemon;
 * annotating; putting the segment back) is logged to `log` and goes no further, so it neither
 * fails work that succeeded nor replaces the error of work that failed. A consumer invocation
 * that threw after its outcomes' write would fail as a whole, and SQS would hand back every
 * record of a batch the ledger reads as ended.
 */
export function createTracing(
  serviceName: string,
  env: Env = process.env,
  log: TracingLog = STDERR_LOG,
): Tracing {
  if (!tracingEnabled(env)) return OFF;
  /** Runs `step` of the bookkeeping; what it throws is logged (and a throwing log ignored). */
  const guarded = (message: string, data: Record<string, unknown>, step: () => void): void =>
    quietly(log, message, data, step);
  // A plain require inside the branch: esbuild still bundles it for Lambda, and the local cloud,
  // where tracing is off, never loads it.
  const { Tracer: TracerClass } =
    require('@aws-lambda-powertools/tracer') as typeof import('@aws-lambda-powertools/tracer');
  const tracer = new TracerClass({ serviceName: env.POWERTOOLS_SERVICE_NAME ?? serviceName });
  const annotate = (annotations: Record<string, string | number | boolean>) =>
    guarded('trace annotations not added', {}, () => {
      for (const [key, value] of Object.entries(annotations)) tracer.putAnnotation(key, value);
    });
  return {
    tracer,
    captureClient: (client) => tracer.captureAWSv3Client(client),
    annotate,
    async handler(name, run) {
      const segment = tracer.getSegment();
      if (!segment) return run();
      const subName = `## ${name}`;
      let sub: ReturnType<typeof segment.addNewSubsegment> | undefined;
      guarded('trace subsegment not opened', { subsegment: subName }, () => {
        sub = segment.addNewSubsegment(subName);
        tracer.setSegment(sub);
        tracer.annotateColdStart();
        tracer.addServiceNameAnnotation();
      });
      try {
        return await run();
      } catch (err) {
        guarded('trace error not recorded', { subsegment: subName }, () =>
          tracer.addErrorAsMetadata(err as Error),
        );
        throw err;
      } finally {
        // After run() the consumer's outcomes are written: a throw here would fail the
        // invocation, and SQS would hand the whole batch back.
        guarded('trace subsegment not closed', { subsegment: subName }, () => sub?.close());
        guarded('trace segment not restored', { subsegment: subName }, () =>
          tracer.setSegment(segment),
        );
      }
    },
    subsegment(name, annotations, work) {
      const subName = `### ${name}`;
      return tracer.provider.captureAsyncFunc(subName, async (sub) => {
        guarded('trace annotations not added', { subsegment: subName }, () => {
          for (const [key, value] of Object.entries(annotations)) sub?.addAnnotation(key, value);
        });
        try {
          return await work();
        } catch (err) {
          guarded('trace error not recorded', { subsegment: subName }, () =>
            sub?.addError(err as Error),
          );
          throw err;
        } finally {
          // A record whose effect committed and whose outcome is set would otherwise fail here:
          // reported failed in the batch response while the ledger reads it applied.
          guarded('trace subsegment not closed', { subsegment: subName }, () => sub?.close());
        }
      }) as Promise<Awaited<ReturnType<typeof work>>>;
    },
  };
}
