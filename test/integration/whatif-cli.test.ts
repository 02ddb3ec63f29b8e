import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { runCommand } from '../../src/commands/run.ts'
import type { WhatIfResult } from '../../src/cost/types.ts'
import { ExitCode } from '../../src/exit-codes.ts'
import type { Report } from '../../src/report/report.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
// The pinned Node (24): it runs the TypeScript sources directly.
const node = join(root, 'node_modules/.bin/node')

async function cli(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(node, ['bin/cancelbench.js', 'whatif', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  const [code] = (await once(child, 'close')) as [number | null]
  return { code, out, err }
}

const WORKED = ['--requests', '1000000', '--stop-rate', '1', '--avg-output-tokens', '500', '--stop-at-tokens', '100', '--price-out', '15']
/** The amount at the end of the table row that starts with `label`. */
const row = (text: string, label: string) => text.split('\n').find((l) => l.trimStart().startsWith(label))?.trim().split(/\s{2,}/).at(-1)

describe('cancelbench whatif', () => {
  it('reproduces the worked example', async () => {
    const { code, out, err } = await cli(...WORKED)
    expect(err).toBe('')
    expect(code).toBe(ExitCode.Ok)
    expect(row(out, 'full response')).toBe('$0.0075')
    expect(row(out, 'stopped at 100 tokens')).toBe('$0.0015')
    expect(row(out, 'saved per stop')).toBe('$0.006')
    expect(row(out, 'stops')).toBe('1,000,000')
    expect(row(out, 'saved by Stop')).toBe('$6,000.00')
    expect(row(out, 'lost to leaks')).toBe('$0.00')
    expect(out).toContain('1,000,000 stops a month x $0.006 saved per stop = $6,000.00 saved')
  })

  it('shows what leaks lose at --propagation 0.9', async () => {
    const { code, out } = await cli(...WORKED, '--propagation', '0.9')
    expect(code).toBe(ExitCode.Ok)
    expect(row(out, 'saved by Stop')).toBe('$5,400.00')
    expect(row(out, 'lost to leaks')).toBe('$600.00')
    expect(row(out, 'billed')).toBe('$2,100.00')
  })

  it('--json prints the WhatIfResult; --out writes whatif.json and whatif.txt', async () => {
    const json = await cli(...WORKED, '--json')
    const result = JSON.parse(json.out) as WhatIfResult
    expect([result.perResponseUsd, result.perStoppedResponseUsd, result.savedPerStopUsd, result.stopsPerPeriod, result.savedUsd]).toEqual([0.0075, 0.0015, 0.006, 1_000_000, 6000])

    const dir = mkdtempSync(join(tmpdir(), 'cb-whatif-'))
    const written = await cli(...WORKED, '--out', dir)
    expect(written.code).toBe(ExitCode.Ok)
    expect(JSON.parse(readFileSync(join(dir, 'whatif.json'), 'utf8'))).toEqual(result)
    const text = readFileSync(join(dir, 'whatif.txt'), 'utf8')
    expect(row(text, 'saved by Stop')).toBe('$6,000.00')
    expect(written.out).toContain(text.trimEnd())
    expect(written.out).toMatch(/Files:\n {2}\S*whatif\.json\s+.*\n {2}\S*whatif\.txt/)
  })

  const bad: [string, string[], RegExp][] = [
    ['--stop-rate out of range', [...WORKED, '--stop-rate', '1.5'], /--stop-rate: expected a share from 0 to 1, got 1\.5/],
    ['--stop-rate not a number', [...WORKED, '--stop-rate', 'lots'], /--stop-rate.*expected a number, got "lots"/],
    ['--requests missing', WORKED.slice(2), /--requests: required/],
    ['no stop point', [...WORKED.slice(0, 6), '--price-out', '15'], /--stop-at-tokens or --stop-at-fraction: required/],
    ['both stop points', [...WORKED, '--stop-at-fraction', '0.2'], /--stop-at-tokens and --stop-at-fraction: give one of them/],
    ['unknown --model', [...WORKED.slice(0, 8), '--model', 'gpt-9'], /--model: no price for model "gpt-9"\. Known models: .*claude-sonnet-4-6/],
    ['--propagation out of range', [...WORKED, '--propagation', '-0.5'], /--propagation: expected a share from 0 to 1/],
    ['--from-report missing file', ['--requests', '10', '--from-report', '/nonexistent/report.json'], /--from-report: cannot read \/nonexistent\/report\.json/],
  ]
  it.each(bad)('%s: exit 2, naming the flag', async (_name, args, message) => {
    const { code, out, err } = await cli(...args)
    expect(code).toBe(ExitCode.InvalidInput)
    expect(out).toBe('')
    expect(err).toMatch(message)
  })

  it('--from-report that is not a report: exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-whatif-'))
    writeFileSync(join(dir, 'report.json'), '{ not json')
    const broken = await cli('--requests', '10', '--from-report', dir)
    expect(broken.code).toBe(ExitCode.InvalidInput)
    expect(broken.err).toMatch(/--from-report: .*report\.json is not valid JSON/)
    writeFileSync(join(dir, 'report.json'), JSON.stringify({ schemaVersion: 1, hello: 'world' }))
    const other = await cli('--requests', '10', '--from-report', join(dir, 'report.json'))
    expect(other.code).toBe(ExitCode.InvalidInput)
    expect(other.err).toMatch(/--from-report: .* is not a cancelbench report\.json \(schema version 1\): no summary/)
    const empty = await cli('--requests', '10', '--from-report', mkdtempSync(join(tmpdir(), 'cb-whatif-')))
    expect(empty.code).toBe(ExitCode.InvalidInput)
    expect(empty.err).toMatch(/no report\.json there/)
  })
})

describe('cancelbench whatif --from-report, on a real run of scenarios/node-sse-leaky.yaml', () => {
  let dir: string
  let report: Report
  let runOut = ''

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cb-whatif-run-'))
    const code = await runCommand(join(root, 'scenarios/node-sse-leaky.yaml'), { out: dir }, { out: (s) => (runOut += s + '\n'), err: () => {}, signal: new AbortController().signal })
    expect(code).toBe(ExitCode.ThresholdFailed)
    report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report
  }, 60_000)

  it('the run printed its cost line and the files it wrote', () => {
    expect(runOut).toMatch(/\n {2}cost {10}billed \$\S+ {2}baseline \$\S+ {2}saved \$\S+ {2}leaked \$\S+ .*claude-sonnet-4-6 \$3\/\$15/)
    for (const file of ['report.json', 'ledger.jsonl', 'target.stdout.log', 'target.stderr.log']) {
      expect(existsSync(join(dir, file)), file).toBe(true)
      expect(runOut).toContain(`  ${join(dir, file)}`)
    }
    expect(runOut).toMatch(/\nFiles:\n/)
  })

  it('the report carries the cost: the leaky target is billed in full, its leaks priced at the output price', () => {
    const cost = report.summary.cost!
    const out = cost.prices['claude-sonnet-4-6']!.outputPerMTok / 1e6
    expect(cost.prices['claude-sonnet-4-6']).toMatchObject({ inputPerMTok: 3, outputPerMTok: 15, from: 'table' })
    // Every generation ran to its end: billed = planned, nothing saved.
    expect(report.summary.billedOutputTokens).toBe(report.summary.plannedOutputTokens)
    expect(cost.savedUsd).toBe(0)
    expect(cost.billedUsd).toBe(cost.baselineUsd)
    expect(cost.leakedUsd).toBeCloseTo(report.summary.leakedTokens.total * out, 9)
    expect(cost.leakedUsd).toBeGreaterThan(0)
    const sum = (f: (s: Report['streams'][number]) => number) => report.streams.reduce((a, s) => a + f(s), 0)
    expect(cost.billedUsd).toBeCloseTo(sum((s) => s.cost!.billedUsd), 9)
    expect(cost.leakedUsd).toBeCloseTo(sum((s) => s.cost!.leakedUsd), 9)
  })

  it('projects from the measured run', async () => {
    const { code, out, err } = await cli('--from-report', dir, '--requests', '1000000', '--json')
    expect(err).toBe('')
    expect(code).toBe(ExitCode.Ok)
    const r = JSON.parse(out) as WhatIfResult
    const judged = report.streams.filter((s) => s.verdict === 'propagated' || s.verdict === 'leaked')
    const reached = report.streams.filter((s) => s.generations > 0)
    const stopRate = report.summary.aborted / report.summary.streams
    const avgOut = reached.reduce((a, s) => a + s.plannedOutputTokens, 0) / reached.length
    const stopAt = judged.reduce((a, s) => a + s.tokensReceived, 0) / judged.length
    expect(r.input).toMatchObject({ requestsPerPeriod: 1_000_000, propagationRate: 0, model: 'claude-sonnet-4-6', prices: { inputPerMTok: 3, outputPerMTok: 15 } })
    expect(r.input.stopRate).toBeCloseTo(stopRate, 12)
    expect(r.input.avgOutputTokens).toBeCloseTo(avgOut, 9)
    expect(r.input.stopAtTokens).toBeCloseTo(stopAt, 9)
    // Nothing propagates on the leaky target: every stop's savings are lost.
    const full = 1_000_000 * stopRate * (avgOut - stopAt) * 15e-6
    expect(r.savedUsd).toBe(0)
    expect(r.lostToLeaksUsd).toBeCloseTo(full, 4)
    expect(r.billedUsd).toBe(r.baselineUsd)

    // A flag overrides one measured value: with every stop propagated the loss becomes the saving.
    const fixed = JSON.parse((await cli('--from-report', join(dir, 'report.json'), '--requests', '1000000', '--propagation', '1', '--json')).out) as WhatIfResult
    expect(fixed.input.measured).not.toContain('propagationRate')
    expect(fixed.savedUsd).toBe(r.lostToLeaksUsd)
    expect(fixed.lostToLeaksUsd).toBe(0)

    const text = await cli('--from-report', dir, '--requests', '1000000')
    expect(text.out).toContain(`measured from ${join(dir, 'report.json')}: stopRate, avgOutputTokens, stopAtTokens, propagationRate, prices`)
  })
})
