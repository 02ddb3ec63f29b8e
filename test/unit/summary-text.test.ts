import { describe, expect, it } from 'vitest'
import { renderDemo } from '../../src/commands/demo.ts'
import { hintsFor } from '../../src/report/build.ts'
import { REPORT_SCHEMA_VERSION, type Report, type Summary, type ThresholdResult } from '../../src/report/report.ts'
import { renderSummary } from '../../src/report/summary-text.ts'

function summary(fields: Partial<Summary> = {}): Summary {
  return {
    streams: 60,
    aborted: 30,
    propagated: 28,
    leaked: 2,
    completed: 27,
    noUpstream: 1,
    errors: 2,
    interrupted: 0,
    propagationRate: 28 / 30,
    propagationMs: { p50: 3.456, p95: 48.2, p99: 1250, max: 2000 },
    leakedTokens: { total: 1234, p50: 0, p95: 600, max: 634 },
    maxIdleGapMs: 812.345,
    billedOutputTokens: 12_345,
    plannedOutputTokens: 18_000,
    ...fields,
  }
}

function threshold(expression: string, actual: number | null, pass: boolean): ThresholdResult {
  return { name: expression.split(' ')[0]!, expression, actual, pass }
}

function report(fields: Partial<Report> = {}): Report {
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'cancelbench', version: '0.1.0' },
    scenario: { name: 'unit-scenario', file: 'scenarios/unit.yaml', seed: 1, runId: 'r1' },
    startedAt: '2025-01-01T00:00:00.000Z',
    durationMs: 4321,
    partial: false,
    partialReason: null,
    target: { url: 'http://127.0.0.1:3000', command: null },
    provider: { mode: 'embedded', url: 'http://127.0.0.1:8787', clockOffsetMs: 0, clockOffsetUncertaintyMs: 0 },
    graceMs: 500,
    summary: summary(),
    thresholds: [threshold('propagation_rate >= 0.99', 0.9333, false), threshold('propagation_ms.p95 <= 100', 48.2, true)],
    streams: [],
    hints: [],
    ...fields,
  }
}

const lines = (text: string) => text.split('\n')
const lastLine = (text: string) => lines(text).at(-1)

describe('renderSummary', () => {
  const text = renderSummary(report())

  it('opens with the scenario, the stream counts and the duration', () => {
    expect(lines(text)[0]).toBe('cancelbench unit-scenario: 60 streams, 30 aborted, 4.3 s')
  })

  it('shows every verdict count', () => {
    const verdicts = lines(text).find((l) => l.trim().startsWith('verdicts'))
    expect(verdicts).toBeDefined()
    for (const part of ['propagated 28', 'leaked 2', 'completed 27', 'no_upstream 1', 'errors 2']) expect(verdicts).toContain(part)
    // interrupted is shown only when there were some.
    expect(verdicts).not.toContain('interrupted')
    expect(renderSummary(report({ summary: summary({ interrupted: 3 }) }))).toContain('interrupted 3')
  })

  it('shows the propagation rate as a percentage and the latencies in ms or s', () => {
    const line = lines(text).find((l) => l.trim().startsWith('propagation'))!
    expect(line).toContain('rate 93.3%')
    expect(line).toContain('p50 3.46 ms')
    expect(line).toContain('p95 48.2 ms')
    expect(line).toContain('p99 1.25 s')
    expect(line).toContain('max 2.00 s')
  })

  it('shows leaked and billed tokens and the max idle gap', () => {
    expect(text).toContain('leaked tokens total 1234')
    expect(text).toContain('max 634')
    expect(text).toContain('billed 12345 of 18000 planned output tokens')
    expect(text).toMatch(/max idle gap\s+812\.35 ms/)
  })

  it('n/a where there is no data', () => {
    const empty = renderSummary(
      report({
        summary: summary({ propagationRate: null, propagationMs: { p50: null, p95: null, p99: null, max: null }, leakedTokens: { total: 0, p50: null, p95: null, max: null }, maxIdleGapMs: null }),
      }),
    )
    expect(empty).toContain('rate n/a')
    expect(empty).toContain('p95 n/a')
    expect(empty).toMatch(/max idle gap\s+n\/a/)
  })

  it('PASS or FAIL per threshold, with the actual value or "no data"', () => {
    const failing = lines(text).find((l) => l.includes('propagation_rate >= 0.99'))!
    expect(failing.trim()).toMatch(/^FAIL\s+propagation_rate >= 0\.99\s+actual 0\.93$/)
    const passing = lines(text).find((l) => l.includes('propagation_ms.p95 <= 100'))!
    expect(passing.trim()).toMatch(/^PASS\s+propagation_ms\.p95 <= 100\s+actual 48\.2$/)
    const noData = renderSummary(report({ thresholds: [threshold('propagation_rate >= 0.99', null, false)] }))
    expect(noData).toMatch(/FAIL\s+propagation_rate >= 0\.99\s+actual no data/)
  })

  it('no thresholds section when there are none', () => {
    expect(renderSummary(report({ thresholds: [] }))).not.toContain('thresholds')
  })

  it('shows each hint', () => {
    const hinted = renderSummary(report({ hints: ['first hint', 'second hint'] }))
    expect(hinted).toContain('  hint: first hint')
    expect(hinted).toContain('  hint: second hint')
  })

  it('shows the hints buildReport derives (no upstream, errors, leaks)', () => {
    const streams = [{ id: 'r1-4', verdict: 'error', error: 'HTTP 500 from target' }] as Report['streams']
    const hints = hintsFor(summary(), streams, 'http://127.0.0.1:8787')
    const hinted = renderSummary(report({ hints, streams }))
    expect(hinted).toContain('ANTHROPIC_BASE_URL=http://127.0.0.1:8787')
    expect(hinted).toContain('r1-4: HTTP 500 from target')
    expect(hinted).toContain('leaked streams')
  })

  it('RESULT: FAIL when a threshold failed', () => {
    expect(lastLine(text)).toBe('RESULT: FAIL')
  })

  it('RESULT: PASS when every threshold passed', () => {
    expect(lastLine(renderSummary(report({ thresholds: [threshold('propagation_ms.p95 <= 100', 48.2, true)] })))).toBe('RESULT: PASS')
  })

  it('a partial run: PARTIAL marker with the reason, and RESULT: INCOMPLETE even if thresholds pass', () => {
    for (const thresholds of [[threshold('leaked <= 5', 2, true)], [threshold('leaked <= 1', 2, false)]]) {
      const partial = renderSummary(report({ partial: true, partialReason: 'interrupted (Ctrl-C)', thresholds }))
      expect(lines(partial)[0]).toContain('[PARTIAL: interrupted (Ctrl-C)]')
      expect(lastLine(partial)).toBe('RESULT: INCOMPLETE')
    }
    expect(text).not.toContain('PARTIAL')
  })
})

describe('renderDemo', () => {
  const good = report({
    scenario: { name: 'sse-good', file: '', seed: 1, runId: 'sse-good' },
    summary: summary({ propagated: 30, leaked: 0, propagationRate: 1, propagationMs: { p50: 2, p95: 9, p99: 11, max: 12 }, leakedTokens: { total: 3, p50: 0, p95: 1, max: 1 }, billedOutputTokens: 9_876, plannedOutputTokens: 18_000 }),
    thresholds: [threshold('propagation_rate >= 0.99', 1, true)],
  })
  const leaky = report({
    scenario: { name: 'sse-leaky', file: '', seed: 1, runId: 'sse-leaky' },
    summary: summary({ propagated: 0, leaked: 30, propagationRate: 0, propagationMs: { p50: null, p95: null, p99: null, max: null }, leakedTokens: { total: 7_654, p50: 250, p95: 380, max: 390 }, billedOutputTokens: 17_530, plannedOutputTokens: 18_000 }),
    thresholds: [threshold('propagation_rate >= 0.99', 0, false)],
  })
  const text = renderDemo([
    { name: 'sse-good', label: 'passes the cancel on', report: good },
    { name: 'sse-leaky', label: 'never cancels', report: leaky },
  ])
  const row = (label: string) => lines(text).find((l) => l.startsWith(label))

  it('has a column per side, named with its label', () => {
    const header = lines(text)[0]!
    expect(header).toContain('sse-good (passes the cancel on)')
    expect(header).toContain('sse-leaky (never cancels)')
    expect(header.indexOf('sse-good')).toBeLessThan(header.indexOf('sse-leaky'))
  })

  it('shows both sides on every row, in aligned columns', () => {
    const header = lines(text)[0]!
    const leakyColumn = header.indexOf('sse-leaky')
    const rows: [string, string, string][] = [
      ['verdict', 'PASS', 'FAIL'],
      ['streams stopped by the user', '30 of 60', '30 of 60'],
      ['provider stopped too', '30 of 30', '0 of 30'],
      ['stop reached provider, p50 / p95', '2 / 9 ms', 'never'],
      ['tokens billed after Stop', '3', '7,654'],
      ['output tokens billed / planned', '9,876 / 18,000', '17,530 / 18,000'],
    ]
    for (const [label, left, right] of rows) {
      const line = row(label)
      expect(line, label).toBeDefined()
      expect(line!.indexOf(left), `${label}: ${line}`).toBeGreaterThan(label.length)
      expect(line!.indexOf(left), `${label}: ${line}`).toBeLessThan(leakyColumn)
      expect(line!.lastIndexOf(right), `${label}: ${line}`).toBe(leakyColumn)
    }
  })

  it('ends with what the leaky server cost', () => {
    expect(lastLine(text)).toBe('The leaky server kept 30 generations running after the user pressed Stop: 7,654 output tokens billed that nobody saw.')
  })

  it('says both stopped when the leaky side leaked nothing', () => {
    const both = renderDemo([
      { name: 'sse-good', label: 'passes the cancel on', report: good },
      { name: 'sse-leaky', label: 'never cancels', report: good },
    ])
    expect(lastLine(both)).toBe('Both servers stopped the provider.')
  })

  it('has no trailing spaces', () => {
    for (const line of lines(text)) expect(line).toBe(line.trimEnd())
  })
})
