import { describe, expect, it } from 'vitest'
import { resolveProviderOptions, type ProviderOptionsInput } from '../../mock-provider/options.ts'
import type { Overrides } from '../../mock-provider/overrides.ts'
import { planGeneration, tokenTimeMs, tokensGeneratedBy, type GenerationPlan, type PlanInput } from '../../mock-provider/plan.ts'

/** Every timing field drawn from a distribution, so each draw is visible in the plan. */
const DRAWN: ProviderOptionsInput = {
  seed: 42,
  timing: {
    ttftMs: { dist: 'uniform', min: 100, max: 900 },
    tokensPerSecond: { dist: 'uniform', min: 20, max: 200 },
    tokensPerEvent: { dist: 'uniform', min: 1, max: 8 },
    outputTokens: { dist: 'uniform', min: 100, max: 1000 },
  },
}

function plan(input: Partial<Omit<PlanInput, 'options'>> & { options?: ProviderOptionsInput } = {}): GenerationPlan {
  return planGeneration({
    options: resolveProviderOptions(input.options ?? DRAWN),
    correlationId: 'correlationId' in input ? input.correlationId : 'run1-1',
    sequence: input.sequence ?? 0,
    maxTokens: input.maxTokens,
    overrides: input.overrides ?? {},
  })
}

function fixedPlan(fields: Partial<GenerationPlan> = {}): GenerationPlan {
  return {
    seed: 1,
    ttftMs: 100,
    tokensPerSecond: 50,
    tokensPerEvent: 1,
    outputTokens: 10,
    naturalStop: 'completed',
    stopLagMs: 0,
    ignoreDisconnect: false,
    ...fields,
  }
}

describe('planGeneration: determinism', () => {
  it('gives the same plan for the same seed and correlation id', () => {
    expect(plan({ correlationId: 'run1-7' })).toEqual(plan({ correlationId: 'run1-7' }))
  })

  it('gives different plans for different correlation ids', () => {
    const a = plan({ correlationId: 'run1-1' })
    const b = plan({ correlationId: 'run1-2' })
    expect(a.seed).not.toBe(b.seed)
    expect(a.ttftMs).not.toBe(b.ttftMs)
    expect(a.tokensPerSecond).not.toBe(b.tokensPerSecond)
    expect(a.outputTokens).not.toBe(b.outputTokens)
  })

  it('gives different plans for different provider seeds', () => {
    const a = plan({ options: { ...DRAWN, seed: 1 } })
    const b = plan({ options: { ...DRAWN, seed: 2 } })
    expect(a.seed).not.toBe(b.seed)
    expect(a.ttftMs).not.toBe(b.ttftMs)
  })

  it('ignores arrival order when the request carries a correlation id', () => {
    const first = plan({ correlationId: 'run1-3', sequence: 0 })
    const later = plan({ correlationId: 'run1-3', sequence: 517 })
    expect(later).toEqual(first)
  })

  it('uses arrival order for requests without a correlation id', () => {
    const a = plan({ correlationId: undefined, sequence: 3 })
    expect(plan({ correlationId: undefined, sequence: 3 })).toEqual(a)
    expect(plan({ correlationId: undefined, sequence: 4 }).seed).not.toBe(a.seed)
  })

  it('draws integer token counts and positive rates within the distribution bounds', () => {
    for (let i = 0; i < 200; i++) {
      const p = plan({ correlationId: `id-${i}` })
      expect(p.ttftMs).toBeGreaterThanOrEqual(100)
      expect(p.ttftMs).toBeLessThanOrEqual(900)
      expect(p.tokensPerSecond).toBeGreaterThanOrEqual(20)
      expect(p.tokensPerSecond).toBeLessThanOrEqual(200)
      expect(Number.isInteger(p.tokensPerEvent)).toBe(true)
      expect(p.tokensPerEvent).toBeGreaterThanOrEqual(1)
      expect(Number.isInteger(p.outputTokens)).toBe(true)
      expect(p.outputTokens).toBeGreaterThanOrEqual(100)
      expect(p.outputTokens).toBeLessThanOrEqual(1000)
    }
  })
})

describe('planGeneration: max_tokens', () => {
  const options: ProviderOptionsInput = { timing: { outputTokens: 200 } }

  it('caps outputTokens at max_tokens and ends with max_tokens', () => {
    const p = plan({ options, maxTokens: 50 })
    expect(p.outputTokens).toBe(50)
    expect(p.naturalStop).toBe('max_tokens')
  })

  it('completes normally when the plan fits exactly or with room to spare', () => {
    expect(plan({ options, maxTokens: 200 })).toMatchObject({ outputTokens: 200, naturalStop: 'completed' })
    expect(plan({ options, maxTokens: 4096 })).toMatchObject({ outputTokens: 200, naturalStop: 'completed' })
    expect(plan({ options, maxTokens: undefined })).toMatchObject({ outputTokens: 200, naturalStop: 'completed' })
  })

  it('caps an outputTokens override too', () => {
    expect(plan({ options, maxTokens: 30, overrides: { outputTokens: 300 } })).toMatchObject({ outputTokens: 30, naturalStop: 'max_tokens' })
  })

  it('does not change the other draws', () => {
    const capped = plan({ maxTokens: 1 })
    const free = plan({ maxTokens: undefined })
    expect({ ...capped, outputTokens: 0, naturalStop: 'completed' }).toEqual({ ...free, outputTokens: 0, naturalStop: 'completed' })
  })
})

describe('planGeneration: overrides', () => {
  const base = plan()
  const cases: [keyof Overrides & keyof GenerationPlan, number][] = [
    ['ttftMs', 7],
    ['tokensPerSecond', 3.5],
    ['tokensPerEvent', 5],
    ['outputTokens', 12],
  ]

  for (const [key, value] of cases) {
    it(`${key} wins and leaves every other field as the un-overridden plan drew it`, () => {
      const overridden = plan({ overrides: { [key]: value } })
      expect(overridden[key]).toBe(value)
      expect({ ...overridden, [key]: base[key] }).toEqual(base)
    })
  }

  it('overrides the policy per request', () => {
    const options: ProviderOptionsInput = { ...DRAWN, policy: { stopLagMs: 100, ignoreDisconnect: false } }
    expect(plan({ options })).toMatchObject({ stopLagMs: 100, ignoreDisconnect: false })
    const overridden = plan({ options, overrides: { stopLagMs: 0, ignoreDisconnect: true } })
    expect(overridden).toMatchObject({ stopLagMs: 0, ignoreDisconnect: true })
    expect({ ...overridden, stopLagMs: 100, ignoreDisconnect: false }).toEqual(plan({ options }))
  })

  it('does not let an override change the seed', () => {
    expect(plan({ overrides: { outputTokens: 1, ttftMs: 0, fault: 'overloaded' } }).seed).toBe(base.seed)
  })
})

describe('planGeneration: faults', () => {
  it('sends a fault to the listed correlation ids only', () => {
    const options: ProviderOptionsInput = { faults: { rateLimited: { correlationIds: ['victim'] } } }
    expect(plan({ options, correlationId: 'victim' }).fault).toEqual({ kind: 'rate_limited', afterTokens: expect.any(Number) })
    expect(plan({ options, correlationId: 'bystander' }).fault).toBeUndefined()
    expect(plan({ options, correlationId: undefined, sequence: 0 }).fault).toBeUndefined()
  })

  it('applies probability 1 to everyone and probability 0 to no one', () => {
    for (let i = 0; i < 50; i++) {
      expect(plan({ options: { faults: { overloaded: { probability: 1 } } }, correlationId: `id-${i}` }).fault?.kind).toBe('overloaded')
      expect(plan({ options: { faults: { overloaded: { probability: 0 } } }, correlationId: `id-${i}` }).fault).toBeUndefined()
    }
  })

  it('selects by probability deterministically, close to the configured share', () => {
    const options: ProviderOptionsInput = { faults: { overloaded: { probability: 0.3 } } }
    const ids = Array.from({ length: 2000 }, (_, i) => `run-${i}`)
    const hit = (id: string) => plan({ options, correlationId: id }).fault?.kind === 'overloaded'
    const first = ids.filter(hit)
    expect(ids.filter(hit)).toEqual(first)
    expect(first.length).toBeGreaterThan(2000 * 0.25)
    expect(first.length).toBeLessThan(2000 * 0.35)
  })

  it('does not reshuffle one fault kind when another is enabled', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `run-${i}`)
    const kinds = (options: ProviderOptionsInput) => ids.map((id) => plan({ options, correlationId: id }).fault?.kind)
    const onlyOverloaded = kinds({ faults: { overloaded: { probability: 0.3 } } })
    const onlyRateLimited = kinds({ faults: { rateLimited: { probability: 0.2 } } })
    const both = kinds({ faults: { rateLimited: { probability: 0.2 }, overloaded: { probability: 0.3 } } })
    ids.forEach((_, i) => {
      // rate_limited is checked first, so it keeps exactly its own set; overloaded keeps its draws for the rest.
      if (onlyRateLimited[i] === 'rate_limited') expect(both[i]).toBe('rate_limited')
      else expect(both[i]).toBe(onlyOverloaded[i])
    })
  })

  it('places a mid-stream error at half the plan by default, else where configured or overridden, never past the end', () => {
    const timing = { outputTokens: 100 }
    const always = { probability: 1 }
    expect(plan({ options: { timing, faults: { midStreamError: always } } }).fault).toEqual({ kind: 'mid_stream_error', afterTokens: 50 })
    expect(plan({ options: { timing, faults: { midStreamError: { ...always, afterTokens: 10 } } } }).fault).toEqual({ kind: 'mid_stream_error', afterTokens: 10 })
    expect(plan({ options: { timing, faults: { midStreamError: { ...always, afterTokens: 10 } } }, overrides: { faultAfterTokens: 3 } }).fault).toEqual({
      kind: 'mid_stream_error',
      afterTokens: 3,
    })
    expect(plan({ options: { timing }, overrides: { fault: 'mid_stream_error', faultAfterTokens: 1000 } }).fault).toEqual({ kind: 'mid_stream_error', afterTokens: 100 })
    expect(plan({ options: { timing }, maxTokens: 20, overrides: { fault: 'mid_stream_error' } }).fault).toEqual({ kind: 'mid_stream_error', afterTokens: 10 })
  })

  it('lets a fault override win over the configured faults', () => {
    expect(plan({ options: { faults: { overloaded: { probability: 1 } } }, overrides: { fault: 'rate_limited' } }).fault?.kind).toBe('rate_limited')
  })
})

describe('tokenTimeMs / tokensGeneratedBy', () => {
  // ttft 100 ms, then one token every 20 ms: tokens at 100, 120, 140, ... 280.
  const p = fixedPlan({ ttftMs: 100, tokensPerSecond: 50, outputTokens: 10 })

  it('places token i at ttft + i / rate', () => {
    expect(tokenTimeMs(p, 0)).toBe(100)
    expect(tokenTimeMs(p, 1)).toBe(120)
    expect(tokenTimeMs(p, 9)).toBe(280)
  })

  it('counts nothing before the ttft and the first token at exactly the ttft', () => {
    expect(tokensGeneratedBy(p, 0)).toBe(0)
    expect(tokensGeneratedBy(p, 99.999)).toBe(0)
    expect(tokensGeneratedBy(p, 100)).toBe(1)
    expect(tokensGeneratedBy(p, 119.999)).toBe(1)
    expect(tokensGeneratedBy(p, 120)).toBe(2)
  })

  it('never counts past the plan or the given limit', () => {
    expect(tokensGeneratedBy(p, 280)).toBe(10)
    expect(tokensGeneratedBy(p, 1e9)).toBe(10)
    expect(tokensGeneratedBy(p, 1e9, 3)).toBe(3)
    expect(tokensGeneratedBy(p, 1e9, 0)).toBe(0)
    expect(tokensGeneratedBy(fixedPlan({ outputTokens: 0 }), 1e9)).toBe(0)
  })

  it('counts a token at exactly its own time despite float error, and not a hair before', () => {
    for (const tokensPerSecond of [3, 7, 13, 33.3, 50, 97, 123.456, 1000]) {
      for (const ttftMs of [0, 5, 123.4567]) {
        const q = fixedPlan({ ttftMs, tokensPerSecond, outputTokens: 1e6 })
        for (let i = 0; i < 5000; i++) {
          const t = tokenTimeMs(q, i)
          if (tokensGeneratedBy(q, t) !== i + 1) expect.fail(`token ${i} at ${t} ms (rate ${tokensPerSecond}, ttft ${ttftMs}) not counted`)
          if (tokensGeneratedBy(q, t - 1e-6) !== i) expect.fail(`token ${i} counted 1e-6 ms before its time (rate ${tokensPerSecond}, ttft ${ttftMs})`)
        }
      }
    }
  })

  it('counts a token at exactly its time when the elapsed time is computed from clock readings (including the first token)', () => {
    // How Generation calls it: elapsed = now - receivedAt, with now = receivedAt + tokenTimeMs(plan, i) on a clock
    // that reads whole milliseconds (the scheduler wakes at Math.ceil of the planned time; a fake clock reads it exactly).
    // Received at 1000.003 with ttft 1.997: the first token is due at clock 1002, but 1002 - 1000.003 < 1.997 in floats.
    const q = fixedPlan({ ttftMs: 1.997, tokensPerSecond: 1000, outputTokens: 100 })
    expect(1002 - 1000.003).toBeLessThan(1.997) // the float error this is about
    expect(tokensGeneratedBy(q, 1002 - 1000.003)).toBe(1)
    expect(tokensGeneratedBy(q, 1003 - 1000.003)).toBe(2)
    for (const receivedAt of [1234.567, 98765.4321, 1000.003]) {
      for (const ttftMs of [0.1, 1.997, 123.4567]) {
        const r = fixedPlan({ ttftMs, tokensPerSecond: 7, outputTokens: 1e6 })
        for (let i = 0; i < 1000; i++) {
          const elapsed = receivedAt + tokenTimeMs(r, i) - receivedAt
          if (tokensGeneratedBy(r, elapsed) !== i + 1) expect.fail(`token ${i} not counted at its time (received ${receivedAt}, ttft ${ttftMs})`)
        }
      }
    }
  })
})
