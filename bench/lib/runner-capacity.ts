/**
 * Runner capacity: how many concurrent SSE streams the cancelbench runner (src/runner) drives on one core
 * while the timestamps it puts on tokens stay within 1 ms of the truth.
 *
 * The runner is used exactly as `cancelbench run` uses it: a scenario validated by `validateScenario`,
 * `plan()`, `execute()` with `performance.now()` as its clock, and `openProvider()` for the provider session
 * (external provider -> the runner's own clock-offset estimate). Its "target" is the mock provider's
 * Anthropic endpoint itself, so there is no server in between whose delays would blur the runner's.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { monitorEventLoopDelay, performance, PerformanceObserver, type ELDHistogram } from 'node:perf_hooks'
import { execute } from '../../src/runner/execute.ts'
import { plan } from '../../src/runner/plan.ts'
import type { ProviderSession } from '../../src/runner/provider-session.ts'
import { settleLedger } from '../../src/runner/settle.ts'
import { validateScenario, type LoadedScenario } from '../../src/scenario/load.ts'
import type { LedgerRecord } from '../../mock-provider/ledger.ts'
import { fullGc } from './full-gc.ts'
import { listenOverflows, runQueueWaitMs } from './runner-env.ts'
import type { ChildReply, ChildRequest, ChildStats } from './runner-provider-child.ts'
import { percentiles, type Percentiles } from './runner-stats.ts'

/** monitorEventLoopDelay sampling: 1 ms, the bound we are checking; finer is not possible. */
const LOOP_RESOLUTION_MS = 1

/** The mock provider in a child process, always stopped by `stop()` or, synchronously, `killNow()`. */
export class ProviderChild {
  readonly url: string
  readonly pid: number
  private readonly child: ChildProcess
  private readonly pending = new Map<number, (reply: ChildReply) => void>()
  private nextId = 1
  private exited = false

  private constructor(child: ChildProcess, url: string, pid: number) {
    this.child = child
    this.url = url
    this.pid = pid
    child.on('message', (reply: ChildReply) => {
      this.pending.get(reply.id)?.(reply)
      this.pending.delete(reply.id)
    })
    child.on('exit', () => {
      this.exited = true
      for (const waiter of this.pending.values()) waiter({ id: -1, ok: false, error: 'provider process exited' })
      this.pending.clear()
    })
  }

  static async start(nodeBin: string, script: string, timeoutMs = 15_000): Promise<ProviderChild> {
    // execArgv empty: a profiler/inspector flag on the bench must not be applied to the provider too.
    const child = fork(script, [], { execPath: nodeBin, execArgv: [], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
    try {
      const lines = createInterface({ input: child.stdout! })
      const hello = await new Promise<{ url: string; pid: number }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`provider child printed no URL within ${timeoutMs} ms`)), timeoutMs)
        lines.once('line', (line) => {
          clearTimeout(timer)
          try {
            resolve(JSON.parse(line) as { url: string; pid: number })
          } catch {
            reject(new Error(`provider child printed ${JSON.stringify(line.slice(0, 200))} instead of its URL`))
          }
        })
        child.once('exit', (code, signal) => {
          clearTimeout(timer)
          reject(new Error(`provider child exited before listening (code ${code}, signal ${signal})`))
        })
      })
      return new ProviderChild(child, hello.url, hello.pid)
    } catch (error) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      throw error
    }
  }

  /** Starts a new measurement window in the provider (event-loop histogram and CPU). */
  async window(): Promise<void> {
    await this.request('window')
  }

  /** Write times of every event since the last call, by correlation id (and forgets them). */
  async writes(): Promise<Record<string, number[]>> {
    const reply = await this.request('writes', 30_000)
    if (!reply.ok || !reply.writes) throw new Error(`provider writes failed: ${reply.ok ? 'no writes' : reply.error}`)
    return reply.writes
  }

  async stats(): Promise<ChildStats> {
    const reply = await this.request('stats')
    if (!reply.ok || !reply.stats) throw new Error(`provider stats failed: ${reply.ok ? 'no stats' : reply.error}`)
    return reply.stats
  }

  /** Asks the child to close and exit; kills it (by its pid, through the ChildProcess) after `graceMs`. */
  async stop(graceMs = 3_000): Promise<void> {
    if (this.exited) return
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()))
    void this.request('shutdown', 1_000).catch(() => {})
    let timer: NodeJS.Timeout | undefined
    await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))])
    clearTimeout(timer)
    this.killNow()
  }

  /** Synchronous last resort for 'exit' handlers and a second Ctrl-C. */
  killNow(): void {
    if (!this.exited && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
  }

  private request(op: ChildRequest['op'], timeoutMs = 5_000): Promise<ChildReply> {
    if (this.exited || !this.child.connected) return Promise.reject(new Error('provider child is not running'))
    const id = this.nextId++
    return new Promise<ChildReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`provider child did not answer ${op} within ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, (reply) => {
        clearTimeout(timer)
        if (reply.id === -1) reject(new Error(reply.ok ? 'provider exited' : reply.error))
        else resolve(reply)
      })
      this.child.send({ id, op } satisfies ChildRequest)
    })
  }
}

/** One load level: N streams started evenly over `rampMs`, all then open together for a while. */
export interface LevelConfig {
  streams: number
  rampMs: number
  ttftMs: number
  tokensPerSecond: number
  outputTokens: number
}

export interface LoopFigures {
  p50: number
  p99: number
  max: number
  samples: number
}

export interface LevelResult {
  config: LevelConfig
  label: string
  ok: number
  errors: number
  errorSamples: string[]
  wallMs: number
  /** The window in which every stream was open and streaming (ms after the run's start). */
  steadyFromMs: number
  steadyToMs: number
  loopAll: LoopFigures
  loopSteady: LoopFigures
  /**
   * The runner's own timing error: its stamp for a token (put on the provider clock with the exact offset
   * between the two processes' clocks) minus the moment the provider wrote that token's event, ms. Loopback
   * delivery and the runner's delay in stamping; the provider's lateness is not in it.
   */
  runnerErrorAll: Percentiles
  runnerErrorSteady: Percentiles
  /** Runner stamp (on the provider clock) minus the token's planned time: the runner's error plus the provider's lateness, ms. */
  tokenErrorAll: Percentiles
  tokenErrorSteady: Percentiles
  tokensAll: number
  tokensSteady: number
  tokensPerSecSteady: number
  cpuPctSteady: number
  cpuMsPer1kTokensSteady: number
  cpuMsPer1kTokensAll: number
  /** How late the runner sent requests compared with the open-loop plan (ramp pressure), ms. */
  sendLate: Percentiles
  /** Request sent by the runner -> received by the provider (connect, accept, request parsing), ms. */
  requestLatency: Percentiles
  /** Accept-queue overflows on the machine during the level (system-wide counter). */
  listenOverflows: number
  /** Tokens stamped in the steady window / (streams x tokens per second x window): below 1 when not every stream was streaming in it. */
  steadyShare: number
  provider: ChildStats
  /** The runner's main thread runnable but waiting for a CPU during the steady window, ms: the machine's share of the lateness. */
  runQueueWaitSteadyMs: number
  /** Garbage-collection pauses of the runner process in the steady window (each one stalls every callback). */
  gcSteady: { count: number; totalMs: number; maxMs: number }
  /**
   * Steady-window tokens whose runner timing error was over `overBoundMs`, and how many of them the provider
   * wrote during a runner GC pause or in the millisecond after one (the backlog the pause left): what share
   * of the tail the GC explains.
   */
  overBound: { count: number; nearGc: number }
  /** The session's offset estimate minus the offset implied by both processes' performance.timeOrigin. */
  offsetCrossCheckMs: number
}

/** After a pause, the runner works through what arrived meanwhile; tokens stamped in this wake count as the pause's. */
const GC_WAKE_MS = 1

/** Whether `t` (runner clock) falls in one of `pauses` (sorted by start) or within GC_WAKE_MS after its end. */
function nearPause(pauses: { start: number; end: number }[], t: number): boolean {
  let lo = 0
  let hi = pauses.length - 1
  // The last pause starting at or before t.
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (pauses[mid]!.start <= t) lo = mid + 1
    else hi = mid - 1
  }
  return hi >= 0 && t <= pauses[hi]!.end + GC_WAKE_MS
}

/** A capacity scenario, built in code and checked by the same validation as a scenario file. */
export function capacityScenario(providerUrl: string, config: LevelConfig, name: string): LoadedScenario {
  const input = {
    name,
    seed: 1,
    // The target *is* the provider: the runner is driven straight at its Anthropic endpoint.
    target: { url: providerUrl },
    transport: {
      type: 'sse',
      path: '/v1/messages',
      headers: { 'content-type': 'application/json', 'x-api-key': 'bench', 'anthropic-version': '2023-06-01' },
      body: { model: 'claude-sonnet-4-6', max_tokens: 4096, stream: true, messages: [{ role: 'user', content: '{{prompt}}' }] },
      tokenEvent: 'content_block_delta',
      doneEvent: 'message_stop',
    },
    provider: {
      url: providerUrl,
      timing: { ttftMs: config.ttftMs, tokensPerSecond: config.tokensPerSecond, tokensPerEvent: 1, outputTokens: config.outputTokens },
    },
    // Open loop: streams sent at planned times, so all N are open at once after the ramp.
    load: {
      streams: config.streams,
      arrivalRatePerSec: (config.streams * 1000) / config.rampMs,
      maxDurationMs: streamMs(config) + config.rampMs + 30_000,
      streamTimeoutMs: 15_000,
      settleTimeoutMs: 5_000,
    },
    cancel: { fraction: 0 },
    graceMs: 1000,
    thresholds: ['errors == 0'],
  }
  const result = validateScenario(input, '')
  if (!result.value) throw new Error(`capacity scenario is invalid:\n  ${result.errors.join('\n  ')}`)
  return result.value
}

/** How long one stream lasts: time to first token plus the gaps between its tokens. */
export function streamMs(config: LevelConfig): number {
  return config.ttftMs + ((config.outputTokens - 1) * 1000) / config.tokensPerSecond
}

/** The steady window: after the last stream's first token, before the first stream's last one, with margins. */
export function steadyWindow(config: LevelConfig): { from: number; to: number } {
  const margin = 150
  return { from: config.rampMs + config.ttftMs + margin, to: streamMs(config) - margin }
}

function loopFigures(h: ELDHistogram): LoopFigures {
  // The histogram records the interval between its timer's runs; the resolution itself is not delay.
  const ms = (ns: number) => (Number.isFinite(ns) && h.count > 0 ? Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS) : Number.NaN)
  return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), samples: h.count }
}

/** Event-loop delay of this process while it does nothing: the machine's own noise floor. */
export async function idleLoopFigures(ms: number): Promise<LoopFigures> {
  const h = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
  h.enable()
  await new Promise((resolve) => setTimeout(resolve, ms))
  h.disable()
  return loopFigures(h)
}

export interface LevelContext {
  session: ProviderSession
  child: ProviderChild
  signal: AbortSignal
}

/**
 * Runs one level and measures it. The runner code under test runs in this process; the bench adds only two
 * event-loop histograms, two timers and the analysis after the streams have ended.
 */
export async function runLevel(ctx: LevelContext, config: LevelConfig, label: string, overBoundMs: number): Promise<LevelResult> {
  const loaded = capacityScenario(ctx.child.url, config, `runner-capacity-${label}`)
  const runPlan = plan(loaded.scenario, { runId: `rb${process.pid}${label}` })
  const { from, to } = steadyWindow(config)

  // Start from a clean heap, not in the middle of collecting the previous level's sockets and samples.
  fullGc()
  // Forget the write times of earlier levels (and of the warm-up).
  await ctx.child.writes()
  const loopAll = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
  const loopSteady = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
  let cpuSteadyStart: NodeJS.CpuUsage | undefined
  let cpuSteady: NodeJS.CpuUsage | undefined
  let waitSteadyStart = Number.NaN
  let waitSteady = Number.NaN
  let providerStats: Promise<ChildStats> | undefined
  // GC pauses, kept only inside the steady window: a pause is a stall of the whole loop, stamps included.
  const gcPauses: { start: number; end: number }[] = []
  // Entries arrive asynchronously, so they are picked by their start time, not by when they are delivered.
  let t0 = Number.NaN
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (!(entry.startTime >= t0 + from && entry.startTime <= t0 + to)) continue
      gcPauses.push({ start: entry.startTime, end: entry.startTime + entry.duration })
    }
  })
  gcObserver.observe({ entryTypes: ['gc'] })
  const overflowsBefore = listenOverflows()
  const cpuAllStart = process.cpuUsage()
  t0 = performance.now()
  loopAll.enable()
  // The steady-window instruments are switched by timers, not by polling, so they add nothing in between.
  const timers = [
    setTimeout(() => {
      loopSteady.enable()
      cpuSteadyStart = process.cpuUsage()
      waitSteadyStart = runQueueWaitMs()
      void ctx.child.window().catch(() => {})
    }, from),
    setTimeout(() => {
      loopSteady.disable()
      if (cpuSteadyStart) cpuSteady = process.cpuUsage(cpuSteadyStart)
      waitSteady = runQueueWaitMs() - waitSteadyStart
      providerStats = ctx.child.stats()
    }, to),
  ]
  let samples
  try {
    ;({ samples } = await execute({ plan: runPlan, scenario: loaded.scenario, baseUrl: ctx.child.url, signal: ctx.signal, now: () => performance.now() }))
  } finally {
    for (const timer of timers) clearTimeout(timer)
    loopAll.disable()
    loopSteady.disable()
    // Let the observer deliver the last entries of the window before it is disconnected.
    await new Promise((resolve) => setImmediate(resolve))
    gcObserver.disconnect()
  }
  const wallMs = performance.now() - t0
  const cpuAll = process.cpuUsage(cpuAllStart)
  const overflows = listenOverflows() - overflowsBefore
  const writes = await ctx.child.writes()
  const ids = new Set(runPlan.streams.map((s) => s.id))
  const records = await settleLedger(ctx.session, (id) => ids.has(id), 5_000, ctx.signal)
  const byId = new Map<string, LedgerRecord>()
  for (const record of records) if (record.correlationId) byId.set(record.correlationId, record)

  // Both processes run on this machine, so the exact offset between their clocks is the difference of their
  // performance.timeOrigin (the same kernel clock): stamps are put on the provider clock with it, and the
  // runner's own estimate (what a run against a remote provider relies on) is reported beside it.
  const epoch = records[0]?.clockEpochMs
  const offset = epoch === undefined ? ctx.session.clockOffsetMs : performance.timeOrigin - epoch
  const steadyFrom = t0 + from
  const steadyTo = t0 + to
  const errAll: number[] = []
  const errSteady: number[] = []
  const runnerAll: number[] = []
  const runnerSteady: number[] = []
  const sendLate: number[] = []
  const requestLatency: number[] = []
  const errorSamples: string[] = []
  let errors = 0
  let ok = 0
  const fail = (message: string) => {
    errors++
    if (errorSamples.length < 3) errorSamples.push(message)
  }
  const overBound = { count: 0, nearGc: 0 }
  gcPauses.sort((a, b) => a.start - b.start)
  const pauseMs = gcPauses.map((p) => p.end - p.start)
  const gcSteady = { count: pauseMs.length, totalMs: pauseMs.reduce((a, b) => a + b, 0), maxMs: Math.max(0, ...pauseMs) }
  const planById = new Map(runPlan.streams.map((s) => [s.id, s]))
  for (const sample of samples) {
    const stream = planById.get(sample.id)!
    if (stream.sendAtMs !== null) sendLate.push(sample.startedAtMs - (t0 + stream.sendAtMs))
    const record = byId.get(sample.id)
    if (sample.end !== 'done') {
      fail(`${sample.id}: ended ${sample.end}${sample.error ? `: ${sample.error}` : ''}`)
      continue
    }
    if (!record) {
      fail(`${sample.id}: no ledger record`)
      continue
    }
    if (sample.tokenTimesMs.length !== stream.script.outputTokens || record.plan.tokensPerEvent !== 1) {
      fail(`${sample.id}: ${sample.tokenTimesMs.length} token events for ${stream.script.outputTokens} planned tokens (tokensPerEvent ${record.plan.tokensPerEvent})`)
      continue
    }
    const written = writes[sample.id] ?? []
    if (written.length !== sample.tokenTimesMs.length) {
      fail(`${sample.id}: the provider wrote ${written.length} events, the runner stamped ${sample.tokenTimesMs.length}`)
      continue
    }
    ok++
    requestLatency.push(record.receivedAtMs - (sample.startedAtMs + offset))
    const due = record.receivedAtMs + record.plan.ttftMs
    const gap = 1000 / record.plan.tokensPerSecond
    sample.tokenTimesMs.forEach((stamp, i) => {
      const error = stamp + offset - (due + i * gap)
      const runnerError = stamp + offset - written[i]!
      errAll.push(error)
      runnerAll.push(runnerError)
      if (stamp >= steadyFrom && stamp <= steadyTo) {
        errSteady.push(error)
        runnerSteady.push(runnerError)
        if (runnerError > overBoundMs) {
          overBound.count++
          if (nearPause(gcPauses, written[i]! - offset)) overBound.nearGc++
        }
      }
    })
  }
  for (let i = samples.length; i < runPlan.streams.length; i++) fail('stream not run (run stopped)')

  const steadySeconds = (to - from) / 1000
  const cpuMs = (u: NodeJS.CpuUsage | undefined) => (u ? (u.user + u.system) / 1000 : Number.NaN)
  return {
    config,
    label,
    ok,
    errors,
    errorSamples,
    wallMs,
    steadyFromMs: from,
    steadyToMs: to,
    loopAll: loopFigures(loopAll),
    loopSteady: loopFigures(loopSteady),
    runnerErrorAll: percentiles(runnerAll),
    runnerErrorSteady: percentiles(runnerSteady),
    tokenErrorAll: percentiles(errAll),
    tokenErrorSteady: percentiles(errSteady),
    tokensAll: errAll.length,
    tokensSteady: errSteady.length,
    tokensPerSecSteady: errSteady.length / steadySeconds,
    cpuPctSteady: (cpuMs(cpuSteady) / (to - from)) * 100,
    cpuMsPer1kTokensSteady: (cpuMs(cpuSteady) / errSteady.length) * 1000,
    cpuMsPer1kTokensAll: (cpuMs(cpuAll) / errAll.length) * 1000,
    sendLate: percentiles(sendLate),
    requestLatency: percentiles(requestLatency),
    listenOverflows: overflows,
    steadyShare: errSteady.length / (config.streams * config.tokensPerSecond * steadySeconds),
    provider: providerStats ? await providerStats : { loopP50Ms: Number.NaN, loopP99Ms: Number.NaN, loopMaxMs: Number.NaN, cpuPct: Number.NaN, active: 0, runQueueWaitMs: Number.NaN },
    gcSteady,
    overBound,
    runQueueWaitSteadyMs: waitSteady,
    offsetCrossCheckMs: epoch === undefined ? Number.NaN : ctx.session.clockOffsetMs - offset,
  }
}
