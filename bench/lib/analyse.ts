import { performance } from 'node:perf_hooks'
import type { StepRun, Sample } from './load-step.ts'
import type { TimingSummary } from '../../mock-provider/timing.ts'
import { MsHistogram, summarise, type Summary } from './stats.ts'
import type { BenchStream, StreamShape } from './stream-client.ts'

export interface LoadFigures {
  streams: number
  tokensPerEvent: number
  outputTokens: number
  staggerMs: number
  ok: number
  errors: number
  /** A few distinct error messages, for the report. */
  errorSamples: string[]
  /** |actual gap - planned gap| between consecutive deltas of a stream, over every gap of the step. */
  jitter: Summary
  /** The same, only for gaps while every stream was open at once (after the last first delta, before the first last delta). */
  jitterSteady: Summary
  steadyWindowMs: number
  /** Request start -> response head received: connect, accept queue, parse, route, plan (ms). */
  head: Summary
  /** First delta's arrival - request start - planned time of the first event (ttft + its tokens): connect, accept and request handling. */
  firstDeltaLate: Summary
  /** Output tokens delivered per second while every stream was open (≈ streams × tokensPerSecond when the provider keeps up). */
  tokensPerSecSteady: number
  /** Output tokens delivered over the whole step / (last delta - first delta). */
  tokensPerSecOverall: number
  eventsPerSecSteady: number
  /** SSE frames (every event: message_start ... message_stop) the client received in the step. */
  frames: number
  /** Provider CPU (user+system) per 1,000 SSE frames, whole step: includes accepting and parsing each request. */
  cpuMsPer1kFramesStep: number
  /** Provider CPU per 1,000 delta frames while only deltas flowed: the marginal cost of streaming. */
  cpuMsPer1kFramesSteady: number
  /**
   * Provider CPU per stream that is not streaming: (step CPU - steady cost per frame × all frames) / streams.
   * Accepting the connection, parsing and routing the request, planning, and closing.
   */
  setupCpuMsPerStream: number
  /** Provider CPU as % of one core, whole step and steady window. */
  providerCpuPctStep: number
  providerCpuPctSteady: number
  providerLoopDelayP99: number
  providerLoopDelayMax: number
  providerLoopUtilization: number
  providerRssMiB: number
  /** Provider GC pauses (each stops every stream) overlapping the steady window: how many, how many over 5 ms, the longest. */
  gcSteady: { count: number; over5ms: number; maxMs: number }
  /** Longest provider GC pause anywhere in the step (ramp included), ms. */
  gcMaxMsStep: number
  clientCpuPctStep: number
  clientCpuPctSteady: number
  clientLoopDelayP99: number
  /**
   * TcpExt ListenOverflows during the step. Machine-wide (every listener in the network namespace), so on a
   * shared machine it can include other processes' drops; `headOver1s` is this step's own evidence.
   */
  listenOverflows: number
  /** Streams whose response head came >= 1 s after the request started: their SYN was dropped and retried. */
  headOver1s: number
  /** Share of the steady window in which some task on the machine waited for a CPU (Linux PSI), %. */
  cpuPressurePctSteady: number
  /** Ledger check: records that are not `completed` with every planned token billed. */
  ledgerMismatches: number
  /**
   * The provider's own record of when it wrote each event, for events due in the planned steady window
   * (mock-provider/timing.ts): jitter without the network and the load generator's delays.
   */
  providerTiming: TimingSummary
  /** Every stream and ledger record complete. */
  complete: boolean
  /** complete and steady-window jitter p99 within the limit. */
  passedSteady: boolean
  /** complete and jitter p99 over every gap (ramp included) within the limit. */
  passedAll: boolean
  /** complete and the provider's own steady-window jitter p99 within the limit. */
  passedProvider: boolean
  /** The verdict under the configured criterion. */
  passed: boolean
}

/** Planned time between delta k-1 and delta k: the generation time of the tokens delta k carries. */
export function plannedGapMs(shape: StreamShape, k: number): number {
  const tokens = Math.min((k + 1) * shape.tokensPerEvent, shape.outputTokens) - k * shape.tokensPerEvent
  return (tokens * 1000) / shape.tokensPerSecond
}

/** The window during which every stream of `streams` was delivering: [last first-delta, first last-delta]. */
export function steadyWindow(streams: BenchStream[]): { from: number; to: number } {
  let from = Number.NEGATIVE_INFINITY
  let to = Number.POSITIVE_INFINITY
  for (const s of streams) {
    if (s.deltas === 0) continue
    from = Math.max(from, s.deltaTimes[0]!)
    to = Math.min(to, s.deltaTimes[Math.min(s.deltas, s.expectedDeltas) - 1]!)
  }
  return { from, to }
}

/** Jitter of every gap of `streams`, and of the gaps that lie wholly within `window`. */
export function jitterOf(streams: BenchStream[], window: { from: number; to: number }): { all: MsHistogram; steady: MsHistogram } {
  const all = new MsHistogram()
  const steady = new MsHistogram()
  for (const s of streams) {
    const n = Math.min(s.deltas, s.expectedDeltas)
    for (let k = 1; k < n; k++) {
      const prev = s.deltaTimes[k - 1]!
      const at = s.deltaTimes[k]!
      const jitter = Math.abs(at - prev - plannedGapMs(s.shape, k))
      all.record(jitter)
      if (prev >= window.from && at <= window.to) steady.record(jitter)
    }
  }
  return { all, steady }
}

/** Deltas of `streams` that arrived in [from, to]. */
function deltasBetween(streams: BenchStream[], from: number, to: number): number {
  let count = 0
  for (const s of streams) {
    const n = Math.min(s.deltas, s.expectedDeltas)
    for (let k = 0; k < n; k++) {
      const t = s.deltaTimes[k]!
      if (t >= from && t <= to) count++
    }
  }
  return count
}

const cpuOf = (s: Sample) => s.provider.cpuUserUs + s.provider.cpuSystemUs

/** Samples bracketing the inside of a window: the first at/after `from`, the last at/before `to`. */
function samplesWithin(samples: Sample[], from: number, to: number): [Sample, Sample] | undefined {
  const inside = samples.filter((s) => s.at >= from && s.at <= to)
  const first = inside[0]
  const last = inside.at(-1)
  return first && last && last.at - first.at > 0 ? [first, last] : undefined
}

export type Criterion = 'steady' | 'all' | 'provider'

export function loadFigures(run: StepRun, maxJitterP99Ms: number, criterion: Criterion): LoadFigures {
  const streams = run.full
  const shape = run.config.shape
  const ok = streams.filter((s) => s.status === 'ok').length
  const failed = streams.filter((s) => s.status !== 'ok')
  const errorSamples = [...new Set(failed.map((s) => s.error ?? s.status))].slice(0, 3)

  const window = steadyWindow(streams)
  const { all, steady } = jitterOf(streams, window)
  const steadyWindowMs = Math.max(0, window.to - window.from)

  let firstDelta = Number.POSITIVE_INFINITY
  let lastDelta = Number.NEGATIVE_INFINITY
  let tokens = 0
  let frames = 0
  for (const s of streams) {
    frames += s.frames
    const n = Math.min(s.deltas, s.expectedDeltas)
    if (n === 0) continue
    firstDelta = Math.min(firstDelta, s.deltaTimes[0]!)
    lastDelta = Math.max(lastDelta, s.deltaTimes[n - 1]!)
    tokens += Math.min(n * shape.tokensPerEvent, shape.outputTokens)
  }

  const wallMs = run.samples.at(-1)!.at - run.samples[0]!.at
  const stepCpuMs = (cpuOf(run.samples.at(-1)!) - cpuOf(run.samples[0]!)) / 1000
  const bracket = steadyWindowMs > 0 ? samplesWithin(run.samples, window.from, window.to) : undefined
  let steadyFigures = { cpuMsPer1k: Number.NaN, cpuPct: Number.NaN, clientPct: Number.NaN, eventsPerSec: Number.NaN, pressurePct: Number.NaN }
  if (bracket) {
    const [a, b] = bracket
    const ms = b.at - a.at
    const events = deltasBetween(streams, a.at, b.at)
    const cpuMs = (cpuOf(b) - cpuOf(a)) / 1000
    steadyFigures = {
      cpuMsPer1k: events > 0 ? (cpuMs / events) * 1000 : Number.NaN,
      cpuPct: (cpuMs / ms) * 100,
      clientPct: ((b.clientCpuUs - a.clientCpuUs) / 1000 / ms) * 100,
      eventsPerSec: (events / ms) * 1000,
      pressurePct: ((b.cpuPressureUs - a.cpuPressureUs) / 1000 / ms) * 100,
    }
  }
  const steadyDeltas = steadyWindowMs > 0 ? deltasBetween(streams, window.from, window.to) : 0

  const ledgerMismatches =
    Math.abs(run.ledger.length - streams.length) +
    run.ledger.filter((r) => r.stopReason !== 'completed' || r.billedOutputTokens !== shape.outputTokens || r.emittedOutputTokens !== shape.outputTokens).length

  const head = new MsHistogram()
  for (const s of streams) if (s.headAt > 0) head.record(s.headAt - s.startedAt)
  const late = new MsHistogram()
  for (const s of streams) if (s.deltas > 0) late.record(s.deltaTimes[0]! - s.startedAt - (shape.ttftMs + ((Math.min(shape.tokensPerEvent, shape.outputTokens) - 1) * 1000) / shape.tokensPerSecond))

  // GC pause times are on the provider's performance.now(); both clocks run from the same kernel clock.
  const shift = run.providerEnd.timeOrigin - performance.timeOrigin
  const gcSteady = { count: 0, over5ms: 0, maxMs: 0 }
  let gcMaxMsStep = 0
  for (const gc of run.providerEnd.gc) {
    gcMaxMsStep = Math.max(gcMaxMsStep, gc.duration)
    const start = gc.start + shift
    if (start + gc.duration < window.from || start > window.to) continue
    gcSteady.count++
    if (gc.duration > 5) gcSteady.over5ms++
    gcSteady.maxMs = Math.max(gcSteady.maxMs, gc.duration)
  }

  const jitter = all.summary()
  const jitterSteady = steady.summary()
  const complete = ok === streams.length && ledgerMismatches === 0
  const passedSteady = complete && jitterSteady.count > 0 && jitterSteady.p99 <= maxJitterP99Ms
  const passedAll = complete && jitter.count > 0 && jitter.p99 <= maxJitterP99Ms
  const providerTiming = run.providerEnd.timing
  const passedProvider = complete && providerTiming.events > 0 && providerTiming.jitterMs.p99 <= maxJitterP99Ms
  return {
    streams: streams.length,
    tokensPerEvent: shape.tokensPerEvent,
    outputTokens: shape.outputTokens,
    staggerMs: run.config.staggerMs,
    ok,
    errors: streams.length - ok,
    errorSamples,
    jitter,
    jitterSteady,
    steadyWindowMs,
    head: head.summary(),
    firstDeltaLate: late.summary(),
    tokensPerSecSteady: steadyWindowMs > 0 ? ((steadyDeltas * shape.tokensPerEvent) / steadyWindowMs) * 1000 : Number.NaN,
    tokensPerSecOverall: lastDelta > firstDelta ? (tokens / (lastDelta - firstDelta)) * 1000 : Number.NaN,
    eventsPerSecSteady: steadyFigures.eventsPerSec,
    frames,
    cpuMsPer1kFramesStep: frames > 0 ? (stepCpuMs / frames) * 1000 : Number.NaN,
    cpuMsPer1kFramesSteady: steadyFigures.cpuMsPer1k,
    setupCpuMsPerStream: streams.length > 0 ? (stepCpuMs - (steadyFigures.cpuMsPer1k / 1000) * frames) / streams.length : Number.NaN,
    providerCpuPctStep: (stepCpuMs / wallMs) * 100,
    providerCpuPctSteady: steadyFigures.cpuPct,
    providerLoopDelayP99: run.providerEnd.loopDelay.p99,
    providerLoopDelayMax: run.providerEnd.loopDelay.max,
    providerLoopUtilization: run.providerEnd.loopUtilization,
    providerRssMiB: Math.max(...run.samples.map((s) => s.provider.rssBytes)) / 2 ** 20,
    gcSteady,
    gcMaxMsStep,
    clientCpuPctStep: (run.clientCpuUs / 1000 / (run.endedAt - run.startedAt)) * 100,
    clientCpuPctSteady: steadyFigures.clientPct,
    clientLoopDelayP99: run.clientLoopDelay.p99,
    cpuPressurePctSteady: steadyFigures.pressurePct,
    listenOverflows: run.listenOverflows,
    headOver1s: streams.filter((s) => s.headAt > 0 && s.headAt - s.startedAt >= 1000).length,
    ledgerMismatches,
    providerTiming,
    complete,
    passedSteady,
    passedAll,
    passedProvider,
    passed: { steady: passedSteady, all: passedAll, provider: passedProvider }[criterion],
  }
}

export interface DisconnectFigures {
  background: number
  backgroundTokensPerEvent: number
  cancels: number
  /** Cancel streams that were destroyed as planned (the rest ended or failed before their K-th delta). */
  destroyed: number
  /** Destroyed streams with no ledger record, or one without disconnectObservedAtMs. */
  unrecorded: number
  /** Ledger stop reasons of the destroyed streams. */
  stopReasons: Record<string, number>
  /** Provider's disconnectObservedAtMs - client's destroy time (provider clock). */
  observed: Summary
  /** Provider's stoppedAtMs (billing stopped) - client's destroy time. */
  stopped: Summary
  /** Tokens billed beyond what the client had received when it destroyed the socket. */
  tokensBilledAfterDestroy: Summary
  backgroundOk: number
  backgroundJitter: Summary
  providerLoopDelayP99: number
  clientLoopDelayP99: number
}

/**
 * Disconnect-to-recorded-stop latency. The client's destroy time (Unix ms from its performance.timeOrigin)
 * is put on the provider's clock with the record's clockEpochMs; both processes read the same kernel clocks,
 * so the only alignment error is each process's timeOrigin capture (µs), cross-checked by `estimateOffset`.
 */
export function disconnectFigures(run: StepRun): DisconnectFigures {
  const byId = new Map(run.ledger.map((r) => [r.correlationId, r]))
  const observed = new MsHistogram()
  const stopped = new MsHistogram()
  const leaked: number[] = []
  const stopReasons: Record<string, number> = {}
  let destroyed = 0
  let unrecorded = 0
  for (const s of run.cancels) {
    if (s.status !== 'cancelled' || s.destroyedAtUnixMs === undefined) continue
    destroyed++
    const record = byId.get(s.correlationId)
    if (!record || record.disconnectObservedAtMs === null) {
      unrecorded++
      continue
    }
    const destroyedAt = s.destroyedAtUnixMs - record.clockEpochMs
    observed.record(record.disconnectObservedAtMs - destroyedAt)
    if (record.stoppedAtMs !== null) stopped.record(record.stoppedAtMs - destroyedAt)
    stopReasons[record.stopReason ?? 'none'] = (stopReasons[record.stopReason ?? 'none'] ?? 0) + 1
    const delivered = Math.min(s.deltas * s.shape.tokensPerEvent, s.shape.outputTokens)
    leaked.push(record.billedOutputTokens - delivered)
  }
  const window = steadyWindow(run.full)
  return {
    background: run.full.length,
    backgroundTokensPerEvent: run.config.shape.tokensPerEvent,
    cancels: run.cancels.length,
    destroyed,
    unrecorded,
    stopReasons,
    observed: observed.summary(),
    stopped: stopped.summary(),
    tokensBilledAfterDestroy: summarise(leaked),
    backgroundOk: run.full.filter((s) => s.status === 'ok').length,
    backgroundJitter: jitterOf(run.full, window).all.summary(),
    providerLoopDelayP99: run.providerEnd.loopDelay.p99,
    clientLoopDelayP99: run.clientLoopDelay.p99,
  }
}
