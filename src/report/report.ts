import type { CostBreakdown, RunCost } from '../cost/types.ts'
import type { AbortMode } from '../scenario/schema.ts'

/**
 * `report.json`: a versioned contract. Additive changes keep `schemaVersion`; renaming or removing a
 * field, or changing a meaning, bumps it. Documented in docs/report.md.
 */
export const REPORT_SCHEMA_VERSION = 1

export type Verdict = 'propagated' | 'leaked' | 'completed' | 'no_upstream' | 'error' | 'interrupted'

export interface Percentiles {
  p50: number | null
  p95: number | null
  p99: number | null
  max: number | null
}

export interface StreamResult {
  id: string
  aborted: boolean
  abortMode: AbortMode | null
  /** ms from the stream's start to the abort. */
  abortAtMs: number | null
  /** Token events the client received before it aborted (or in all, when not aborted). */
  tokensReceived: number
  verdict: Verdict
  /** Client abort -> provider observed the disconnect (the slowest of the stream's generations). */
  propagationMs: number | null
  /** Output tokens billed after the client aborted, over all the stream's generations. */
  leakedTokens: number | null
  billedOutputTokens: number
  plannedOutputTokens: number
  maxIdleGapMs: number
  /** Generations the provider recorded for this stream (0 = never called; 2+ = several calls). */
  generations: number
  /** Times of the stream on the provider's clock, for timelines: start, first byte, tokens, abort, stop. */
  timeline: {
    startMs: number
    firstByteMs: number | null
    tokenMs: number[]
    abortMs: number | null
    /** When the provider observed the disconnect and when it stopped (latest generation). */
    providerObservedMs: number | null
    providerStoppedMs: number | null
    /** When each billed token was generated is derivable from the plan; first and last are kept. */
    providerFirstTokenMs: number | null
    providerLastTokenMs: number | null
  }
  error: string | null
  /** What this stream cost (docs/cost.md); null when a model it used has no price. Absent in reports written before costs. */
  cost?: CostBreakdown | null
}

export interface ThresholdResult {
  /** The metric, e.g. `propagation_ms.p95`. */
  name: string
  expression: string
  actual: number | null
  pass: boolean
}

export interface Summary {
  streams: number
  aborted: number
  propagated: number
  leaked: number
  completed: number
  noUpstream: number
  errors: number
  interrupted: number
  /** propagated / (propagated + leaked); null when no aborted stream reached the provider. */
  propagationRate: number | null
  propagationMs: Percentiles
  leakedTokens: { total: number; p50: number | null; p95: number | null; max: number | null }
  maxIdleGapMs: number | null
  billedOutputTokens: number
  plannedOutputTokens: number
  /** What the run cost, from the ledger (docs/cost.md); null when a model has no price (see hints). Absent in reports written before costs. */
  cost?: RunCost | null
}

export interface Report {
  schemaVersion: typeof REPORT_SCHEMA_VERSION
  tool: { name: 'cancelbench'; version: string }
  scenario: { name: string; file: string; seed: number; runId: string }
  startedAt: string
  durationMs: number
  /** True when the run did not complete (Ctrl-C, duration cap, the target died). */
  partial: boolean
  partialReason: string | null
  target: { url: string; command: string | null }
  provider: { mode: 'embedded' | 'external'; url: string; clockOffsetMs: number; clockOffsetUncertaintyMs: number }
  graceMs: number
  summary: Summary
  thresholds: ThresholdResult[]
  streams: StreamResult[]
  /** Things the user should know: e.g. how to point a target at the provider. */
  hints: string[]
}
