import { appendFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { WhatIfResult } from '../cost/types.ts'
import { loadChartJsSource } from './chartjs-source.ts'
import type { Report } from './report.ts'
import { whatIfPropagationChart, whatIfStopPointChart } from './charts.ts'
import { renderHtml, renderWhatIfHtml } from './render-html.ts'
import { renderJunit } from './render-junit.ts'
import { renderMarkdown, renderWhatIfMarkdown } from './render-markdown.ts'
import { renderWhatIfText } from '../cost/whatif-text.ts'
import { renderSummary } from './summary-text.ts'

export interface WriteRendersOptions {
  whatIf?: WhatIfResult | null
  /** Append the Markdown report here too: GitHub Actions' `$GITHUB_STEP_SUMMARY` file. */
  stepSummary?: string
}

/** A file writeRenders wrote: its path and what it holds. */
export interface RenderedFile {
  path: string
  what: string
}

/**
 * Renders the report in every format into `dir`, beside its report.json: summary.txt, report.md,
 * report.html, junit.xml and one PNG per chart. Returns the files written, in order. The renderers are
 * pure; this is where their output meets the disk.
 * @example const files = await writeRenders(runDir, report, { stepSummary: process.env.GITHUB_STEP_SUMMARY })
 */
export async function writeRenders(dir: string, report: Report, options: WriteRendersOptions = {}): Promise<RenderedFile[]> {
  const whatIf = options.whatIf ?? null
  // Loaded on first use: commands that render nothing (validate, provider) never load the native canvas.
  const { renderPngs } = await import('./render-png.ts')
  const files: [string, string | Uint8Array, string][] = [
    ['summary.txt', renderSummary(report) + '\n', 'the terminal summary'],
    ['report.md', renderMarkdown(report, { whatIf }), 'Markdown: verdict, thresholds, worst streams, charts'],
    ['report.html', renderHtml(report, { chartJs: await loadChartJsSource(), whatIf }), 'one self-contained page with interactive charts; opens offline'],
    ['junit.xml', renderJunit(report), 'JUnit XML for CI test reporters'],
    ...renderPngs(report, { whatIf }).map(({ file, title, png }): [string, Uint8Array, string] => [file, png, `chart: ${title}`]),
  ]
  const written: RenderedFile[] = []
  for (const [name, content, what] of files) {
    await writeFile(join(dir, name), content)
    written.push({ path: join(dir, name), what })
  }
  if (options.stepSummary) await appendFile(options.stepSummary, renderMarkdown(report, { whatIf, charts: false }) + '\n')
  return written
}

/**
 * Writes a what-if projection in every format into `dir`: whatif.json, whatif.txt, whatif.md,
 * whatif.html and its two chart PNGs. Returns the files written, in order.
 * @example await writeWhatIfRenders('reports/whatif', projectWhatIf(input))
 */
export async function writeWhatIfRenders(dir: string, result: WhatIfResult): Promise<RenderedFile[]> {
  const { renderChartPng } = await import('./render-png.ts')
  const charts = [whatIfStopPointChart(result), whatIfPropagationChart(result)]
  const files: [string, string | Uint8Array, string][] = [
    ['whatif.json', JSON.stringify(result, null, 2) + '\n', 'the projection (WhatIfResult)'],
    ['whatif.txt', renderWhatIfText(result) + '\n', 'the terminal table'],
    ['whatif.md', renderWhatIfMarkdown(result), 'Markdown: figures, sensitivity tables, charts'],
    ['whatif.html', renderWhatIfHtml(result, { chartJs: await loadChartJsSource() }), 'one self-contained page with the charts; opens offline'],
    ...charts.map((spec): [string, Uint8Array, string] => [spec.file, renderChartPng(spec), `chart: ${spec.title}`]),
  ]
  const written: RenderedFile[] = []
  for (const [name, content, what] of files) {
    await writeFile(join(dir, name), content)
    written.push({ path: join(dir, name), what })
  }
  return written
}
