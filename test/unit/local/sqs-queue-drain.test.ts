import { Clock } from '../../../local/sqs/clock';
import { Queue } from '../../../local/sqs/queue';

/**
 * A message move task takes one message a call (drainAvailable(1)) until it has moved all it
 * should, on the main thread: without MaxNumberOfMessagesPerSecond a task over a whole DLQ runs
 * in one go. Each call had started from the queue's first message and walked past every one the
 * task had already moved, until the list compacted at half the queue: quadratic in the DLQ's
 * size (80,000 messages held the main thread 5 s on a loaded machine).
 */
describe('a queue drained one message at a time', () => {
  it('takes 120,000 messages in time linear in their number, each once and in order', () => {
    // Arrange
    const queue = new Queue('dlq', {}, '000000000000', 'us-east-1', new Clock());
    const n = 120_000;
    for (let i = 0; i < n; i++) queue.send({ body: `m${i}`, attributes: {}, senderId: 'test' });

    // Act
    const started = performance.now();
    const bodies: string[] = [];
    for (;;) {
      const [m] = queue.drainAvailable(1);
      if (!m) break;
      bodies.push(m.body);
    }
    const took = performance.now() - started;

    // Assess: well under a second now; the old walk took 14 s here on a loaded machine.
    expect(bodies.length).toBe(n);
    expect(bodies[0]).toBe('m0');
    expect(bodies[n - 1]).toBe(`m${n - 1}`);
    expect(bodies.every((b, i) => b === `m${i}`)).toBe(true);
    expect(took).toBeLessThan(3_000);
    expect(queue.counts()).toEqual({ visible: 0, notVisible: 0, delayed: 0 });
  }, 120_000);
});
