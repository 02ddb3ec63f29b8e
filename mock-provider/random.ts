/**
 * Seeded randomness. Every generation gets its own generator derived from the provider seed and the
 * request's correlation id (or its arrival number when it has none), so a stream's plan does not depend on
 * how many other streams happened to be running: the same seed and ids give the same plans under any load.
 */

/** FNV-1a over a string, 32 bit. Used only to derive seeds, not for anything adversarial. */
export function hash32(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** Mixes two 32-bit integers into one (murmur3 finaliser); used for random access into word streams. */
export function mix32(a: number, b: number): number {
  let h = (a ^ Math.imul(b, 0x9e3779b1)) >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

export type Random = () => number

/** mulberry32: small, fast, and good enough for timing jitter; returns floats in [0, 1). */
export function createRandom(seed: number): Random {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Standard normal draw (Box-Muller). */
export function normal01(random: Random): number {
  // 1 - u keeps the logarithm's argument in (0, 1].
  const u = 1 - random()
  const v = random()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}
