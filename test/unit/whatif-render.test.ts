import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { projectWhatIf } from '../../src/cost/whatif.ts'
import { renderWhatIfHtml } from '../../src/report/render-html.ts'
import { renderWhatIfMarkdown } from '../../src/report/render-markdown.ts'
import { writeWhatIfRenders } from '../../src/report/write.ts'
import { pngSize } from '../helpers/png.ts'

/** The worked example, with a tenth of the stops leaking. */
const result = projectWhatIf({
  requestsPerPeriod: 1_000_000,
  stopRate: 1,
  avgOutputTokens: 500,
  avgInputTokens: 0,
  stopAtTokens: 100,
  propagationRate: 0.9,
  prices: { inputPerMTok: 3, outputPerMTok: 15 },
  period: 'month',
})

describe('what-if renders', () => {
  it('Markdown: the figures of the worked example, both sensitivity tables, the charts', () => {
    const md = renderWhatIfMarkdown(result)
    expect(md).toContain('| $0.0075 | $0.0015 | $0.006 |')
    expect(md).toContain('$5,400.00')
    expect(md).toContain('$600.00')
    expect(md).toContain('### Savings vs. where users stop')
    expect(md).toContain('| 100% | $6,000.00 | $0.00 |')
    expect(md).toContain('](whatif-stop-point.png)')
    expect(md).toContain('](whatif-propagation.png)')
  })

  it('HTML: self-contained, both charts embedded as data, no network', () => {
    const html = renderWhatIfHtml(result, { chartJs: '/* chart.js */' })
    const data = JSON.parse(/<script type="application\/json" id="cancelbench-data">([\s\S]*?)<\/script>/.exec(html)![1]!.replace(/\\u003c/g, '<'))
    expect(data.charts.map((c: { id: string }) => c.id)).toEqual(['whatif-stop-point', 'whatif-propagation'])
    expect(html).toContain("default-src 'none'")
    expect(html).not.toMatch(/(src|href)="https?:/)
    expect(html).toContain('$600.00')
  })

  it('writes every format, PNGs valid', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-whatif-'))
    const files = (await writeWhatIfRenders(dir, result)).map((f) => f.path.slice(dir.length + 1))
    expect(files).toEqual(['whatif.json', 'whatif.txt', 'whatif.md', 'whatif.html', 'whatif-stop-point.png', 'whatif-propagation.png'])
    expect(JSON.parse(readFileSync(join(dir, 'whatif.json'), 'utf8')).savedUsd).toBe(5400)
    for (const png of ['whatif-stop-point.png', 'whatif-propagation.png']) expect(pngSize(readFileSync(join(dir, png)))).toEqual({ width: 900, height: 420 })
  })
})
