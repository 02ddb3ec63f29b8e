import { once } from 'node:events'
import { mkdir, writeFile } from 'node:fs/promises'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { createTarget as createGoodTarget } from '../../examples/node/sse-good.ts'
import { createTarget as createLeakyTarget } from '../../examples/node/sse-leaky.ts'
import { createMockProvider } from '../../mock-provider/index.ts'
import { formatUsd } from '../cost/money.ts'
import type { Report } from '../report/report.ts'
import { writeRenders } from '../report/write.ts'
import { plan } from '../runner/plan.ts'
import { validateScenario, type LoadedScenario } from '../scenario/load.ts'
import type { ScenarioInput } from '../scenario/schema.ts'
import { InternalError } from '../errors.ts'
import { ExitCode } from '../exit-codes.ts'
import { runScenario, type RunIo } from './run.ts'

export interface DemoFlags {
  out?: string
  seed?: number
  json?: boolean
}

/** The demo's load: small enough for well under 20 s, big enough for percentiles to mean something. */
const DEMO: Omit<ScenarioInput, 'target' | 'name'> = {
  description: 'cancelbench demo: the same streams against a server that passes the cancel on and one that never does',
  provider: { timing: { ttftMs: { dist: 'uniform', min: 80, max: 250 }, tokensPerSecond: 150, outputTokens: { dist: 'uniform', min: 200, max: 400 } } },
  load: { streams: 60, concurrency: 30, settleTimeoutMs: 10_000 },
  cancel: { fraction: 0.5, after: { tokens: { dist: 'uniform', min: 5, max: 60 } }, mode: ['abort', 'rst', 'fin'] },
  graceMs: 500,
  thresholds: ['propagation_rate >= 0.99', 'propagation_ms.p95 <= 100', 'leaked_tokens.max <= 5', 'errors == 0'],
}

/**
 * `cancelbench demo`: one embedded mock provider, the two reference Node targets in this process (one
 * aborts its provider call when the client leaves, one never does), the same plan fired at both at once.
 * @example await demoCommand({}, io)
 */
export async function demoCommand(flags: DemoFlags, io: RunIo): Promise<number> {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '').replace('T', '-')
  const dir = resolve(flags.out ?? join('reports', `${stamp}-demo`))
  await mkdir(dir, { recursive: true })
  const provider = await createMockProvider({ ledgerFile: join(dir, 'ledger.jsonl') })
  const servers: Server[] = []
  try {
    const sides = [
      { name: 'sse-good', label: 'passes the cancel on', create: createGoodTarget },
      { name: 'sse-leaky', label: 'never cancels', create: createLeakyTarget },
    ]
    // Both runs feed one progress line: count their streams together.
    let done = 0
    const onProgress: RunIo['onProgress'] = (_done, total, sample) => io.onProgress?.(++done, total * sides.length, sample)
    io.err(`cancelbench demo: ${DEMO.load!.streams} streams against each of two servers, half of them stopped by the "user"...`)
    const reports = await Promise.all(
      sides.map(async (side) => {
        const server = side.create({ anthropic: provider.url })
        servers.push(server)
        server.listen(0, '127.0.0.1')
        await once(server, 'listening')
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
        const loaded = demoScenario(side.name, url)
        const runDir = join(dir, side.name)
        await mkdir(runDir, { recursive: true })
        const runPlan = plan(loaded.scenario, { seed: flags.seed, runId: side.name })
        const { report } = await runScenario(loaded, runPlan, { ...io, onProgress, runDir, provider })
        await writeFile(join(runDir, 'report.json'), JSON.stringify(report, null, 2) + '\n')
        await writeRenders(runDir, report)
        return { ...side, report }
      }),
    )
    const text = renderDemo(reports)
    await writeFile(join(dir, 'summary.txt'), text + '\n')
    io.out(flags.json ? JSON.stringify(Object.fromEntries(reports.map((r) => [r.name, r.report])), null, 2) : `${text}\n\nWritten to ${dir}`)
    if (io.signal.aborted) return ExitCode.Interrupted
    // The demo works when the good server passes and the leaky one is caught.
    const [good, leaky] = reports
    return good!.report.thresholds.every((t) => t.pass) && !leaky!.report.thresholds.every((t) => t.pass) ? ExitCode.Ok : ExitCode.ThresholdFailed
  } finally {
    for (const server of servers) server.closeAllConnections?.()
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
    await provider.close()
  }
}

function demoScenario(name: string, url: string): LoadedScenario {
  const result = validateScenario({ ...DEMO, name, target: { url } }, '')
  if (!result.value) throw new InternalError(`the built-in demo scenario is invalid: ${result.errors.join('; ')}`)
  return result.value
}

/** Side-by-side table of the two runs. Pure. */
export function renderDemo(sides: { name: string; label: string; report: Report }[]): string {
  const rows: [string, (r: Report) => string][] = [
    ['verdict', (r) => (r.thresholds.every((t) => t.pass) ? 'PASS' : 'FAIL')],
    ['streams stopped by the user', (r) => `${r.summary.aborted} of ${r.summary.streams}`],
    ['provider stopped too', (r) => `${r.summary.propagated} of ${r.summary.propagated + r.summary.leaked}`],
    ['stop reached provider, p50 / p95', (r) => (r.summary.propagationMs.p50 === null ? 'never' : `${r.summary.propagationMs.p50} / ${r.summary.propagationMs.p95} ms`)],
    ['tokens billed after Stop', (r) => r.summary.leakedTokens.total.toLocaleString('en-US')],
    ['output tokens billed / planned', (r) => `${r.summary.billedOutputTokens.toLocaleString('en-US')} / ${r.summary.plannedOutputTokens.toLocaleString('en-US')}`],
    ['cost billed / if never stopped / leaked', (r) => (r.summary.cost ? [r.summary.cost.billedUsd, r.summary.cost.baselineUsd, r.summary.cost.leakedUsd].map(formatUsd).join(' / ') : 'n/a')],
  ]
  const headers = sides.map((s) => `${s.name} (${s.label})`)
  const width0 = Math.max(...rows.map(([label]) => label.length)) + 2
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(([, f]) => f(sides[i]!.report).length)) + 3)
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(width0) : c.padEnd(widths[i - 1]!))).join('').trimEnd()
  const leaky = sides.find((s) => s.name === 'sse-leaky')?.report.summary
  return [
    line(['', ...headers]),
    ...rows.map(([label, f]) => line([label, ...sides.map((s) => f(s.report))])),
    '',
    leaky && leaky.leaked > 0
      ? `The leaky server kept ${leaky.leaked} generations running after the user pressed Stop: ${leaky.leakedTokens.total.toLocaleString('en-US')} output tokens billed that nobody saw.`
      : 'Both servers stopped the provider.',
  ].join('\n')
}
