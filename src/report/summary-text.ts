import type { Report } from './report.ts'

/**
 * The terminal summary: a few lines a person reads after a run. Pure: report in, text out.
 * @example console.log(renderSummary(report))
 */
export function renderSummary(report: Report): string {
  const s = report.summary
  const pass = report.thresholds.every((t) => t.pass)
  const lines = [
    `cancelbench ${report.scenario.name}: ${s.streams} streams, ${s.aborted} aborted, ${(report.durationMs / 1000).toFixed(1)} s${report.partial ? `  [PARTIAL: ${report.partialReason}]` : ''}`,
    `  verdicts      propagated ${s.propagated}  leaked ${s.leaked}  completed ${s.completed}  no_upstream ${s.noUpstream}  errors ${s.errors}${s.interrupted ? `  interrupted ${s.interrupted}` : ''}`,
    `  propagation   rate ${s.propagationRate === null ? 'n/a' : `${(s.propagationRate * 100).toFixed(1)}%`}  p50 ${ms(s.propagationMs.p50)}  p95 ${ms(s.propagationMs.p95)}  p99 ${ms(s.propagationMs.p99)}  max ${ms(s.propagationMs.max)}`,
    `  leaked tokens total ${s.leakedTokens.total}  p95 ${s.leakedTokens.p95 ?? 'n/a'}  max ${s.leakedTokens.max ?? 'n/a'}   (billed ${s.billedOutputTokens} of ${s.plannedOutputTokens} planned output tokens)`,
    `  max idle gap  ${ms(s.maxIdleGapMs)}`,
  ]
  if (report.thresholds.length > 0) {
    lines.push('  thresholds')
    for (const t of report.thresholds) lines.push(`    ${t.pass ? 'PASS' : 'FAIL'}  ${t.expression.padEnd(34)} actual ${t.actual === null ? 'no data' : round(t.actual)}`)
  }
  for (const hint of report.hints) lines.push(`  hint: ${hint}`)
  lines.push(pass && !report.partial ? 'RESULT: PASS' : report.partial ? 'RESULT: INCOMPLETE' : 'RESULT: FAIL')
  return lines.join('\n')
}

function ms(value: number | null): string {
  if (value === null) return 'n/a'
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${round(value)} ms`
}

function round(value: number): number {
  return Math.round(value * 100) / 100
}
