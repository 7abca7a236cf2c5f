import type { Tracer } from '@aws-lambda-powertools/tracer';
import type { Env } from './env';

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

export function createTracing(serviceName: string, env: Env = process.env): Tracing {
  if (!tracingEnabled(env)) return OFF;
  // A plain require inside the branch: esbuild still bundles it for Lambda, and the local cloud,
  // where tracing is off, never loads it.
  const { Tracer: TracerClass } =
    require('@aws-lambda-powertools/tracer') as typeof import('@aws-lambda-powertools/tracer');
  const tracer = new TracerClass({ serviceName: env.POWERTOOLS_SERVICE_NAME ?? serviceName });
  const annotate = (annotations: Record<string, string | number | boolean>) => {
    for (const [key, value] of Object.entries(annotations)) tracer.putAnnotation(key, value);
  };
  return {
    tracer,
    captureClient: (client) => tracer.captureAWSv3Client(client),
    annotate,
    async handler(name, run) {
      const segment = tracer.getSegment();
      if (!segment) return run();
      const sub = segment.addNewSubsegment(`## ${name}`);
      tracer.setSegment(sub);
      tracer.annotateColdStart();
      tracer.addServiceNameAnnotation();
      try {
        return await run();
      } catch (err) {
        tracer.addErrorAsMetadata(err as Error);
        throw err;
      } finally {
        sub.close();
        tracer.setSegment(segment);
      }
    },
    subsegment(name, annotations, work) {
      return tracer.provider.captureAsyncFunc(`### ${name}`, async (sub) => {
        for (const [key, value] of Object.entries(annotations)) sub?.addAnnotation(key, value);
        try {
          return await work();
        } catch (err) {
          sub?.addError(err as Error);
          throw err;
        } finally {
          sub?.close();
        }
      }) as Promise<Awaited<ReturnType<typeof work>>>;
    },
  };
}
