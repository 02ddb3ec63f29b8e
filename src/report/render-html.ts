import type { WhatIfResult } from '../cost/types.ts'
import { buildCharts, whatIfPropagationChart, whatIfStopPointChart, type ChartSpec } from './charts.ts'
import { headlineOf, outcomeOf, runCostOf, streamsWithVerdict, worstLeaked } from './digest.ts'
import { escapeHtml as h, fmtInt, fmtMs, fmtNumber, fmtPct, fmtUsd, jsonForScript } from './format.ts'
import type { Report, StreamResult } from './report.ts'

export interface HtmlOptions {
  /**
   * The source of Chart.js' UMD build (`chart.js/dist/chart.umd.js`), inlined so the file needs no
   * network. Passed in to keep this function pure: the command reads it (see loadChartJsSource).
   */
  chartJs: string
  /** A what-if projection to draw (src/cost/whatif.ts); none by default. */
  whatIf?: WhatIfResult | null
}

/**
 * The report as one self-contained HTML page: every number of the Markdown report plus interactive
 * charts, readable from a 390 px phone to a laptop. It makes no network request at all (Chart.js and the
 * data are inline, system fonts only, and a Content-Security-Policy forbids anything else). The chart
 * configurations are the same objects the PNGs are drawn from (see charts.ts), embedded as JSON.
 * @example writeFileSync('report.html', renderHtml(report, { chartJs: await loadChartJsSource() }))
 */
export function renderHtml(report: Report, options: HtmlOptions): string {
  const outcome = outcomeOf(report)
  const charts = buildCharts(report, options.whatIf ?? null)
  const data = {
    schemaVersion: report.schemaVersion,
    scenario: report.scenario,
    outcome,
    summary: report.summary,
    thresholds: report.thresholds,
    charts,
  }
  const group = (prefix: string) => charts.filter((c) => c.id.startsWith(prefix))
  const body = [
    header(report, outcome),
    cards(report),
    thresholds(report),
    section('Sample streams over time', 'What the user saw against what the provider generated and billed, for a few telling streams.', group('timeline-'), true),
    section('Did Stop reach the provider?', null, [...group('propagation-'), ...group('leaked-')], false),
    cost(report, group('cost')),
    whatIf(options.whatIf ?? null, group('whatif-')),
    worstStreams(report),
    failedStreams(report),
    hints(report),
  ].join('\n')
  const footer = `cancelbench ${h(report.tool.version)} · report.json schema ${report.schemaVersion} · charts by Chart.js (MIT), inlined`
  return page(`cancelbench · ${report.scenario.name} · ${outcome}`, body, footer, data, options.chartJs)
}

/**
 * A what-if projection as one self-contained page: its figures, the sensitivity charts and tables.
 * @example writeFileSync('whatif.html', renderWhatIfHtml(result, { chartJs: await loadChartJsSource() }))
 */
export function renderWhatIfHtml(result: WhatIfResult, options: { chartJs: string }): string {
  const charts = [whatIfStopPointChart(result), whatIfPropagationChart(result)]
  const body = [
    `<header><h1>cancelbench <span>what if</span></h1></header>`,
    whatIf(result, charts),
    sensitivityTables(result),
  ].join('\n')
  return page('cancelbench · what if', body, 'cancelbench · charts by Chart.js (MIT), inlined', { charts }, options.chartJs)
}

function sensitivityTables(result: WhatIfResult): string {
  const period = h(result.input.period)
  const byStop = result.byStopPoint
    .map((row) => `<tr><td class="num">${fmtInt(row.stopAtTokens)}</td><td class="num">${fmtUsd(row.savedUsd)}</td><td class="num">${fmtUsd(row.lostToLeaksUsd)}</td></tr>`)
    .join('\n')
  const byRate = result.byPropagationRate
    .map((row) => `<tr><td class="num">${fmtPct(row.propagationRate)}</td><td class="num">${fmtUsd(row.savedUsd)}</td><td class="num">${fmtUsd(row.lostToLeaksUsd)}</td></tr>`)
    .join('\n')
  return `<section><h2>Sensitivity</h2><div class="charts">
<div class="table-wrap"><table><thead><tr><th class="num">users stop at (tokens)</th><th class="num">saved per ${period}</th><th class="num">lost to leaks</th></tr></thead><tbody>
${byStop}
</tbody></table></div>
<div class="table-wrap"><table><thead><tr><th class="num">stops reaching the provider</th><th class="num">saved per ${period}</th><th class="num">lost to leaks</th></tr></thead><tbody>
${byRate}
</tbody></table></div></div></section>`
}

/** The document around a body: offline (CSP), the chart data as JSON, Chart.js inlined, the boot script. */
function page(title: string, body: string, footer: string, data: { charts: ChartSpec[] }, chartJs: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">
<link rel="icon" href="data:,">
<title>${h(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
<footer><p>${footer}</p></footer>
<script type="application/json" id="cancelbench-data">${jsonForScript(data)}</script>
<script>${inlineScript(chartJs)}</script>
<script>${BOOT}</script>
</body>
</html>
`
}

function header(report: Report, outcome: string): string {
  const r = report
  const meta = [
    `scenario ${r.scenario.file ? `<code>${h(r.scenario.file)}</code>` : h(r.scenario.name)}`,
    `seed ${r.scenario.seed}`,
    `run ${h(r.scenario.runId)}`,
    `started ${h(r.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))}`,
    `${(r.durationMs / 1000).toFixed(1)} s`,
    `target ${h(r.target.command ?? r.target.url)}`,
    `provider ${r.provider.mode}`,
  ]
  return `<header>
<h1>cancelbench <span class="name">${h(r.scenario.name)}</span> <span class="badge ${outcome.toLowerCase()}">${outcome}</span></h1>
<p class="headline">${h(headlineOf(r))}</p>
<p class="meta">${meta.map((m) => `<span>${m}</span>`).join(' ')}</p>
</header>`
}

function cards(report: Report): string {
  const s = report.summary
  const judged = s.propagated + s.leaked
  const costs = runCostOf(report)
  const items: [string, string, string, string?][] = [
    ['Streams stopped by the user', `${fmtInt(s.aborted)}`, `of ${fmtInt(s.streams)} streams`],
    ['Provider stopped too', judged ? `${fmtInt(s.propagated)} of ${fmtInt(judged)}` : 'n/a', `propagation rate ${fmtPct(s.propagationRate)}`, s.leaked > 0 ? 'bad' : judged ? 'good' : undefined],
    ['Stop → provider, p50 / p95', s.propagationMs.p50 === null ? 'never' : `${fmtMs(s.propagationMs.p50)} / ${fmtMs(s.propagationMs.p95)}`, `max ${fmtMs(s.propagationMs.max)} · grace ${report.graceMs} ms`],
    ['Tokens billed after Stop', fmtInt(s.leakedTokens.total), `max ${s.leakedTokens.max ?? 'n/a'} per stream`, s.leaked > 0 ? 'bad' : undefined],
    ['Output tokens billed', fmtInt(s.billedOutputTokens), `of ${fmtInt(s.plannedOutputTokens)} planned`],
    ['Largest idle gap', fmtMs(s.maxIdleGapMs), 'silence on any stream'],
  ]
  if (costs) items.push(['Billed', fmtUsd(costs.billedUsd), `saved ${fmtUsd(costs.savedUsd)} · leaked ${fmtUsd(costs.leakedUsd)}`, s.leaked > 0 ? 'bad' : undefined])
  const verdicts = [
    ['propagated', s.propagated],
    ['leaked', s.leaked],
    ['completed', s.completed],
    ['no_upstream', s.noUpstream],
    ['error', s.errors],
    ['interrupted', s.interrupted],
  ] as const
  return `<section class="cards">
${items.map(([label, value, note, tone]) => `<div class="card${tone ? ` ${tone}` : ''}"><div class="label">${h(label)}</div><div class="value">${h(value)}</div><div class="note">${h(note)}</div></div>`).join('\n')}
</section>
<p class="verdicts">${verdicts.map(([name, n]) => `<span class="v-${name}">${name} <b>${n}</b></span>`).join(' ')}</p>`
}

function thresholds(report: Report): string {
  if (report.thresholds.length === 0) return ''
  const rows = report.thresholds.map(
    (t) => `<tr><td><span class="badge ${t.pass ? 'pass' : 'fail'}">${t.pass ? 'PASS' : 'FAIL'}</span></td><td><code>${h(t.expression)}</code></td><td class="num">${h(fmtNumber(t.actual))}</td></tr>`,
  )
  return `<section><h2>Thresholds</h2><div class="table-wrap"><table><thead><tr><th>result</th><th>threshold</th><th class="num">actual</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table></div></section>`
}

function figure(spec: ChartSpec): string {
  return `<figure class="chart-card" id="figure-${h(spec.id)}">
<h3>${h(spec.title)}</h3>
<p class="sub">${h(spec.subtitle)}</p>
<div class="chart"><canvas id="chart-${h(spec.id)}" role="img" aria-label="${h(`${spec.title}. ${spec.subtitle}`)}"></canvas></div>
<figcaption>${h(spec.caption)}</figcaption>
</figure>`
}

function section(title: string, intro: string | null, specs: ChartSpec[], wide: boolean): string {
  if (specs.length === 0) return ''
  return `<section><h2>${h(title)}</h2>${intro ? `<p>${h(intro)}</p>` : ''}
<div class="charts${wide ? ' wide' : ''}">
${specs.map(figure).join('\n')}
</div></section>`
}

function cost(report: Report, specs: ChartSpec[]): string {
  const c = runCostOf(report)
  if (!c) return ''
  const amounts: [string, number][] = [
    ['baseline (nobody stops)', c.baselineUsd],
    ['billed', c.billedUsd],
    ['saved by Stop (baseline − billed)', c.savedUsd],
    ['leaked: billed after Stop', c.leakedUsd],
  ]
  const prices = Object.entries(c.prices).map(
    ([model, p]) => `<tr><td><code>${h(model)}</code></td><td class="num">$${p.inputPerMTok}</td><td class="num">$${p.outputPerMTok}</td><td>${h(p.from)}</td></tr>`,
  )
  return `<section><h2>Cost</h2>
<div class="charts">${specs.map(figure).join('\n')}
<div class="stack">
<div class="table-wrap"><table><thead><tr><th>this run</th><th class="num">${h(c.currency)}</th></tr></thead><tbody>
${amounts.map(([label, usd]) => `<tr><td>${h(label)}</td><td class="num"><b>${h(fmtUsd(usd))}</b></td></tr>`).join('\n')}
</tbody></table></div>
<div class="table-wrap"><table><thead><tr><th>model</th><th class="num">in $/MTok</th><th class="num">out $/MTok</th><th>from</th></tr></thead><tbody>
${prices.join('\n')}
</tbody></table></div>
</div></div></section>`
}

function whatIf(result: WhatIfResult | null, specs: ChartSpec[]): string {
  if (!result) return ''
  const i = result.input
  const facts = [
    ['per response', fmtUsd(result.perResponseUsd)],
    ['per stopped response', fmtUsd(result.perStoppedResponseUsd)],
    [`baseline per ${i.period}`, fmtUsd(result.baselineUsd)],
    [`billed per ${i.period}`, fmtUsd(result.billedUsd)],
    [`saved per ${i.period}`, fmtUsd(result.savedUsd)],
    [`lost to leaks per ${i.period}`, fmtUsd(result.lostToLeaksUsd)],
  ]
  return `<section><h2>What if</h2>
<p>${fmtInt(i.requestsPerPeriod)} requests per ${h(i.period)}, ${fmtPct(i.stopRate)} stopped at ${fmtInt(i.stopAtTokens)} of ${fmtInt(i.avgOutputTokens)} output tokens, ${fmtPct(i.propagationRate)} of stops reaching the provider.</p>
<p class="verdicts">${facts.map(([k, v]) => `<span>${h(k!)} <b>${h(v!)}</b></span>`).join(' ')}</p>
<div class="charts">${specs.map(figure).join('\n')}</div></section>`
}

function streamRows(streams: StreamResult[], extra: (s: StreamResult) => string): string {
  return streams
    .map(
      (s) =>
        `<tr><td><code>${h(s.id)}</code></td><td><span class="v-${s.verdict}">${s.verdict}</span></td><td class="num">${s.leakedTokens ?? '–'}</td><td class="num">${fmtMs(s.propagationMs)}</td><td class="num">${s.tokensReceived}</td><td>${s.abortMode ?? '–'}</td>${extra(s)}</tr>`,
    )
    .join('\n')
}

// The column that matters first: on a phone the table scrolls sideways.
const STREAM_HEAD = '<th>stream</th><th>verdict</th><th class="num">billed after Stop</th><th class="num">stop → provider</th><th class="num">tokens received</th><th>abort</th>'

function worstStreams(report: Report): string {
  const worst = worstLeaked(report, 10)
  if (worst.length === 0) return ''
  return `<section><h2>Streams with the most tokens billed after Stop</h2><div class="table-wrap"><table><thead><tr>${STREAM_HEAD}</tr></thead><tbody>
${streamRows(worst, () => '')}
</tbody></table></div></section>`
}

function failedStreams(report: Report): string {
  const failed = [...streamsWithVerdict(report, 'error'), ...streamsWithVerdict(report, 'no_upstream')].slice(0, 20)
  if (failed.length === 0) return ''
  return `<section><h2>Failed streams</h2><div class="table-wrap"><table><thead><tr>${STREAM_HEAD}<th>error</th></tr></thead><tbody>
${streamRows(failed, (s) => `<td class="error">${h(s.error ?? (s.verdict === 'no_upstream' ? 'the provider recorded no generation for this stream' : ''))}</td>`)}
</tbody></table></div></section>`
}

function hints(report: Report): string {
  if (report.hints.length === 0) return ''
  return `<section><h2>Hints</h2><ul>${report.hints.map((hint) => `<li>${h(hint)}</li>`).join('')}</ul></section>`
}

/** A script's source inside `<script>`: nothing in it may end the element or open an HTML comment. */
function inlineScript(source: string): string {
  return source.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--')
}

/** Draws every chart of the embedded data. Plain ES5 so any browser that runs Chart.js runs it. */
const BOOT = `(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('cancelbench-data').textContent);
  var narrow = window.matchMedia('(max-width: 600px)').matches;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.font.size = narrow ? 11 : 12;
  window.cancelbenchCharts = data.charts.map(function (spec) {
    var options = spec.config.options;
    // The configuration is the PNG's: fixed size there, fill the card here.
    options.responsive = true;
    options.maintainAspectRatio = false;
    options.animation = false;
    if (narrow) {
      options.plugins.legend.labels.padding = 6;
      options.plugins.legend.labels.pointStyleWidth = 16;
      Object.keys(options.scales).forEach(function (axis) { options.scales[axis].title.font.size = 11; });
    }
    return new Chart(document.getElementById('chart-' + spec.id), spec.config);
  });
})();`

const STYLE = `
:root { --fg: #111827; --muted: #4b5563; --border: #e5e7eb; --bg: #f3f4f6; --card: #fff; --pass: #15803d; --fail: #b91c1c; --warn: #b45309; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", "DejaVu Sans", Arial, sans-serif; }
header, section, footer, .verdicts { max-width: 1180px; margin: 0 auto; padding: 0 16px; }
header { padding-top: 20px; }
h1 { font-size: 1.5rem; margin: 0 0 6px; display: flex; flex-wrap: wrap; align-items: center; gap: 8px; }
h1 .name { font-weight: 400; color: var(--muted); overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin: 28px 0 10px; }
h3 { font-size: 1rem; margin: 0; }
.headline { font-size: 1.05rem; margin: 4px 0; }
.meta { color: var(--muted); font-size: 0.85rem; margin: 4px 0 16px; }
.meta span { display: inline-block; margin-right: 12px; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 999px; font-size: 0.8rem; font-weight: 700; letter-spacing: 0.04em; color: #fff; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); } .badge.incomplete { background: var(--warn); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; }
.card { background: var(--card); border: 1px solid var(--border); border-left: 4px solid #9ca3af; border-radius: 8px; padding: 10px 12px; min-width: 0; }
.card.good { border-left-color: var(--pass); } .card.bad { border-left-color: var(--fail); }
.card .label { font-size: 0.8rem; color: var(--muted); }
.card .value { font-size: 1.35rem; font-weight: 650; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.card .note { font-size: 0.8rem; color: var(--muted); }
.verdicts { margin-top: 10px; margin-bottom: 12px; font-size: 0.9rem; color: var(--muted); }
.verdicts span { display: inline-block; margin-right: 14px; }
.verdicts b { color: var(--fg); }
.v-leaked, .v-error { color: var(--fail); } .v-propagated { color: var(--pass); } .v-no_upstream, .v-interrupted { color: var(--warn); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 520px), 1fr)); gap: 14px; align-items: start; }
.stack { display: grid; gap: 14px; min-width: 0; }
section .verdicts { padding: 0; }
.charts.wide { grid-template-columns: 1fr; }
.chart-card { margin: 0; background: var(--card); border: 1px solid var(--border); border-radius: 8px; padding: 12px; min-width: 0; }
.chart-card .sub { margin: 2px 0 8px; color: var(--muted); font-size: 0.85rem; }
.chart-card figcaption { margin-top: 8px; color: var(--muted); font-size: 0.85rem; }
.chart { position: relative; height: 340px; width: 100%; }
.charts.wide .chart { height: 380px; }
@media (max-width: 600px) {
  body { font-size: 14px; }
  h1 { font-size: 1.25rem; }
  .cards { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .card .value { font-size: 1.1rem; }
  .chart, .charts.wide .chart { height: 320px; }
  .chart-card { padding: 10px 8px; }
}
.table-wrap { overflow-x: auto; background: var(--card); border: 1px solid var(--border); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--border); text-align: left; white-space: nowrap; }
th { background: #f9fafb; font-weight: 600; }
td.num, th.num { text-align: right; }
td.error { white-space: normal; min-width: 240px; }
tbody tr:last-child td { border-bottom: 0; }
code { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 0.9em; }
ul { padding-left: 20px; }
footer { color: var(--muted); font-size: 0.8rem; padding-top: 16px; padding-bottom: 24px; }
`
