import { decideFaults, NO_FAULTS } from '../../../services/consumer/src/domain/faults';

const SEED = 20261125;
const ids = Array.from({ length: 2000 }, (_, i) => `order-${i}`);

describe('decideFaults', () => {
  it('injects nothing when every switch is off', () => {
    // Prepare / Act
    const decisions = ids.map((id) => decideFaults(NO_FAULTS, id, 1));

    // Assess
    expect(decisions.every((d) => d.failure === undefined && d.delayMs === 0)).toBe(true);
  });

  it('fails roughly the configured fraction of first attempts and none of the retries', () => {
    // Prepare
    const config = { ...NO_FAULTS, seed: SEED, firstAttemptFailureRate: 0.25 };

    // Act
    const first = ids.filter((id) => decideFaults(config, id, 1).failure === 'first-attempt');
    const retries = ids.filter((id) => decideFaults(config, id, 2).failure !== undefined);

    // Assess
    expect(first.length / ids.length).toBeGreaterThan(0.2);
    expect(first.length / ids.length).toBeLessThan(0.3);
    expect(retries).toHaveLength(0);
  });

  it('repeats the same decisions for the same seed and changes them for another seed', () => {
    // Prepare
    const a = { ...NO_FAULTS, seed: SEED, firstAttemptFailureRate: 0.5 };
    const b = { ...a, seed: SEED + 1 };
    const pick = (c: typeof a) => ids.map((id) => decideFaults(c, id, 1).failure ?? '');

    // Act / Assess
    expect(pick(a)).toEqual(pick({ ...a }));
    expect(pick(a)).not.toEqual(pick(b));
  });

  it('stalls a fraction of first attempts by the slow delay', () => {
    // Prepare
    const config = { ...NO_FAULTS, seed: SEED, slowRate: 0.1, slowMs: 1234 };

    // Act
    const slowIds = ids.filter((id) => decideFaults(config, id, 1).delayMs > 0);
    const delays = new Set(slowIds.map((id) => decideFaults(config, id, 1).delayMs));
    const retryDelays = slowIds.map((id) => decideFaults(config, id, 2).delayMs);

    // Assess
    expect(delays).toEqual(new Set([1234]));
    expect(slowIds.length / ids.length).toBeGreaterThan(0.07);
    expect(slowIds.length / ids.length).toBeLessThan(0.13);
    expect(retryDelays.every((ms) => ms === 0)).toBe(true);
  });

  it('fails a poison order on every receive', () => {
    // Prepare
    const config = { ...NO_FAULTS, poisonPrefix: 'poison-' };

    // Act
    const decisions = [1, 2, 3, 10].map((n) => decideFaults(config, 'poison-1', n));

    // Assess
    expect(decisions.every((d) => d.failure === 'poison')).toBe(true);
    expect(decideFaults(config, 'order-1', 1).failure).toBeUndefined();
  });

  it('crashes a fraction of first attempts after the effect, never a retry', () => {
    // Prepare
    const config = { ...NO_FAULTS, seed: SEED, crashAfterEffectRate: 0.2 };

    // Act
    const crashing = ids.filter((id) => decideFaults(config, id, 1).crashAfterEffect);
    const retries = ids.filter((id) => decideFaults(config, id, 2).crashAfterEffect);

    // Assess
    expect(crashing.length / ids.length).toBeGreaterThan(0.15);
    expect(crashing.length / ids.length).toBeLessThan(0.25);
    expect(retries).toEqual([]);
  });

  it('fails an order after its effect on every receive while its prefix is set', () => {
    // Prepare
    const config = { ...NO_FAULTS, failAfterEffectPrefix: 'late-' };

    // Act
    const decisions = [1, 2, 3, 4].map((n) => decideFaults(config, 'late-1', n));

    // Assess
    expect(decisions.every((d) => d.failAfterEffect && d.failure === undefined)).toBe(true);
    expect(decideFaults(config, 'order-1', 1).failAfterEffect).toBe(false);
  });

  it("decides an order's stall, crash and failure apart: one of them says nothing of the others", () => {
    // Prepare: each first-attempt fault for half the orders.
    const config = {
      ...NO_FAULTS,
      seed: SEED,
      slowRate: 0.5,
      slowMs: 10,
      crashAfterEffectRate: 0.5,
      firstAttemptFailureRate: 0.5,
    };

    // Act
    const decisions = ids.map((id) => decideFaults(config, id, 1));
    const slow = decisions.map((d) => d.delayMs > 0);
    const crash = decisions.map((d) => d.crashAfterEffect);
    const fail = decisions.map((d) => d.failure === 'first-attempt');
    const both = (x: boolean[], y: boolean[]) => x.filter((v, i) => v && y[i]).length / ids.length;

    // Assess: a quarter of the orders have any two of them, as two independent halves would;
    // one draw shared by two faults would give them to the same half.
    for (const [x, y] of [
      [slow, crash],
      [slow, fail],
      [crash, fail],
    ] as const) {
      expect(both(x, y)).toBeGreaterThan(0.2);
      expect(both(x, y)).toBeLessThan(0.3);
    }
  });
});
