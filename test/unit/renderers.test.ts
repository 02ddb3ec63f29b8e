import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { describe, expect, it } from 'vitest'
import { formatUsd } from '../../src/cost/money.ts'
import { buildCharts, COLORS, niceBinWidth, timelineChart, type ChartSpec } from '../../src/report/charts.ts'
import { loadChartJsSource } from '../../src/report/chartjs-source.ts'
import { sampleStreams, worstLeaked } from '../../src/report/digest.ts'
import type { Report, StreamResult } from '../../src/report/report.ts'
import { renderHtml } from '../../src/report/render-html.ts'
import { renderJunit } from '../../src/report/render-junit.ts'
import { renderMarkdown } from '../../src/report/render-markdown.ts'
import { PNG_HEIGHT, PNG_WIDTH, renderChartPng, renderPngs } from '../../src/report/render-png.ts'
import { colourStats, pngSize } from '../helpers/png.ts'
import { fixtureWhatIf, loadReport } from '../helpers/report-fixtures.ts'

/**
 * Fixtures: test/fixtures/report.json and report-good.json are the two sides of `cancelbench demo --seed 1`
 * (60 streams each, 30 stopped; the leaky server never cancels, the good one does), frozen.
 */
const load = loadReport
const leaky = load('report.json')
const good = load('report-good.json')
const copy = (report: Report): Report => structuredClone(report)

const whatIf = fixtureWhatIf

/** A copy of the report with one stream turned into an error whose message needs escaping everywhere. */
function withNastyError(report: Report, message = 'boom <&"\'> | pipe\nnewline \u0001 </script><!--'): Report {
  const r = copy(report)
  const stream = r.streams.find((s) => !s.aborted)!
  Object.assign(stream, { verdict: 'error', error: message } satisfies Partial<StreamResult>)
  r.summary.errors = 1
  r.summary.completed -= 1
  return r
}

describe('fixtures', () => {
  it('are the two demo sides the tests assume', () => {
    expect(leaky.summary).toMatchObject({ streams: 60, aborted: 30, propagated: 0, leaked: 30 })
    expect(good.summary).toMatchObject({ streams: 60, aborted: 30, propagated: 30, leaked: 0 })
    expect(leaky.summary.cost).toBeTruthy()
    expect(leaky.thresholds.every((t) => !t.pass)).toBe(true)
    expect(good.thresholds.every((t) => t.pass)).toBe(true)
  })
})

describe('chart specs', () => {
  it('builds the same list of charts the PNGs, the HTML and the Markdown use', () => {
    expect(buildCharts(leaky).map((c) => c.id)).toEqual(['timeline-worst-leak', 'propagation-latency', 'leaked-tokens', 'cost'])
    expect(buildCharts(good).map((c) => c.id)).toEqual(['timeline-slowest-stop', 'timeline-typical-stop', 'propagation-latency', 'leaked-tokens', 'cost'])
    expect(buildCharts(leaky, whatIf).map((c) => c.id).slice(-2)).toEqual(['whatif-stop-point', 'whatif-propagation'])
    const noCost = copy(leaky)
    delete noCost.summary.cost
    expect(buildCharts(noCost).map((c) => c.id)).not.toContain('cost')
  })

  it('are plain data: they survive a JSON round trip unchanged (the HTML embeds them as JSON)', () => {
    const charts = buildCharts(good, whatIf)
    expect(JSON.parse(JSON.stringify(charts))).toEqual(charts)
  })

  it('picks the worst leak, the slowest and the median propagated stream as timeline samples', () => {
    const worst = leaky.streams.reduce((a, s) => ((s.leakedTokens ?? -1) > (a.leakedTokens ?? -1) ? s : a))
    expect(sampleStreams(leaky)).toEqual([{ role: 'worst-leak', stream: worst }])
    const propagated = good.streams.filter((s) => s.verdict === 'propagated').map((s) => s.propagationMs!)
    const [slowest, typical] = sampleStreams(good)
    expect(slowest!.stream.propagationMs).toBe(Math.max(...propagated))
    expect(typical!.role).toBe('typical-stop')
  })

  it('timeline: client steps end at the abort, the provider line splits there, the markers sit at abort and stop', () => {
    const stream = sampleStreams(leaky)[0]!.stream
    const spec = timelineChart(leaky, stream, 'worst-leak')
    const sets = Object.fromEntries(spec.config.data.datasets.map((d) => [d.label, d.data as { x: number; y: number }[]]))
    const t = stream.timeline
    const client = sets['client: tokens received']!
    expect(client.at(-1)!.y).toBe(t.tokenMs.length)
    const before = sets['provider: generated (billed)']!
    const after = sets['provider: generated after Stop (billed, never shown)']!
    expect(before.at(-1)).toEqual(after[0])
    expect(after[0]!.x).toBeCloseTo(t.abortMs! - t.startMs, 1)
    expect(after.at(-1)!.y).toBe(stream.billedOutputTokens)
    expect(sets['Stop pressed (client abort)']![0]!.x).toBeCloseTo(t.abortMs! - t.startMs, 1)
    expect(sets['provider stopped (too late)']![0]!.x).toBeCloseTo(t.providerStoppedMs! - t.startMs, 1)
  })

  it('histogram: every stopped stream is counted once; the ones the provider never noticed under "never"', () => {
    const count = (spec: ChartSpec) => spec.config.data.datasets.reduce((sum, d) => sum + (d.data as number[]).reduce((a, b) => a + b, 0), 0)
    const leakySpec = buildCharts(leaky).find((c) => c.id === 'propagation-latency')!
    expect(leakySpec.config.data.labels).toEqual(['never'])
    expect(count(leakySpec)).toBe(30)
    const goodSpec = buildCharts(good).find((c) => c.id === 'propagation-latency')!
    expect(count(goodSpec)).toBe(30)
    expect(goodSpec.config.data.labels).not.toContain('never')
  })

  it('picks histogram bins of 1, 2 or 5 x 10^k, at most 20 of them', () => {
    expect(niceBinWidth(0, 20)).toBe(0.1)
    expect(niceBinWidth(9.9, 20)).toBe(1)
    expect(niceBinWidth(113.99, 20)).toBe(10)
    expect(niceBinWidth(2500, 20)).toBe(200)
    for (const max of [0.3, 7, 42, 999, 12_345]) expect(Math.floor(max / niceBinWidth(max, 20)) + 1).toBeLessThanOrEqual(20)
  })
})

describe('renderMarkdown', () => {
  const md = renderMarkdown(leaky)
  const lines = md.split('\n')

  it('opens with the verdict and the headline', () => {
    expect(lines[0]).toBe('## ❌ cancelbench `sse-leaky`: FAIL')
    expect(md).toContain(`**FAIL**: 30 of 30 stopped streams leaked: ${leaky.summary.leakedTokens.total.toLocaleString('en-US')} output tokens billed after Stop. 3 of 3 thresholds failed.`)
    expect(renderMarkdown(good).split('\n')[0]).toBe('## ✅ cancelbench `sse-good`: PASS')
    expect(renderMarkdown(good)).toContain('**PASS**: All 30 stopped streams stopped the provider too. All 3 thresholds passed.')
  })

  it('has the sections in order', () => {
    const sections = lines.filter((l) => l.startsWith('### '))
    expect(sections).toEqual(['### Summary', '### Thresholds', '### Cost', '### Streams with the most tokens billed after Stop (the 10 worst)', '### Charts', '### Hints'])
  })

  it('summary rows carry the numbers', () => {
    const s = leaky.summary
    expect(lines).toContain('| streams | 60 (30 stopped by the user) |')
    expect(lines).toContain('| verdicts | propagated 0 · leaked 30 · completed 30 · no_upstream 0 · error 0 |')
    expect(lines).toContain(`| output tokens billed / planned | ${s.billedOutputTokens.toLocaleString('en-US')} / ${s.plannedOutputTokens.toLocaleString('en-US')} |`)
    const g = good.summary.propagationMs
    const r2 = (v: number | null) => Math.round(v! * 100) / 100
    expect(renderMarkdown(good)).toContain(`| stop → provider | p50 ${r2(g.p50)} ms · p95 ${r2(g.p95)} ms · p99 ${r2(g.p99)} ms · max ${r2(g.max)} ms (grace 500 ms) |`)
  })

  it('lists every threshold with its result and actual value', () => {
    for (const t of leaky.thresholds) expect(lines).toContain(`| ❌ FAIL | \`${t.expression}\` | ${t.actual === null ? 'no data' : t.actual} |`)
    for (const t of good.thresholds) expect(renderMarkdown(good)).toContain(`| ✅ pass | \`${t.expression}\` |`)
  })

  it('shows the cost block with the run cost', () => {
    const c = leaky.summary.cost!
    expect(lines).toContain(`| ${formatUsd(c.baselineUsd)} | ${formatUsd(c.billedUsd)} | ${formatUsd(c.savedUsd)} | ${formatUsd(c.leakedUsd)} |`)
    expect(md).toMatch(/Prices: `claude-sonnet-4-6` \$3 in \/ \$15 out per MTok \(table\)/)
    const unpriced = copy(leaky)
    unpriced.summary.cost = null
    expect(renderMarkdown(unpriced)).toContain('### Cost\n\nn/a: a model in the ledger has no price (see the hints)')
    const beforeCosts = copy(leaky)
    delete beforeCosts.summary.cost
    expect(renderMarkdown(beforeCosts)).not.toContain('### Cost')
  })

  it('lists the ten worst streams by tokens billed after Stop, most first', () => {
    const start = lines.findIndex((l) => l.startsWith('### Streams with the most'))
    const rows = lines.slice(start + 4).filter((l) => l.startsWith('| `'))
    expect(rows).toHaveLength(10)
    const expected = worstLeaked(leaky, 10)
    rows.forEach((row, i) => expect(row.startsWith(`| \`${expected[i]!.id}\` | leaked | ${expected[i]!.leakedTokens} |`)).toBe(true))
    const leakedValues = expected.map((s) => s.leakedTokens!)
    expect(leakedValues).toEqual([...leakedValues].sort((a, b) => b - a))
  })

  it('links the chart PNGs by relative file name, or leaves them out for the job summary', () => {
    for (const chart of buildCharts(leaky)) expect(lines).toContain(`![${chart.title}](${chart.file})`)
    expect(md).toContain('![How fast Stop reached the provider](propagation-latency.png)')
    expect(renderMarkdown(leaky, { charts: false })).not.toMatch(/!\[|### Charts/)
  })

  it('keeps a failed stream on one table row, pipes and markup escaped', () => {
    const out = renderMarkdown(withNastyError(good)).split('\n')
    const row = out.find((l) => l.startsWith('| `') && l.includes('| error |'))!
    expect(out.slice(out.indexOf('### Failed streams'))).toContain(row)
    expect(row).toContain('boom &lt;&amp;"\'&gt; \\| pipe newline')
    expect(row.split(/(?<!\\)\|/)).toHaveLength(5)
  })

  it('summarises a what-if projection when given one', () => {
    const out = renderMarkdown(leaky, { whatIf })
    expect(out).toContain('### What if')
    expect(out).toContain(`| ${formatUsd(whatIf.baselineUsd)} | ${formatUsd(whatIf.billedUsd)} | ${formatUsd(whatIf.savedUsd)} | ${formatUsd(whatIf.lostToLeaksUsd)} |`)
    expect(out).toContain('(whatif-stop-point.png)')
  })
})

describe('renderHtml', async () => {
  const chartJs = await loadChartJsSource()
  const html = renderHtml(leaky, { chartJs, whatIf })
  const dataBlock = (page: string) => {
    const match = /<script type="application\/json" id="cancelbench-data">([\s\S]*?)<\/script>/.exec(page)
    return JSON.parse(match![1]!) as { summary: Report['summary']; scenario: Report['scenario']; charts: ChartSpec[] }
  }
  const data = dataBlock(html)
  const chart = (id: string) => data.charts.find((c) => c.id === id)!
  const labels = (id: string) => chart(id).config.data.datasets.map((d) => d.label)

  it('inlines Chart.js itself', () => {
    expect(chartJs).toMatch(/^\/\*!\n \* Chart\.js v4\./)
    expect(html).toContain(chartJs)
  })

  it('embeds every chart as JSON, with the expected datasets and counts', () => {
    expect(data.charts.map((c) => c.id)).toEqual(['timeline-worst-leak', 'propagation-latency', 'leaked-tokens', 'cost', 'whatif-stop-point', 'whatif-propagation'])
    expect(labels('timeline-worst-leak')).toEqual(
      expect.arrayContaining(['client: tokens received', 'provider: generated after Stop (billed, never shown)', 'Stop pressed (client abort)', 'provider stopped (too late)']),
    )
    const leaked = chart('leaked-tokens').config.data
    expect(leaked.labels).toHaveLength(30)
    const leakedSum = (leaked.datasets.find((d) => d.label === 'leaked: billed after Stop')!.data as (number | null)[]).reduce<number>((a, b) => a + (b ?? 0), 0)
    expect(leakedSum).toBe(leaky.summary.leakedTokens.total)
    expect(labels('leaked-tokens')).toContain('threshold: leaked_tokens.max ≤ 5')
    const c = leaky.summary.cost!
    expect(chart('cost').config.data.datasets[0]!.data).toEqual([c.baselineUsd, c.billedUsd, c.savedUsd, c.leakedUsd])
    expect(chart('whatif-stop-point').config.data.datasets[0]!.data).toHaveLength(whatIf.byStopPoint.length)
    expect(data.summary).toEqual(leaky.summary)
  })

  it('has one canvas per chart', () => {
    for (const c of data.charts) expect(html).toContain(`<canvas id="chart-${c.id}"`)
    expect(html.match(/<canvas /g)).toHaveLength(data.charts.length)
  })

  it('asks for nothing over the network', () => {
    expect(html).not.toMatch(/\b(?:src|href|action|poster|srcset)\s*=\s*["']?\s*(?:https?:)?\/\//i)
    expect(html).not.toMatch(/url\(\s*["']?(?:https?:)?\/\//i)
    expect(html).not.toMatch(/@import/i)
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none';`)
  })

  it('shows the numbers and sections a reader needs', () => {
    expect(html).toContain('<span class="badge fail">FAIL</span>')
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">')
    for (const heading of ['Thresholds', 'Sample streams over time', 'Did Stop reach the provider?', 'Cost', 'What if', 'Streams with the most tokens billed after Stop', 'Hints']) {
      expect(html).toContain(`<h2>${heading}</h2>`)
    }
    for (const t of leaky.thresholds) expect(html).toContain(`<code>${t.expression.replace('>', '&gt;').replace('<', '&lt;')}</code>`)
    expect(html).toContain(leaky.summary.leakedTokens.total.toLocaleString('en-US'))
  })

  it('cannot be broken out of by text in the report', () => {
    const nasty = withNastyError(good)
    nasty.scenario.name = '</script><script>alert(1)</script>'
    const page = renderHtml(nasty, { chartJs })
    // Only the three script elements the page has: data, Chart.js, boot.
    expect(page.match(/<\/script/gi)).toHaveLength(3)
    expect(page).not.toContain('<!--')
    expect(page).toContain('<title>cancelbench · &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; · PASS</title>')
    expect(dataBlock(page).scenario.name).toBe(nasty.scenario.name)
    expect(page).toContain('boom &lt;&amp;&quot;&#39;&gt; | pipe')
  })
})

describe('renderPngs', () => {
  const pngs = renderPngs(leaky, { whatIf })

  it('draws every chart spec as a PNG of the fixed size', () => {
    expect(pngs.map((p) => p.file)).toEqual(buildCharts(leaky, whatIf).map((c) => c.file))
    for (const { file, png } of pngs) {
      expect(pngSize(png), file).toEqual({ width: PNG_WIDTH, height: PNG_HEIGHT })
      expect(png.byteLength, file).toBeGreaterThan(15_000)
    }
  })

  it('draws something: many colours on a white background, red where tokens leaked, green where stops propagated', async () => {
    for (const { file, png } of pngs) {
      const { distinct, near } = await colourStats(png, ['#ffffff'], 0)
      expect(distinct, file).toBeGreaterThan(20)
      expect(near[0]! / (PNG_WIDTH * PNG_HEIGHT), `${file}: mostly white background`).toBeGreaterThan(0.5)
    }
    const leakyBars = await colourStats(pngs.find((p) => p.file === 'leaked-tokens.png')!.png, [COLORS.leaked, COLORS.propagated])
    expect(leakyBars.near[0]).toBeGreaterThan(10_000)
    const goodBars = await colourStats(renderPngs(good).find((p) => p.file === 'propagation-latency.png')!.png, [COLORS.leaked, COLORS.propagated])
    expect(goodBars.near[1]).toBeGreaterThan(10_000)
  })

  it('is deterministic: the same spec gives the same bytes', () => {
    const spec = buildCharts(good)[0]!
    expect(Buffer.from(renderChartPng(spec)).equals(Buffer.from(renderChartPng(spec)))).toBe(true)
  })

  it('draws a chart with no data without throwing', () => {
    const empty = copy(leaky)
    empty.streams = []
    for (const spec of buildCharts(empty)) expect(pngSize(renderChartPng(spec))).toEqual({ width: PNG_WIDTH, height: PNG_HEIGHT })
  })
})

describe('renderJunit', () => {
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['testsuite', 'testcase', 'failure', 'property'].includes(name) })
  type Case = { classname: string; name: string; failure?: { type: string; message: string; '#text': string }[] }
  const parse = (xml: string) => {
    expect(XMLValidator.validate(xml)).toBe(true)
    const doc = parser.parse(xml) as { testsuites: { tests: string; failures: string; testsuite: { name: string; tests: string; failures: string; testcase: Case[] }[] } }
    return doc.testsuites
  }

  it('is one valid test suite: a case per threshold, per verdict that blames the target, and for completion', () => {
    const root = parse(renderJunit(leaky))
    expect(root.testsuite).toHaveLength(1)
    const suite = root.testsuite[0]!
    expect(suite.name).toBe('cancelbench.sse-leaky')
    expect(suite.testcase.map((c) => c.name)).toEqual([...leaky.thresholds.map((t) => t.expression), 'no stopped stream leaks', 'no stream fails', 'every stream reaches the provider', 'the run completed'])
    const failing = suite.testcase.filter((c) => c.failure)
    expect(failing.map((c) => c.name)).toEqual([...leaky.thresholds.map((t) => t.expression), 'no stopped stream leaks'])
    expect(suite.failures).toBe(String(failing.length))
    expect(suite.tests).toBe(String(suite.testcase.length))
    expect(root.failures).toBe(suite.failures)
  })

  it('says what was expected and what was measured for a failing threshold', () => {
    const failure = parse(renderJunit(leaky)).testsuite[0]!.testcase.find((c) => c.name === 'leaked_tokens.max <= 5')!.failure![0]!
    expect(failure.type).toBe('threshold')
    expect(failure.message).toBe(`leaked_tokens.max <= 5: actual ${leaky.summary.leakedTokens.max}`)
    expect(failure['#text']).toContain('expected: leaked_tokens.max <= 5')
    expect(failure['#text']).toContain(`actual:   leaked_tokens.max = ${leaky.summary.leakedTokens.max}`)
  })

  it('lists up to maxIds leaked stream ids and counts the rest', () => {
    const failure = parse(renderJunit(leaky, { maxIds: 5 })).testsuite[0]!.testcase.find((c) => c.name === 'no stopped stream leaks')!.failure![0]!
    expect(failure.message).toMatch(/^30 of 60 streams leaked/)
    const text = failure['#text'].split('\n')
    expect(text).toHaveLength(6)
    expect(text[0]).toMatch(/^sse-leaky-\d+: stopped \((abort|rst|fin)\) after \d+ tokens, \d+ tokens billed after Stop$/)
    expect(text[5]).toBe('... and 25 more (see report.json)')
  })

  it('passes everything for a passing run', () => {
    const suite = parse(renderJunit(good)).testsuite[0]!
    expect(suite.failures).toBe('0')
    expect(suite.testcase.every((c) => !c.failure)).toBe(true)
  })

  it('escapes <&"\' and drops characters XML cannot hold', () => {
    const nasty = withNastyError(good, 'boom <&"\'> \u0001 ]]>')
    nasty.scenario.name = 'a<b&c"d'
    nasty.partial = true
    nasty.partialReason = 'the "target" <died> & more'
    const xml = renderJunit(nasty)
    expect(xml).not.toContain('\u0001')
    const suite = parse(xml).testsuite[0]!
    expect(suite.name).toBe('cancelbench.a<b&c"d')
    const error = suite.testcase.find((c) => c.name === 'no stream fails')!.failure![0]!
    expect(error['#text']).toContain('boom <&"\'> \uFFFD ]]>')
    expect(suite.testcase.find((c) => c.name === 'the run completed')!.failure![0]!.message).toBe('the run is incomplete: the "target" <died> & more')
  })
})
