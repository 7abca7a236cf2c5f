import { EnvironmentOutput } from '../../../local/function-runtime';
import { LogLines } from '../../../local/log-lines';

function collect() {
  const lines: string[] = [];
  const output = new EnvironmentOutput(new LogLines((line) => lines.push(line)));
  return { lines, output };
}

describe("EnvironmentOutput (one stream of an environment's output)", () => {
  it('ends a line left without a newline at the byte where an invocation ended, when the reply comes first', () => {
    // Prepare
    const { lines, output } = collect();

    // Act: two invocations replied (5 and 9 bytes in) before any of their output was read; it
    // comes in one chunk with the third invocation's start.
    output.endAt(5);
    output.endAt(9);
    output.take(Buffer.from('firstsecothird'));

    // Assess
    expect(lines).toEqual(['first', 'seco']);
    expect(output.lines.buffered).toBe('third'.length);
  });

  it('ends the line at once when the output was read before the reply, and across chunks otherwise', () => {
    // Prepare
    const { lines, output } = collect();

    // Act
    output.take(Buffer.from('read first'));
    output.endAt(10);
    output.endAt(16);
    output.take(Buffer.from('ab'));
    output.take(Buffer.from('cdef-next'));
    output.take(Buffer.from('\n'));

    // Assess
    expect(lines).toEqual(['read first', 'abcdef', '-next']);
  });

  it('lets a line go on when more than an invocation wrote was read before its reply', () => {
    // Prepare: output written after the reply (a timer) read before it.
    const { lines, output } = collect();
    output.take(Buffer.from('reply at 3, then more'));

    // Act
    output.endAt(3);
    output.take(Buffer.from('\n'));

    // Assess: what was read cannot be cut again; nothing is lost.
    expect(lines).toEqual(['reply at 3, then more']);
  });

  it('holds at most MAX_PENDING_ENDS ends, however many replies count ahead of the output, and cuts the nearest ones still', () => {
    // Prepare
    const { lines, output } = collect();
    const max = EnvironmentOutput.MAX_PENDING_ENDS;

    // Act: two honest ends, then 10,000 counts far ahead (forged replies), then the output.
    output.endAt(3);
    output.endAt(6);
    for (let i = 1; i <= 10_000; i++) output.endAt(1_000_000 + i);
    const held = output.pendingEnds;
    output.take(Buffer.from('onetwothree'));

    // Assess
    expect(held).toBe(max);
    expect(lines).toEqual(['one', 'two']);
    expect(output.pendingEnds).toBe(max - 2);
  });

  it('ignores a count that is not a byte count, and cuts at the next honest one', () => {
    // Prepare
    const { lines, output } = collect();

    // Act
    for (const bad of [Number.POSITIVE_INFINITY, Number.NaN, 2.5, 2 ** 60]) output.endAt(bad);
    output.endAt(3);
    output.take(Buffer.from('onetwo\n'));

    // Assess
    expect(output.pendingEnds).toBe(0);
    expect(lines).toEqual(['one', 'two']);
  });
});
