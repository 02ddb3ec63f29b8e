import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

let cached: Promise<string> | undefined

/**
 * The source of Chart.js' UMD build, which the HTML report inlines. Resolved from this package's own
 * dependency (its `dist/` holds `chart.cjs`, which `require.resolve` finds, beside `chart.umd.js`) and
 * read once per process.
 * @example const html = renderHtml(report, { chartJs: await loadChartJsSource() })
 */
export function loadChartJsSource(): Promise<string> {
  cached ??= readFile(join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.js'), 'utf8')
  return cached
}
