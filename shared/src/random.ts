/**
 * Seeded randomness. Every random choice in the project (fault injection, load shapes) comes
 * from a seed that is printed, so a run can be repeated exactly.
 */

/** A 32-bit FNV-1a hash of a string: stable across runs and platforms. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a small, fast PRNG with a 32-bit state; returns a function yielding [0, 1). */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniform number in [0, 1) decided by the seed and a key alone (e.g. an order id). */
export function keyedUniform(seed: number | string, key: string): number {
  return createRng(hash32(`${seed}:${key}`))();
}

/** A random 32-bit seed for when the user gives none (print it!). */
export function freshSeed(): number {
  return Math.floor(Math.random() * 0xffffffff) >>> 0;
}
