import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { MockProvider } from '../../mock-provider/index.ts'
import { checkPriceFlag } from '../cost/prices.ts'
import { withCost } from '../cost/run-cost.ts'
import { buildReport } from '../report/build.ts'
import type { Report } from '../report/report.ts'
import { renderFiles, renderSummary } from '../report/summary-text.ts'
import { writeRenders } from '../report/write.ts'
import { aggregate } from '../runner/aggregate.ts'
import { execute } from '../runner/execute.ts'
import { plan, type RunPlan } from '../runner/plan.ts'
import { openProvider } from '../runner/provider-session.ts'
import type { ClientSample } from '../runner/sample.ts'
import { settleLedger } from '../runner/settle.ts'
import { startTarget } from '../runner/target-process.ts'
import { evaluateThresholds } from '../runner/thresholds.ts'
import { loadScenario, type LoadedScenario } from '../scenario/load.ts'
import { InputError } from '../errors.ts'
import { ExitCode } from '../exit-codes.ts'
import { VERSION } from '../version.ts'

export interface RunFlags {
  seed?: number
  runId?: string
  /** Run directory; default reports/<timestamp>-<scenario>/. */
  out?: string
  json?: boolean
  dryRun?: boolean
  streams?: number
  concurrency?: number
  /** Input / output price in USD per million tokens for every model; above the scenario's and the table's. */
  priceIn?: number
  priceOut?: number
}

export interface RunIo {
  out: (text: string) => void
  err: (text: string) => void
  /** Aborts on Ctrl-C: the run stops, the partial report is written, exit code 130. */
  signal: AbortSignal
  /** Called as streams end (progress display). */
  onProgress?: (done: number, total: number, sample: ClientSample) => void
}

/**
 * `cancelbench run <scenario>`: the whole job, top to bottom.
 * @example const code = await runCommand('scenarios/ci.yaml', { seed: 7 }, io)
 */
export async function runCommand(file: string, flags: RunFlags, io: RunIo): Promise<number> {
  const loaded = withFlags(await loadScenario(file), flags)
  for (const warning of loaded.warnings) io.err(`warning: ${warning}`)
  const runPlan = plan(loaded.scenario, { seed: flags.seed, runId: flags.runId ?? newRunId() })
  if (flags.dryRun) {
    io.out(JSON.stringify(runPlan, null, 2))
    return ExitCode.Ok
  }
  const runDir = await makeRunDir(flags.out, loaded.scenario.name)
  const { report, targetDied } = await runScenario(loaded, runPlan, { runDir, ...io })
  await writeFile(join(runDir, 'report.json'), JSON.stringify(report, null, 2) + '\n')
  const rendered = await writeRenders(runDir, report, { stepSummary: process.env.GITHUB_STEP_SUMMARY })
  io.out(flags.json ? JSON.stringify(report, null, 2) : `${renderSummary(report)}\n${renderFiles(runDir, [...RUN_FILES.filter((f) => existsSync(join(runDir, f))), ...rendered])}`)
  if (targetDied) {
    io.err(`cancelbench: ${targetDied}`)
    return ExitCode.RunFailed
  }
  if (io.signal.aborted) return ExitCode.Interrupted
  return report.thresholds.every((t) => t.pass) && !report.partial ? ExitCode.Ok : ExitCode.ThresholdFailed
}

/**
 * Start provider and target -> execute the plan -> join with the ledger -> judge. Library entry point:
 * throws RunError (exit 3) when the run cannot be carried out; a run cut short returns a partial report.
 */
export async function runScenario(
  loaded: LoadedScenario,
  runPlan: RunPlan,
  io: RunIo & { runDir: string; /** A provider already running in this process (the demo shares one). */ provider?: MockProvider },
): Promise<{ report: Report; targetDied: string | null }> {
  const { scenario } = loaded
  const startedAt = new Date()
  const t0 = performance.now()
  const provider = await openProvider(scenario.provider, io.runDir, io.provider)
  try {
    const target = await startTarget(scenario.target, { providerUrl: provider.url, runDir: io.runDir, baseDir: loaded.baseDir })
    // The run stops early on Ctrl-C (streaming or settling) or when the target dies under it.
    const stop = new AbortController()
    const onSignal = () => stop.abort()
    io.signal.addEventListener('abort', onSignal, { once: true })
    try {
      let targetDied: string | null = null
      void target.exited.then((e) => {
        targetDied = `the target exited during the run (${e.signal ?? `code ${e.code}`}); its logs are in ${io.runDir}`
        stop.abort()
      })
      let done = 0
      const { samples, stoppedBy } = await execute({
        plan: runPlan,
        scenario,
        baseUrl: target.url,
        signal: stop.signal,
        now: () => performance.now(),
        onSample: (sample) => io.onProgress?.(++done, runPlan.streams.length, sample),
      })

      const ids = new Set(runPlan.streams.map((s) => s.id))
      const records = await settleLedger(provider, (id) => ids.has(id), scenario.load.settleTimeoutMs, stop.signal)
      const aggregated = aggregate({ plan: runPlan, samples, records, clockOffsetMs: provider.clockOffsetMs, graceMs: scenario.graceMs })
      const { streams, summary, hints } = withCost(aggregated, records, loaded)
      if (provider.mode === 'external') await writeFile(join(io.runDir, 'ledger.jsonl'), records.map((r) => JSON.stringify(r) + '\n').join(''))
      const partialReason = targetDied ? 'the target died' : stoppedBy === 'signal' ? 'interrupted (Ctrl-C)' : stoppedBy === 'duration' ? `load.maxDurationMs (${scenario.load.maxDurationMs} ms) reached` : null
      const report = buildReport({
        version: VERSION,
        scenario: { name: scenario.name, file: loaded.file, seed: runPlan.seed, runId: runPlan.runId },
        startedAt: startedAt.toISOString(),
        durationMs: Math.round(performance.now() - t0),
        partial: partialReason !== null || samples.length < runPlan.streams.length,
        partialReason: partialReason ?? (samples.length < runPlan.streams.length ? 'not every planned stream ran' : null),
        target: { url: target.url, command: scenario.target.command === undefined ? null : [scenario.target.command].flat().join(' ') },
        provider: { mode: provider.mode, url: provider.url, clockOffsetMs: provider.clockOffsetMs, clockOffsetUncertaintyMs: provider.clockOffsetUncertaintyMs },
        graceMs: scenario.graceMs,
        summary,
        thresholds: evaluateThresholds(loaded.thresholds, summary),
        streams,
        extraHints: hints,
      })
      return { report, targetDied }
    } finally {
      io.signal.removeEventListener('abort', onSignal)
      await target.stop()
    }
  } finally {
    await provider.close()
  }
}

/** Command-line flags on top of the scenario file. */
function withFlags(loaded: LoadedScenario, flags: RunFlags): LoadedScenario {
  const load = { ...loaded.scenario.load }
  if (flags.streams !== undefined) load.streams = flags.streams
  if (flags.concurrency !== undefined) {
    if (load.arrivalRatePerSec !== undefined) throw new InputError('--concurrency: this scenario uses load.arrivalRatePerSec (open loop); remove one of them')
    load.concurrency = flags.concurrency
  }
  const priceFlags = { inputPerMTok: checkPriceFlag('--price-in', flags.priceIn), outputPerMTok: checkPriceFlag('--price-out', flags.priceOut) }
  return { ...loaded, scenario: { ...loaded.scenario, load }, priceFlags }
}

/** What a run directory can hold, in the order the run's output lists them. */
const RUN_FILES = ['report.json', 'ledger.jsonl', 'target.stdout.log', 'target.stderr.log']

async function makeRunDir(out: string | undefined, name: string): Promise<string> {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '').replace('T', '-')
  const dir = resolve(out ?? join('reports', `${stamp}-${name}`))
  await mkdir(dir, { recursive: true })
  return dir
}

function newRunId(): string {
  return `cb${randomBytes(4).toString('hex')}`
}
