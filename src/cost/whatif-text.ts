import { formatUsd } from './money.ts'
import type { WhatIfResult } from './types.ts'

/**
 * The what-if projection as a plain-text table for the terminal and whatif.txt. Pure. Money is shown by
 * `formatUsd`'s rules (docs/cost.md); whatif.json keeps full precision.
 * @example console.log(renderWhatIfText(projectWhatIf(input)))
 */
export function renderWhatIfText(result: WhatIfResult): string {
  const i = result.input
  const per = `a ${i.period}`
  const stopped = `${pct(i.stopRate)} of requests stopped at ${tokens(i.stopAtTokens)} of ${tokens(i.avgOutputTokens)} output tokens`
  const fullSavingsUsd = result.byPropagationRate.find((p) => p.propagationRate === 1)?.savedUsd ?? result.savedUsd + result.lostToLeaksUsd
  const lines = [
    `cancelbench what-if: ${count(i.requestsPerPeriod)} requests ${per}, ${stopped}, ${pct(i.propagationRate)} of stops reach the provider`,
    `  prices  ${i.model ? `${i.model}: ` : ''}$${i.prices.inputPerMTok} input / $${i.prices.outputPerMTok} output per million tokens${i.avgInputTokens > 0 ? `; ${tokens(i.avgInputTokens)} input tokens a request` : '; input left out (--avg-input-tokens 0)'}`,
  ]
  if (i.fromReport) lines.push(`  measured from ${i.fromReport}: ${i.measured?.length ? i.measured.join(', ') : 'nothing (every value came from flags)'}`)
  lines.push(
    '',
    ...table([
      ['', 'per request'],
      ['full response', formatUsd(result.perResponseUsd)],
      [`stopped at ${tokens(i.stopAtTokens)} tokens`, formatUsd(result.perStoppedResponseUsd)],
      ['saved per stop', formatUsd(result.savedPerStopUsd)],
    ]),
    '',
    ...table([
      ['', `per ${i.period}`],
      ['stops', count(result.stopsPerPeriod)],
      ['baseline (nobody stops)', formatUsd(result.baselineUsd)],
      ['billed', formatUsd(result.billedUsd)],
      ['saved by Stop', formatUsd(result.savedUsd)],
      ['lost to leaks', formatUsd(result.lostToLeaksUsd)],
    ]),
    '',
    `${count(result.stopsPerPeriod)} stops ${per} x ${formatUsd(result.savedPerStopUsd)} saved per stop = ${formatUsd(fullSavingsUsd)} saved when every stop reaches the provider` +
      (i.propagationRate < 1 ? `; at ${pct(i.propagationRate)} propagation ${formatUsd(result.savedUsd)} saved and ${formatUsd(result.lostToLeaksUsd)} lost to leaks.` : '.'),
    '',
    `Savings ${per} vs. where users stop (propagation ${pct(i.propagationRate)})`,
    ...table([['stop at', 'tokens', 'saved', 'lost to leaks'], ...result.byStopPoint.map((p) => [pct(p.stopAtFraction ?? p.stopAtTokens / i.avgOutputTokens), tokens(p.stopAtTokens), formatUsd(p.savedUsd), formatUsd(p.lostToLeaksUsd)])]),
    '',
    `Savings ${per} vs. propagation rate (stop at ${tokens(i.stopAtTokens)} tokens)`,
    ...table([['propagation', 'saved', 'lost to leaks'], ...result.byPropagationRate.map((p) => [pct(p.propagationRate), formatUsd(p.savedUsd), formatUsd(p.lostToLeaksUsd)])]),
  )
  return lines.join('\n')
}

/** Rows as aligned columns: the first left-aligned, the others right-aligned; indented by 2. */
function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)))
  return rows.map((r) => `  ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   ')}`.trimEnd())
}

function pct(share: number): string {
  return `${(share * 100).toLocaleString('en-US', { maximumFractionDigits: 2 })}%`
}

function tokens(n: number): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: 1 })
}

function count(n: number): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: 2 })
}
