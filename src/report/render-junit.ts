import { outcomeOf } from './digest.ts'
import { escapeXml as x, fmtNumber } from './format.ts'
import type { Report, StreamResult, Verdict } from './report.ts'

export interface JunitOptions {
  /** Stream ids listed in a verdict failure; the rest are counted. */
  maxIds?: number
}

interface TestCase {
  classname: string
  name: string
  failure: { type: string; message: string; body: string } | null
}

/** The verdicts that are failures of the target, each a test case named after what should hold. */
const VERDICT_CASES: { verdict: Verdict; name: string; what: string }[] = [
  { verdict: 'leaked', name: 'no stopped stream leaks', what: 'leaked: the provider went on generating and billing after the client aborted' },
  { verdict: 'error', name: 'no stream fails', what: 'failed (HTTP error, reset by the target, malformed stream or timeout)' },
  { verdict: 'no_upstream', name: 'every stream reaches the provider', what: 'never reached the provider (the target is not pointed at it, or drops the correlation marker)' },
]

/**
 * The report as JUnit XML for CI test reporters: one test suite; one test case per threshold (failing
 * with expected and actual), one per verdict that blames the target (leaked, error, no_upstream: failing
 * with the first stream ids when any stream got it), and one that the run completed. Verdict cases are
 * always present, passing or not, so a reporter's history keeps the same test names from run to run.
 * @example writeFileSync('junit.xml', renderJunit(report))
 */
export function renderJunit(report: Report, options: JunitOptions = {}): string {
  const maxIds = options.maxIds ?? 20
  const suite = `cancelbench.${report.scenario.name}`
  const cases: TestCase[] = []
  for (const t of report.thresholds) {
    cases.push({
      classname: `${suite}.thresholds`,
      name: t.expression,
      failure: t.pass
        ? null
        : {
            type: 'threshold',
            message: `${t.expression}: actual ${fmtNumber(t.actual)}`,
            body: `expected: ${t.expression}\nactual:   ${t.name} = ${t.actual === null ? 'no data (nothing was measured, so nothing was proven)' : t.actual}`,
          },
    })
  }
  for (const { verdict, name, what } of VERDICT_CASES) {
    const streams = report.streams.filter((s) => s.verdict === verdict)
    cases.push({
      classname: `${suite}.verdicts`,
      name,
      failure: streams.length === 0 ? null : { type: verdict, message: `${streams.length} of ${report.streams.length} streams ${what}`, body: listStreams(streams, maxIds) },
    })
  }
  cases.push({
    classname: `${suite}.run`,
    name: 'the run completed',
    failure: report.partial ? { type: 'partial', message: `the run is incomplete: ${report.partialReason ?? 'cut short'}`, body: `${report.streams.length} streams ran` } : null,
  })

  const failures = cases.filter((c) => c.failure).length
  const time = (report.durationMs / 1000).toFixed(3)
  const properties: [string, string][] = [
    ['outcome', outcomeOf(report)],
    ['scenario.file', report.scenario.file],
    ['seed', String(report.scenario.seed)],
    ['runId', report.scenario.runId],
    ['target', report.target.command ?? report.target.url],
    ['cancelbench.version', report.tool.version],
  ]
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="cancelbench" tests="${cases.length}" failures="${failures}" errors="0" time="${time}">`,
    `  <testsuite name="${x(suite)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="0" time="${time}" timestamp="${x(report.startedAt.replace(/\.\d+Z$/, ''))}">`,
    '    <properties>',
    ...properties.map(([name, value]) => `      <property name="${x(name)}" value="${x(value)}"/>`),
    '    </properties>',
  ]
  for (const c of cases) {
    const open = `    <testcase classname="${x(c.classname)}" name="${x(c.name)}" time="0"`
    if (!c.failure) {
      lines.push(`${open}/>`)
      continue
    }
    lines.push(`${open}>`, `      <failure type="${x(c.failure.type)}" message="${x(c.failure.message)}">${x(c.failure.body)}</failure>`, '    </testcase>')
  }
  lines.push('  </testsuite>', '</testsuites>', '')
  return lines.join('\n')
}

function listStreams(streams: StreamResult[], maxIds: number): string {
  const lines = streams.slice(0, maxIds).map((s) => {
    const facts = [s.abortMode ? `stopped (${s.abortMode}) after ${s.tokensReceived} tokens` : null, s.leakedTokens ? `${s.leakedTokens} tokens billed after Stop` : null, s.error]
    return `${s.id}${facts.some(Boolean) ? `: ${facts.filter(Boolean).join(', ')}` : ''}`
  })
  if (streams.length > maxIds) lines.push(`... and ${streams.length - maxIds} more (see report.json)`)
  return lines.join('\n')
}
