import { createRng, hash32 } from '../../shared/src/random';

/**
 * The standard-queue fault model. AWS documents the mechanisms (redundant storage on several
 * hosts, short polls sampling a subset of hosts, a copy on an unavailable host surviving a
 * receive or a delete) but publishes no rates; the rates below are ours, chosen openly.
 * FIFO queues are never affected: AWS guarantees their order and exactly-once processing.
 */
export interface FaultConfig {
  /**
   * Per receive of a message: a copy on another host missed the in-flight mark and is served to
   * another receive while the first is still being processed (users saw one message returned
   * several times with different receipt handles). Surfaces within milliseconds.
   */
  duplicateRate: number;
  /**
   * Per delete: a copy on a host that was unavailable survives the delete and reappears after
   * the visibility timeout (AWS: "you might get that message copy again").
   */
  survivingCopyRate: number;
  /**
   * Per message and receive: the host holding it is not consulted first, so a later message is
   * returned before it (best-effort order; close sends from different hosts can swap).
   */
  reorderRate: number;
  /** Short polls (WaitTimeSeconds 0) sample hosts: chance a short poll returns nothing (false empty). */
  falseEmptyRate: number;
  /** Short polls return fewer messages than asked: each candidate is skipped with this chance. */
  shortPollSkipRate: number;
}

export type FaultPreset = 'none' | 'realistic' | 'demo' | 'chaos';
export const FAULT_PRESETS: readonly FaultPreset[] = ['none', 'realistic', 'demo', 'chaos'];

export const PRESETS: Record<FaultPreset, FaultConfig> = {
  // Like LocalStack, ElasticMQ and moto: strict order, no copies.
  none: {
    duplicateRate: 0,
    survivingCopyRate: 0,
    reorderRate: 0,
    falseEmptyRate: 0,
    shortPollSkipRate: 0,
  },
  // Duplicates around one in a million, rare swaps: our guess at what a healthy region does.
  realistic: {
    duplicateRate: 1e-6,
    survivingCopyRate: 1e-6,
    reorderRate: 0.002,
    falseEmptyRate: 0.05,
    shortPollSkipRate: 0.3,
  },
  // The default: frequent enough that a 2,000-order demo shows a handful of each.
  demo: {
    duplicateRate: 5e-3,
    survivingCopyRate: 1e-4,
    reorderRate: 0.05,
    falseEmptyRate: 0.1,
    shortPollSkipRate: 0.3,
  },
  chaos: {
    duplicateRate: 2e-2,
    survivingCopyRate: 1e-2,
    reorderRate: 0.5,
    falseEmptyRate: 0.2,
    shortPollSkipRate: 0.5,
  },
};

/**
 * What sets the fault model: a preset's name, the control endpoint's `{"preset": name}`, or
 * knobs (the knobs not given are 0).
 */
export type FaultsInput = FaultPreset | { preset: FaultPreset } | Partial<FaultConfig>;

/** The fault model `input` asks for; a RangeError, naming what is wrong, for anything else. */
export function resolveFaults(input: FaultsInput | undefined): FaultConfig {
  if (input === undefined) return { ...PRESETS.demo };
  // A request body is any JSON: only a name, or an object that is not an array, asks for faults.
  const isObject = typeof input === 'object' && input !== null && !Array.isArray(input);
  if (isObject && Object.hasOwn(input as object, 'preset')) {
    // A knob beside a preset would otherwise be ignored without a word.
    if (Object.keys(input).length > 1)
      throw new RangeError('a preset takes no knobs: send either {"preset": ...} or knobs');
    const { preset } = input as { preset: unknown };
    if (typeof preset !== 'string')
      throw new RangeError(`a fault preset is a name: use ${FAULT_PRESETS.join(', ')}`);
    input = preset as FaultPreset;
  } else if (!isObject && typeof input !== 'string') {
    throw new RangeError('faults are {"preset": name} or an object of knobs');
  }
  if (typeof input === 'string') {
    const preset = Object.hasOwn(PRESETS, input) ? PRESETS[input] : undefined;
    if (!preset)
      throw new RangeError(`unknown fault preset "${input}"; use ${FAULT_PRESETS.join(', ')}`);
    return { ...preset };
  }
  // A misspelt knob would otherwise be kept as a knob of its own while the real one is reset.
  for (const k of Object.keys(input)) {
    if (!Object.hasOwn(PRESETS.none, k))
      throw new RangeError(
        `unknown fault knob "${k}"; the knobs are ${Object.keys(PRESETS.none).join(', ')}`,
      );
  }
  const out = { ...PRESETS.none, ...input };
  for (const [k, v] of Object.entries(out)) {
    if (typeof v !== 'number' || !(v >= 0 && v <= 1))
      throw new RangeError(`fault ${k} must be a rate in [0, 1]`);
  }
  return out;
}

/** One random stream per knob, so changing one rate does not reshuffle the others. */
export class FaultDice {
  private readonly streams: Record<keyof FaultConfig, () => number>;
  constructor(seed: number) {
    const s = (name: string) => createRng(hash32(`${seed}:${name}`));
    this.streams = {
      duplicateRate: s('duplicate'),
      survivingCopyRate: s('surviving-copy'),
      reorderRate: s('reorder'),
      falseEmptyRate: s('false-empty'),
      shortPollSkipRate: s('short-poll-skip'),
    };
  }
  roll(knob: keyof FaultConfig, rate: number): boolean {
    if (rate <= 0) return false;
    return this.streams[knob]() < rate;
  }
}
