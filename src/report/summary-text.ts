import { join } from 'node:path'
import { formatUsd } from '../cost/money.ts'
import type { RunCost } from '../cost/types.ts'
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
  // Reports written before costs have no summary.cost; null means a model had no price (a hint says which).
  if (s.cost !== undefined) lines.push(`  cost          ${s.cost === null ? 'n/a (no price for a model: see hint)' : costLine(s.cost)}`)
  if (report.thresholds.length > 0) {
    lines.push('  thresholds')
    for (const t of report.thresholds) lines.push(`    ${t.pass ? 'PASS' : 'FAIL'}  ${t.expression.padEnd(34)} actual ${t.actual === null ? 'no data' : round(t.actual)}`)
  }
  for (const hint of report.hints) lines.push(`  hint: ${hint}`)
  lines.push(pass && !report.partial ? 'RESULT: PASS' : report.partial ? 'RESULT: INCOMPLETE' : 'RESULT: FAIL')
  return lines.join('\n')
}

/** `billed $0.0912  baseline $0.1834  saved $0.0922  leaked $0.0004   (claude-sonnet-4-6 $3/$15 per MTok)` */
function costLine(cost: RunCost): string {
  const prices = Object.entries(cost.prices).map(([model, p]) => `${model} $${p.inputPerMTok}/$${p.outputPerMTok}${p.from === 'table' ? '' : ` from ${p.from}`}`)
  const amounts = `billed ${formatUsd(cost.billedUsd)}  baseline ${formatUsd(cost.baselineUsd)}  saved ${formatUsd(cost.savedUsd)}  leaked ${formatUsd(cost.leakedUsd)}`
  return prices.length ? `${amounts}   (${prices.join(', ')} per MTok in/out)` : amounts
}

/**
 * The "Files:" list after a run: each file written, with what it holds. Pure; the caller says which
 * exist. A name is a file in `dir` this function knows; `{ path, what }` is any other (e.g. from
 * writeRenders).
 * @example renderFiles('/tmp/run', ['report.json', 'ledger.jsonl', { path: '/tmp/run/report.md', what: 'Markdown' }])
 */
export function renderFiles(dir: string, files: (string | { path: string; what: string })[]): string {
  const known: Record<string, string> = {
    'report.json': 'the result (docs/report.md)',
    'ledger.jsonl': "the provider's ledger, one JSON line per generation",
    'target.stdout.log': "the target's standard output",
    'target.stderr.log': "the target's standard error",
    'whatif.json': 'the what-if projection (docs/cost.md)',
    'whatif.txt': 'the same as a text table',
  }
  const rows = files.map((f) => (typeof f === 'string' ? { path: join(dir, f), what: known[f] ?? '' } : f))
  const width = Math.max(0, ...rows.map((r) => r.path.length)) + 3
  return ['Files:', ...rows.map((r) => `  ${r.path.padEnd(width)}${r.what}`.trimEnd())].join('\n')
}

function ms(value: number | null): string {
  if (value === null) return 'n/a'
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${round(value)} ms`
}

function round(value: number): number {
  return Math.round(value * 100) / 100
}
