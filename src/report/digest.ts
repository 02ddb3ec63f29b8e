import type { RunCost } from '../cost/types.ts'
import type { Report, StreamResult } from './report.ts'
import { fmtInt } from './format.ts'

/**
 * What every renderer says the same way: the outcome, the one-line headline, the worst streams, the
 * sample streams for timelines. Pure functions of the report.
 */

export type Outcome = 'PASS' | 'FAIL' | 'INCOMPLETE'

/** PASS: every threshold passed on a complete run. INCOMPLETE: the run was cut short. The exit code agrees. */
export function outcomeOf(report: Report): Outcome {
  if (report.partial) return 'INCOMPLETE'
  return report.thresholds.every((t) => t.pass) ? 'PASS' : 'FAIL'
}

/**
 * The sentence under the outcome: what the user pressing Stop achieved.
 * @example headlineOf(report) // "30 of 30 stopped streams leaked: 7,510 output tokens billed after Stop. 3 of 3 thresholds failed."
 */
export function headlineOf(report: Report): string {
  const s = report.summary
  const failed = report.thresholds.filter((t) => !t.pass).length
  const judged = s.propagated + s.leaked
  const parts: string[] = []
  if (s.aborted === 0) parts.push(`No stream was stopped (${s.streams} streams).`)
  else if (judged === 0) parts.push(`${s.aborted} streams were stopped, but none reached the provider.`)
  else if (s.leaked === 0) parts.push(`All ${judged} stopped streams stopped the provider too.`)
  else parts.push(`${s.leaked} of ${judged} stopped streams leaked: ${fmtInt(s.leakedTokens.total)} output tokens billed after Stop.`)
  if (s.errors > 0) parts.push(`${s.errors} stream${s.errors === 1 ? '' : 's'} failed.`)
  if (s.noUpstream > 0) parts.push(`${s.noUpstream} never reached the provider.`)
  if (report.thresholds.length > 0) {
    parts.push(failed === 0 ? `All ${report.thresholds.length} thresholds passed.` : `${failed} of ${report.thresholds.length} thresholds failed.`)
  }
  if (report.partial) parts.push(`The run is incomplete: ${report.partialReason ?? 'cut short'}.`)
  return parts.join(' ')
}

/** Aborted streams billed for tokens after the abort, most first (ties by position in the run). */
export function worstLeaked(report: Report, limit = 10): StreamResult[] {
  return report.streams
    .map((stream, index) => ({ stream, index }))
    .filter(({ stream }) => (stream.leakedTokens ?? 0) > 0)
    .sort((a, b) => b.stream.leakedTokens! - a.stream.leakedTokens! || a.index - b.index)
    .slice(0, limit)
    .map(({ stream }) => stream)
}

export function streamsWithVerdict(report: Report, verdict: StreamResult['verdict']): StreamResult[] {
  return report.streams.filter((s) => s.verdict === verdict)
}

/**
 * `summary.cost` (src/cost): null when a model had no price, absent in reports written before costs.
 * Renderers show no cost section in both cases.
 */
export function runCostOf(report: Report): RunCost | null {
  return report.summary.cost ?? null
}

/** The stream's number within the run: `sse-leaky-17` -> `17` (the id itself when it has no run prefix). */
export function shortId(report: Report, id: string): string {
  const prefix = `${report.scenario.runId}-`
  return id.startsWith(prefix) ? id.slice(prefix.length) : id
}

export type SampleRole = 'worst-leak' | 'slowest-stop' | 'typical-stop' | 'completed'

/**
 * Streams worth drawing as timelines, at most three, in this order: the worst leak, the slowest stop that
 * propagated, a typical one (median propagation). A run with no judged abort shows one completed stream.
 */
export function sampleStreams(report: Report): { role: SampleRole; stream: StreamResult }[] {
  const drawable = (s: StreamResult) => s.timeline.tokenMs.length > 0 || s.timeline.providerFirstTokenMs !== null
  const leaked = streamsWithVerdict(report, 'leaked').filter(drawable)
  const propagated = streamsWithVerdict(report, 'propagated').filter(drawable)
  const byPropagation = [...propagated].sort((a, b) => (a.propagationMs ?? 0) - (b.propagationMs ?? 0))
  const picks: { role: SampleRole; stream: StreamResult | undefined }[] = [
    { role: 'worst-leak', stream: [...leaked].sort((a, b) => (b.leakedTokens ?? 0) - (a.leakedTokens ?? 0))[0] },
    { role: 'slowest-stop', stream: byPropagation.at(-1) },
    { role: 'typical-stop', stream: byPropagation[Math.floor((byPropagation.length - 1) / 2)] },
  ]
  const seen = new Set<string>()
  const samples: { role: SampleRole; stream: StreamResult }[] = []
  for (const { role, stream } of picks) {
    if (stream && !seen.has(stream.id)) {
      seen.add(stream.id)
      samples.push({ role, stream })
    }
  }
  if (samples.length === 0) {
    const completed = streamsWithVerdict(report, 'completed').find(drawable)
    if (completed) samples.push({ role: 'completed', stream: completed })
  }
  return samples
}
