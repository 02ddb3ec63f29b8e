import type { WhatIfResult } from '../cost/types.ts'
import { buildCharts, whatIfPropagationChart, whatIfStopPointChart } from './charts.ts'
import { headlineOf, outcomeOf, runCostOf, streamsWithVerdict, worstLeaked } from './digest.ts'
import { escapeMdCell as cell, mdCode as code, fmtInt, fmtMs, fmtNumber, fmtPct, fmtUsd } from './format.ts'
import type { Report, StreamResult } from './report.ts'

export interface MarkdownOptions {
  /**
   * Link the chart PNGs by relative file name (they sit beside report.md). Off for GitHub's job summary,
   * where a relative image cannot resolve.
   */
  charts?: boolean
  /** A what-if projection (src/cost/whatif.ts) to summarise. */
  whatIf?: WhatIfResult | null
  /** Rows in the worst-streams and failed-streams tables. */
  limit?: number
}

const OUTCOME_ICON = { PASS: '✅', FAIL: '❌', INCOMPLETE: '⚠️' } as const

/**
 * The report as GitHub-flavoured Markdown: verdict line, summary table, thresholds, cost, the worst
 * streams, failed streams, chart images and hints. Pure; the run command writes it to `report.md` and
 * appends it to `$GITHUB_STEP_SUMMARY` in GitHub Actions.
 * @example writeFileSync('report.md', renderMarkdown(report))
 */
export function renderMarkdown(report: Report, options: MarkdownOptions = {}): string {
  const limit = options.limit ?? 10
  const outcome = outcomeOf(report)
  const r = report
  const s = r.summary
  const out: string[] = []
  out.push(`## ${OUTCOME_ICON[outcome]} cancelbench ${code(r.scenario.name)}: ${outcome}`, '')
  out.push(`**${outcome}**: ${headlineOf(r)}`, '')
  out.push(
    `<sub>${[
      r.scenario.file ? `scenario ${code(r.scenario.file)}` : null,
      `seed ${r.scenario.seed}`,
      `run ${code(r.scenario.runId)}`,
      `started ${r.startedAt}`,
      `${(r.durationMs / 1000).toFixed(1)} s`,
      `cancelbench ${cell(r.tool.version)}`,
    ]
      .filter(Boolean)
      .join(' · ')}</sub>`,
    '',
  )

  const judged = s.propagated + s.leaked
  out.push('### Summary', '', '| metric | value |', '| --- | --- |')
  const rows: [string, string][] = [
    ['streams', `${fmtInt(s.streams)} (${fmtInt(s.aborted)} stopped by the user)`],
    ['verdicts', `propagated ${s.propagated} · leaked ${s.leaked} · completed ${s.completed} · no_upstream ${s.noUpstream} · error ${s.errors}${s.interrupted ? ` · interrupted ${s.interrupted}` : ''}`],
    ['provider stopped too', judged ? `${s.propagated} of ${judged} (${fmtPct(s.propagationRate)})` : 'n/a: no stopped stream reached the provider'],
    ['stop → provider', s.propagationMs.p50 === null ? `n/a: the provider saw no disconnect (grace ${r.graceMs} ms)` : `p50 ${fmtMs(s.propagationMs.p50)} · p95 ${fmtMs(s.propagationMs.p95)} · p99 ${fmtMs(s.propagationMs.p99)} · max ${fmtMs(s.propagationMs.max)} (grace ${r.graceMs} ms)`],
    ['output tokens billed after Stop', `${fmtInt(s.leakedTokens.total)} in all · p95 ${s.leakedTokens.p95 ?? 'n/a'} · max ${s.leakedTokens.max ?? 'n/a'} per stream`],
    ['output tokens billed / planned', `${fmtInt(s.billedOutputTokens)} / ${fmtInt(s.plannedOutputTokens)}`],
    ['largest idle gap', fmtMs(s.maxIdleGapMs)],
  ]
  for (const [k, v] of rows) out.push(`| ${k} | ${cell(v)} |`)
  out.push('')

  if (r.thresholds.length > 0) {
    out.push('### Thresholds', '', '| result | threshold | actual |', '| --- | --- | ---: |')
    for (const t of r.thresholds) out.push(`| ${t.pass ? '✅ pass' : '❌ FAIL'} | ${code(t.expression)} | ${fmtNumber(t.actual)} |`)
    out.push('')
  }

  const cost = runCostOf(r)
  // null: a model had no price (a hint names it); absent: a report from before costs, nothing to say.
  if (s.cost === null) out.push('### Cost', '', 'n/a: a model in the ledger has no price (see the hints); `--price-in` / `--price-out` set one.', '')
  if (cost) {
    out.push('### Cost', '', '| baseline (nobody stops) | billed | saved by Stop | leaked after Stop |', '| ---: | ---: | ---: | ---: |')
    out.push(`| ${fmtUsd(cost.baselineUsd)} | ${fmtUsd(cost.billedUsd)} | ${fmtUsd(cost.savedUsd)} | ${fmtUsd(cost.leakedUsd)} |`, '')
    const prices = Object.entries(cost.prices).map(([model, p]) => `${code(model)} $${p.inputPerMTok} in / $${p.outputPerMTok} out per MTok (${p.from})`)
    if (prices.length) out.push(`Prices: ${prices.join('; ')}.`, '')
  }

  const w = options.whatIf
  if (w) out.push('### What if', '', ...whatIfLines(w))

  const worst = worstLeaked(r, limit)
  if (worst.length > 0) {
    const more = s.aborted > worst.length ? ` (the ${worst.length} worst)` : ''
    out.push(`### Streams with the most tokens billed after Stop${more}`, '', STREAM_HEAD, STREAM_RULE)
    for (const stream of worst) out.push(streamRow(stream))
    out.push('')
  }
  const failed = [...streamsWithVerdict(r, 'error'), ...streamsWithVerdict(r, 'no_upstream')]
  if (failed.length > 0) {
    out.push(`### Failed streams${failed.length > limit ? ` (${limit} of ${failed.length})` : ''}`, '', '| stream | verdict | error |', '| --- | --- | --- |')
    for (const stream of failed.slice(0, limit)) {
      out.push(`| ${code(stream.id)} | ${stream.verdict} | ${cell(stream.error ?? 'the provider recorded no generation for this stream')} |`)
    }
    out.push('')
  }

  if (options.charts ?? true) {
    const charts = buildCharts(r, w ?? null)
    out.push('### Charts', '')
    for (const chart of charts) out.push(`![${chart.title}](${chart.file})`, '')
    out.push('Interactive: [report.html](report.html).', '')
  }

  if (r.hints.length > 0) {
    out.push('### Hints', '')
    for (const hint of r.hints) out.push(`- ${hint}`)
    out.push('')
  }
  return out.join('\n')
}

const STREAM_HEAD = '| stream | verdict | billed after Stop | stop → provider | tokens received | abort |'
const STREAM_RULE = '| --- | --- | ---: | ---: | ---: | --- |'

function streamRow(s: StreamResult): string {
  return `| ${code(s.id)} | ${s.verdict} | ${s.leakedTokens ?? '–'} | ${fmtMs(s.propagationMs)} | ${s.tokensReceived} | ${s.abortMode ?? '–'} |`
}

/** A projection's assumptions and totals. */
function whatIfLines(w: WhatIfResult): string[] {
  const i = w.input
  return [
    `${fmtInt(i.requestsPerPeriod)} requests per ${i.period}, ${fmtPct(i.stopRate)} stopped at ${fmtInt(i.stopAtTokens)} of ${fmtInt(i.avgOutputTokens)} output tokens, ${fmtPct(i.propagationRate)} of stops reaching the provider:`,
    '',
    `| per response | per stopped response | saved per stop | baseline | billed | saved | lost to leaks |`,
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${fmtUsd(w.perResponseUsd)} | ${fmtUsd(w.perStoppedResponseUsd)} | ${fmtUsd(w.savedPerStopUsd)} | ${fmtUsd(w.baselineUsd)} | ${fmtUsd(w.billedUsd)} | ${fmtUsd(w.savedUsd)} | ${fmtUsd(w.lostToLeaksUsd)} |`,
    '',
  ]
}

/**
 * A what-if projection on its own (`cancelbench whatif --out`): assumptions, totals, both sensitivity
 * tables and the chart PNGs by file name. Pure.
 * @example writeFileSync('whatif.md', renderWhatIfMarkdown(projectWhatIf(input)))
 */
export function renderWhatIfMarkdown(w: WhatIfResult): string {
  const period = w.input.period
  const out = ['## cancelbench what if', '', ...whatIfLines(w)]
  out.push('### Savings vs. where users stop', '', `| users stop at (tokens) | saved per ${period} | lost to leaks |`, '| ---: | ---: | ---: |')
  for (const row of w.byStopPoint) out.push(`| ${fmtInt(row.stopAtTokens)} | ${fmtUsd(row.savedUsd)} | ${fmtUsd(row.lostToLeaksUsd)} |`)
  out.push('', '### Savings vs. how many stops reach the provider', '', `| stops reaching the provider | saved per ${period} | lost to leaks |`, '| ---: | ---: | ---: |')
  for (const row of w.byPropagationRate) out.push(`| ${fmtPct(row.propagationRate)} | ${fmtUsd(row.savedUsd)} | ${fmtUsd(row.lostToLeaksUsd)} |`)
  out.push('', '### Charts', '')
  for (const spec of [whatIfStopPointChart(w), whatIfPropagationChart(w)]) out.push(`![${spec.title}](${spec.file})`, '')
  out.push('Interactive: [whatif.html](whatif.html).', '')
  return out.join('\n')
}
