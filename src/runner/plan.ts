import { sample } from '../../mock-provider/distribution.ts'
import { formatMarker } from '../../mock-provider/correlation.ts'
import { createRandom, hash32 } from '../../mock-provider/random.ts'
import type { AbortMode, Scenario } from '../scenario/schema.ts'

/** When a stream is aborted, decided before the run. */
export type AbortAt = { kind: 'tokens'; tokens: number } | { kind: 'ms'; ms: number } | { kind: 'firstByte' }

/** The provider's script for one stream, carried to the provider in the prompt's marker. */
export interface ProviderScript {
  ttftMs: number
  tokensPerSecond: number
  tokensPerEvent: number
  outputTokens: number
}

export interface StreamPlan {
  index: number
  /** Correlation id: `<runId>-<index>`. */
  id: string
  prompt: string
  /** Open loop only: ms after the run's start at which this stream is sent. */
  sendAtMs: number | null
  abort: { at: AbortAt; mode: AbortMode } | null
  script: ProviderScript
}

export interface RunPlan {
  runId: string
  scenario: string
  seed: number
  streams: StreamPlan[]
}

/**
 * Decides every stream up front: whether and when it is aborted, how, and what the provider will
 * generate for it. Pure: the same scenario, seed and runId give the same plan, which is what makes
 * `--seed` runs reproducible and `--dry-run` possible. The runId only names the streams (so runs sharing
 * an external provider do not collide); it does not change any draw.
 *
 * @example plan(scenario, { seed: 7, runId: 'r1' }).streams[0]?.abort
 */
export function plan(scenario: Scenario & { name: string }, options: { seed?: number; runId: string }): RunPlan {
  const seed = options.seed ?? scenario.seed
  const { load, cancel, provider } = scenario
  const modes = [cancel.mode ?? (scenario.transport.type === 'ws' ? 'ws-cancel' : 'abort')].flat()
  const streams: StreamPlan[] = []
  for (let index = 0; index < load.streams; index++) {
    // One generator per stream and concern: changing the abort settings must not reshuffle the scripts.
    const timing = createRandom(hash32(`timing:${index}`, seed))
    const cancelling = createRandom(hash32(`cancel:${index}`, seed))
    const script: ProviderScript = {
      ttftMs: round(sample(provider.timing.ttftMs, timing)),
      tokensPerSecond: round(Math.max(0.001, sample(provider.timing.tokensPerSecond, timing))),
      tokensPerEvent: Math.max(1, Math.round(sample(provider.timing.tokensPerEvent, timing))),
      outputTokens: Math.max(0, Math.round(sample(provider.timing.outputTokens, timing))),
    }
    const aborted = cancelling() < cancel.fraction
    const atDraw = drawAbortAt(cancel.after, cancelling)
    const mode = modes[Math.floor(cancelling() * modes.length)]!
    const id = `${options.runId}-${index}`
    streams.push({
      index,
      id,
      prompt: `${scenario.prompt} ${formatMarker(id, { ...script })}`,
      sendAtMs: load.arrivalRatePerSec ? round((index * 1000) / load.arrivalRatePerSec) : null,
      abort: aborted ? { at: atDraw, mode } : null,
      script,
    })
  }
  return { runId: options.runId, scenario: scenario.name, seed, streams }
}

function drawAbortAt(after: Scenario['cancel']['after'], random: () => number): AbortAt {
  if ('tokens' in after) return { kind: 'tokens', tokens: Math.max(1, Math.round(sample(after.tokens, random))) }
  if ('ms' in after) return { kind: 'ms', ms: round(sample(after.ms, random)) }
  return { kind: 'firstByte' }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000
}
