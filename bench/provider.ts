/**
 * Mock provider benchmark: how many concurrent 50 tokens/s streams the provider holds with p99 inter-token
 * jitter <= 5 ms, the tokens/s it serves, its CPU per 1,000 events, and how long after a client destroys
 * its socket the provider records the disconnect and stops billing.
 *
 *   npm run bench:provider                 # full run (a few minutes), writes docs/benchmarks.md
 *   npm run bench:provider -- --quick      # < 20 s smoke run, prints only (add --write to write the doc)
 *   npm run bench:provider -- --help
 *
 * The provider runs in its own process (bench/provider-server.ts) so that on a 2-core machine it and this
 * load generator get a core each, and the provider's CPU time is its own. Everything talks over loopback,
 * every step is bounded by a deadline, and the whole run by a time limit.
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { disconnectFigures, loadFigures, type LoadFigures } from './lib/analyse.ts'
import { estimateOffset } from './lib/clock-offset.ts'
import { HELP, outputTokensFor, parseConfig, staggerFor, streamMs, UsageError, type BenchConfig, type DisconnectLevel } from './lib/config.ts'
import { runStep, type StepContext } from './lib/load-step.ts'
import { ensureFdLimit, machineInfo } from './lib/machine.ts'
import { ProviderProcess } from './lib/provider-process.ts'
import { render, type DisconnectResult, type Results, type SweepResult } from './lib/render.ts'
import { writeSection } from './lib/report.ts'
import { fmtInt, fmtMs } from './lib/stats.ts'
import { benchAgent, type StreamShape } from './lib/stream-client.ts'

const log = (line: string) => process.stderr.write(line + '\n')

function shapeFor(config: BenchConfig, tokensPerEvent: number, outputTokens: number): StreamShape {
  return { ttftMs: config.ttftMs, tokensPerSecond: config.tokensPerSecond, tokensPerEvent, outputTokens }
}

let stepCounter = 0
/** Step labels are unique in a run, so that a late ledger record could never be taken for another step's. */
const label = (prefix: string) => `${prefix}-${++stepCounter}`

async function measureLevel(ctx: StepContext, config: BenchConfig, tokensPerEvent: number, n: number): Promise<LoadFigures> {
  const staggerMs = staggerFor(config, n)
  const outputTokens = outputTokensFor(config, staggerMs + config.holdMs, tokensPerEvent)
  log(`  ${fmtInt(n)} streams at ${tokensPerEvent} token(s)/event (ramp ${(staggerMs / 1000).toFixed(1)} s, ${outputTokens} tokens each) ...`)
  const run = await runStep(ctx, {
    label: label(`t${tokensPerEvent}n${n}`),
    streams: n,
    shape: shapeFor(config, tokensPerEvent, outputTokens),
    staggerMs,
    deadlineMs: staggerMs + streamMs(config, outputTokens) + 15_000,
    sampleEveryMs: 250,
  })
  const f = loadFigures(run, config.maxJitterP99Ms, config.criterion)
  log(
    `    ${f.passed ? 'pass' : 'FAIL'}: ok ${f.ok}/${n}, jitter p99 steady ${fmtMs(f.jitterSteady.p99)} ms (window ${fmtInt(f.steadyWindowMs)} ms), ` +
      `all gaps ${fmtMs(f.jitter.p99)} ms, head p99 ${fmtMs(f.head.p99)} ms, start late p99 ${fmtMs(f.firstDeltaLate.p99)} ms (${fmtInt(f.headOver1s)} heads >= 1 s; machine-wide accept-queue overflows ${fmtInt(f.listenOverflows)}); ${fmtInt(f.tokensPerSecSteady)} tokens/s; ` +
      `provider CPU ${fmtInt(f.providerCpuPctSteady)}%, ${fmtMs(f.cpuMsPer1kFramesSteady)} ms/1k events, setup ${fmtMs(f.setupCpuMsPerStream)} ms/stream; ` +
      `provider-side jitter p99 ${fmtMs(f.providerTiming.jitterMs.p99)} (max ${fmtMs(f.providerTiming.jitterMs.max)}, delay p99 ${fmtMs(f.providerTiming.delayMs.p99)}) ms over ${fmtInt(f.providerTiming.events)} events; loop delay p99/max ${fmtMs(f.providerLoopDelayP99)}/${fmtMs(f.providerLoopDelayMax)} ms; steady GC pauses > 5 ms: ${f.gcSteady.over5ms} (longest ${fmtMs(f.gcSteady.maxMs)} ms); client CPU ${fmtInt(f.clientCpuPctSteady)}%, loop delay p99 ${fmtMs(f.clientLoopDelayP99)} ms, CPU pressure ${fmtInt(f.cpuPressurePctSteady)}%` +
      (f.errorSamples.length ? `; errors: ${f.errorSamples.join(' | ')}` : '') +
      (f.ledgerMismatches ? `; ${f.ledgerMismatches} ledger mismatches` : ''),
  )
  // Let closing sockets and the provider's garbage settle before the next level.
  await sleep(500)
  return f
}

async function sweep(ctx: StepContext, config: BenchConfig, tokensPerEvent: number, maxStreams: number): Promise<SweepResult> {
  const rows: LoadFigures[] = []
  let maxPassing: number | undefined
  let firstFailing: number | undefined
  for (const n of config.steps) {
    if (ctx.stopping) break
    if (n > maxStreams) {
      log(`  skipping ${fmtInt(n)} streams and above: over the open-file limit (max ${fmtInt(maxStreams)})`)
      break
    }
    const f = await measureLevel(ctx, config, tokensPerEvent, n)
    rows.push(f)
    if (f.passed) maxPassing = n
    else {
      firstFailing = n
      break
    }
  }
  for (let i = 0; i < config.refine && !ctx.stopping; i++) {
    if (maxPassing === undefined || firstFailing === undefined) break
    // Bisect on a grid of 250 streams: finer than that is below the run-to-run noise.
    const mid = Math.round((maxPassing + firstFailing) / 2 / 250) * 250
    if (mid <= maxPassing || mid >= firstFailing) break
    const f = await measureLevel(ctx, config, tokensPerEvent, mid)
    rows.push(f)
    if (f.passed) maxPassing = mid
    else firstFailing = mid
  }
  rows.sort((a, b) => a.streams - b.streams)
  return { tokensPerEvent, rows, maxPassing, firstFailing }
}

async function disconnectLevel(ctx: StepContext, config: BenchConfig, level: DisconnectLevel): Promise<DisconnectResult> {
  log(`  ${config.disconnectStreams} cancels, background ${fmtInt(level.background)} streams at ${level.tokensPerEvent} token(s)/event ...`)
  const staggerMs = staggerFor(config, level.background)
  const cancelStaggerMs = Math.max(500, Math.min(config.minStaggerMs, 1000))
  // Cancels start once the whole background is streaming, and the background outlives the last cancel.
  const startDelayMs = level.background > 0 ? staggerMs + config.ttftMs + 200 : 0
  const cancelTokens = outputTokensFor(config, 1000, 1)
  const backgroundTokens = outputTokensFor(config, startDelayMs + cancelStaggerMs + 1000, level.tokensPerEvent)
  const run = await runStep(ctx, {
    label: label(`d${level.background}`),
    streams: level.background,
    shape: shapeFor(config, level.tokensPerEvent, backgroundTokens),
    staggerMs,
    cancel: {
      streams: config.disconnectStreams,
      shape: shapeFor(config, 1, cancelTokens),
      afterDeltas: config.disconnectAfterDeltas,
      startDelayMs,
      staggerMs: cancelStaggerMs,
    },
    deadlineMs: Math.max(staggerMs + streamMs(config, backgroundTokens), startDelayMs + cancelStaggerMs + streamMs(config, cancelTokens)) + 15_000,
    sampleEveryMs: 250,
  })
  const f = disconnectFigures(run)
  log(
    `    observed p50 ${fmtMs(f.observed.p50)} p99 ${fmtMs(f.observed.p99)} max ${fmtMs(f.observed.max)} ms; ` +
      `stopped p99 ${fmtMs(f.stopped.p99)} ms; ${f.destroyed}/${f.cancels} destroyed, ${f.unrecorded} unrecorded` +
      (level.background > 0 ? `; background ${f.backgroundOk}/${f.background} ok` : ''),
  )
  await sleep(500)
  return { ...f, level, cancelStaggerMs }
}

async function main(): Promise<number> {
  let parsed: BenchConfig | 'help'
  try {
    parsed = parseConfig(process.argv.slice(2))
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof TypeError)) throw error
    process.stderr.write(`${error.message}\n\n${HELP}`)
    return 2
  }
  if (parsed === 'help') {
    process.stdout.write(HELP)
    return 0
  }
  const config = parsed
  const startedAt = new Date()
  const t0 = performance.now()
  const machine = machineInfo()
  const fd = ensureFdLimit()
  // Each stream is one fd here and one in the provider (which inherits the limit); keep headroom for the rest.
  const maxStreams = Number.isFinite(fd.soft) ? Math.max(0, fd.soft - 512) : 1_000_000
  log(`cancelbench provider bench (${config.mode}): ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}; ${fd.note}; load average ${machine.loadAvg1.toFixed(2)}`)

  const execArgv = [...config.providerFlags, ...(config.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${config.cpuProfDir}`] : [])]
  let provider: ProviderProcess
  try {
    provider = await ProviderProcess.start({ nodeBin: process.execPath, script: config.server, execArgv })
  } catch (error) {
    log(`could not start the provider: ${(error as Error).message}`)
    return 3
  }
  const ctx: StepContext = { provider, transport: config.transport, agent: benchAgent(), controlAgent: benchAgent(), live: new Set(), stopping: false }
  log(`provider pid ${provider.pid} at ${provider.url.href}`)

  // Whatever ends this process, the provider (our child, by pid) goes with it.
  const onExit = () => provider.killNow()
  process.on('exit', onExit)
  let interrupted: number | undefined
  const stop = (code: number, why: string) => {
    if (interrupted !== undefined) return
    interrupted = code
    log(why)
    ctx.stopping = true
    for (const stream of ctx.live) stream.abort(why)
    void provider.stop(2_000).finally(() => process.exit(code))
  }
  const onSigint = () => stop(130, 'interrupted: stopping the provider')
  const onSigterm = () => stop(143, 'terminated: stopping the provider')
  process.once('SIGINT', onSigint)
  process.once('SIGTERM', onSigterm)
  const watchdog = setTimeout(() => stop(3, `time limit of ${config.timeLimitMs / 1000} s reached: stopping`), config.timeLimitMs)
  watchdog.unref()

  let results: Results
  try {
    const offset = await estimateOffset(provider.url, ctx.controlAgent)
    log(`clock: provider - bench = ${fmtMs(offset.offsetMs)} ± ${fmtMs(offset.uncertaintyMs)} ms`)
    if (config.warmupStreams > 0) {
      // V8 compiles and optimises the hot paths of both processes during their first thousands of events;
      // without this, the first level measures the JIT as much as the provider.
      log(`warm-up: ${config.warmupStreams} streams (not reported)`)
      await runStep(ctx, {
        label: label('warmup'),
        streams: config.warmupStreams,
        shape: shapeFor(config, 1, outputTokensFor(config, 1000, 1)),
        staggerMs: staggerFor(config, config.warmupStreams),
        deadlineMs: staggerFor(config, config.warmupStreams) + streamMs(config, outputTokensFor(config, 1000, 1)) + 15_000,
        sampleEveryMs: 250,
      })
      await sleep(500)
    }
    const sweeps: SweepResult[] = []
    for (const tpe of config.tokensPerEvent) {
      if (ctx.stopping) break
      log(`sweep at ${tpe} token(s)/event`)
      sweeps.push(await sweep(ctx, config, tpe, maxStreams))
    }
    const disconnects: DisconnectResult[] = []
    if (config.disconnectStreams > 0 && !ctx.stopping) log('disconnect latency')
    for (const level of config.disconnectStreams > 0 ? config.disconnectLevels : []) {
      if (ctx.stopping) break
      if (level.background + config.disconnectStreams > maxStreams) {
        log(`  skipping background ${fmtInt(level.background)}: over the open-file limit`)
        continue
      }
      disconnects.push(await disconnectLevel(ctx, config, level))
    }
    results = {
      config,
      machine,
      fd,
      startedAt,
      durationS: (performance.now() - t0) / 1000,
      loadAvgEnd: machineInfo().loadAvg1,
      offset,
      sweeps,
      disconnects,
    }
  } finally {
    clearTimeout(watchdog)
    for (const stream of ctx.live) stream.abort('bench ended')
    ctx.agent.destroy()
    ctx.controlAgent.destroy()
    if (interrupted === undefined) await provider.stop()
    process.off('SIGINT', onSigint)
    process.off('SIGTERM', onSigterm)
  }
  if (interrupted !== undefined) return interrupted

  const markdown = render(results)
  process.stdout.write(`\n${markdown}\n`)
  if (config.write) {
    writeSection(config.out, 'provider', markdown)
    log(`wrote ${config.out}`)
  } else {
    log('not written to docs (pass --write to write it)')
  }
  return 0
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    log(`bench failed: ${(error as Error)?.stack ?? String(error)}`)
    process.exitCode = 4
  },
)
