import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runCommand, type RunFlags } from '../../src/commands/run.ts'
import { CancelbenchError } from '../../src/errors.ts'
import { ExitCode } from '../../src/exit-codes.ts'
import type { Report, StreamResult } from '../../src/report/report.ts'
import type { LedgerRecord } from '../../mock-provider/index.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const scenario = (name: string) => join(root, 'scenarios', `${name}.yaml`)

interface Outcome {
  code: number
  report: Report
  out: string
  err: string
  dir: string
}

/** Runs a scenario file through the same function the CLI calls, into a fresh directory. */
async function run(file: string, flags: RunFlags = {}): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'cb-run-'))
  let out = ''
  let err = ''
  const code = await runCommand(file, { out: dir, ...flags }, { out: (s) => (out += s + '\n'), err: (s) => (err += s + '\n'), signal: new AbortController().signal })
  return { code, report: JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report, out, err, dir }
}

const aborted = (report: Report) => report.streams.filter((s) => s.aborted)

/**
 * A leaking stream is billed for everything its plan still had to generate when the client left. Seen
 * from the client that is planned - received, less what was generated but not yet received at the abort
 * ("in flight"): a few tokens on an idle machine, more when the client's event loop is busy.
 */
function expectLeakedTheRest(stream: StreamResult) {
  expect(stream.verdict).toBe('leaked')
  const rest = stream.plannedOutputTokens - stream.tokensReceived
  expect(stream.leakedTokens).toBeLessThanOrEqual(rest)
  // Under CPU load the client can trail the provider by a few hundred ms: allow 30 tokens (300 ms at 100/s).
  expect(stream.leakedTokens).toBeGreaterThanOrEqual(rest - 30)
}

function expectPropagated(report: Report) {
  expect(aborted(report).length).toBeGreaterThan(0)
  for (const stream of aborted(report)) {
    expect(stream.verdict, stream.id).toBe('propagated')
    // "Well under the grace": a fifth of it. Loopback propagation is a few ms; this only catches a stall.
    expect(stream.propagationMs!, stream.id).toBeLessThan(report.graceMs / 5)
    expect(stream.leakedTokens!, stream.id).toBeLessThanOrEqual(5)
  }
  for (const stream of report.streams.filter((s) => !s.aborted)) expect(stream.verdict).toBe('completed')
}

const modesSeen = new Set<string>()

describe('runner against the reference targets', () => {
  it.each(['node-sse-good', 'node-ndjson-good', 'node-ws-good', 'fastapi-good'])('%s: aborted streams propagate', async (name) => {
    if (name.startsWith('fastapi')) expect(existsSync(join(root, '.venv/bin/python')), 'run `bash scripts/python-env.sh` to create .venv').toBe(true)
    const { code, report } = await run(scenario(name))
    expectPropagated(report)
    for (const s of aborted(report)) modesSeen.add(s.abortMode!)
    expect(report.summary.errors).toBe(0)
    expect(report.thresholds.every((t) => t.pass)).toBe(true)
    expect(code).toBe(ExitCode.Ok)
  })

  it.each(['node-sse-leaky', 'node-ws-ignore-cancel', 'fastapi-leaky'])('%s: aborted streams leak the rest of the plan', async (name) => {
    if (name.startsWith('fastapi')) expect(existsSync(join(root, '.venv/bin/python')), 'run `bash scripts/python-env.sh` to create .venv').toBe(true)
    const { code, report } = await run(scenario(name))
    expect(aborted(report).length).toBeGreaterThan(0)
    for (const stream of aborted(report)) expectLeakedTheRest(stream)
    for (const s of aborted(report)) modesSeen.add(s.abortMode!)
    expect(report.summary.propagationRate).toBe(0)
    expect(code).toBe(ExitCode.ThresholdFailed)
  })

  it('every abort mode was exercised', () => {
    expect([...modesSeen].sort()).toEqual(['abort', 'fin', 'rst', 'ws-cancel', 'ws-close'])
  })

  it('keepalive: the silent target fails the idle-gap threshold, the keepalive one passes', async () => {
    const [silent, keepalive] = await Promise.all([run(scenario('node-sse-no-keepalive')), run(scenario('node-sse-keepalive'))])
    expect(silent.report.summary.maxIdleGapMs!).toBeGreaterThan(1900)
    expect(silent.report.thresholds[0]).toMatchObject({ name: 'max_idle_gap_ms', pass: false })
    expect(silent.code).toBe(ExitCode.ThresholdFailed)
    expect(keepalive.report.summary.maxIdleGapMs!).toBeLessThan(1000)
    expect(keepalive.report.thresholds[0]).toMatchObject({ name: 'max_idle_gap_ms', pass: true })
    expect(keepalive.code).toBe(ExitCode.Ok)
  })

  it('a target not pointed at the provider: no_upstream, with the hint', async () => {
    const { report, out } = await run(scenario('node-sse-canned'))
    expect(report.streams.every((s) => s.verdict === 'no_upstream')).toBe(true)
    expect(report.hints.join('\n')).toMatch(/ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:\d+/)
    expect(out).toContain('caused no provider call')
  })
})

describe('runner failures', () => {
  function tempScenario(yaml: string): string {
    const file = join(mkdtempSync(join(tmpdir(), 'cb-scn-')), 'scenario.yaml')
    writeFileSync(file, yaml)
    return file
  }

  it('a target command that exits at once: exit code 3 with its stderr', async () => {
    const file = tempScenario(
      `target:\n  url: http://127.0.0.1:{{port}}\n  command: [node, -e, "console.error('boom: DATABASE_URL is not set'); process.exit(1)"]\n`,
    )
    const error = await run(file).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CancelbenchError)
    expect((error as CancelbenchError).exitCode).toBe(ExitCode.RunFailed)
    expect((error as Error).message).toContain('boom: DATABASE_URL is not set')
    expect((error as Error).message).toContain('exited (code 1) before accepting connections')
  })

  it('a scenario with a typo: exit code 2 naming the file, the field and the allowed values', async () => {
    const file = tempScenario(`target:\n  url: http://127.0.0.1:3000\ncancel:\n  mode: ws-cancl\nload:\n  concurency: 4\n`)
    const error = await run(file).catch((e: unknown) => e)
    expect((error as CancelbenchError).exitCode).toBe(ExitCode.InvalidInput)
    const message = (error as Error).message
    expect(message.startsWith(file)).toBe(true)
    expect(message).toContain('load.concurency: unknown field (did you mean "concurrency"?)')
    expect(message).toContain('cancel.mode: "ws-cancl" is not an abort mode; allowed: rst, fin, abort, ws-cancel, ws-close')
  })
})

describe('reproducibility', () => {
  it('the same seed gives the same abort plan and provider plan', async () => {
    const flags = { seed: 42, runId: 'repro' }
    const [a, b] = [await run(scenario('node-sse-good'), flags), await run(scenario('node-sse-good'), flags)]
    const planOf = (o: Outcome) => o.report.streams.map((s) => ({ id: s.id, aborted: s.aborted, mode: s.abortMode, tokens: s.aborted ? s.tokensReceived : null, planned: s.plannedOutputTokens }))
    expect(planOf(a)).toEqual(planOf(b))
    const ledgerPlans = (o: Outcome) =>
      readFileSync(join(o.dir, 'ledger.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as LedgerRecord)
        .map((r) => ({ id: r.correlationId, planned: r.plannedOutputTokens, ...r.plan }))
        .sort((x, y) => x.id!.localeCompare(y.id!))
    expect(ledgerPlans(a)).toEqual(ledgerPlans(b))
    const other = await run(scenario('node-sse-good'), { seed: 43, runId: 'repro' })
    expect(planOf(other)).not.toEqual(planOf(a))
  })
})

describe('Ctrl-C', () => {
  it('stops the run: exit 130, partial report written, target process group gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-int-'))
    const pidFile = join(dir, 'target.pid')
    // The shell records its pid (the process group's leader, since the target runs in its own group)
    // and execs node, which keeps that pid.
    const file = join(dir, 'long.yaml')
    writeFileSync(
      file,
      [
        'target:',
        '  url: http://127.0.0.1:{{port}}',
        `  command: echo $$ > ${pidFile}; exec node ${join(root, 'examples/node/sse-good.ts')}`,
        'provider: { timing: { ttftMs: 20, tokensPerSecond: 20, outputTokens: 2000 } }',
        'load: { streams: 20, concurrency: 10 }',
        'cancel: { fraction: 0 }',
      ].join('\n'),
    )
    const child = spawn(join(root, 'node_modules/.bin/node'), [join(root, 'bin/cancelbench.js'), 'run', file, '--out', join(dir, 'run')], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d))
    // Wait until streams are flowing: the provider's ledger file exists once the run has started, and
    // the target pid file once the target was spawned. Poll files, not time.
    await waitFor(() => existsSync(pidFile) && existsSync(join(dir, 'run', 'target.stdout.log')) && readFileSync(join(dir, 'run', 'target.stdout.log'), 'utf8').includes('listening'))
    await new Promise((r) => setTimeout(r, 500)) // let some streams open
    child.kill('SIGINT')
    const [code] = (await once(child, 'exit')) as [number]
    expect(code, stderr).toBe(ExitCode.Interrupted)
    const report = JSON.parse(readFileSync(join(dir, 'run', 'report.json'), 'utf8')) as Report
    expect(report.partial).toBe(true)
    expect(report.partialReason).toContain('interrupted')
    expect(report.streams.some((s) => s.verdict === 'interrupted')).toBe(true)
    const pid = Number(readFileSync(pidFile, 'utf8'))
    expect(() => process.kill(-pid, 0)).toThrow(/ESRCH/)
  })
})

async function waitFor(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 25))
  }
}
