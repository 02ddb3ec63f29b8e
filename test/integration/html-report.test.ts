import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildCharts } from '../../src/report/charts.ts'
import { loadChartJsSource } from '../../src/report/chartjs-source.ts'
import { renderHtml } from '../../src/report/render-html.ts'
import { pngSize } from '../helpers/png.ts'
import { fixtureWhatIf, loadReport } from '../helpers/report-fixtures.ts'

/**
 * The HTML report in a real browser: Debian's Chromium driven by playwright-core (no browser download).
 * Every chart draws, nothing is logged as an error, nothing is fetched, nothing overflows, on a phone and
 * on a laptop. CI installs chromium in .ci/run; this test fails, never skips, without it.
 */
const CHROMIUM = '/usr/bin/chromium'
const VIEWPORTS = [
  { name: 'phone', width: 390, height: 844 },
  { name: 'laptop', width: 1280, height: 800 },
]

const load = loadReport
const whatIf = fixtureWhatIf
const pages = [
  { name: 'leaky', report: load('report.json'), whatIf },
  { name: 'good', report: load('report-good.json'), whatIf: null },
]

const dir = mkdtempSync(join(tmpdir(), 'cb-html-'))
let browser: Browser

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: install it with \`apt-get update && apt-get install -y chromium\` (.ci/run does)`).toBe(true)
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  })
  const chartJs = await loadChartJsSource()
  for (const p of pages) writeFileSync(join(dir, `${p.name}.html`), renderHtml(p.report, { chartJs, whatIf: p.whatIf }))
})

afterAll(async () => {
  await browser?.close()
})

describe.each(pages)('HTML report of the $name run', ({ name, report, whatIf: projection }) => {
  const charts = buildCharts(report, projection)

  it.each(VIEWPORTS)('on a $name ($width x $height): every chart draws, no errors, no requests, no overflow', async (viewport) => {
    const page = await browser.newPage({ viewport: { width: viewport.width, height: viewport.height } })
    try {
      const errors: string[] = []
      const requests: string[] = []
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text())
      })
      page.on('pageerror', (error) => errors.push(String(error)))
      page.on('request', (request) => requests.push(request.url()))
      const url = pathToFileURL(join(dir, `${name}.html`)).href
      await page.goto(url)
      await page.waitForFunction((n) => (window as unknown as { cancelbenchCharts?: unknown[] }).cancelbenchCharts?.length === n, charts.length)

      const canvases = await page.evaluate(() =>
        [...document.querySelectorAll('canvas')].map((canvas) => {
          const blank = document.createElement('canvas')
          blank.width = canvas.width
          blank.height = canvas.height
          const rect = canvas.getBoundingClientRect()
          return {
            id: canvas.id,
            hasChart: (window as unknown as { Chart: { getChart(c: HTMLCanvasElement): unknown } }).Chart.getChart(canvas) !== undefined,
            drawn: canvas.width > 0 && canvas.height > 0 && canvas.toDataURL() !== blank.toDataURL(),
            cssWidth: rect.width,
            cssHeight: rect.height,
          }
        }),
      )
      expect(canvases.map((c) => c.id)).toEqual(charts.map((c) => `chart-${c.id}`))
      for (const canvas of canvases) {
        expect(canvas.hasChart, canvas.id).toBe(true)
        expect(canvas.drawn, `${canvas.id} is blank`).toBe(true)
        // Full width on a phone; at least half a laptop's (two charts side by side).
        expect(canvas.cssWidth, canvas.id).toBeGreaterThanOrEqual(Math.min(viewport.width * 0.8, 480))
        expect(canvas.cssWidth, canvas.id).toBeLessThanOrEqual(viewport.width)
        expect(canvas.cssHeight, canvas.id).toBeGreaterThanOrEqual(250)
      }

      const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }))
      expect(scrollWidth, 'the page scrolls sideways').toBeLessThanOrEqual(innerWidth)

      expect(errors).toEqual([])
      expect(requests).toEqual([url])

      const screenshot = join(dir, `${name}-${viewport.width}.png`)
      await page.screenshot({ path: screenshot, fullPage: true })
      const size = pngSize(readFileSync(screenshot))
      expect(size.width).toBe(viewport.width)
      expect(size.height).toBeGreaterThan(viewport.height)
    } finally {
      await page.close()
    }
  })
})
