import type { Scenario } from '../scenario/schema.ts'
import type { RunPlan, StreamPlan } from './plan.ts'
import { StreamRecorder } from './recorder.ts'
import type { ClientSample } from './sample.ts'
import type { OpenConnections } from './transports/http-stream.ts'
import { runChunked } from './transports/chunked.ts'
import { runSse } from './transports/sse.ts'
import { runWs } from './transports/ws.ts'

export interface ExecuteOptions {
  plan: RunPlan
  scenario: Pick<Scenario, 'transport' | 'load' | 'graceMs'>
  /** Target base URL. */
  baseUrl: string
  /** Stops the run early (Ctrl-C): open streams end as `interrupted`, unstarted ones are skipped. */
  signal: AbortSignal
  now: () => number
  /** Called as each stream ends, for progress display. */
  onSample?: (sample: ClientSample) => void
}

export interface ExecuteResult {
  samples: ClientSample[]
  /** Why the run ended early, if it did. */
  stoppedBy: 'signal' | 'duration' | null
}

/**
 * Fires the plan's streams at the target: closed loop (a fixed number open at once) or open loop
 * (streams sent at planned times whatever is still open). Only I/O happens here: every decision was made
 * by `plan()`. Never rejects: every stream's fate ends up in its sample.
 */
export async function execute(options: ExecuteOptions): Promise<ExecuteResult> {
  const { plan, scenario, signal } = options
  const { load } = scenario
  const stop = new AbortController()
  let stoppedBy: ExecuteResult['stoppedBy'] = null
  const onSignal = () => {
    stoppedBy ??= 'signal'
    stop.abort()
  }
  signal.addEventListener('abort', onSignal, { once: true })
  if (signal.aborted) onSignal()
  const cap = setTimeout(() => {
    stoppedBy ??= 'duration'
    stop.abort()
  }, load.maxDurationMs)
  // Each stream gets its own connection, as each browser tab's request would, and a reset or half-close
  // affects exactly one stream. Whatever is still open when the run ends is destroyed.
  const connections: OpenConnections = new Set()
  const samples: ClientSample[] = []
  const runOne = async (stream: StreamPlan) => {
    const sample = await startStream(stream, options, stop.signal, connections)
    samples.push(sample)
    options.onSample?.(sample)
  }

  try {
    if (load.arrivalRatePerSec !== undefined) await openLoop(plan.streams, runOne, stop.signal, options.now)
    else await closedLoop(plan.streams, load.concurrency ?? 10, runOne, stop.signal)
  } finally {
    clearTimeout(cap)
    signal.removeEventListener('abort', onSignal)
    for (const connection of connections) void Promise.resolve(connection.destroy()).catch(() => {})
    connections.clear()
  }
  samples.sort((a, b) => a.index - b.index)
  return { samples, stoppedBy }
}

function startStream(stream: StreamPlan, options: ExecuteOptions, runSignal: AbortSignal, connections: OpenConnections): Promise<ClientSample> {
  const { transport, load, graceMs } = options.scenario
  const recorder = new StreamRecorder({ stream, baseUrl: options.baseUrl, now: options.now, runSignal, idleTimeoutMs: load.streamTimeoutMs, graceMs })
  try {
    if (transport.type === 'sse') runSse(recorder, transport, options.baseUrl, connections)
    else if (transport.type === 'chunked') runChunked(recorder, transport, options.baseUrl, connections)
    else runWs(recorder, transport, options.baseUrl)
  } catch (error) {
    recorder.onError((error as Error).message)
  }
  return recorder.done
}

async function closedLoop(streams: StreamPlan[], concurrency: number, runOne: (s: StreamPlan) => Promise<void>, signal: AbortSignal): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < streams.length && !signal.aborted) await runOne(streams[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, streams.length) }, worker))
}

async function openLoop(streams: StreamPlan[], runOne: (s: StreamPlan) => Promise<void>, signal: AbortSignal, now: () => number): Promise<void> {
  const start = now()
  const running: Promise<void>[] = []
  for (const stream of streams) {
    const wait = start + (stream.sendAtMs ?? 0) - now()
    if (wait > 0) await sleep(wait, signal)
    if (signal.aborted) break
    running.push(runOne(stream))
  }
  await Promise.all(running)
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
