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
  });
});
