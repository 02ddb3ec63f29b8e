import { describe, expect, it } from 'vitest'
import type { LedgerRecord } from '../../mock-provider/ledger.ts'
import { runCommand } from '../../src/commands/run.ts'
import { renderDemo } from '../../src/commands/demo.ts'
import { decimal, divRound, formatNano, formatUsd, nanoPerToken, nanoToUsd, toNano, usdToNano } from '../../src/cost/money.ts'
import { knownModels, lookupPrice, PRICES, requirePrice, resolvePrices } from '../../src/cost/prices.ts'
import { costOfRun, withCost } from '../../src/cost/run-cost.ts'
import type { RunCost } from '../../src/cost/types.ts'
import { projectWhatIf } from '../../src/cost/whatif.ts'
import { InputError } from '../../src/errors.ts'
import { ExitCode } from '../../src/exit-codes.ts'
import { REPORT_SCHEMA_VERSION, type Report, type StreamResult, type Summary } from '../../src/report/report.ts'
import { renderFiles, renderSummary } from '../../src/report/summary-text.ts'
import { validateScenario } from '../../src/scenario/load.ts'

/** Nano-dollars of `tokens` at `usdPerMTok`, by plain integer arithmetic (exact in a double at these sizes). */
const nanoOf = (tokens: number, usdPerMTok: number) => tokens * Math.round(usdPerMTok * 1000)

describe('nano-dollar arithmetic', () => {
  it('a price in USD/MTok x 1000 is nano-dollars per token, exactly', () => {
    expect(nanoPerToken(15)).toBe(15_000n)
    expect(nanoPerToken(1.25)).toBe(1_250n)
    expect(nanoPerToken(0.075)).toBe(75n)
    expect(nanoPerToken(0.001)).toBe(1n)
    expect(nanoPerToken(0)).toBe(0n)
  })

  it('refuses a price that is not whole nano-dollars a token, or negative', () => {
    expect(() => nanoPerToken(0.0001)).toThrow(RangeError)
    expect(() => nanoPerToken(0.0375)).toThrow(RangeError)
    expect(() => nanoPerToken(-1)).toThrow(RangeError)
  })

  it('reads numbers as the decimals they are written as', () => {
    expect(decimal(0.1)).toEqual({ coef: 1n, scale: 1 })
    expect(decimal(287.35)).toEqual({ coef: 28735n, scale: 2 })
    expect(decimal(1.5e-7)).toEqual({ coef: 15n, scale: 8 })
    expect(decimal(2e21)).toEqual({ coef: 2_000_000_000_000_000_000_000n, scale: 0 })
    expect(decimal(-0.25)).toEqual({ coef: -25n, scale: 2 })
  })

  it('does not accumulate float error: ten $0.1/MTok tokens one by one are exactly $0.000001', () => {
    let float = 0
    for (let i = 0; i < 10; i++) float += 0.1 / 1e6
    expect(float).not.toBe(0.000001) // the trap
    let nano = 0n
    for (let i = 0; i < 10; i++) nano += nanoPerToken(0.1)
    expect(nanoToUsd(nano)).toBe(0.000001)
  })

  it('converts to USD once, to the nearest double, even past 2^53 nano-dollars', () => {
    expect(nanoToUsd(7_500_000n)).toBe(0.0075)
    expect(nanoToUsd(6_000_000_000_000n)).toBe(6000)
    expect(nanoToUsd(-6_000_000n)).toBe(-0.006)
    expect(nanoToUsd(1n)).toBe(1e-9)
    expect(nanoToUsd(12_345_678_901_234_567_891n)).toBe(Number('12345678901.234567891'))
  })

  it('USD numbers from nanoToUsd map back to the same nano-dollars', () => {
    let x = 1n
    for (let i = 0; i < 200; i++) {
      x = (x * 6_364_136_223_846_793_005n + 1_442_695_040_888_963_407n) % 4_000_000_000_000_000n // up to $4M
      expect(usdToNano(nanoToUsd(x))).toBe(x)
    }
  })

  it('rounds half away from zero', () => {
    expect(divRound(5n, 10n)).toBe(1n)
    expect(divRound(-5n, 10n)).toBe(-1n)
    expect(divRound(15n, 10n)).toBe(2n)
    expect(divRound(-15n, 10n)).toBe(-2n)
    expect(divRound(14n, 10n)).toBe(1n)
    expect(divRound(-14n, 10n)).toBe(-1n)
    expect(toNano({ coef: 5n, scale: 1 })).toBe(1n) // 0.5 nano -> 1
    expect(toNano({ coef: -25n, scale: 1 })).toBe(-3n)
  })
})

describe('display rounding (formatUsd)', () => {
  it('$1 and more: cents with thousands separators, half away from zero on the exact amount', () => {
    expect(formatUsd(6000)).toBe('$6,000.00')
    expect(formatUsd(1)).toBe('$1.00')
    expect(formatUsd(1234567.895)).toBe('$1,234,567.90')
    // 2.675 and 1.005 are stored as 2.67499.. and 1.00499.. in binary: toFixed(2) gets them wrong.
    expect((2.675).toFixed(2)).toBe('2.67')
    expect(formatUsd(2.675)).toBe('$2.68')
    expect(formatUsd(1.005)).toBe('$1.01')
    expect(formatUsd(-1.005)).toBe('-$1.01')
    expect(formatNano(12_345_678_901_234_567_890n)).toBe('$12,345,678,901.23')
  })

  it('under $1: 4 significant digits, trailing zeros dropped down to 2 decimals', () => {
    expect(formatUsd(0.0075)).toBe('$0.0075')
    expect(formatUsd(0.0015)).toBe('$0.0015')
    expect(formatUsd(0.006)).toBe('$0.006')
    expect(formatUsd(0.5)).toBe('$0.50')
    expect(formatUsd(0.0042165)).toBe('$0.004217')
    expect(formatUsd(0.00012345)).toBe('$0.0001235') // half away from zero at the 4th digit
    expect(formatUsd(-0.00012345)).toBe('-$0.0001235')
    expect(formatUsd(0.9999)).toBe('$0.9999')
    expect(formatUsd(0.99996)).toBe('$1.00')
  })

  it('never shows a non-zero amount as zero', () => {
    expect(formatUsd(0.000045)).toBe('$0.000045')
    expect(formatUsd(1e-9)).toBe('$0.000000001')
    expect(formatUsd(0)).toBe('$0.00')
  })
})

describe('the worked example: 1M stops a month, 500-token answers stopped at 100, $15/MTok output', () => {
  const result = projectWhatIf({
    requestsPerPeriod: 1_000_000,
    stopRate: 1,
    avgOutputTokens: 500,
    avgInputTokens: 0,
    stopAtTokens: 100,
    propagationRate: 1,
    prices: { inputPerMTok: 0, outputPerMTok: 15 },
    period: 'month',
  })

  it('is exact', () => {
    expect(result.perResponseUsd).toBe(0.0075)
    expect(result.perStoppedResponseUsd).toBe(0.0015)
    expect(result.savedPerStopUsd).toBe(0.006)
    expect(result.stopsPerPeriod).toBe(1_000_000)
    expect(result.savedUsd).toBe(6000)
    expect(result.baselineUsd).toBe(7500)
    expect(result.billedUsd).toBe(1500)
    expect(result.lostToLeaksUsd).toBe(0)
  })

  it('shows to the cent', () => {
    expect([result.perResponseUsd, result.perStoppedResponseUsd, result.savedPerStopUsd, result.savedUsd].map(formatUsd)).toEqual(['$0.0075', '$0.0015', '$0.006', '$6,000.00'])
  })
})

describe('price table', () => {
  it('every entry has a provider, a pricing page, a check date, and prices in whole nano-dollars a token', () => {
    expect(knownModels().length).toBeGreaterThan(5)
    for (const [model, entry] of Object.entries(PRICES)) {
      expect(['anthropic', 'openai'], model).toContain(entry.provider)
      expect(entry.source, model).toMatch(/^https:\/\/[^ ]+$/)
      expect(entry.checkedAt, model).toMatch(/^\d{4}-\d{2}-\d{2}$/)
      expect(Number.isNaN(Date.parse(entry.checkedAt)), model).toBe(false)
      for (const price of [entry.inputPerMTok, entry.outputPerMTok, entry.cacheReadPerMTok, entry.cacheWritePerMTok]) {
        if (price !== undefined) expect(() => nanoPerToken(price), model).not.toThrow()
      }
    }
  })

  it('holds the published prices', () => {
    const io = (model: string) => [PRICES[model]?.inputPerMTok, PRICES[model]?.outputPerMTok]
    for (const m of ['claude-opus-4-1', 'claude-opus-4']) expect(io(m), m).toEqual([15, 75])
    expect(io('claude-opus-4-5')).toEqual([5, 25])
    for (const m of ['claude-sonnet-4-6', 'claude-sonnet-4-5', 'claude-sonnet-4']) expect(io(m), m).toEqual([3, 15])
    expect(io('claude-haiku-4-5')).toEqual([1, 5])
    expect(io('gpt-5')).toEqual([1.25, 10])
    expect(io('gpt-5-mini')).toEqual([0.25, 2])
    expect(io('gpt-4.1')).toEqual([2, 8])
    expect(io('gpt-4o')).toEqual([2.5, 10])
    expect(io('gpt-4o-mini')).toEqual([0.15, 0.6])
  })

  it('cache prices follow the providers\' multipliers (Anthropic write 1.25x / read 0.1x; OpenAI cached input 0.1x / 0.25x / 0.5x)', () => {
    const openaiRead: Record<string, bigint> = { 'gpt-5': 10n, 'gpt-5-mini': 10n, 'gpt-4.1': 25n, 'gpt-4o': 50n, 'gpt-4o-mini': 50n } // percent
    for (const [model, e] of Object.entries(PRICES)) {
      const input = nanoPerToken(e.inputPerMTok)
      if (e.provider === 'anthropic') {
        expect(nanoPerToken(e.cacheWritePerMTok!) * 100n, model).toBe(input * 125n)
        expect(nanoPerToken(e.cacheReadPerMTok!) * 100n, model).toBe(input * 10n)
      } else {
        expect(openaiRead[model], `${model}: add its cached-input multiplier to this test`).toBeDefined()
        expect(nanoPerToken(e.cacheReadPerMTok!) * 100n, model).toBe(input * openaiRead[model]!)
        expect(e.cacheWritePerMTok, model).toBeUndefined()
      }
    }
  })

  it('finds exact ids and dated snapshots, the longest id first', () => {
    expect(lookupPrice('claude-sonnet-4-5')?.id).toBe('claude-sonnet-4-5')
    expect(lookupPrice('claude-sonnet-4-5-20250929')?.id).toBe('claude-sonnet-4-5')
    expect(lookupPrice('claude-opus-4-1-20250805')?.id).toBe('claude-opus-4-1')
    expect(lookupPrice('claude-opus-4-20250514')?.id).toBe('claude-opus-4')
    expect(lookupPrice('claude-sonnet-4-20250514')?.entry.outputPerMTok).toBe(15)
    expect(lookupPrice('gpt-4o-mini-2024-07-18')?.id).toBe('gpt-4o-mini')
    expect(lookupPrice('gpt-4o-2024-08-06')?.id).toBe('gpt-4o')
    expect(lookupPrice('gpt-5-2025-08-07')?.id).toBe('gpt-5')
  })

  it('does not give a sibling model\'s price to a model it does not know', () => {
    expect(lookupPrice('gpt-5-nano')).toBeUndefined() // not gpt-5
    expect(lookupPrice('gpt-4.1-mini')).toBeUndefined() // not gpt-4.1
    expect(lookupPrice('claude-opus-4-9')).toBeUndefined() // not claude-opus-4
    expect(lookupPrice('gpt-9')).toBeUndefined()
  })

  it('an unknown model is an InputError (exit 2) naming it, the known models and how to price it', () => {
    let error: unknown
    try {
      requirePrice('gpt-9', '--price-in/--price-out')
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(InputError)
    expect((error as InputError).exitCode).toBe(ExitCode.InvalidInput)
    const message = (error as Error).message
    expect(message).toContain('"gpt-9"')
    for (const model of knownModels()) expect(message).toContain(model)
    expect(message).toContain('--price-in/--price-out')
  })
})

describe('price overrides: flag > scenario per model > scenario flat > table', () => {
  const model = 'claude-sonnet-4-6'

  it('the table, with its cache prices', () => {
    expect(resolvePrices(model)).toEqual({ inputPerMTok: 3, outputPerMTok: 15, cacheReadPerMTok: 0.3, cacheWritePerMTok: 3.75, from: 'table' })
  })

  it('the scenario\'s flat pair over the table, field by field', () => {
    expect(resolvePrices(model, { scenario: { priceOutPerMTok: 20 } })).toEqual({ inputPerMTok: 3, outputPerMTok: 20, from: 'scenario' })
  })

  it('the scenario\'s per-model prices over its flat pair', () => {
    const scenario = { priceInPerMTok: 9, priceOutPerMTok: 20, prices: { [model]: { inputPerMTok: 1, outputPerMTok: 2 } } }
    expect(resolvePrices(model, { scenario })).toMatchObject({ inputPerMTok: 1, outputPerMTok: 2, from: 'scenario' })
    expect(resolvePrices(`${model}-20260101`, { scenario })).toMatchObject({ inputPerMTok: 1, outputPerMTok: 2 })
    expect(resolvePrices('claude-haiku-4-5', { scenario })).toMatchObject({ inputPerMTok: 9, outputPerMTok: 20 })
  })

  it('flags over everything', () => {
    const scenario = { priceOutPerMTok: 20, prices: { [model]: { inputPerMTok: 1, outputPerMTok: 2 } } }
    expect(resolvePrices(model, { scenario, flags: { outputPerMTok: 30 } })).toEqual({ inputPerMTok: 1, outputPerMTok: 30, from: 'flag' })
    expect(resolvePrices(model, { flags: { inputPerMTok: 0.5, outputPerMTok: 4 } })).toEqual({ inputPerMTok: 0.5, outputPerMTok: 4, from: 'flag' })
  })

  it('an unknown model is priced only when both prices are given somewhere', () => {
    expect(resolvePrices('my-finetune')).toBeNull()
    expect(resolvePrices('my-finetune', { flags: { outputPerMTok: 4 } })).toBeNull()
    expect(resolvePrices('my-finetune', { flags: { outputPerMTok: 4 }, scenario: { priceInPerMTok: 1 } })).toEqual({ inputPerMTok: 1, outputPerMTok: 4, from: 'flag' })
  })

  it('the scenario schema takes a cost section and refuses prices finer than $0.001/MTok', () => {
    const target = { url: 'http://127.0.0.1:3000' }
    const ok = validateScenario({ target, cost: { priceInPerMTok: 1.5, priceOutPerMTok: 7.125, prices: { 'my-model': { inputPerMTok: 1, outputPerMTok: 2 } } } }, '')
    expect(ok.errors).toEqual([])
    expect(ok.value?.scenario.cost?.prices?.['my-model']).toEqual({ inputPerMTok: 1, outputPerMTok: 2 })
    const fine = validateScenario({ target, cost: { priceOutPerMTok: 0.0001 } }, '')
    expect(fine.errors.join('\n')).toMatch(/cost\.priceOutPerMTok: .*3 decimals/)
    const negative = validateScenario({ target, cost: { prices: { m: { inputPerMTok: -1, outputPerMTok: 2 } } } }, '')
    expect(negative.errors.join('\n')).toMatch(/cost\.prices\.m\.inputPerMTok: .*>= 0/)
    const typo = validateScenario({ target, cost: { priceOut: 3 } }, '')
    expect(typo.errors.join('\n')).toContain('cost.priceOut: unknown field')
  })

  it('run --price-in/--price-out are checked before anything runs', async () => {
    const io = { out: () => {}, err: () => {}, signal: new AbortController().signal }
    const file = new URL('../../scenarios/node-sse-good.yaml', import.meta.url).pathname
    await expect(runCommand(file, { priceOut: 0.0001, dryRun: true }, io)).rejects.toThrow(/--price-out: at most 3 decimals/)
    await expect(runCommand(file, { priceIn: -2, dryRun: true }, io)).rejects.toThrow(InputError)
    await expect(runCommand(file, { priceIn: 1, priceOut: 2, dryRun: true }, io)).resolves.toBe(ExitCode.Ok)
  })
})

/** A ledger record with the fields cost needs; the rest are placeholders. */
function record(fields: Partial<LedgerRecord> & Pick<LedgerRecord, 'correlationId' | 'model' | 'inputTokens' | 'plannedOutputTokens' | 'billedOutputTokens'>): LedgerRecord {
  return {
    id: `msg_${Math.random()}`,
    seq: 0,
    api: 'anthropic',
    stream: true,
    seed: 1,
    emittedOutputTokens: fields.billedOutputTokens,
    receivedAtMs: 0,
    firstTokenAtMs: 10,
    lastTokenAtMs: 100,
    disconnectObservedAtMs: null,
    stoppedAtMs: 100,
    stopReason: 'completed',
    plan: { ttftMs: 10, tokensPerSecond: 100, tokensPerEvent: 1, stopLagMs: 0, ignoreDisconnect: false, fault: null },
    error: null,
    clockEpochMs: 0,
    ...fields,
  }
}

function stream(id: string, leakedTokens: number | null): StreamResult {
  return { id, leakedTokens, verdict: leakedTokens ? 'leaked' : 'completed' } as StreamResult
}

describe('cost of a run', () => {
  // Three streams: one stopped in time (sonnet), one leaked to the end (gpt-4o), one that never reached the
  // provider, and one whose first call was refused (rate limited) and retried.
  const records = [
    record({ correlationId: 'r-0', model: 'claude-sonnet-4-6', inputTokens: 100, plannedOutputTokens: 400, billedOutputTokens: 18, stopReason: 'client_disconnected' }),
    record({ correlationId: 'r-1', model: 'gpt-4o', inputTokens: 50, plannedOutputTokens: 300, billedOutputTokens: 300 }),
    record({ correlationId: 'r-3', seq: 1, model: 'claude-haiku-4-5', inputTokens: 40, plannedOutputTokens: 200, billedOutputTokens: 0, stopReason: 'error', firstTokenAtMs: null, lastTokenAtMs: null }),
    record({ correlationId: 'r-3', seq: 2, model: 'claude-haiku-4-5', inputTokens: 40, plannedOutputTokens: 200, billedOutputTokens: 200 }),
    record({ correlationId: 'other-run', model: 'gpt-4o', inputTokens: 999, plannedOutputTokens: 999, billedOutputTokens: 999 }),
  ]
  const streams = [stream('r-0', 0), stream('r-1', 280), stream('r-2', null), stream('r-3', null)]
  const result = costOfRun({ streams, records, priceOf: (m) => resolvePrices(m) })

  const sonnet = { billed: nanoOf(100, 3) + nanoOf(18, 15), baseline: nanoOf(100, 3) + nanoOf(400, 15) }
  const gpt = { billed: nanoOf(50, 2.5) + nanoOf(300, 10), baseline: nanoOf(50, 2.5) + nanoOf(300, 10), leaked: nanoOf(280, 10) }
  const haiku = { billed: nanoOf(40, 1) + nanoOf(200, 5), baseline: nanoOf(40, 1) + nanoOf(200, 5) } // the refused call costs nothing

  it('per stream: billed, baseline, saved = baseline - billed, leaked', () => {
    expect(result.streams[0]).toEqual({ billedUsd: sonnet.billed / 1e9, baselineUsd: sonnet.baseline / 1e9, savedUsd: (sonnet.baseline - sonnet.billed) / 1e9, leakedUsd: 0 })
    expect(result.streams[1]).toEqual({ billedUsd: gpt.billed / 1e9, baselineUsd: gpt.baseline / 1e9, savedUsd: 0, leakedUsd: gpt.leaked / 1e9 })
    expect(result.streams[2]).toEqual({ billedUsd: 0, baselineUsd: 0, savedUsd: 0, leakedUsd: 0 })
    expect(result.streams[3]).toEqual({ billedUsd: haiku.billed / 1e9, baselineUsd: haiku.baseline / 1e9, savedUsd: 0, leakedUsd: 0 })
  })

  it('in total: the exact sum of the streams, with the prices used', () => {
    const total = result.total!
    expect(total.currency).toBe('USD')
    expect(total.billedUsd).toBe((sonnet.billed + gpt.billed + haiku.billed) / 1e9)
    expect(total.baselineUsd).toBe((sonnet.baseline + gpt.baseline + haiku.baseline) / 1e9)
    expect(total.savedUsd).toBe((sonnet.baseline - sonnet.billed) / 1e9)
    expect(total.leakedUsd).toBe(gpt.leaked / 1e9)
    expect(Object.keys(total.prices)).toEqual(['claude-haiku-4-5', 'claude-sonnet-4-6', 'gpt-4o'])
    expect(total.prices['gpt-4o']).toMatchObject({ inputPerMTok: 2.5, outputPerMTok: 10, from: 'table' })
    expect(result.unpricedModels).toEqual([])
  })

  it('prices leaked tokens at the output price of the stream\'s latest generation', () => {
    const mixed = [
      record({ correlationId: 'm', seq: 1, model: 'claude-haiku-4-5', inputTokens: 0, plannedOutputTokens: 10, billedOutputTokens: 10 }),
      record({ correlationId: 'm', seq: 2, model: 'claude-opus-4-1', inputTokens: 0, plannedOutputTokens: 10, billedOutputTokens: 10 }),
    ]
    expect(costOfRun({ streams: [stream('m', 7)], records: mixed, priceOf: (m) => resolvePrices(m) }).streams[0]!.leakedUsd).toBe(nanoOf(7, 75) / 1e9)
  })

  it('a model without a price: that stream and the total are null, the model is named', () => {
    const unknown = [...records, record({ correlationId: 'r-2', model: 'my-finetune', inputTokens: 1, plannedOutputTokens: 1, billedOutputTokens: 1 })]
    const partial = costOfRun({ streams, records: unknown, priceOf: (m) => resolvePrices(m) })
    expect(partial.streams[2]).toBeNull()
    expect(partial.streams[0]).toEqual(result.streams[0])
    expect(partial.total).toBeNull()
    expect(partial.unpricedModels).toEqual(['my-finetune'])
  })

  it('withCost adds streams[].cost and summary.cost, and a hint that says how to price an unknown model', () => {
    const summary = { streams: 4 } as Summary
    const priced = withCost({ streams, summary }, records, { scenario: { cost: { priceOutPerMTok: 20 } }, priceFlags: { inputPerMTok: 1 } })
    expect(priced.hints).toEqual([])
    expect(priced.summary.streams).toBe(4)
    expect(priced.summary.cost!.prices['gpt-4o']).toEqual({ inputPerMTok: 1, outputPerMTok: 20, from: 'flag' })
    expect(priced.streams[0]!.cost!.billedUsd).toBe((nanoOf(100, 1) + nanoOf(18, 20)) / 1e9)
    expect(priced.streams.map((s) => s.id)).toEqual(streams.map((s) => s.id))

    const unknown = withCost({ streams, summary }, [record({ correlationId: 'r-0', model: 'my-finetune', inputTokens: 1, plannedOutputTokens: 1, billedOutputTokens: 1 })], { scenario: {} })
    expect(unknown.summary.cost).toBeNull()
    expect(unknown.streams[0]!.cost).toBeNull()
    expect(unknown.streams[1]!.cost).toEqual({ billedUsd: 0, baselineUsd: 0, savedUsd: 0, leakedUsd: 0 })
    expect(unknown.hints).toHaveLength(1)
    expect(unknown.hints[0]).toContain('"my-finetune"')
    expect(unknown.hints[0]).toContain('--price-in')
    expect(unknown.hints[0]).toContain('cost: { prices:')
  })
})

describe('cost in the terminal', () => {
  const cost: RunCost = {
    currency: 'USD',
    billedUsd: 0.0912,
    baselineUsd: 0.1834,
    savedUsd: 0.0922,
    leakedUsd: 0.0004,
    prices: { 'claude-sonnet-4-6': { inputPerMTok: 3, outputPerMTok: 15, from: 'table' } },
  }
  const report = (summaryCost: RunCost | null | undefined): Report => ({
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'cancelbench', version: '0.1.0' },
    scenario: { name: 's', file: '', seed: 1, runId: 'r' },
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 1000,
    partial: false,
    partialReason: null,
    target: { url: 'http://127.0.0.1:1', command: null },
    provider: { mode: 'embedded', url: 'http://127.0.0.1:2', clockOffsetMs: 0, clockOffsetUncertaintyMs: 0 },
    graceMs: 500,
    summary: {
      streams: 2, aborted: 1, propagated: 1, leaked: 0, completed: 1, noUpstream: 0, errors: 0, interrupted: 0, propagationRate: 1,
      propagationMs: { p50: 1, p95: 1, p99: 1, max: 1 }, leakedTokens: { total: 0, p50: 0, p95: 0, max: 0 }, maxIdleGapMs: 10,
      billedOutputTokens: 10, plannedOutputTokens: 20, ...(summaryCost === undefined ? {} : { cost: summaryCost }),
    },
    thresholds: [],
    streams: [],
    hints: [],
  })

  it('the summary has a cost line with billed, baseline, saved, leaked and the prices', () => {
    const line = renderSummary(report(cost)).split('\n').find((l) => l.trim().startsWith('cost'))
    expect(line).toBe('  cost          billed $0.0912  baseline $0.1834  saved $0.0922  leaked $0.0004   (claude-sonnet-4-6 $3/$15 per MTok in/out)')
  })

  it('n/a when a model had no price; no line for reports written before costs', () => {
    expect(renderSummary(report(null))).toMatch(/\n {2}cost {10}n\/a/)
    expect(renderSummary(report(undefined))).not.toMatch(/^\s+cost/m)
  })

  it('the demo has a cost row per side', () => {
    const text = renderDemo([
      { name: 'sse-good', label: 'passes the cancel on', report: report(cost) },
      { name: 'sse-leaky', label: 'never cancels', report: report({ ...cost, billedUsd: 0.1834, savedUsd: 0, leakedUsd: 0.0922 }) },
    ])
    const row = text.split('\n').find((l) => l.startsWith('cost'))!
    expect(row).toMatch(/^cost billed \/ if never stopped \/ leaked\s+\$0\.0912 \/ \$0\.1834 \/ \$0\.0004\s+\$0\.1834 \/ \$0\.1834 \/ \$0\.0922$/)
  })

  it('the run lists the files it wrote', () => {
    const text = renderFiles('/tmp/run', ['report.json', 'ledger.jsonl', 'target.stdout.log', { path: '/tmp/run/report.md', what: 'Markdown' }])
    const lines = text.split('\n')
    expect(lines[0]).toBe('Files:')
    expect(lines[1]).toMatch(/^ {2}\/tmp\/run\/report\.json\s+the result/)
    expect(lines[2]).toMatch(/^ {2}\/tmp\/run\/ledger\.jsonl\s+the provider's ledger/)
    expect(lines[3]).toMatch(/^ {2}\/tmp\/run\/target\.stdout\.log\s+the target's standard output/)
    expect(lines[4]).toMatch(/^ {2}\/tmp\/run\/report\.md\s+Markdown$/)
    expect(lines[1]!.indexOf('the result')).toBe(lines[3]!.indexOf("the target's"))
    expect(lines[4]!.indexOf('Markdown')).toBe(lines[3]!.indexOf("the target's"))
  })
})
