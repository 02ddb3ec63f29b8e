import { describe, expect, it } from 'vitest'
import { usdToNano } from '../../src/cost/money.ts'
import { measureReport, resolveWhatIfInput, type WhatIfFlags } from '../../src/cost/whatif-input.ts'
import { renderWhatIfText } from '../../src/cost/whatif-text.ts'
import { projectWhatIf } from '../../src/cost/whatif.ts'
import type { WhatIfInput } from '../../src/cost/types.ts'
import { InputError } from '../../src/errors.ts'

const WORKED: WhatIfFlags = { requests: 1_000_000, stopRate: 1, avgOutputTokens: 500, stopAtTokens: 100, priceOut: 15 }
const project = (flags: WhatIfFlags) => projectWhatIf(resolveWhatIfInput(flags))

/** The projection's formulas in plain floating point, to compare against (toBeCloseTo). */
function expected(i: WhatIfInput) {
  const out = i.prices.outputPerMTok / 1e6
  const inp = i.prices.inputPerMTok / 1e6
  const fullSavings = i.requestsPerPeriod * i.stopRate * (i.avgOutputTokens - i.stopAtTokens) * out
  const baseline = i.requestsPerPeriod * (i.avgInputTokens * inp + i.avgOutputTokens * out)
  return { fullSavings, saved: fullSavings * i.propagationRate, baseline, billed: baseline - fullSavings * i.propagationRate }
}

describe('what-if from flags', () => {
  it('the worked example, exactly', () => {
    const r = project(WORKED)
    expect(r.input).toMatchObject({ requestsPerPeriod: 1_000_000, stopRate: 1, avgOutputTokens: 500, avgInputTokens: 0, stopAtTokens: 100, propagationRate: 1, period: 'month', prices: { inputPerMTok: 0, outputPerMTok: 15 } })
    expect([r.perResponseUsd, r.perStoppedResponseUsd, r.savedPerStopUsd, r.stopsPerPeriod, r.savedUsd, r.lostToLeaksUsd]).toEqual([0.0075, 0.0015, 0.006, 1_000_000, 6000, 0])
  })

  it('propagation 0.9 loses exactly 10% of the full savings', () => {
    const full = project(WORKED)
    const leaky = project({ ...WORKED, propagation: 0.9 })
    expect(leaky.lostToLeaksUsd).toBe(600)
    expect(leaky.savedUsd).toBe(5400)
    expect(usdToNano(leaky.lostToLeaksUsd) * 10n).toBe(usdToNano(full.savedUsd))
    expect(leaky.billedUsd).toBe(full.billedUsd + 600)
    // Also when the numbers are not round: saved + lost is the full savings to the nano-dollar.
    const odd = { requests: 777_777, stopRate: 0.37, avgOutputTokens: 512.3, stopAtTokens: 41.7, priceOut: 10 }
    const oddFull = project(odd)
    const oddLeaky = project({ ...odd, propagation: 0.9 })
    expect(usdToNano(oddLeaky.savedUsd) + usdToNano(oddLeaky.lostToLeaksUsd)).toBe(usdToNano(oddFull.savedUsd))
    expect(oddLeaky.lostToLeaksUsd).toBeCloseTo(oddFull.savedUsd * 0.1, 8)
  })

  it('agrees with the formulas for other inputs, input tokens included', () => {
    const r = project({ requests: 250_000, period: 'week', stopRate: 0.2, avgOutputTokens: 800, avgInputTokens: 1200, stopAtFraction: 0.25, propagation: 0.75, model: 'claude-sonnet-4-5' })
    const e = expected(r.input)
    expect(r.input.stopAtTokens).toBe(200)
    expect(r.input.prices).toEqual({ inputPerMTok: 3, outputPerMTok: 15 })
    expect(r.input.model).toBe('claude-sonnet-4-5')
    expect(r.perResponseUsd).toBeCloseTo((1200 * 3 + 800 * 15) / 1e6, 12)
    expect(r.perStoppedResponseUsd).toBeCloseTo((1200 * 3 + 200 * 15) / 1e6, 12)
    expect(r.savedPerStopUsd).toBeCloseTo((600 * 15) / 1e6, 12) // input is paid whatever happens
    expect(r.stopsPerPeriod).toBe(50_000)
    expect(r.baselineUsd).toBeCloseTo(e.baseline, 6)
    expect(r.savedUsd).toBeCloseTo(e.saved, 6)
    expect(r.billedUsd).toBeCloseTo(e.billed, 6)
    expect(r.lostToLeaksUsd).toBeCloseTo(e.fullSavings - e.saved, 6)
    expect(usdToNano(r.billedUsd) + usdToNano(r.savedUsd)).toBe(usdToNano(r.baselineUsd))
  })

  it('--stop-at-fraction is a share of the average output', () => {
    expect(project({ ...WORKED, stopAtTokens: undefined, stopAtFraction: 0.2 })).toEqual(project(WORKED))
  })

  it('--model takes the table price; --price-out overrides it', () => {
    expect(project({ ...WORKED, priceOut: undefined, model: 'gpt-4o' }).input.prices).toEqual({ inputPerMTok: 2.5, outputPerMTok: 10 })
    expect(project({ ...WORKED, model: 'gpt-4o' }).input.prices).toEqual({ inputPerMTok: 2.5, outputPerMTok: 15 })
    expect(project({ ...WORKED, priceOut: undefined, model: 'gpt-4o-2024-08-06' }).input.prices.outputPerMTok).toBe(10)
  })
})

describe('sensitivity', () => {
  const r = project({ requests: 100_000, stopRate: 0.3, avgOutputTokens: 640, stopAtTokens: 96, propagation: 0.8, priceOut: 10 })

  it('savings vs. where users stop: 0% to 100% of the average output, falling to 0; losses fall with them', () => {
    expect(r.byStopPoint.map((p) => p.stopAtFraction)).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1])
    expect(r.byStopPoint.map((p) => p.stopAtTokens)).toEqual([0, 64, 128, 192, 256, 320, 384, 448, 512, 576, 640])
    for (let k = 1; k < r.byStopPoint.length; k++) {
      expect(r.byStopPoint[k]!.savedUsd).toBeLessThan(r.byStopPoint[k - 1]!.savedUsd)
      expect(r.byStopPoint[k]!.lostToLeaksUsd).toBeLessThan(r.byStopPoint[k - 1]!.lostToLeaksUsd)
    }
    expect(r.byStopPoint.at(-1)).toMatchObject({ savedUsd: 0, lostToLeaksUsd: 0 })
    expect(r.byStopPoint[0]!.savedUsd).toBeCloseTo(100_000 * 0.3 * 640 * 10e-6 * 0.8, 6)
  })

  it('savings vs. propagation rate: rising, losses falling, their sum constant; includes the input\'s rate', () => {
    expect(r.byPropagationRate.map((p) => p.propagationRate)).toEqual([0, 0.5, 0.8, 0.9, 0.99, 1])
    const full = usdToNano(r.byPropagationRate.at(-1)!.savedUsd)
    for (let k = 1; k < r.byPropagationRate.length; k++) {
      expect(r.byPropagationRate[k]!.savedUsd).toBeGreaterThan(r.byPropagationRate[k - 1]!.savedUsd)
      expect(r.byPropagationRate[k]!.lostToLeaksUsd).toBeLessThan(r.byPropagationRate[k - 1]!.lostToLeaksUsd)
    }
    for (const p of r.byPropagationRate) expect(usdToNano(p.savedUsd) + usdToNano(p.lostToLeaksUsd)).toBe(full)
    expect(r.byPropagationRate[0]).toMatchObject({ savedUsd: 0 })
    expect(r.byPropagationRate.at(-1)).toMatchObject({ lostToLeaksUsd: 0 })
    const own = r.byPropagationRate.find((p) => p.propagationRate === 0.8)!
    expect(own).toEqual({ propagationRate: 0.8, savedUsd: r.savedUsd, lostToLeaksUsd: r.lostToLeaksUsd })
  })
})

describe('bad input: an InputError naming the flag and what it accepts', () => {
  const cases: [string, WhatIfFlags, RegExp][] = [
    ['stop rate above 1', { ...WORKED, stopRate: 1.5 }, /^--stop-rate: expected a share from 0 to 1, got 1\.5$/],
    ['negative stop rate', { ...WORKED, stopRate: -0.1 }, /^--stop-rate: /],
    ['propagation above 1', { ...WORKED, propagation: 2 }, /^--propagation: expected a share from 0 to 1/],
    ['fractional requests', { ...WORKED, requests: 10.5 }, /^--requests: expected an integer >= 1/],
    ['no requests', { ...WORKED, requests: undefined }, /^--requests: required/],
    ['no stop rate', { ...WORKED, stopRate: undefined }, /^--stop-rate: required.*--from-report/],
    ['no average output', { ...WORKED, avgOutputTokens: undefined }, /^--avg-output-tokens: required/],
    ['zero average output', { ...WORKED, avgOutputTokens: 0 }, /^--avg-output-tokens: expected a number of tokens > 0/],
    ['no stop point', { ...WORKED, stopAtTokens: undefined }, /^--stop-at-tokens or --stop-at-fraction: required/],
    ['both stop points', { ...WORKED, stopAtFraction: 0.2 }, /^--stop-at-tokens and --stop-at-fraction: give one of them/],
    ['stop point past the answer', { ...WORKED, stopAtTokens: 600 }, /^--stop-at-tokens: expected a number of tokens from 0 to the average output \(500\), got 600/],
    ['stop fraction above 1', { ...WORKED, stopAtTokens: undefined, stopAtFraction: 1.2 }, /^--stop-at-fraction: /],
    ['no price', { ...WORKED, priceOut: undefined }, /^--price-out: required: give --model <id> \(.*claude-sonnet-4-6.*\) or --price-out/],
    ['unknown model', { ...WORKED, priceOut: undefined, model: 'gpt-9' }, /^--model: no price for model "gpt-9"\. Known models: .*gpt-4o-mini.*--price-in <usd> --price-out <usd>/],
    ['too fine a price', { ...WORKED, priceOut: 0.0001 }, /^--price-out: at most 3 decimals/],
    ['negative price', { ...WORKED, priceIn: -1 }, /^--price-in: /],
    ['input tokens with no input price', { ...WORKED, avgInputTokens: 100 }, /^--price-in: required with --avg-input-tokens/],
    ['negative input tokens', { ...WORKED, avgInputTokens: -1 }, /^--avg-input-tokens: /],
    ['empty period', { ...WORKED, period: ' ' }, /^--period: /],
  ]
  it.each(cases)('%s', (_name, flags, message) => {
    expect(() => resolveWhatIfInput(flags)).toThrow(InputError)
    expect(() => resolveWhatIfInput(flags)).toThrow(message)
  })

  it('projectWhatIf itself refuses impossible input (library callers)', () => {
    const input = resolveWhatIfInput(WORKED)
    expect(() => projectWhatIf({ ...input, stopRate: 2 })).toThrow(/stopRate/)
    expect(() => projectWhatIf({ ...input, stopAtTokens: 501 })).toThrow(/stopAtTokens/)
  })
})

/** A report.json as a run writes it, reduced to what the projection reads. */
function reportFixture() {
  const streams = [
    { verdict: 'propagated', aborted: true, tokensReceived: 12, plannedOutputTokens: 300, generations: 1 },
    { verdict: 'propagated', aborted: true, tokensReceived: 30, plannedOutputTokens: 420, generations: 1 },
    { verdict: 'leaked', aborted: true, tokensReceived: 21, plannedOutputTokens: 250, generations: 1 },
    { verdict: 'completed', aborted: false, tokensReceived: 310, plannedOutputTokens: 310, generations: 1 },
    { verdict: 'completed', aborted: false, tokensReceived: 280, plannedOutputTokens: 280, generations: 1 },
    { verdict: 'no_upstream', aborted: true, tokensReceived: 0, plannedOutputTokens: 0, generations: 0 },
  ]
  const count = (v: string) => streams.filter((s) => s.verdict === v).length
  return {
    schemaVersion: 1,
    summary: {
      streams: streams.length,
      aborted: streams.filter((s) => s.aborted).length,
      propagated: count('propagated'),
      leaked: count('leaked'),
      cost: { currency: 'USD', billedUsd: 0.01, baselineUsd: 0.02, savedUsd: 0.01, leakedUsd: 0.001, prices: { 'gpt-4o': { inputPerMTok: 2.5, outputPerMTok: 10, from: 'table' } } as Record<string, { inputPerMTok: number; outputPerMTok: number; from: string }> },
    },
    streams,
  }
}

describe('what-if from a report', () => {
  const fixture = reportFixture()
  const reached = fixture.streams.filter((s) => s.generations > 0)
  const judged = fixture.streams.filter((s) => s.verdict === 'propagated' || s.verdict === 'leaked')
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length

  it('measures stop rate, average planned output, average stop point (tokens received), propagation and prices', () => {
    const m = measureReport(fixture, 'r.json')
    expect(m.stopRate).toBe(fixture.summary.aborted / fixture.summary.streams)
    expect(m.avgOutputTokens).toBe(mean(reached.map((s) => s.plannedOutputTokens)))
    expect(m.stopAtTokens).toBe(mean(judged.map((s) => s.tokensReceived)))
    expect(m.propagationRate).toBe(fixture.summary.propagated / (fixture.summary.propagated + fixture.summary.leaked))
    expect(m.model).toBe('gpt-4o')
    expect(m.prices).toEqual({ inputPerMTok: 2.5, outputPerMTok: 10 })
  })

  it('projects from the measured values, and says which were measured', () => {
    const r = projectWhatIf(resolveWhatIfInput({ requests: 1_000_000 }, measureReport(fixture, 'r.json')))
    const m = measureReport(fixture, 'r.json')
    expect(r.input).toMatchObject({ stopRate: m.stopRate, avgOutputTokens: m.avgOutputTokens, stopAtTokens: m.stopAtTokens, propagationRate: m.propagationRate, model: 'gpt-4o', fromReport: 'r.json' })
    expect(r.input.measured).toEqual(['stopRate', 'avgOutputTokens', 'stopAtTokens', 'propagationRate', 'prices'])
    const e = expected(r.input)
    expect(r.savedUsd).toBeCloseTo(e.saved, 6)
    expect(r.lostToLeaksUsd).toBeCloseTo(e.fullSavings - e.saved, 6)
  })

  it('flags override measured values one by one', () => {
    const r = resolveWhatIfInput({ requests: 10, stopRate: 0.1, propagation: 1, priceOut: 15 }, measureReport(fixture, 'r.json'))
    expect(r.stopRate).toBe(0.1)
    expect(r.propagationRate).toBe(1)
    expect(r.prices).toEqual({ inputPerMTok: 2.5, outputPerMTok: 15 })
    expect(r.measured).toEqual(['avgOutputTokens', 'stopAtTokens', 'prices'])
    expect(resolveWhatIfInput({ requests: 10, model: 'claude-haiku-4-5' }, measureReport(fixture, 'r.json')).prices).toEqual({ inputPerMTok: 1, outputPerMTok: 5 })
  })

  it('a report that priced several models needs --model or --price-out; one without cost too', () => {
    const several = reportFixture()
    several.summary.cost.prices = { ...several.summary.cost.prices, 'claude-sonnet-4-6': { inputPerMTok: 3, outputPerMTok: 15, from: 'table' } }
    expect(() => resolveWhatIfInput({ requests: 10 }, measureReport(several, 'r.json'))).toThrow(/--price-out: required.*several models: gpt-4o, claude-sonnet-4-6/)
    const unpriced = { ...reportFixture(), summary: { ...reportFixture().summary, cost: null } }
    expect(() => resolveWhatIfInput({ requests: 10 }, measureReport(unpriced, 'r.json'))).toThrow(/--price-out: required/)
  })

  it('a file that is not a report is an InputError naming --from-report', () => {
    for (const bad of [null, [], { schemaVersion: 2 }, { schemaVersion: 1 }, { schemaVersion: 1, summary: { streams: 1, aborted: 0, propagated: 0, leaked: 0 }, streams: [{}] }]) {
      expect(() => measureReport(bad, 'x.json')).toThrow(InputError)
      expect(() => measureReport(bad, 'x.json')).toThrow(/^--from-report: x\.json is not a cancelbench report\.json/)
    }
  })
})

describe('the text table', () => {
  it('shows the per-request figures, the period totals and both sensitivity views', () => {
    const text = renderWhatIfText(project({ ...WORKED, propagation: 0.9 }))
    const row = (label: string) => text.split('\n').find((l) => l.trimStart().startsWith(label))
    expect(row('full response')).toMatch(/\$0\.0075$/)
    expect(row('stopped at 100 tokens')).toMatch(/\$0\.0015$/)
    expect(row('saved per stop')).toMatch(/\$0\.006$/)
    expect(row('stops')).toMatch(/1,000,000$/)
    expect(row('saved by Stop')).toMatch(/\$5,400\.00$/)
    expect(row('lost to leaks')).toMatch(/\$600\.00$/)
    expect(text).toContain('1,000,000 stops a month x $0.006 saved per stop = $6,000.00 saved when every stop reaches the provider; at 90% propagation $5,400.00 saved and $600.00 lost to leaks.')
    expect(text).toContain('vs. where users stop')
    expect(text).toContain('vs. propagation rate')
    for (const line of text.split('\n')) expect(line).toBe(line.trimEnd())
  })
})
