import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { demoCommand, renderDemo } from '../../src/commands/demo.ts'
import { measureReport, resolveWhatIfInput } from '../../src/cost/whatif-input.ts'
import { renderWhatIfText } from '../../src/cost/whatif-text.ts'
import { projectWhatIf } from '../../src/cost/whatif.ts'
import type { WhatIfResult } from '../../src/cost/types.ts'
import { loadChartJsSource } from '../../src/report/chartjs-source.ts'
import type { Report } from '../../src/report/report.ts'
import { renderHtml } from '../../src/report/render-html.ts'
import { renderJunit } from '../../src/report/render-junit.ts'
import { renderMarkdown } from '../../src/report/render-markdown.ts'
import { renderPngs } from '../../src/report/render-png.ts'
import { renderSummary } from '../../src/report/summary-text.ts'
import { pixelDifference } from '../helpers/png.ts'

/**
 * reports/example/ is what the README shows: a seeded `cancelbench demo` with every render. A live run's
 * timings differ from run to run, so the committed report.json is the source of truth and this test
 * keeps the rest from going stale: every committed render must be what the current renderers make of it,
 * and a fresh demo with the same seed must plan the same streams. When it fails: `npm run example`.
 */
const EXAMPLE = fileURLToPath(new URL('../../reports/example/', import.meta.url))
const SIDES = [
  { name: 'sse-good', label: 'passes the cancel on' },
  { name: 'sse-leaky', label: 'never cancels' },
]
const STALE = 'reports/example/ is stale: run `npm run example` and commit the result'

const committed = (side: string, file: string) => readFileSync(join(EXAMPLE, side, file))
const committedReport = (side: string) => JSON.parse(committed(side, 'report.json').toString('utf8')) as Report
const committedWhatIf = (side: string): WhatIfResult | null =>
  existsSync(join(EXAMPLE, side, 'whatif.json')) ? (JSON.parse(committed(side, 'whatif.json').toString('utf8')) as WhatIfResult) : null

describe.each(SIDES)('reports/example/$name', ({ name }) => {
  it('holds exactly the current renders of its report.json', async () => {
    const report = committedReport(name)
    const whatIf = committedWhatIf(name)
    const texts: Record<string, string> = {
      'summary.txt': renderSummary(report) + '\n',
      'report.md': renderMarkdown(report, { whatIf }),
      'report.html': renderHtml(report, { chartJs: await loadChartJsSource(), whatIf }),
      'junit.xml': renderJunit(report),
    }
    const pngs = renderPngs(report, { whatIf })
    const expected = ['report.json', ...(whatIf ? ['whatif.json', 'whatif.txt'] : []), ...Object.keys(texts), ...pngs.map((p) => p.file)]
    expect(readdirSync(join(EXAMPLE, name)).sort(), STALE).toEqual(expected.sort())

    for (const [file, text] of Object.entries(texts)) expect(committed(name, file).toString('utf8') === text, `${name}/${file}: ${STALE}`).toBe(true)
    for (const { file, png } of pngs) {
      const old = committed(name, file)
      // Skia draws the same bytes on the same machine; allow for another CPU's anti-aliasing elsewhere.
      if (!old.equals(Buffer.from(png))) expect(await pixelDifference(old, png), `${name}/${file}: ${STALE}`).toBeLessThan(0.002)
    }
  })

  it('holds the what-if projection the current cost model makes of it', () => {
    const whatIf = committedWhatIf(name)
    if (!whatIf) return expect(name).toBe('sse-good')
    const measured = measureReport(committedReport(name), 'report.json')
    const fresh = projectWhatIf(resolveWhatIfInput({ requests: whatIf.input.requestsPerPeriod }, measured))
    expect(fresh, STALE).toEqual(whatIf)
    expect(committed(name, 'whatif.txt').toString('utf8'), STALE).toBe(renderWhatIfText(fresh) + '\n')
  })
})

describe('reports/example/', () => {
  const reports = SIDES.map((side) => ({ ...side, report: committedReport(side.name) }))

  it('summary.txt is the demo table of the two sides', () => {
    expect(readFileSync(join(EXAMPLE, 'summary.txt'), 'utf8'), STALE).toBe(renderDemo(reports) + '\n')
  })

  it('shows the demo working: the good side passes, the leaky side is caught', () => {
    const [good, leaky] = reports.map((r) => r.report)
    expect(good!.thresholds.every((t) => t.pass)).toBe(true)
    expect(good!.partial || leaky!.partial).toBe(false)
    expect(leaky!.summary.leaked).toBe(leaky!.summary.aborted)
    expect(leaky!.summary.cost).toBeTruthy()
  })

  it('is what a fresh seeded demo plans today: the same streams, aborts, abort modes and provider scripts', { timeout: 90_000 }, async () => {
    const seed = reports[0]!.report.scenario.seed
    const dir = mkdtempSync(join(tmpdir(), 'cb-example-'))
    await demoCommand({ out: dir, seed }, { out: () => {}, err: () => {}, signal: new AbortController().signal })
    for (const { name, report } of reports) {
      const fresh = JSON.parse(readFileSync(join(dir, name, 'report.json'), 'utf8')) as Report
      const facts = (r: Report) =>
        r.streams.map((s) => ({
          id: s.id,
          aborted: s.aborted,
          abortMode: s.abortMode,
          // Token-based abort points: the client stops after exactly that many token events.
          tokensReceived: s.aborted ? s.tokensReceived : null,
          plannedOutputTokens: s.plannedOutputTokens,
        }))
      expect(facts(fresh), `${name}: ${STALE}`).toEqual(facts(report))
      expect(fresh.scenario, STALE).toEqual(report.scenario)
      expect(fresh.thresholds.map((t) => t.expression), STALE).toEqual(report.thresholds.map((t) => t.expression))
      // New report fields must show up in the example too.
      const shape = (r: Report) => ({
        report: Object.keys(r).sort(),
        summary: Object.keys(r.summary).sort(),
        cost: Object.keys(r.summary.cost ?? {}).sort(),
        stream: Object.keys(r.streams[0]!).sort(),
        timeline: Object.keys(r.streams[0]!.timeline).sort(),
      })
      expect(shape(fresh), STALE).toEqual(shape(report))
    }
  })
})
