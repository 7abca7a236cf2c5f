import { SQSClient } from '@aws-sdk/client-sqs';
import { createTracing, tracingEnabled } from '../../../shared/src/tracing';

const TRACER_MODULE = require.resolve('@aws-lambda-powertools/tracer');

describe('tracing', () => {
  it('is off outside a Lambda execution environment and when POWERTOOLS_TRACE_ENABLED=false', () => {
    expect(tracingEnabled({})).toBe(false);
    expect(tracingEnabled({ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x' })).toBe(true);
    expect(
      tracingEnabled({
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
        POWERTOOLS_TRACE_ENABLED: 'FALSE',
      }),
    ).toBe(false);
  });

  it('when off, never loads the tracer and leaves clients and work untouched', async () => {
    jest.resetModules();
    const { createTracing: create } = require('../../../shared/src/tracing') as {
      createTracing: typeof createTracing;
    };
    const tracing = create('svc', { POWERTOOLS_TRACE_ENABLED: 'false' });
    const client = new SQSClient({ region: 'us-east-1' });
    const before = client.middlewareStack.identify();
    expect(tracing.captureClient(client)).toBe(client);
    expect(client.middlewareStack.identify()).toEqual(before);
    await expect(tracing.handler('h', async () => 7)).resolves.toBe(7);
    await expect(tracing.subsegment('s', { orderId: 'o' }, async () => 8)).resolves.toBe(8);
    expect(tracing.tracer).toBeUndefined();
    expect(Object.keys(require.cache)).not.toContain(TRACER_MODULE);
    client.destroy();
  });

  describe('when on', () => {
    const saved = { ...process.env };
    beforeEach(() => {
      process.env.AWS_EXECUTION_ENV = 'AWS_Lambda_nodejs24.x';
      process.env.POWERTOOLS_TRACE_ENABLED = 'true';
      process.env.AWS_XRAY_CONTEXT_MISSING = 'IGNORE_ERROR';
    });
    afterEach(() => {
      process.env = { ...saved };
    });

    it('instruments SDK clients and annotates one subsegment per piece of work', async () => {
      const tracing = createTracing('svc', process.env);
      expect(tracing.tracer?.isTracingEnabled()).toBe(true);
      const client = tracing.captureClient(new SQSClient({ region: 'us-east-1' }));
      expect(client.middlewareStack.identify().join(' ')).toMatch(/XRay/i);
      client.destroy();

      const AWSXRay = require('aws-xray-sdk-core') as typeof import('aws-xray-sdk-core');
      const root = new AWSXRay.Segment('invocation');
      const seen: Array<Record<string, unknown> | undefined> = [];
      await AWSXRay.getNamespace().runPromise(async () => {
        AWSXRay.setSegment(root);
        await tracing.handler('handler', async () => {
          await Promise.all(
            ['o-1', 'o-2'].map((orderId) =>
              tracing.subsegment('record', { orderId, queue: 'standard' }, async () => {
                seen.push(
                  (AWSXRay.getSegment() as unknown as { annotations?: Record<string, unknown> })
                    .annotations,
                );
              }),
            ),
          );
        });
      });
      expect(seen).toEqual([
        { orderId: 'o-1', queue: 'standard' },
        { orderId: 'o-2', queue: 'standard' },
      ]);
      const handlerSub = root.subsegments?.find((s) => s.name === '## handler');
      expect(handlerSub?.subsegments?.map((s) => s.name)).toEqual(['### record', '### record']);
    });

    /**
     * Runs `work` inside an invocation's segment, with every subsegment's close() throwing
     * `closeError` (an emitter that cannot send, a counter gone wrong): what the wrapper hands
     * back, and what it logged through `log`.
     */
    async function withThrowingClose<R>(
      work: (tracing: ReturnType<typeof createTracing>) => Promise<R>,
      log: { warn: (message: string, data: Record<string, unknown>) => void },
    ): Promise<R> {
      const AWSXRay = require('aws-xray-sdk-core') as typeof import('aws-xray-sdk-core');
      const tracing = createTracing('svc', process.env, log);
      const close = jest.spyOn(AWSXRay.Subsegment.prototype, 'close').mockImplementation(() => {
        throw new Error('closeError');
      });
      try {
        const root = new AWSXRay.Segment('invocation');
        return await AWSXRay.getNamespace().runPromise(() => {
          AWSXRay.setSegment(root);
          return work(tracing);
        });
      } finally {
        close.mockRestore();
      }
    }

    it("answers the handler's result when closing its subsegment throws, and logs it (a throw there failed an invocation whose outcomes were written: the whole batch came back)", async () => {
      // Prepare: the consumer's batch response, written to the ledger before the wrapper closes.
      const answer = { batchItemFailures: [] };
      const warned: Array<[string, Record<string, unknown>]> = [];

      // Act
      const result = await withThrowingClose(
        (tracing) => tracing.handler('consumer-standard', async () => answer),
        { warn: (message, data) => warned.push([message, data]) },
      );

      // Assess
      expect(result).toBe(answer);
      expect(warned).toEqual([
        [
          'trace subsegment not closed',
          { subsegment: '## consumer-standard', error: 'closeError' },
        ],
      ]);
    });

    it("answers a record's result when closing its subsegment throws, and a handler's error as thrown, even when the log throws too", async () => {
      // Prepare: a log that throws as well; nothing of the tracing may replace what the work did.
      const throwingLog = {
        warn: () => {
          throw new Error('log gone');
        },
      };
      const failure = new Error('end write failed');

      // Act
      const record = await withThrowingClose(
        (tracing) => tracing.subsegment('record', { orderId: 'o-1' }, async () => 'applied'),
        throwingLog,
      );
      const failed = withThrowingClose(
        (tracing) =>
          tracing.handler('consumer-standard', async () => {
            throw failure;
          }),
        throwingLog,
      );

      // Assess
      expect(record).toBe('applied');
      await expect(failed).rejects.toBe(failure);
    });
  });
});
