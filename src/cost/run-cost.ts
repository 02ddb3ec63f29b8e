import type { LedgerRecord } from '../../mock-provider/ledger.ts'
import type { StreamResult, Summary } from '../report/report.ts'
import { nanoPerToken, nanoToUsd } from './money.ts'
import { resolvePrices, unknownModelMessage, type PricedModel, type PriceSources } from './prices.ts'
import type { CostBreakdown, RunCost } from './types.ts'

/**
 * What a run cost, from the ledger. Pure. Per generation, with its model's prices:
 *   billed   = input tokens x input price + billed output tokens x output price
 *   baseline = input tokens x input price + planned output tokens x output price (the mock provider knows
 *              exactly how long each answer would have been had nobody stopped it)
 * and per stream (the sum of its generations):
 *   saved    = baseline - billed
 *   leaked   = leaked tokens (billed after the client aborted) x output price of the stream's latest
 *              generation (a stream has one generation unless the target retried)
 * The run's total is the sum over its streams. Everything is integer nano-dollars (tokens x whole
 * nano-dollars per token), exact; USD numbers are made once, at the end (`nanoToUsd`, full precision).
 *
 * A generation the provider refused (stop reason `error` before any token: injected rate limit or
 * overload) costs nothing and has no baseline: real providers do not bill refused requests, and the
 * retry that follows carries the baseline.
 */
export interface RunCostInput {
  streams: StreamResult[]
  /** The run's ledger records (joined to streams by correlation id). */
  records: LedgerRecord[]
  /** Prices of a model, or null when it has none. */
  priceOf: (model: string) => PricedModel | null
}

export interface RunCostResult {
  /** Per stream, in input order; null when a model the stream used has no price. */
  streams: (CostBreakdown | null)[]
  /** Null when any model in the ledger has no price. */
  total: RunCost | null
  /** Models without a price, sorted. */
  unpricedModels: string[]
}

interface Nanos {
  billed: bigint
  baseline: bigint
  leaked: bigint
}

/**
 * @example costOfRun({ streams, records, priceOf: (m) => resolvePrices(m) }).total?.billedUsd
 */
export function costOfRun(input: RunCostInput): RunCostResult {
  const byStream = new Map<string, LedgerRecord[]>()
  for (const record of input.records) {
    if (record.correlationId === null) continue
    byStream.set(record.correlationId, [...(byStream.get(record.correlationId) ?? []), record])
  }
  const priced = new Map<string, PricedModel>()
  const unpriced = new Set<string>()
  const priceOf = (model: string): PricedModel | null => {
    if (priced.has(model)) return priced.get(model)!
    if (unpriced.has(model)) return null
    const prices = input.priceOf(model)
    if (prices) priced.set(model, prices)
    else unpriced.add(model)
    return prices
  }

  const total: Nanos = { billed: 0n, baseline: 0n, leaked: 0n }
  const streams = input.streams.map((stream) => {
    const nanos = streamNanos(stream, byStream.get(stream.id) ?? [], priceOf)
    if (!nanos) return null
    total.billed += nanos.billed
    total.baseline += nanos.baseline
    total.leaked += nanos.leaked
    return breakdown(nanos)
  })
  const unpricedModels = [...unpriced].sort()
  return {
    streams,
    total: unpricedModels.length > 0 ? null : { currency: 'USD', ...breakdown(total), prices: Object.fromEntries([...priced].sort(([a], [b]) => a.localeCompare(b))) },
    unpricedModels,
  }
}

function streamNanos(stream: StreamResult, generations: LedgerRecord[], priceOf: (model: string) => PricedModel | null): Nanos | null {
  const nanos: Nanos = { billed: 0n, baseline: 0n, leaked: 0n }
  let complete = true
  for (const g of generations) {
    const prices = priceOf(g.model)
    if (!prices) {
      complete = false
      continue
    }
    if (g.stopReason === 'error' && g.billedOutputTokens === 0 && g.firstTokenAtMs === null) continue
    const input = BigInt(g.inputTokens) * nanoPerToken(prices.inputPerMTok)
    const output = nanoPerToken(prices.outputPerMTok)
    nanos.billed += input + BigInt(g.billedOutputTokens) * output
    nanos.baseline += input + BigInt(g.plannedOutputTokens) * output
  }
  if (!complete) return null
  const latest = generations.reduce<LedgerRecord | undefined>((a, g) => (a === undefined || g.seq > a.seq ? g : a), undefined)
  if (latest && stream.leakedTokens) nanos.leaked = BigInt(stream.leakedTokens) * nanoPerToken(priceOf(latest.model)!.outputPerMTok)
  return nanos
}

function breakdown(n: Nanos): CostBreakdown {
  return { billedUsd: nanoToUsd(n.billed), baselineUsd: nanoToUsd(n.baseline), savedUsd: nanoToUsd(n.baseline - n.billed), leakedUsd: nanoToUsd(n.leaked) }
}

/** What `withCost` needs of a loaded scenario: its `cost` section and the run's price flags. */
export interface CostSettings {
  scenario: { cost?: PriceSources['scenario'] }
  priceFlags?: PriceSources['flags']
}

/**
 * The run step: adds `cost` to every stream and to the summary, and a hint per model without a price
 * (the model is only known from the ledger, after the run, so a missing price cannot stop the run
 * before it starts: the run completes with cost null and the hint says how to price it).
 * @example const { streams, summary, hints } = withCost(aggregate(input), records, loaded)
 */
export function withCost(
  result: { streams: StreamResult[]; summary: Summary },
  records: LedgerRecord[],
  settings: CostSettings,
): { streams: StreamResult[]; summary: Summary; hints: string[] } {
  const sources: PriceSources = { flags: settings.priceFlags, scenario: settings.scenario.cost }
  const cost = costOfRun({ streams: result.streams, records, priceOf: (model) => resolvePrices(model, sources) })
  return {
    streams: result.streams.map((stream, i) => ({ ...stream, cost: cost.streams[i] ?? null })),
    summary: { ...result.summary, cost: cost.total },
    hints: cost.unpricedModels.map(
      (model) => `cost not reported: ${unknownModelMessage(model, `--price-in <usd> --price-out <usd> on \`cancelbench run\`, or in the scenario: cost: { prices: { "${model}": { inputPerMTok: ..., outputPerMTok: ... } } }`)}`,
    ),
  }
}
