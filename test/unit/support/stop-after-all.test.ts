import { Starts } from '../../integration/support/stop-after-all';

/** A start that ends when `finish` is called, and counts the stops of what it started. */
function pendingStart(name: string, order: string[]) {
  let finish!: () => void;
  let fail!: (err: Error) => void;
  const started = {
    stops: 0,
    stop: async (): Promise<void> => {
      started.stops++;
      order.push(name);
    },
  };
  const starting = new Promise<typeof started>((res, rej) => {
    finish = () => res(started);
    fail = rej;
  });
  return { starting, started, finish, fail };
}

/**
 * The starts of an integration test's beforeAll, stopped by its afterAll: what had not started
 * yet when beforeAll's timeout passed included (it had been left running, and kept jest's process
 * from exiting).
 */
describe('Starts, the starts an afterAll stops', () => {
  it('stops a start that ends only after stopAll was called, as one beforeAll gave up on', async () => {
    // Prepare: a start kept, not yet ended (beforeAll's timeout passed: nothing was assigned).
    const order: string[] = [];
    const starts = new Starts();
    const cloud = pendingStart('cloud', order);
    void starts.keep(cloud.starting);

    // Act: afterAll runs, then the start ends.
    const stopping = starts.stopAll();
    cloud.finish();
    await stopping;

    // Assess
    expect(cloud.started.stops).toBe(1);
  });

  it('stops the last kept first, skips a start that failed, and stops the rest when one stop fails', async () => {
    // Prepare: three starts; the second failed; the third's stop fails.
    const order: string[] = [];
    const starts = new Starts();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => pendingStart(n, order));
    for (const s of [a!, b!, c!]) starts.keep(s.starting).catch(() => undefined);
    a!.finish();
    b!.fail(new Error('start failed'));
    c!.finish();
    c!.started.stop = async () => {
      order.push('c');
      throw new Error('stop failed');
    };

    // Act
    const stopped = starts.stopAll();

    // Assess
    await expect(stopped).rejects.toThrow('stop failed');
    expect(order).toEqual(['c', 'a']);
    expect(a!.started.stops).toBe(1);
  });

  it('closes what has close and no stop (DynamoDB alone)', async () => {
    const starts = new Starts();
    let closed = 0;
    void starts.keep(Promise.resolve({ close: async () => void closed++ }));
    await starts.stopAll();
    expect(closed).toBe(1);
  });
});
