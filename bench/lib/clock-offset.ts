import type { Agent } from 'node:http'
import { getJson } from './stream-client.ts'

export interface OffsetEstimate {
  /** Provider Unix ms (epochMs + nowMs) minus bench Unix ms (timeOrigin + now), from the best sample. */
  offsetMs: number
  /** Half the best sample's round trip: the offset is known to ± this (less any request/response asymmetry). */
  uncertaintyMs: number
  bestRttMs: number
  medianRttMs: number
  samples: number
}

/**
 * NTP-style offset between the bench's clock and the provider's ledger clock over GET /_cancelbench/clock:
 * offset = server time - midpoint of the round trip, from the sample with the smallest round trip (the one
 * least disturbed by queueing). Both processes run on one machine and read the same kernel clocks, so this
 * is a cross-check of the timeOrigin-based alignment, not a correction applied to the latencies.
 */
export async function estimateOffset(target: URL, agent: Agent, samples = 20): Promise<OffsetEstimate> {
  const results: { rtt: number; offset: number }[] = []
  for (let i = 0; i < samples; i++) {
    const { body, sentAtUnixMs, receivedAtUnixMs } = await getJson<{ nowMs: number; epochMs: number }>(target, '/_cancelbench/clock', agent)
    const rtt = receivedAtUnixMs - sentAtUnixMs
    results.push({ rtt, offset: body.epochMs + body.nowMs - (sentAtUnixMs + receivedAtUnixMs) / 2 })
  }
  results.sort((a, b) => a.rtt - b.rtt)
  const best = results[0]!
  return {
    offsetMs: best.offset,
    uncertaintyMs: best.rtt / 2,
    bestRttMs: best.rtt,
    medianRttMs: results[Math.floor(results.length / 2)]!.rtt,
    samples: results.length,
  }
}
