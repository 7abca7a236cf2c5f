import { Latch } from '../../../shared/src/cli/latch';

/** Resolves after the callbacks setImmediate queued before it have run. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Latch (shared/src/cli/latch.ts)', () => {
  it('calls the listeners added before it fires once, in the order they were added, with the first value', () => {
    // Prepare
    const latch = new Latch<string>();
    const calls: string[] = [];
    latch.on((v) => calls.push(`first ${v}`));
    latch.on((v) => calls.push(`second ${v}`));
    latch.on((v) => calls.push(`third ${v}`));
    expect(latch.fired).toBe(false);

    // Act
    latch.fire('a');
    latch.fire('b');

    // Assess
    expect(calls).toEqual(['first a', 'second a', 'third a']);
    expect(latch.fired).toBe(true);
  });

  it('calls a listener added after it fired on the next turn of the event loop, not from inside on(), with the first value', async () => {
    // Prepare
    const latch = new Latch<string>();
    latch.fire('gone');
    latch.fire('again');
    const calls: string[] = [];

    // Act
    latch.on((v) => calls.push(v));
    const synchronously = [...calls];
    await nextTurn();

    // Assess
    expect(synchronously).toEqual([]);
    expect(calls).toEqual(['gone']);
  });

  it('calls no listener that was removed, whether added before it fired or after', async () => {
    // Prepare
    const latch = new Latch();
    const calls: string[] = [];
    const removeEarly = latch.on(() => calls.push('early'));
    latch.on(() => calls.push('kept'));

    // Act
    removeEarly();
    latch.fire();
    const removeLate = latch.on(() => calls.push('late'));
    removeLate();
    await nextTurn();

    // Assess
    expect(calls).toEqual(['kept']);
  });

  it('does not call a listener that an earlier one released while it fires', () => {
    // Prepare
    const latch = new Latch();
    const calls: string[] = [];
    let releaseSecond = () => {};
    latch.on(() => {
      calls.push('first');
      releaseSecond();
    });
    releaseSecond = latch.on(() => calls.push('second'));
    latch.on(() => calls.push('third'));

    // Act
    latch.fire();

    // Assess
    expect(calls).toEqual(['first', 'third']);
  });

  it('calls every listener when one throws, then throws the first error, and stays fired', () => {
    // Prepare
    const latch = new Latch();
    const calls: string[] = [];
    latch.on(() => {
      calls.push('first');
      throw new Error('first failed');
    });
    latch.on(() => {
      calls.push('second');
      throw new Error('second failed');
    });
    latch.on(() => calls.push('third'));

    // Act
    const fire = () => latch.fire();

    // Assess
    expect(fire).toThrow('first failed');
    expect(calls).toEqual(['first', 'second', 'third']);
    expect(fire).not.toThrow();
    expect(calls).toHaveLength(3);
  });

  it('counts the same function added twice as two listeners, each released on its own', () => {
    // Prepare
    const latch = new Latch();
    let calls = 0;
    const listener = () => {
      calls++;
    };
    const releaseOne = latch.on(listener);
    latch.on(listener);

    // Act
    releaseOne();
    latch.fire();

    // Assess
    expect(calls).toBe(1);
  });
});
