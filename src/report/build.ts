import type { StreamResult, Summary, ThresholdResult, Report } from './report.ts'
import { REPORT_SCHEMA_VERSION } from './report.ts'

/** Hints for verdicts whose fix is usually outside the target's code. */
export function hintsFor(summary: Summary, streams: StreamResult[], providerUrl: string): string[] {
  const hints: string[] = []
  if (summary.noUpstream > 0) {
    hints.push(
      `${summary.noUpstream} stream(s) caused no provider call: point the target at the mock provider ` +
        `(ANTHROPIC_BASE_URL=${providerUrl}, OPENAI_BASE_URL=${providerUrl}/v1) and make sure it forwards the prompt, ` +
        'which carries the [cb:...] correlation marker, unchanged.',
    )
  }
  const firstError = streams.find((s) => s.verdict === 'error')
  if (firstError) hints.push(`${summary.errors} stream(s) failed; first: ${firstError.id}: ${firstError.error}`)
  if (summary.leaked > 0) {
    hints.push('leaked streams: the target kept the provider call going after the client left; see docs/targets.md for the patterns that pass the cancel on.')
  }
  return hints
}

export function buildReport(
  parts: Omit<Report, 'schemaVersion' | 'tool' | 'hints'> & { version: string; thresholds: ThresholdResult[]; /** Hints from other steps (e.g. an unpriced model). */ extraHints?: string[] },
): Report {
  const { version, extraHints = [], ...rest } = parts
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'cancelbench', version },
    ...rest,
    hints: [...hintsFor(parts.summary, parts.streams, parts.provider.url), ...extraHints],
  }
}
