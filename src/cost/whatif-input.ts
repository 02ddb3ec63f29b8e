import { InputError } from '../errors.ts'
import { decimal, mul, toNumber } from './money.ts'
import { checkPriceFlag, knownModels, lookupPrice, unknownModelMessage } from './prices.ts'
import type { ModelPrices, WhatIfInput } from './types.ts'

/** `cancelbench whatif` flags. Numbers are per period; prices USD per million tokens. */
export interface WhatIfFlags {
  requests?: number
  period?: string
  stopRate?: number
  avgOutputTokens?: number
  avgInputTokens?: number
  stopAtTokens?: number
  stopAtFraction?: number
  propagation?: number
  model?: string
  priceIn?: number
  priceOut?: number
  /** A run's report.json, or the run directory holding it. */
  fromReport?: string
  json?: boolean
  out?: string
}

/** Every what-if default, in one place. */
export const WHATIF_DEFAULTS = { period: 'month', avgInputTokens: 0, propagationRate: 1 } as const

/** What a run's report.json says about the traffic it ran (null: nothing to measure it from). */
export interface Measured {
  file: string
  /** aborted / streams. */
  stopRate: number | null
  /** Mean planned output tokens of the streams that reached the provider. */
  avgOutputTokens: number | null
  /** Mean tokens the client had received when it aborted, over aborted streams that reached the provider. */
  stopAtTokens: number | null
  /** propagated / (propagated + leaked), unrounded. */
  propagationRate: number | null
  /** The prices in summary.cost when it priced exactly one model. */
  model: string | null
  prices: ModelPrices | null
  /** Every model summary.cost priced. */
  models: string[]
}

interface ReportLike {
  schemaVersion: number
  summary: { streams: number; aborted: number; propagated: number; leaked: number; cost?: { prices?: Record<string, ModelPrices> } | null }
  streams: { verdict: string; tokensReceived: number; plannedOutputTokens: number; generations: number }[]
}

/**
 * Measures a run from its parsed report.json. Pure. InputError (naming --from-report) when it is not a
 * cancelbench report of schema version 1.
 *
 * The stop point is what the user had seen (tokensReceived at the abort), the same quantity as
 * --stop-at-tokens, not what the provider billed (that adds the tokens in flight and any leak, which the
 * projection models separately through the propagation rate).
 */
export function measureReport(report: unknown, file: string): Measured {
  const problem = reportProblem(report)
  if (problem) throw new InputError(`--from-report: ${file} is not a cancelbench report.json (schema version 1): ${problem}`)
  const { summary, streams } = report as ReportLike
  const mean = (values: number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : null)
  const priced = Object.entries(summary.cost?.prices ?? {})
  const [only] = priced
  return {
    file,
    stopRate: summary.streams > 0 ? summary.aborted / summary.streams : null,
    avgOutputTokens: mean(streams.filter((s) => s.generations > 0).map((s) => s.plannedOutputTokens)),
    stopAtTokens: mean(streams.filter((s) => s.verdict === 'propagated' || s.verdict === 'leaked').map((s) => s.tokensReceived)),
    propagationRate: summary.propagated + summary.leaked > 0 ? summary.propagated / (summary.propagated + summary.leaked) : null,
    model: priced.length === 1 ? only![0] : null,
    prices: priced.length === 1 ? { inputPerMTok: only![1].inputPerMTok, outputPerMTok: only![1].outputPerMTok } : null,
    models: priced.map(([model]) => model),
  }
}

function reportProblem(report: unknown): string | null {
  const r = report as Partial<ReportLike> | null
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return 'not a JSON object'
  if (r.schemaVersion !== 1) return `schemaVersion is ${JSON.stringify(r.schemaVersion)}, expected 1`
  const s = r.summary
  if (typeof s !== 'object' || s === null) return 'no summary'
  for (const key of ['streams', 'aborted', 'propagated', 'leaked'] as const) {
    if (typeof s[key] !== 'number') return `summary.${key} is not a number`
  }
  if (!Array.isArray(r.streams)) return 'no streams list'
  const bad = r.streams.findIndex(
    (x) => typeof x !== 'object' || x === null || typeof x.verdict !== 'string' || typeof x.tokensReceived !== 'number' || typeof x.plannedOutputTokens !== 'number' || typeof x.generations !== 'number',
  )
  return bad === -1 ? null : `streams[${bad}] lacks verdict, tokensReceived, plannedOutputTokens or generations`
}

/**
 * Flags (and a measured report) -> the projection's input. Pure. Flags override measured values one by
 * one; every problem is an InputError naming the flag and what it accepts.
 * @example resolveWhatIfInput({ requests: 1e6, stopRate: 1, avgOutputTokens: 500, stopAtTokens: 100, priceOut: 15 }).prices // { inputPerMTok: 0, outputPerMTok: 15 }
 */
export function resolveWhatIfInput(flags: WhatIfFlags, measured?: Measured): WhatIfInput {
  const fromReport = measured ? ` (or --from-report with a run that measured it)` : ' or --from-report <report.json>'
  const measuredFields: (keyof WhatIfInput)[] = []
  /** The flag's value, else the measured one (noted), else undefined. */
  const pick = (field: keyof WhatIfInput, flag: number | undefined, fromRun: number | null | undefined) => {
    if (flag !== undefined) return flag
    if (fromRun !== null && fromRun !== undefined) {
      measuredFields.push(field)
      return fromRun
    }
    return undefined
  }

  const requests = flags.requests
  if (requests === undefined) throw new InputError('--requests: required: how many requests a period (e.g. --requests 1000000); a report cannot tell your traffic')
  check('--requests', requests, Number.isInteger(requests) && requests >= 1, 'an integer >= 1')

  const period = flags.period ?? WHATIF_DEFAULTS.period
  if (!period.trim()) throw new InputError('--period: expected a label such as month, week or day')

  if (flags.stopRate !== undefined) check('--stop-rate', flags.stopRate, inRange(flags.stopRate, 0, 1), 'a share from 0 to 1')
  const stopRate = pick('stopRate', flags.stopRate, measured?.stopRate)
  if (stopRate === undefined) throw new InputError(`--stop-rate: required: the share of requests users stop, from 0 to 1 (e.g. --stop-rate 0.2)${fromReport}`)

  if (flags.avgOutputTokens !== undefined) check('--avg-output-tokens', flags.avgOutputTokens, flags.avgOutputTokens > 0, 'a number of tokens > 0')
  const avgOutputTokens = pick('avgOutputTokens', flags.avgOutputTokens, measured?.avgOutputTokens)
  if (avgOutputTokens === undefined) throw new InputError(`--avg-output-tokens: required: the average length of an answer nobody stops, in tokens (e.g. --avg-output-tokens 500)${fromReport}`)

  const avgInputTokens = flags.avgInputTokens ?? WHATIF_DEFAULTS.avgInputTokens
  check('--avg-input-tokens', avgInputTokens, avgInputTokens >= 0, 'a number of tokens >= 0')

  const stopAtTokens = stopPoint(flags, measured, avgOutputTokens, measuredFields)

  if (flags.propagation !== undefined) check('--propagation', flags.propagation, inRange(flags.propagation, 0, 1), 'a share from 0 to 1')
  const propagationRate = pick('propagationRate', flags.propagation, measured?.propagationRate) ?? WHATIF_DEFAULTS.propagationRate

  const { prices, model } = pricesFor(flags, measured, avgInputTokens, measuredFields)
  return {
    requestsPerPeriod: requests,
    stopRate,
    avgOutputTokens,
    avgInputTokens,
    stopAtTokens,
    propagationRate,
    prices,
    period: period.trim(),
    model,
    ...(measured ? { fromReport: measured.file, measured: measuredFields } : {}),
  }
}

/** Where users stop, in tokens: --stop-at-tokens, --stop-at-fraction x average output, or measured. */
function stopPoint(flags: WhatIfFlags, measured: Measured | undefined, avgOutputTokens: number, measuredFields: (keyof WhatIfInput)[]): number {
  if (flags.stopAtTokens !== undefined && flags.stopAtFraction !== undefined) {
    throw new InputError('--stop-at-tokens and --stop-at-fraction: give one of them (where users stop, in tokens or as a share of the average output)')
  }
  if (flags.stopAtFraction !== undefined) {
    check('--stop-at-fraction', flags.stopAtFraction, inRange(flags.stopAtFraction, 0, 1), 'a share of the average output from 0 to 1')
    return toNumber(mul(decimal(flags.stopAtFraction), decimal(avgOutputTokens)))
  }
  if (flags.stopAtTokens !== undefined) {
    check('--stop-at-tokens', flags.stopAtTokens, inRange(flags.stopAtTokens, 0, avgOutputTokens), `a number of tokens from 0 to the average output (${avgOutputTokens})`)
    return flags.stopAtTokens
  }
  if (measured?.stopAtTokens !== null && measured?.stopAtTokens !== undefined) {
    if (measured.stopAtTokens > avgOutputTokens) {
      throw new InputError(`--stop-at-tokens: the report's average stop point (${measured.stopAtTokens} tokens) is beyond the average output (${avgOutputTokens}); give --stop-at-tokens or --stop-at-fraction`)
    }
    measuredFields.push('stopAtTokens')
    return measured.stopAtTokens
  }
  throw new InputError(
    `--stop-at-tokens or --stop-at-fraction: required: where users stop, in output tokens (e.g. --stop-at-tokens 100) or as a share of the average output (e.g. --stop-at-fraction 0.2)${measured ? ' (the report has no aborted stream that reached the provider)' : ' or --from-report <report.json>'}`,
  )
}

/** Prices: --model's table entry or the report's, each field overridden by --price-in / --price-out. */
function pricesFor(flags: WhatIfFlags, measured: Measured | undefined, avgInputTokens: number, measuredFields: (keyof WhatIfInput)[]): { prices: ModelPrices; model: string | null } {
  const priceIn = checkPriceFlag('--price-in', flags.priceIn)
  const priceOut = checkPriceFlag('--price-out', flags.priceOut)
  let base: ModelPrices | null = null
  let model: string | null = null
  if (flags.model !== undefined) {
    const found = lookupPrice(flags.model)
    if (!found) throw new InputError(`--model: ${unknownModelMessage(flags.model, '--price-in <usd> --price-out <usd> instead of --model')}`)
    base = found.entry
    model = flags.model
  } else if (measured?.prices) {
    base = measured.prices
    model = measured.model
    if (priceIn === undefined || priceOut === undefined) measuredFields.push('prices')
  }
  const outputPerMTok = priceOut ?? base?.outputPerMTok
  if (outputPerMTok === undefined) {
    const several = measured && measured.models.length > 1 ? ` (the report priced several models: ${measured.models.join(', ')}; pick one)` : ''
    throw new InputError(`--price-out: required: give --model <id> (${knownModels().join(', ')}) or --price-out <usd per million output tokens>${several}`)
  }
  const inputPerMTok = priceIn ?? base?.inputPerMTok
  if (inputPerMTok === undefined && avgInputTokens > 0) {
    throw new InputError('--price-in: required with --avg-input-tokens above 0: give --price-in <usd per million input tokens> or --model <id>')
  }
  return { prices: { inputPerMTok: inputPerMTok ?? 0, outputPerMTok }, model }
}

function inRange(value: number, min: number, max: number): boolean {
  return value >= min && value <= max
}

function check(flag: string, value: number, ok: boolean, accepted: string): void {
  if (!Number.isFinite(value) || !ok) throw new InputError(`${flag}: expected ${accepted}, got ${value}`)
}
