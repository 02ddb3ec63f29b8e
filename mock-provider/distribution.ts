import * as z from 'zod'
import { normal01, type Random } from './random.ts'

/**
 * A quantity that is either fixed or drawn per generation. Plain numbers mean "fixed"; objects name
 * a distribution. `min`/`max` clamp every draw (a normal can go negative; a rate cannot).
 */
const clamp = { min: z.number().optional(), max: z.number().optional() }

export const distributionSchema = z.union([
  z.number().nonnegative(),
  z.strictObject({ dist: z.literal('fixed'), value: z.number().nonnegative() }),
  z.strictObject({ dist: z.literal('uniform'), min: z.number().nonnegative(), max: z.number().nonnegative() }),
  z.strictObject({ dist: z.literal('normal'), mean: z.number(), stddev: z.number().nonnegative(), ...clamp }),
  z.strictObject({
    dist: z.literal('lognormal'),
    /** exp(mu): half the draws fall below it. */
    median: z.number().positive(),
    /** Standard deviation of the underlying normal; 0.5 gives a p95 of about 2.3x the median. */
    sigma: z.number().nonnegative(),
    ...clamp,
  }),
], {
  // zod's own message for a failed union is "Invalid input"; say what the accepted shapes are.
  error: (issue) =>
    issue.code === 'invalid_union'
      ? 'expected a number >= 0 or one of {dist: fixed, value}, {dist: uniform, min, max}, {dist: normal, mean, stddev, min?, max?}, {dist: lognormal, median, sigma, min?, max?}'
      : undefined,
})

export type Distribution = z.infer<typeof distributionSchema>

/**
 * Draws one value.
 * @example sample({ dist: 'uniform', min: 100, max: 200 }, createRandom(1)) // 100..200
 */
export function sample(distribution: Distribution, random: Random): number {
  if (typeof distribution === 'number') return distribution
  switch (distribution.dist) {
    case 'fixed':
      return distribution.value
    case 'uniform':
      return distribution.min + (distribution.max - distribution.min) * random()
    case 'normal':
      return clampTo(distribution.mean + distribution.stddev * normal01(random), distribution)
    case 'lognormal':
      return clampTo(distribution.median * Math.exp(distribution.sigma * normal01(random)), distribution)
  }
}

function clampTo(value: number, bounds: { min?: number | undefined; max?: number | undefined }): number {
  const low = Math.max(bounds.min ?? 0, 0)
  const high = bounds.max ?? Number.POSITIVE_INFINITY
  return Math.min(Math.max(value, low), high)
}
