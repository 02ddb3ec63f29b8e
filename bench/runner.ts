/**
 * Runner benchmark: how many concurrent SSE streams the cancelbench runner drives on one core while the
 * timestamps it puts on tokens stay within 1 ms (target >= 2,000), and the wall time of the CI scenario
 * (scenarios/ci.yaml: 200 streams, 50% aborted, against the Node reference target; target <= 5 s).
 *
 *   npm run bench:runner                 # full run (~2 min), writes the runner section of docs/benchmarks.md
 *   npm run bench:runner -- --quick      # < 30 s sanity run, prints only (add --write to write the doc)
 *   npm run bench:runner -- --help
 *
 * Everything runs on loopback, every load level is bounded in streams and time, and the sweep as a whole
 * by a deadline. The provider child is stopped in `finally`, on Ctrl-C, and killed on process exit.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { reexecWith, RUNTIME_FLAGS } from '../bin/runtime-flags.js'
import { openProvider } from '../src/runner/provider-session.ts'
import { capacityScenario, idleLoopFigures, ProviderChild, runLevel, streamMs, type LevelConfig, type LevelResult } from './lib/runner-capacity.ts'
import { ciPhases, idealStreamsMs, runCi, type CiRun } from './lib/runner-ci.ts'
import { cpuAffinity, ensureFdLimit, machine, setCpuAffinity, writeSection } from './lib/runner-env.ts'
import { BOUND_MS, judgeTrials, render, type LevelVerdict, type RunnerResults } from './lib/runner-render.ts'
import { fmtInt, fmtMs } from './lib/runner-stats.ts'

// The runner under test runs in this process: give it the GC flags `cancelbench run` runs with.
reexecWith(RUNTIME_FLAGS.run)

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const HELP = `Usage: node bench/runner.ts [options]

  --quick           < 30 s sanity run: short streams, levels 100 and 300, one CI run; prints only
  --write / --no-write   write the runner section of docs/benchmarks.md (default: write unless --quick)
  --levels a,b,c    concurrent-stream levels of the capacity sweep (default 250,500,1000,1500,2000,3000,4000,5000,6000)
  --no-stop         run every level even after one fails (the capacity is still the last level before the first failure)
  --no-pin          do not pin the runner's JS thread and the provider child to CPUs of their own (Linux, taskset)
  --trials N        runs of each capacity level; a level passes when most of its runs do (default 3, --quick 1)
  --ci-runs N       runs of the CI scenario (default 3)
  --skip-capacity   only the CI scenario
  --skip-ci         only the capacity sweep
  --help
`

interface Options {
  quick: boolean
  write: boolean
  levels: number[]
  stopOnFail: boolean
  ciRuns: number
  trials: number
  pin: boolean
  capacity: boolean
  ci: boolean
}

function parseArgs(argv: string[]): Options {
  const quick = argv.includes('--quick')
  const options: Options = {
    quick,
    write: !quick,
    levels: quick ? [100, 300] : [250, 500, 1000, 1500, 2000, 3000, 4000, 5000, 6000],
    stopOnFail: true,
    ciRuns: quick ? 1 : 3,
    trials: quick ? 1 : 3,
    pin: true,
    capacity: true,
    ci: true,
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const value = () => {
      const v = argv[++i]
      if (v === undefined) throw new UsageError(`${arg} needs a value`)
      return v
    }
    if (arg === '--quick') continue
    else if (arg === '--write') options.write = true
    else if (arg === '--no-write') options.write = false
    else if (arg === '--no-stop') options.stopOnFail = false
    else if (arg === '--no-pin') options.pin = false
    else if (arg === '--skip-capacity') options.capacity = false
    else if (arg === '--skip-ci') options.ci = false
    else if (arg === '--levels') {
      options.levels = value().split(',').map((s) => Number(s.trim()))
      if (options.levels.some((n) => !Number.isInteger(n) || n < 1 || n > 20_000)) throw new UsageError('--levels: integers from 1 to 20000, comma-separated')
    } else if (arg === '--trials') {
      options.trials = Number(value())
      if (!Number.isInteger(options.trials) || options.trials < 1 || options.trials > 9) throw new UsageError('--trials: an integer from 1 to 9')
    } else if (arg === '--ci-runs') {
      options.ciRuns = Number(value())
      if (!Number.isInteger(options.ciRuns) || options.ciRuns < 1 || options.ciRuns > 10) throw new UsageError('--ci-runs: an integer from 1 to 10')
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write(HELP)
      process.exit(0)
    } else throw new UsageError(`unknown option ${arg}`)
  }
  return options
}

class UsageError extends Error {}

const log = (line: string) => process.stderr.write(line + '\n')

/**
 * Stream shape of a level: 20 tokens/s, 1 token per event (a realistic chat stream), starts spread over
 * max(1 s, N/2 ms) so that connection set-up stays below ~2,000 per second, and streams long enough
 * (ramp + ~3 s) that all N are open together for a ~2.6 s steady window.
 */
function levelConfig(streams: number, quick: boolean): LevelConfig {
  const tokensPerSecond = 20
  if (quick) return { streams, rampMs: 300, ttftMs: 50, tokensPerSecond, outputTokens: 30 }
  const rampMs = Math.max(1000, Math.round(streams / 2))
  return { streams, rampMs, ttftMs: 100, tokensPerSecond, outputTokens: Math.round(((rampMs + 3000) * tokensPerSecond) / 1000) }
}

/** The whole capacity sweep may take this long; a level that would end after it is not started. */
const SWEEP_BUDGET_MS = 8 * 60_000

async function capacitySweep(options: Options, signal: AbortSignal): Promise<NonNullable<RunnerResults['capacity']>> {
  const child = await ProviderChild.start(process.execPath, join(ROOT, 'bench/lib/runner-provider-child.ts'))
  // A crash or process.exit anywhere must not leave the provider running.
  const onExit = () => child.killNow()
  process.on('exit', onExit)
  const scratch = await mkdtemp(join(tmpdir(), 'cb-bench-runner-'))
  const pinning = options.pin ? pinApart(child.pid) : { note: 'not pinned (--no-pin)', restore: () => {} }
  try {
    log(`provider child pid ${child.pid} at ${child.url}; ${pinning.note}`)
    // The runner's own session for an external provider: it estimates the clock offset the token errors use.
    // One session for the whole sweep, so the offset's own error is the same constant in every level.
    const session = await openProvider(capacityScenario(child.url, levelConfig(10, options.quick), 'offset').scenario.provider, scratch)
    log(`clock offset (runner estimate) ${fmtMs(session.clockOffsetMs)} ms ± ${fmtMs(session.clockOffsetUncertaintyMs)} ms`)
    const idleMs = options.quick ? 300 : 1000
    const idle = await idleLoopFigures(idleMs)
    log(`idle loop delay p50 ${fmtMs(idle.p50)} / p99 ${fmtMs(idle.p99)} / max ${fmtMs(idle.max)} ms`)
    const ctx = { session, child, signal }
    const started = performance.now()

    // Unreported warm-up: the first streams run through unoptimised code in both processes (V8 compiles the
    // hot paths after a few thousand calls); without this the baseline and first level would carry that cost.
    const warm: LevelConfig = { streams: options.quick ? 100 : 500, rampMs: 500, ttftMs: 50, tokensPerSecond: 20, outputTokens: 30 }
    log(`warm-up: ${warm.streams} streams (not reported) ...`)
    await runLevel(ctx, warm, 'warm', BOUND_MS)

    const baselineStreams = options.quick ? 10 : 20
    log(`baseline: ${baselineStreams} streams ...`)
    const baseline = await runLevel(ctx, levelConfig(baselineStreams, options.quick), 'base', BOUND_MS)
    logLevel(baseline)

    const levels: LevelVerdict[] = []
    let stoppedEarly: string | null = null
    for (const n of options.levels) {
      if (signal.aborted) {
        stoppedEarly = 'interrupted'
        break
      }
      const config = levelConfig(n, options.quick)
      const expected = (config.rampMs + streamMs(config) + 3_000) * options.trials
      if (performance.now() - started + expected > SWEEP_BUDGET_MS) {
        stoppedEarly = `sweep time budget (${SWEEP_BUDGET_MS / 1000} s) reached before ${fmtInt(n)} streams`
        break
      }
      const trials: LevelResult[] = []
      for (let t = 1; t <= options.trials && !signal.aborted; t++) {
        log(`${fmtInt(n)} streams, trial ${t}/${options.trials} (ramp ${config.rampMs} ms, ${config.outputTokens} tokens each) ...`)
        const result = await runLevel(ctx, config, `n${n}t${t}`, BOUND_MS)
        if (!signal.aborted) logLevel(result)
        trials.push(result)
        // Let closed sockets and garbage from this run settle before the next.
        await new Promise((r) => setTimeout(r, 500))
      }
      if (signal.aborted) {
        // Streams cut short by Ctrl-C say nothing about capacity: the level is dropped, not failed.
        stoppedEarly = `interrupted during ${fmtInt(n)} streams`
        break
      }
      const verdict = judgeTrials(trials, baseline)
      log(`  ${fmtInt(n)} streams: ${verdict.pass ? 'pass' : `FAIL: ${verdict.reasons.join('; ')}`}`)
      levels.push(verdict)
      if (!verdict.pass && options.stopOnFail) break
    }
    if (!stoppedEarly && levels.every((l) => l.pass)) stoppedEarly = `no level failed up to ${fmtInt(options.levels.at(-1) ?? 0)} streams (the largest level tried)`
    const firstFail = levels.findIndex((l) => !l.pass)
    const passing = firstFail === -1 ? levels : levels.slice(0, firstFail)
    return {
      idle,
      idleMs,
      baseline,
      levels,
      trialsPerLevel: options.trials,
      pinning: pinning.note,
      capacity: passing.at(-1)?.result.config.streams ?? 0,
      stoppedEarly,
      offsetMs: session.clockOffsetMs,
      offsetUncertaintyMs: session.clockOffsetUncertaintyMs,
    }
  } finally {
    pinning.restore()
    await child.stop()
    process.off('exit', onExit)
    await rm(scratch, { recursive: true, force: true })
  }
}

/**
 * Puts the runner's JS thread on one CPU and the provider child (every thread) on another. Left to itself,
 * Linux wakes the runner on the CPU of the provider that just wrote to its socket (a sync wake-up), where it
 * waits while the provider goes on writing to other sockets: at 1,000 streams the runner's thread waited
 * ~500 ms for a CPU in a 2.6 s window, and each wake-up added ~0.3 ms to its timestamps. Pinned, it waited
 * 8-18 ms. The runner's V8 helper threads (parallel scavenge, concurrent marking) are left unpinned, as they
 * are when `cancelbench run` runs. The CI scenario runs after `restore`, unpinned, as a user's run would.
 */
function pinApart(providerPid: number): { note: string; restore: () => void } {
  const none = (why: string) => ({ note: `not pinned (${why})`, restore: () => {} })
  const mine = cpuAffinity(process.pid)
  if (mine === undefined) return none('taskset not available')
  const cpus = expandCpuList(mine)
  if (cpus.length < 2) return none(`only CPU ${mine} available`)
  const [runnerCpu, providerCpu] = [cpus[0]!, cpus[1]!]
  if (!setCpuAffinity(providerPid, String(providerCpu), true)) return none('taskset failed for the provider child')
  if (!setCpuAffinity(process.pid, String(runnerCpu))) return none('taskset failed for the runner')
  return {
    note: `runner JS thread pinned to CPU ${runnerCpu}, provider child (all its threads) to CPU ${providerCpu} (taskset); the runner's V8 helper threads unpinned`,
    restore: () => void setCpuAffinity(process.pid, mine),
  }
}

/** "0-2,5" -> [0, 1, 2, 5]. */
function expandCpuList(list: string): number[] {
  return list.split(',').flatMap((part) => {
    const [from, to = from] = part.split('-').map(Number)
    return Array.from({ length: to! - from! + 1 }, (_, i) => from! + i)
  })
}

function logLevel(r: LevelResult): void {
  log(
    `  ok ${r.ok}/${r.config.streams}, ${fmtInt(r.tokensPerSecSteady)} tokens/s; ` +
      `runner loop p50/p99/max ${fmtMs(r.loopSteady.p50)}/${fmtMs(r.loopSteady.p99)}/${fmtMs(r.loopSteady.max)} ms (${fmtInt(r.loopSteady.samples)} samples; whole run p99 ${fmtMs(r.loopAll.p99)}); ` +
      `runner timing error p50/p99 ${fmtMs(r.runnerErrorSteady.p50)}/${fmtMs(r.runnerErrorSteady.p99)} ms, whole run p99 ${fmtMs(r.runnerErrorAll.p99)}; ` +
      `token error end to end p50/p99 ${fmtMs(r.tokenErrorSteady.p50)}/${fmtMs(r.tokenErrorSteady.p99)} ms; ` +
      `send late p99 ${fmtMs(r.sendLate.p99)} ms, request latency p50/p99 ${fmtMs(r.requestLatency.p50)}/${fmtMs(r.requestLatency.p99)} ms, steady share ${(r.steadyShare * 100).toFixed(1)}%, ${fmtInt(r.listenOverflows)} accept-queue overflows; runner CPU ${Math.round(r.cpuPctSteady)}%, ${fmtMs(r.cpuMsPer1kTokensSteady)} ms/1k tokens; ` +
      `GC ${r.gcSteady.count} pauses, max ${fmtMs(r.gcSteady.maxMs)} ms; waited for a CPU ${fmtMs(r.runQueueWaitSteadyMs)} ms (provider ${fmtMs(r.provider.runQueueWaitMs)} ms); provider loop p99 ${fmtMs(r.provider.loopP99Ms)} ms, CPU ${Math.round(r.provider.cpuPct)}%` +
      (r.errorSamples.length ? `; errors: ${r.errorSamples.join(' | ')}` : ''),
  )
}

async function ciWallTime(options: Options, signal: AbortSignal): Promise<NonNullable<RunnerResults['ci']>> {
  const file = join(ROOT, 'scenarios/ci.yaml')
  const ideal = await idealStreamsMs(file)
  const idealAllAtOnce = await idealStreamsMs(file, Number.POSITIVE_INFINITY)
  log(`CI scenario: ideal streams phase ${fmtMs(ideal)} ms (${fmtMs(idealAllAtOnce)} ms with every stream open at once)`)
  const runs: CiRun[] = []
  for (let i = 0; i < options.ciRuns && !signal.aborted; i++) {
    const run = await runCi(file, signal)
    log(
      `  run ${i + 1}: exit ${run.exitCode}, wall ${fmtMs(run.wallMs)} ms (start-up ${fmtMs(run.startupMs)}, streams ${fmtMs(run.streamsMs)}, tail ${fmtMs(run.tailMs)}, of which until the provider's last stop ${fmtMs(run.settleWaitMs)}, rendering report files ${fmtMs(run.renderMs)}); ` +
        `to provider p50 ${fmtMs(run.forwardFirstWave.p50)} ms (first wave) / ${fmtMs(run.forwardLater.p50)} ms (later), back p50/p95 ${fmtMs(run.returnLatency.p50)}/${fmtMs(run.returnLatency.p95)} ms; ` +
        `${run.summary.propagated} propagated, ${run.summary.leaked} leaked, ${run.summary.errors} errors`,
    )
    runs.push(run)
  }
  let phases
  if (!options.quick && !signal.aborted) {
    phases = await ciPhases(file, signal)
    log(`  phases: ${Object.entries(phases).map(([k, v]) => `${k} ${fmtMs(v)}`).join(', ')}`)
  }
  return { file: relative(ROOT, file), idealStreamsMs: ideal, idealAllAtOnceMs: idealAllAtOnce, runs, phases }
}

async function main(): Promise<number> {
  let options: Options
  try {
    options = parseArgs(process.argv.slice(2))
  } catch (error) {
    if (error instanceof UsageError) {
      log(`bench:runner: ${error.message}\n\n${HELP}`)
      return 2
    }
    throw error
  }
  const stop = new AbortController()
  // First Ctrl-C: stop the load, clean up, report what was measured. Second: leave now (the 'exit'
  // handlers kill the provider child and the CI target's process group).
  let interrupts = 0
  const onSigint = () => {
    if (++interrupts > 1) process.exit(130)
    log('interrupted: stopping (Ctrl-C again to quit at once)')
    stop.abort()
  }
  process.on('SIGINT', onSigint)
  process.on('SIGTERM', onSigint)

  const results: RunnerResults = {
    date: new Date(),
    quick: options.quick,
    machine: machine(),
    fd: ensureFdLimit(Math.max(...options.levels) + 512),
    command: options.quick ? 'npm run bench:runner -- --quick' : 'npm run bench:runner',
  }
  const m = results.machine
  log(`${m.cpuModel}, ${m.cores} cores, Node ${m.node}, load average ${m.loadAvg1.toFixed(2)}, CPU pressure ${m.cpuPressure}%; ${results.fd.note}`)
  if (Number.isFinite(results.fd.soft)) options.levels = options.levels.filter((n) => n + 512 <= results.fd.soft)

  if (options.capacity) results.capacity = await capacitySweep(options, stop.signal)
  if (options.ci && !stop.signal.aborted) results.ci = await ciWallTime(options, stop.signal)

  const text = render(results)
  process.stdout.write(`\n${text}\n`)
  if (stop.signal.aborted) {
    log('interrupted: docs/benchmarks.md left unchanged')
    return 130
  }
  if (options.write) {
    writeSection(join(ROOT, 'docs/benchmarks.md'), 'runner', text)
    log('wrote the runner section of docs/benchmarks.md')
  }
  return 0
}

process.exitCode = await main()
