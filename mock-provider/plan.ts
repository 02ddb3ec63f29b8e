import { sample } from './distribution.ts'
import type { ProviderOptions } from './options.ts'
import type { FaultKind, Overrides } from './overrides.ts'
import { createRandom, hash32 } from './random.ts'

/**
 * Everything about one generation decided the moment its request arrives: a pure function of the
 * provider options, the request and its seed, so a run is reproducible and testable without sockets.
 */
export interface GenerationPlan {
  seed: number
  ttftMs: number
  tokensPerSecond: number
  tokensPerEvent: number
  /** Tokens the model will generate if nobody stops it (already capped by max_tokens). */
  outputTokens: number
  /** Why it ends if nobody stops it. */
  naturalStop: 'completed' | 'max_tokens'
  stopLagMs: number
  ignoreDisconnect: boolean
  fault?: { kind: FaultKind; afterTokens: number }
}

export interface PlanInput {
  options: ProviderOptions
  /** Correlation id when the prompt carries one, else undefined. */
  correlationId: string | undefined
  /** Arrival number, used for the seed only when there is no correlation id. */
  sequence: number
  maxTokens: number | undefined
  overrides: Overrides
}

/**
 * @example planGeneration({ options, correlationId: 'a', sequence: 0, maxTokens: 100, overrides: {} }).outputTokens
 */
export function planGeneration({ options, correlationId, sequence, maxTokens, overrides }: PlanInput): GenerationPlan {
  const seed = hash32(correlationId ?? `#${sequence}`, hash32(String(options.seed)))
  const random = createRandom(seed)
  const { timing, policy } = options
  // Always draw all four, in a fixed order, so an override of one does not shift the others.
  const drawn = {
    ttftMs: sample(timing.ttftMs, random),
    tokensPerSecond: sample(timing.tokensPerSecond, random),
    tokensPerEvent: sample(timing.tokensPerEvent, random),
    outputTokens: sample(timing.outputTokens, random),
  }
  const wanted = Math.max(0, Math.round(overrides.outputTokens ?? drawn.outputTokens))
  const cap = maxTokens ?? Number.POSITIVE_INFINITY
  const outputTokens = Math.min(wanted, cap)
  const plan: GenerationPlan = {
    seed,
    ttftMs: Math.max(0, overrides.ttftMs ?? drawn.ttftMs),
    tokensPerSecond: Math.max(0.001, overrides.tokensPerSecond ?? drawn.tokensPerSecond),
    tokensPerEvent: Math.max(1, Math.round(overrides.tokensPerEvent ?? drawn.tokensPerEvent)),
    outputTokens,
    naturalStop: wanted > cap ? 'max_tokens' : 'completed',
    stopLagMs: overrides.stopLagMs ?? policy.stopLagMs,
    ignoreDisconnect: overrides.ignoreDisconnect ?? policy.ignoreDisconnect,
  }
  const fault = pickFault(options, correlationId, overrides, createRandom(seed ^ 0x5bd1e995))
  if (fault) {
    const configured = options.faults.midStreamError?.afterTokens
    plan.fault = { kind: fault, afterTokens: Math.min(outputTokens, overrides.faultAfterTokens ?? configured ?? Math.floor(outputTokens / 2)) }
  }
  return plan
}

function pickFault(options: ProviderOptions, correlationId: string | undefined, overrides: Overrides, random: () => number): FaultKind | undefined {
  if (overrides.fault) return overrides.fault
  const { rateLimited, overloaded, midStreamError } = options.faults
  const targets: [FaultKind, typeof rateLimited][] = [
    ['rate_limited', rateLimited],
    ['overloaded', overloaded],
    ['mid_stream_error', midStreamError],
  ]
  for (const [kind, target] of targets) {
    // Draw for every kind even when unused, so enabling one fault does not reshuffle the others.
    const draw = random()
    if (!target) continue
    if (correlationId !== undefined && target.correlationIds.includes(correlationId)) return kind
    if (draw < target.probability) return kind
  }
  return undefined
}

/** Elapsed ms (from request receipt) at which output token `index` (0-based) is generated. */
export function tokenTimeMs(plan: GenerationPlan, index: number): number {
  return plan.ttftMs + (index * 1000) / plan.tokensPerSecond
}

/** Output tokens generated (and so billed) by `elapsedMs` after request receipt. */
export function tokensGeneratedBy(plan: GenerationPlan, elapsedMs: number, limit = plan.outputTokens): number {
  // The epsilon absorbs float error so a token scheduled at exactly elapsedMs counts, the first one too
  // (1002 - 1000.003 < 1.997 in floating point): otherwise a wake-up at a token's exact time would bill
  // nothing and reschedule itself for the same, already due, moment.
  const after = Math.floor(((elapsedMs - plan.ttftMs) * plan.tokensPerSecond) / 1000 + 1e-9)
  if (after < 0 || limit <= 0) return 0
  return Math.min(limit, after + 1)
}
