import { InputError } from '../errors.ts'
import { isWholeNanoPrice } from './money.ts'
import table from './prices.json' with { type: 'json' }
import type { ModelPrices, PriceEntry } from './types.ts'

/**
 * The shipped price table (src/cost/prices.json): USD per million tokens, each entry with the pricing
 * page it was read from and the date it was checked. Prices change: docs/cost.md says how to override.
 */
export const PRICES: Readonly<Record<string, PriceEntry>> = table as Record<string, PriceEntry>

/** Where a model's price came from, most to least specific to this run: a flag, the scenario, the table. */
export type PriceOrigin = 'table' | 'scenario' | 'flag'
export type PricedModel = ModelPrices & { from: PriceOrigin }

/** The scenario's optional `cost` section (see src/scenario/schema.ts). */
export interface ScenarioCost {
  /** Per model (matched like the table: exact id or dated snapshot). */
  prices?: Record<string, { inputPerMTok: number; outputPerMTok: number }> | undefined
  /** Flat prices for every model. */
  priceInPerMTok?: number | undefined
  priceOutPerMTok?: number | undefined
}

/** Every place a price can come from, highest precedence first. */
export interface PriceSources {
  /** `--price-in` / `--price-out`: every model. */
  flags?: { inputPerMTok?: number | undefined; outputPerMTok?: number | undefined } | undefined
  scenario?: ScenarioCost | undefined
  /** Default: the shipped table. */
  table?: Readonly<Record<string, PriceEntry>> | undefined
}

/**
 * A snapshot of a model: `<id>-20250929`, `<id>-2024-08-06` or `<id>-latest`. Only these suffixes fall
 * back to the base id: a bare "longest prefix" rule would price gpt-5-nano as gpt-5 (25x too much) and
 * claude-opus-4-8 as claude-opus-4 (3x), where "unknown model, give its price" is the honest answer.
 */
const SNAPSHOT_SUFFIX = /^(\d{8}|\d{4}-\d{2}-\d{2}|latest)$/

/**
 * The id in `ids` that prices `model`: the exact id, else the longest id that `model` extends with
 * `-<snapshot>` (a date or `latest`).
 * @example matchModel('claude-sonnet-4-5-20250929', Object.keys(PRICES)) // 'claude-sonnet-4-5'
 */
export function matchModel(model: string, ids: Iterable<string>): string | undefined {
  let best: string | undefined
  for (const id of ids) {
    if (id === model) return id
    if (model.startsWith(`${id}-`) && SNAPSHOT_SUFFIX.test(model.slice(id.length + 1)) && id.length > (best?.length ?? -1)) best = id
  }
  return best
}

/**
 * The table entry for a model id (exact or dated snapshot), or undefined.
 * @example lookupPrice('gpt-4o-mini-2024-07-18')?.id // 'gpt-4o-mini'
 */
export function lookupPrice(model: string, prices: Readonly<Record<string, PriceEntry>> = PRICES): { id: string; entry: PriceEntry } | undefined {
  const id = matchModel(model, Object.keys(prices))
  return id === undefined ? undefined : { id, entry: prices[id]! }
}

/** The models the table knows, in table order. */
export function knownModels(prices: Readonly<Record<string, PriceEntry>> = PRICES): string[] {
  return Object.keys(prices)
}

/**
 * "No price for this model", with the known models and how to give a price. `ways` says how in the
 * caller's terms, e.g. "--model <id> or --price-in/--price-out".
 */
export function unknownModelMessage(model: string, ways: string): string {
  return (
    `no price for model "${model}". Known models: ${knownModels().join(', ')} ` +
    `(dated snapshots such as claude-sonnet-4-5-20250929 or gpt-4o-2024-08-06 match their model). ` +
    `Give its prices in USD per million tokens with ${ways}.`
  )
}

/**
 * The table entry for a model, or InputError (exit 2) naming the known models and `ways` to price it.
 * @example requirePrice('gpt-5', '--price-out').entry.outputPerMTok // 10
 */
export function requirePrice(model: string, ways: string): { id: string; entry: PriceEntry } {
  const found = lookupPrice(model)
  if (!found) throw new InputError(unknownModelMessage(model, ways))
  return found
}

/**
 * The prices of `model` for a run, field by field from the highest-precedence source that gives it:
 * flag > the scenario's `cost.prices[model]` > the scenario's flat `cost.priceIn/OutPerMTok` > the table.
 * `from` names the highest source used. Cache prices come along only when everything is the table's.
 * Null when the input or the output price is not given anywhere.
 * @example resolvePrices('claude-sonnet-4-6', { flags: { outputPerMTok: 20 } }) // { inputPerMTok: 3, outputPerMTok: 20, from: 'flag' }
 */
export function resolvePrices(model: string, sources: PriceSources = {}): PricedModel | null {
  const scenarioPrices = sources.scenario?.prices ?? {}
  const scenarioId = matchModel(model, Object.keys(scenarioPrices))
  const perModel = scenarioId === undefined ? undefined : scenarioPrices[scenarioId]
  const tableEntry = lookupPrice(model, sources.table ?? PRICES)?.entry
  const pick = (flag: number | undefined, own: number | undefined, flat: number | undefined, fromTable: number | undefined) =>
    flag !== undefined ? { value: flag, from: 'flag' as const }
    : own !== undefined ? { value: own, from: 'scenario' as const }
    : flat !== undefined ? { value: flat, from: 'scenario' as const }
    : fromTable !== undefined ? { value: fromTable, from: 'table' as const }
    : undefined
  const input = pick(sources.flags?.inputPerMTok, perModel?.inputPerMTok, sources.scenario?.priceInPerMTok, tableEntry?.inputPerMTok)
  const output = pick(sources.flags?.outputPerMTok, perModel?.outputPerMTok, sources.scenario?.priceOutPerMTok, tableEntry?.outputPerMTok)
  if (!input || !output) return null
  const rank = { flag: 2, scenario: 1, table: 0 }
  const from = rank[input.from] >= rank[output.from] ? input.from : output.from
  const cache =
    from === 'table' && tableEntry
      ? {
          ...(tableEntry.cacheReadPerMTok === undefined ? {} : { cacheReadPerMTok: tableEntry.cacheReadPerMTok }),
          ...(tableEntry.cacheWritePerMTok === undefined ? {} : { cacheWritePerMTok: tableEntry.cacheWritePerMTok }),
        }
      : {}
  return { inputPerMTok: input.value, outputPerMTok: output.value, ...cache, from }
}

/** Why a price is not acceptable, or null: >= 0 with at most 3 decimals (one token = whole nano-dollars). */
export function priceProblem(value: number): string | null {
  if (!Number.isFinite(value) || value < 0) return `expected a price in USD per million tokens, >= 0, got ${value}`
  if (!isWholeNanoPrice(value)) return `at most 3 decimals (USD 0.001 per million tokens), got ${value}`
  return null
}

/**
 * A price flag checked: undefined passes, a bad value is an InputError naming the flag.
 * @example checkPriceFlag('--price-out', 15) // 15
 */
export function checkPriceFlag(flag: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined
  const problem = priceProblem(value)
  if (problem) throw new InputError(`${flag}: ${problem}`)
  return value
}
