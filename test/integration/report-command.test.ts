import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { main } from '../../src/cli.ts'
import { reportCommand } from '../../src/commands/report.ts'
import { runCommand } from '../../src/commands/run.ts'
import { projectWhatIf } from '../../src/cost/whatif.ts'
import { InputError } from '../../src/errors.ts'
import { ExitCode } from '../../src/exit-codes.ts'
import type { Report } from '../../src/report/report.ts'
import { writeRenders } from '../../src/report/write.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const fixture = join(root, 'test/fixtures/report.json')
const RENDERS = ['summary.txt', 'report.md', 'report.html', 'junit.xml', 'timeline-worst-leak.png', 'propagation-latency.png', 'leaked-tokens.png', 'cost.png']

/** A run directory holding only the fixture's report.json. */
function runDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cb-report-'))
  copyFileSync(fixture, join(dir, 'report.json'))
  return dir
}

function capture() {
  const lines = { out: [] as string[], err: [] as string[] }
  return { lines, io: { out: (s: string) => lines.out.push(s), err: (s: string) => lines.err.push(s) } }
}

async function expectInputError(path: string, message: RegExp) {
  const { io } = capture()
  const error = await reportCommand(path, {}, io).then(() => null, (e: unknown) => e)
  expect(error).toBeInstanceOf(InputError)
  expect((error as InputError).exitCode).toBe(ExitCode.InvalidInput)
  expect((error as InputError).message).toMatch(message)
}

describe('cancelbench report', () => {
  it('renders every format into the run directory and lists what it wrote', async () => {
    const dir = runDir()
    const { lines, io } = capture()
    expect(await reportCommand(dir, {}, io)).toBe(ExitCode.Ok)
    expect(readdirSync(dir).sort()).toEqual(['report.json', ...RENDERS].sort())
    const listing = lines.out.join('\n').split('\n')
    expect(listing[0]).toBe(`Rendered sse-leaky (${join(dir, 'report.json')}):`)
    expect(listing.slice(1).map((l) => l.trim().split(/\s+/)[0])).toEqual(RENDERS.map((f) => join(dir, f)))
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toMatch(/^## ❌ cancelbench `sse-leaky`: FAIL/)
  })

  it('writes into --out instead, and takes report.json itself as well as its directory', async () => {
    const dir = runDir()
    const out = join(mkdtempSync(join(tmpdir(), 'cb-out-')), 'nested')
    const { io } = capture()
    expect(await reportCommand(join(dir, 'report.json'), { out }, io)).toBe(ExitCode.Ok)
    expect(readdirSync(out).sort()).toEqual([...RENDERS].sort())
    expect(readdirSync(dir)).toEqual(['report.json'])
  })

  it('adds the what-if charts when `cancelbench whatif --out` left a whatif.json in the run directory', async () => {
    const dir = runDir()
    const whatIf = projectWhatIf({
      requestsPerPeriod: 1000,
      stopRate: 0.5,
      avgOutputTokens: 300,
      avgInputTokens: 0,
      stopAtTokens: 30,
      propagationRate: 0,
      prices: { inputPerMTok: 3, outputPerMTok: 15 },
      period: 'week',
    })
    writeFileSync(join(dir, 'whatif.json'), JSON.stringify(whatIf))
    const { lines, io } = capture()
    await reportCommand(dir, {}, io)
    expect(lines.out[0]).toContain('and whatif.json')
    expect(existsSync(join(dir, 'whatif-stop-point.png'))).toBe(true)
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain('### What if')
    writeFileSync(join(dir, 'whatif.json'), '{"not":"a projection"}')
    await expectInputError(dir, /whatif\.json: not a what-if projection/)
  })

  it('explains a missing directory, a missing report.json, a wrong schema version and a broken file (exit 2)', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'cb-empty-'))
    await expectInputError(join(empty, 'nope'), /nope: no such run directory/)
    await expectInputError(empty, /no report\.json there: is this the directory a run wrote\?/)

    const demo = mkdtempSync(join(tmpdir(), 'cb-demo-'))
    for (const side of ['sse-good', 'sse-leaky']) {
      mkdirSync(join(demo, side))
      copyFileSync(fixture, join(demo, side, 'report.json'))
    }
    await expectInputError(demo, new RegExp(`no report\\.json there; it holds run directories: ${join(demo, 'sse-good')}, ${join(demo, 'sse-leaky')}`))

    const dir = runDir()
    const report = JSON.parse(readFileSync(fixture, 'utf8')) as Report
    writeFileSync(join(dir, 'report.json'), JSON.stringify({ ...report, schemaVersion: 2 }))
    await expectInputError(dir, /schemaVersion 2 is not one this cancelbench reads \(1\); upgrade cancelbench/)
    writeFileSync(join(dir, 'report.json'), JSON.stringify({ hello: 'world' }))
    await expectInputError(dir, /schemaVersion null is not one this cancelbench reads \(1\); is it a cancelbench report\.json\?/)
    writeFileSync(join(dir, 'report.json'), JSON.stringify({ schemaVersion: 1, summary: {} }))
    await expectInputError(dir, /not a complete cancelbench report \(missing scenario, thresholds, streams\)/)
    writeFileSync(join(dir, 'report.json'), '{"schemaVersion": 1,')
    await expectInputError(dir, /report\.json: not valid JSON/)
  })

  it('is wired into the CLI', async () => {
    const dir = runDir()
    const { lines, io } = capture()
    const cli = { ...io, interrupted: new Promise<string>(() => {}), signal: new AbortController().signal }
    expect(await main(['node', 'cancelbench', 'report', dir, '--out', join(dir, 'out')], cli)).toBe(ExitCode.Ok)
    expect(existsSync(join(dir, 'out', 'report.html'))).toBe(true)
    expect(await main(['node', 'cancelbench', 'report', join(dir, 'missing')], cli)).toBe(ExitCode.InvalidInput)
    expect(lines.err.at(-1)).toMatch(/^cancelbench: .*missing: no such run directory/)
  })
})

describe('writeRenders', () => {
  it('appends the Markdown, without chart images, to a GitHub job summary', async () => {
    const dir = runDir()
    const summary = join(dir, 'step-summary.md')
    writeFileSync(summary, '# earlier step\n')
    const report = JSON.parse(readFileSync(fixture, 'utf8')) as Report
    await writeRenders(dir, report, { stepSummary: summary })
    await writeRenders(dir, report, { stepSummary: summary })
    const text = readFileSync(summary, 'utf8')
    expect(text.startsWith('# earlier step\n## ❌ cancelbench `sse-leaky`: FAIL')).toBe(true)
    expect(text.match(/## ❌ cancelbench/g)).toHaveLength(2)
    expect(text).not.toContain('![')
  })
})

describe('cancelbench run', () => {
  it('writes every render beside report.json and appends to $GITHUB_STEP_SUMMARY when set', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-run-renders-'))
    const summary = join(dir, 'step-summary.md')
    const previous = process.env.GITHUB_STEP_SUMMARY
    process.env.GITHUB_STEP_SUMMARY = summary
    try {
      const code = await runCommand(join(root, 'scenarios/node-sse-leaky.yaml'), { out: join(dir, 'run'), streams: 4, concurrency: 4, seed: 3 }, { out: () => {}, err: () => {}, signal: new AbortController().signal })
      expect(code).toBe(ExitCode.ThresholdFailed)
    } finally {
      if (previous === undefined) delete process.env.GITHUB_STEP_SUMMARY
      else process.env.GITHUB_STEP_SUMMARY = previous
    }
    const files = readdirSync(join(dir, 'run'))
    for (const file of ['report.json', 'summary.txt', 'report.md', 'report.html', 'junit.xml', 'propagation-latency.png', 'leaked-tokens.png']) expect(files).toContain(file)
    expect(readFileSync(summary, 'utf8')).toMatch(/^## ❌ cancelbench `node-sse-leaky`: FAIL/)
  })
})
