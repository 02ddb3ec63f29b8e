/**
 * Shared shapes of the cost model. Amounts are USD as plain numbers in reports, computed exactly in
 * integer nano-dollars (1e-9 USD) and converted once at the end (see docs/cost.md for rounding rules).
 */

/** Prices of one model, USD per million tokens. */
export interface ModelPrices {
  inputPerMTok: number
  outputPerMTok: number
  cacheReadPerMTok?: number
  cacheWritePerMTok?: number
}

/** A price table entry as shipped in src/cost/prices.json. */
export interface PriceEntry extends ModelPrices {
  provider: 'anthropic' | 'openai'
  /** Where the price was read. */
  source: string
  /** ISO date the price was last checked. */
  checkedAt: string
}

/** Cost of one stream or of a whole run. */
export interface CostBreakdown {
  /** What the provider billed: input + every generated output token. */
  billedUsd: number
  /** What it would have billed had nobody stopped: input + every planned output token. */
  baselineUsd: number
  /** baseline - billed. */
  savedUsd: number
  /** Output tokens billed after the client aborted (leaks), priced. */
  leakedUsd: number
}

/** `summary.cost` in report.json. */
export interface RunCost extends CostBreakdown {
  currency: 'USD'
  /** The prices used, per model seen in the ledger, and where each came from ("table", "scenario", "flag"). */
  prices: Record<string, ModelPrices & { from: 'table' | 'scenario' | 'flag' }>
}

/** Inputs of a what-if projection (all per period, e.g. a month). */
export interface WhatIfInput {
  requestsPerPeriod: number
  /** Share of requests the user stops, 0..1. */
  stopRate: number
  /** Average output tokens of a response nobody stops. */
  avgOutputTokens: number
  /** Average input tokens per request (paid whatever happens); 0 to leave input out. */
  avgInputTokens: number
  /** Where users stop, in output tokens (absolute). */
  stopAtTokens: number
  /** Share of stops that reach the provider, 0..1. */
  propagationRate: number
  prices: ModelPrices
  /** Label of the period, e.g. "month". */
  period: string
  /** The model whose prices were used, when they came from the table or a report. */
  model?: string | null
  /** The report.json the measured values came from (`--from-report`). */
  fromReport?: string
  /** Which fields of this input were measured from that report (the rest came from flags or defaults). */
  measured?: (keyof WhatIfInput)[]
}

/** The result of a what-if projection. */
export interface WhatIfResult {
  input: WhatIfInput
  /** Cost of one full response: avgInputTokens of input + avgOutputTokens of output (output only when avgInputTokens is 0). */
  perResponseUsd: number
  /** Cost of one response stopped at stopAtTokens (when the stop propagates): input + stopAtTokens of output. */
  perStoppedResponseUsd: number
  /** perResponse - perStoppedResponse. */
  savedPerStopUsd: number
  stopsPerPeriod: number
  /** Nobody ever stops (or no stop propagates): every response full length. */
  baselineUsd: number
  /** What is actually billed given the propagation rate. */
  billedUsd: number
  /** Saved by stops that propagate. */
  savedUsd: number
  /** Lost because stops leak: what propagation rate 1 would have saved on top. */
  lostToLeaksUsd: number
  /** Savings and losses as where users stop varies (0..avgOutputTokens). */
  byStopPoint: { stopAtTokens: number; savedUsd: number; lostToLeaksUsd: number; /** stopAtTokens / avgOutputTokens. */ stopAtFraction?: number }[]
  /** Savings and losses as the propagation rate varies (0..1). */
  byPropagationRate: { propagationRate: number; savedUsd: number; lostToLeaksUsd: number }[]
}
