import { describe, expect, it } from 'vitest'
import { distributionSchema, sample, type Distribution } from '../../mock-provider/distribution.ts'
import { ProviderOptionsError, resolveProviderOptions } from '../../mock-provider/options.ts'
import { createRandom } from '../../mock-provider/random.ts'

function draws(distribution: Distribution, n = 5000, seed = 7): number[] {
  const random = createRandom(seed)
  return Array.from({ length: n }, () => sample(distribution, random))
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

/** The message resolveProviderOptions throws for `timing.ttftMs: value`. */
function ttftError(value: unknown): string {
  try {
    resolveProviderOptions({ timing: { ttftMs: value } })
  } catch (error) {
    expect(error).toBeInstanceOf(ProviderOptionsError)
    return (error as Error).message
  }
  return expect.fail(`timing.ttftMs: ${JSON.stringify(value)} was accepted`)
}

describe('sample', () => {
  it('returns plain numbers and fixed values as they are', () => {
    const random = createRandom(1)
    expect(sample(250, random)).toBe(250)
    expect(sample(0, random)).toBe(0)
    expect(sample({ dist: 'fixed', value: 12.5 }, random)).toBe(12.5)
  })

  it('keeps uniform draws within [min, max] and spreads them over the range', () => {
    const values = draws({ dist: 'uniform', min: 100, max: 200 })
    for (const v of values) {
      expect(v).toBeGreaterThanOrEqual(100)
      expect(v).toBeLessThanOrEqual(200)
    }
    expect(Math.min(...values)).toBeLessThan(105)
    expect(Math.max(...values)).toBeGreaterThan(195)
    const mean = values.reduce((a, b) => a + b, 0) / values.length
    expect(mean).toBeGreaterThan(145)
    expect(mean).toBeLessThan(155)
  })

  it('never draws a negative normal, even with a mean near zero', () => {
    const values = draws({ dist: 'normal', mean: 1, stddev: 10 })
    for (const v of values) expect(v).toBeGreaterThanOrEqual(0)
    expect(values.filter((v) => v === 0).length).toBeGreaterThan(1000) // about half clamp to 0
  })

  it('clamps normal draws to min and max', () => {
    const values = draws({ dist: 'normal', mean: 50, stddev: 30, min: 20, max: 80 })
    for (const v of values) {
      expect(v).toBeGreaterThanOrEqual(20)
      expect(v).toBeLessThanOrEqual(80)
    }
    expect(values).toContain(20)
    expect(values).toContain(80)
    // A negative min still cannot make a draw negative.
    for (const v of draws({ dist: 'normal', mean: 0, stddev: 5, min: -10 }, 500)) expect(v).toBeGreaterThanOrEqual(0)
  })

  it('centres normal draws on the mean', () => {
    const values = draws({ dist: 'normal', mean: 200, stddev: 20 })
    expect(median(values)).toBeGreaterThan(195)
    expect(median(values)).toBeLessThan(205)
  })

  it('puts the lognormal median about where it says, with a right-skewed tail', () => {
    const values = draws({ dist: 'lognormal', median: 300, sigma: 0.5 }, 10_000)
    expect(median(values)).toBeGreaterThan(300 * 0.9)
    expect(median(values)).toBeLessThan(300 * 1.1)
    for (const v of values) expect(v).toBeGreaterThan(0)
    const sorted = [...values].sort((a, b) => a - b)
    const p95 = sorted[Math.floor(sorted.length * 0.95)]!
    // sigma 0.5: p95 = median * exp(1.645 * 0.5), about 2.3x the median.
    expect(p95 / 300).toBeGreaterThan(2)
    expect(p95 / 300).toBeLessThan(2.6)
  })

  it('clamps lognormal draws to max', () => {
    for (const v of draws({ dist: 'lognormal', median: 100, sigma: 2, max: 150 }, 1000)) expect(v).toBeLessThanOrEqual(150)
  })

  it('is deterministic for a given generator seed', () => {
    const d: Distribution = { dist: 'lognormal', median: 100, sigma: 1 }
    expect(draws(d, 100, 3)).toEqual(draws(d, 100, 3))
    expect(draws(d, 100, 3)).not.toEqual(draws(d, 100, 4))
  })
})

describe('distributionSchema', () => {
  it('accepts every documented shape', () => {
    for (const value of [
      0,
      200,
      { dist: 'fixed', value: 5 },
      { dist: 'uniform', min: 1, max: 2 },
      { dist: 'normal', mean: 100, stddev: 10 },
      { dist: 'normal', mean: 100, stddev: 10, min: 50, max: 150 },
      { dist: 'lognormal', median: 100, sigma: 0.5 },
      { dist: 'lognormal', median: 100, sigma: 0.5, max: 1000 },
    ]) {
      expect(distributionSchema.safeParse(value).success, JSON.stringify(value)).toBe(true)
    }
  })

  it('rejects bad shapes', () => {
    for (const value of [
      -1,
      '200',
      null,
      { dist: 'uniform', min: 1 },
      { dist: 'uniform', min: -1, max: 5 },
      { dist: 'fixed' },
      { dist: 'fixed', value: 1, extra: true },
      { dist: 'normal', mean: 1, stddev: -1 },
      { dist: 'lognormal', median: 0, sigma: 1 },
      { dist: 'poisson', lambda: 3 },
      { min: 1, max: 2 },
    ]) {
      expect(distributionSchema.safeParse(value).success, JSON.stringify(value)).toBe(false)
    }
  })

  it('explains a negative number', () => {
    const message = ttftError(-5)
    expect(message).toContain('timing.ttftMs')
    expect(message).toMatch(/>=\s*0/)
  })

  it('explains an unknown field on a distribution', () => {
    const message = ttftError({ dist: 'fixed', value: 1, extra: true })
    expect(message).toContain('timing.ttftMs')
    expect(message).toContain('extra')
  })

  it('names the missing field of a uniform distribution', () => {
    const message = ttftError({ dist: 'uniform', min: 1 })
    expect(message).toContain('timing.ttftMs')
    expect(message).toMatch(/\bmax\b/)
  })

  it('names the accepted distributions for an unknown dist', () => {
    const message = ttftError({ dist: 'poisson', lambda: 3 })
    expect(message).toContain('timing.ttftMs')
    for (const name of ['fixed', 'uniform', 'normal', 'lognormal']) expect(message).toContain(name)
  })
})
