import { PRESETS, resolveFaults } from '../../../local/sqs/faults';

/** resolveFaults validates a whole faults request: the control endpoint only passes it on. */
describe('resolveFaults', () => {
  it('takes a preset by name, alone or as {"preset": name}, as a copy', () => {
    expect(resolveFaults('chaos')).toEqual(PRESETS.chaos);
    const resolved = resolveFaults({ preset: 'chaos' });
    expect(resolved).toEqual(PRESETS.chaos);
    expect(resolved).not.toBe(PRESETS.chaos);
  });

  it('takes knobs, the others 0, and the demo preset when given nothing', () => {
    expect(resolveFaults({ duplicateRate: 0.5 })).toEqual({ ...PRESETS.none, duplicateRate: 0.5 });
    expect(resolveFaults(undefined)).toEqual(PRESETS.demo);
  });

  it('refuses a preset beside knobs, which would otherwise be ignored', () => {
    expect(() => resolveFaults({ preset: 'chaos', duplicateRate: 1 } as never)).toThrow(
      new RangeError('a preset takes no knobs: send either {"preset": ...} or knobs'),
    );
  });

  it.each([
    ['a preset that is not a name', { preset: 5 }, /^a fault preset is a name/],
    ['a preset that is knobs', { preset: { duplicateRate: 1 } }, /^a fault preset is a name/],
    ['an array', [], /^faults are/],
    ['null', null, /^faults are/],
  ])('refuses %s, which no knob or preset reads', (_, input, why) => {
    expect(() => resolveFaults(input as never)).toThrow(why);
  });

  it('refuses an unknown knob and a rate outside [0, 1]', () => {
    expect(() => resolveFaults({ duplicatRate: 0.5 } as never)).toThrow(
      /^unknown fault knob "duplicatRate"/,
    );
    expect(() => resolveFaults({ duplicateRate: 2 })).toThrow(/must be a rate in \[0, 1\]/);
  });
});
