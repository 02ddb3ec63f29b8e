import { readFileSync } from 'node:fs'
import type { Agent } from 'node:http'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { LedgerRecord } from '../../mock-provider/ledger.ts'
import type { ProviderStats } from './protocol.ts'
import type { ProviderProcess } from './provider-process.ts'
import { BenchStream, getJson, post, type StreamShape, type Transport } from './stream-client.ts'

/** Streams a user cancels: started after the background load is up, destroyed after `afterDeltas` deltas. */
export interface CancelLoad {
  streams: number
  shape: StreamShape
  afterDeltas: number
  /** From the step's start to the first cancel stream's start. */
  startDelayMs: number
  staggerMs: number
}

export interface StepConfig {
  /** Correlation ids are `bench-<label>-<i>`: unique per step, so ledger records never mix. */
  label: string
  /** Streams read to their end (the measured load, or the background of a disconnect test). */
  streams: number
  shape: StreamShape
  /** Stream starts are spread evenly over this long, so they do not all arrive in the same millisecond. */
  staggerMs: number
  cancel?: CancelLoad
  /** Streams still open this long after the step started are dropped and counted as errors. */
  deadlineMs: number
  sampleEveryMs: number
}

export interface Sample {
  /** performance.now() in the bench when the provider's answer arrived. */
  at: number
  provider: ProviderStats
  clientCpuUs: number
  /** /proc/pressure/cpu "some" total (µs): time in which some task waited for a CPU; NaN where PSI is unavailable. */
  cpuPressureUs: number
}

export interface StepRun {
  config: StepConfig
  full: BenchStream[]
  cancels: BenchStream[]
  samples: Sample[]
  startedAt: number
  endedAt: number
  clientCpuUs: number
  clientLoopDelay: { p50: number; p99: number; max: number }
  /** Provider event-loop figures over the whole step (its `window` starts with the step). */
  providerEnd: ProviderStats
  providerStart: ProviderStats
  /** Every ledger record of the step (the ledger is reset before each step). */
  ledger: LedgerRecord[]
  /** Connections dropped by a full accept queue during the step (see listenOverflows). */
  listenOverflows: number
}

export interface StepContext {
  provider: ProviderProcess
  transport: Transport
  /** Agent for the bench streams when the transport is node:http. */
  agent: Agent
  /** Separate agent for control requests, so they never wait behind stream sockets. */
  controlAgent: Agent
  /** Streams of the step in progress, for cleanup on SIGINT or a fatal error. */
  live: Set<BenchStream>
  /** Set on SIGINT or the run's time limit: no more streams are started. */
  stopping: boolean
}

const LOOP_RESOLUTION_MS = 10

/**
 * Linux pressure stall information: the bench's own two processes fit on two cores, so CPU pressure during
 * a step means something else on the machine competed for the cores and the figures are disturbed.
 */
function cpuPressureUs(): number {
  try {
    const match = /^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'))
    return match ? Number(match[1]) : Number.NaN
  } catch {
    return Number.NaN
  }
}

/**
 * TcpExt ListenOverflows of this network namespace: connections the kernel dropped because the provider's
 * accept queue (backlog 511) was full. The client's SYN is then retried after 1 s, 3 s...: the stream starts
 * late, and the provider was not accepting fast enough during the ramp.
 */
function listenOverflows(): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n')
    for (let i = 0; i + 1 < lines.length; i += 2) {
      if (!lines[i]!.startsWith('TcpExt:')) continue
      const names = lines[i]!.split(/\s+/)
      const values = lines[i + 1]!.split(/\s+/)
      const at = names.indexOf('ListenOverflows')
      return at > 0 ? Number(values[at]) : Number.NaN
    }
  } catch {
    // Not Linux, or /proc not mounted.
  }
  return Number.NaN
}

const cpuUs = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}

/**
 * Runs one load step: resets the ledger, starts the streams on a schedule, samples provider CPU while they
 * run, waits for all of them (or the deadline), then reads back the step's ledger records.
 */
export async function runStep(ctx: StepContext, config: StepConfig): Promise<StepRun> {
  const { provider, controlAgent } = ctx
  await post(provider.url, '/_cancelbench/reset', controlAgent)
  // The previous step's sockets and records are garbage now: collect them before this step is timed, as the
  // runner bench does, so a major GC of the last step's heap does not land in this step's window.
  await provider.gc()
  const clientLoop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
  clientLoop.enable()

  // Every stream object exists before the first starts: allocation is not part of the timed phase.
  const full = Array.from({ length: config.streams }, (_, i) => new BenchStream(`bench-${config.label}-${i}`, config.shape))
  const cancel = config.cancel
  const cancels = cancel ? Array.from({ length: cancel.streams }, (_, i) => new BenchStream(`bench-${config.label}-c${i}`, cancel.shape, cancel.afterDeltas)) : []
  const schedule: { at: number; stream: BenchStream }[] = []
  const t0 = performance.now() + 20
  await provider.window(plannedSteadyWindowUnixMs(config, t0))
  full.forEach((stream, i) => schedule.push({ at: t0 + (i * config.staggerMs) / config.streams, stream }))
  if (cancel) cancels.forEach((stream, i) => schedule.push({ at: t0 + cancel.startDelayMs + (i * cancel.staggerMs) / cancel.streams, stream }))
  schedule.sort((a, b) => a.at - b.at)

  const providerStart = await provider.stats()
  const overflowsStart = listenOverflows()
  const clientCpuStart = cpuUs()
  const samples: Sample[] = [{ at: performance.now(), provider: providerStart, clientCpuUs: clientCpuStart, cpuPressureUs: cpuPressureUs() }]
  let sampling = false
  const sampler = setInterval(() => {
    if (sampling) return
    sampling = true
    provider
      .stats()
      .then((stats) => samples.push({ at: performance.now(), provider: stats, clientCpuUs: cpuUs(), cpuPressureUs: cpuPressureUs() }))
      .catch(() => {})
      .finally(() => (sampling = false))
  }, config.sampleEveryMs)

  let deadline: NodeJS.Timeout | undefined
  let endedAt: number
  try {
    deadline = setTimeout(() => {
      for (const stream of ctx.live) stream.abort(`still open after the step deadline (${config.deadlineMs} ms)`)
    }, config.deadlineMs + (t0 - performance.now()))
    await startOnSchedule(schedule, ctx)
    await Promise.all([...full, ...cancels].map((s) => s.done))
    endedAt = performance.now()
  } finally {
    clearTimeout(deadline)
    clearInterval(sampler)
    clientLoop.disable()
    for (const stream of ctx.live) stream.abort('step ended')
    ctx.live.clear()
  }
  const clientCpuUs = cpuUs() - clientCpuStart
  const providerEnd = await provider.stats()
  samples.push({ at: performance.now(), provider: providerEnd, clientCpuUs: cpuUs(), cpuPressureUs: cpuPressureUs() })

  // Records are appended when a generation finishes, which can trail the client's socket close slightly.
  for (let i = 0; i < 50 && (await provider.stats()).active > 0; i++) await sleep(100)
  const { body } = await getJson<{ records: LedgerRecord[] }>(provider.url, '/_cancelbench/ledger', controlAgent, 30_000)
  // The histogram records the interval between its timer's runs, resolution included: subtract it to get the delay.
  const ns = (n: number) => (Number.isFinite(n) ? Math.max(0, n / 1e6 - LOOP_RESOLUTION_MS) : Number.NaN)
  return {
    config,
    full,
    cancels,
    samples,
    startedAt: t0,
    endedAt,
    clientCpuUs,
    clientLoopDelay: { p50: ns(clientLoop.percentile(50)), p99: ns(clientLoop.percentile(99)), max: ns(clientLoop.max) },
    providerStart,
    providerEnd,
    ledger: body.records,
    listenOverflows: listenOverflows() - overflowsStart,
  }
}

/**
 * The steady window as planned (Unix ms, by when events are due): from the last stream's first event to the
 * first stream's last, the provider-side counterpart of analyse.ts's `steadyWindow`, which is taken from
 * arrivals. The provider records its emission timing only for events due inside it.
 */
function plannedSteadyWindowUnixMs(config: StepConfig, t0: number): { from: number; to: number } {
  const { ttftMs, tokensPerSecond, tokensPerEvent, outputTokens } = config.shape
  const tokenAt = (index: number) => ttftMs + (index * 1000) / tokensPerSecond
  const lastStart = t0 + (config.staggerMs * (config.streams - 1)) / Math.max(1, config.streams)
  return {
    from: performance.timeOrigin + lastStart + tokenAt(Math.min(tokensPerEvent, outputTokens) - 1),
    to: performance.timeOrigin + t0 + tokenAt(outputTokens - 1),
  }
}

/** Starts each stream at its time, checking every millisecond (the finest setTimeout granularity). */
function startOnSchedule(schedule: { at: number; stream: BenchStream }[], ctx: StepContext): Promise<void> {
  return new Promise((resolve) => {
    let next = 0
    const tick = () => {
      if (ctx.stopping) return resolve()
      const now = performance.now()
      while (next < schedule.length && schedule[next]!.at <= now) {
        const { stream } = schedule[next++]!
        ctx.live.add(stream)
        void stream.done.then(() => ctx.live.delete(stream))
        stream.start(ctx.provider.url, ctx.transport, ctx.agent)
      }
      if (next >= schedule.length) return resolve()
      setTimeout(tick, Math.max(1, schedule[next]!.at - now))
    }
    tick()
  })
}
