import { parseMetricLine } from '../../../local/live/emf';
import { PowertoolsConsumerMetrics } from '../../../services/consumer/src/adapters/metrics';
import {
  CONSUMER_METRICS,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  type OrderEvent,
} from '../../../shared/src/metrics';

const base = { runId: 'r', customerId: 'c1', receiveCount: 1 } as const;
const events: OrderEvent[] = [
  { ...base, event: 'applied', orderId: 'o1', sequence: 1, latencyMs: 40 },
  { ...base, event: 'applied', orderId: 'o3', sequence: 3, latencyMs: 900, receiveCount: 2 },
  { ...base, event: 'applied', orderId: 'o2', sequence: 2, latencyMs: 70, late: true },
  { ...base, event: 'suppressed', orderId: 'o1', sequence: 1 },
  { ...base, event: 'failed', orderId: 'o4', sequence: 4 },
];

describe('PowertoolsConsumerMetrics', () => {
  let lines: string[];
  beforeEach(() => {
    lines = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      return true;
    });
  });
  afterEach(() => jest.restoreAllMocks());

  it('writes one EMF line per invocation that CloudWatch and the live view read the same way', () => {
    // Prepare: the console is bound to stdout when the Metrics instance is made.
    const metrics = new PowertoolsConsumerMetrics('standard');

    // Act
    for (const e of events) metrics.record(e);
    metrics.publish();
    metrics.publish();

    // Assess
    expect(lines).toHaveLength(1);
    const doc = JSON.parse(lines[0]!);
    const directive = doc._aws.CloudWatchMetrics[0];
    expect(directive.Namespace).toBe(METRICS_NAMESPACE);
    expect(directive.Dimensions).toEqual([['service', 'queue']]);
    expect(doc.service).toBe(METRICS_SERVICE);
    expect(
      Object.fromEntries(
        directive.Metrics.map((m: { Name: string; Unit: string }) => [m.Name, m.Unit]),
      ),
    ).toEqual(Object.fromEntries(Object.values(CONSUMER_METRICS).map((m) => [m.name, m.unit])));
    const parsed = parseMetricLine(lines[0]!);
    expect(parsed?.queue).toBe('standard');
    expect(parsed?.values).toEqual({
      [CONSUMER_METRICS.ordersApplied.name]: [1, 1, 1],
      [CONSUMER_METRICS.outOfOrderApplies.name]: [0, 0, 1],
      [CONSUMER_METRICS.acceptedToAppliedLatency.name]: [40, 900, 70],
      [CONSUMER_METRICS.retriesAfterFailure.name]: [1],
      [CONSUMER_METRICS.copiesSuppressed.name]: [1],
      [CONSUMER_METRICS.deliveryFailures.name]: [1],
    });
    // The order events ride along as a list of objects, not a string.
    expect(doc.orderEvents).toEqual(events);
    expect(parsed?.events).toEqual(events);
  });

  it("publishes only its own invocation's values and events after the previous invocation's publish threw (no double count)", () => {
    // Prepare: the same instance for two invocations of one execution environment, as
    // handlers/sqs.ts makes it at module scope. The first invocation's line cannot be serialized
    // (a BigInt in its events: JSON.stringify throws inside Powertools' publishStoredMetrics).
    const metrics = new PowertoolsConsumerMetrics('fifo');
    const unserializable = {
      ...base,
      event: 'applied',
      orderId: 'o-first',
      sequence: 1n as unknown as number,
      latencyMs: 10,
      receiveCount: 2,
    } satisfies OrderEvent;
    const second: OrderEvent = { ...base, event: 'failed', orderId: 'o-second', sequence: 2 };

    // Act: the first invocation's publish throws; the second records one event and publishes.
    metrics.record(unserializable);
    expect(() => metrics.publish()).toThrow(/BigInt/);
    metrics.record(second);
    metrics.publish();

    // Assess: one line, the second invocation's alone. Powertools 2.35 clears its buffer, the
    // dimensions and the metadata in a finally of publishStoredMetrics, and the adapter its
    // events before it: nothing of the failed publish is carried into the next line.
    expect(lines).toHaveLength(1);
    const parsed = parseMetricLine(lines[0]!);
    expect(parsed?.values).toEqual({ [CONSUMER_METRICS.deliveryFailures.name]: [1] });
    expect(parsed?.events).toEqual([second]);
  });

  it('writes nothing for an invocation that handled no record', () => {
    const metrics = new PowertoolsConsumerMetrics('fifo');
    metrics.publish();
    expect(lines.filter((l) => l.includes('CloudWatchMetrics'))).toEqual([]);
  });
});
