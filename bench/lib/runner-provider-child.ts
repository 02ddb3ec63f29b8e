/**
 * The mock provider for the runner benchmark (bench/runner.ts), alone in its own process: the runner under
 * test then has the bench process (one core, Node being single-threaded) to itself, and the provider's own
 * lateness can be read separately from the runner's.
 *
 * Started with `fork` by bench/lib/runner-capacity.ts. Prints one line `{"url":...,"pid":...}` on stdout,
 * then answers IPC messages `{ id, op: 'window' | 'stats' | 'writes' | 'shutdown' }`. Exits when the parent goes away
 * (IPC 'disconnect'), so it can never outlive a bench run, and on SIGINT/SIGTERM.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { createMockProvider } from '../../mock-provider/index.ts'
import { runQueueWaitMs } from './runner-env.ts'

export interface ChildStats {
  /** Event-loop delay of the provider process since the last 'window', ms (1 ms sampling, resolution subtracted). */
  loopP50Ms: number
  loopP99Ms: number
  loopMaxMs: number
  /** CPU time of the provider process since the last 'window', as % of one core. */
  cpuPct: number
  /** Generations still running. */
  active: number
  /** Main thread runnable but waiting for a CPU since the last 'window', ms (Linux schedstat). */
  runQueueWaitMs: number
}

/** 'writes' returns, and forgets, the write time (provider clock ms) of every event since the last 'writes', by correlation id. */
export type ChildRequest = { id: number; op: 'window' | 'stats' | 'writes' | 'shutdown' }
export type ChildReply = { id: number; ok: true; stats?: ChildStats; writes?: Record<string, number[]> } | { id: number; ok: false; error: string }

// Provider defaults: every stream's timing comes from the marker the runner's plan puts in its prompt.
const provider = await createMockProvider({ host: '127.0.0.1' })

// When each event was written, per stream: the runner's timestamps are compared with these, so that its
// timing error does not include the provider's own lateness (at tens of thousands of events per second
// this provider is itself late by milliseconds; see the provider benchmark).
let writes = new Map<string, number[]>()
provider.core.timing.onEvent = (correlationId, _tokens, writtenAtMs) => {
  if (correlationId === null) return
  let times = writes.get(correlationId)
  if (!times) writes.set(correlationId, (times = []))
  times.push(writtenAtMs)
}

// Same 1 ms sampling as the runner side, so both loops' figures mean the same thing.
const RESOLUTION_MS = 1
const loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
loop.enable()
let cpuMark = process.cpuUsage()
let wallMark = performance.now()
let waitMark = runQueueWaitMs()

function stats(): ChildStats {
  // The histogram records the interval between its timer's runs, so the resolution itself is in every value.
  const ms = (ns: number) => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - RESOLUTION_MS) : 0)
  const cpu = process.cpuUsage(cpuMark)
  const wall = performance.now() - wallMark
  return {
    loopP50Ms: ms(loop.percentile(50)),
    loopP99Ms: ms(loop.percentile(99)),
    loopMaxMs: ms(loop.max),
    cpuPct: wall > 0 ? ((cpu.user + cpu.system) / 1000 / wall) * 100 : 0,
    active: provider.core.active.size,
    runQueueWaitMs: runQueueWaitMs() - waitMark,
  }
}

let closing = false
async function shutdown(code: number): Promise<void> {
  if (closing) return
  closing = true
  loop.disable()
  // Bounded: never wait forever on a stuck socket.
  await Promise.race([provider.close(), new Promise((resolve) => setTimeout(resolve, 2_000).unref())])
  process.exit(code)
}

process.on('message', (message: ChildRequest) => {
  const reply = (r: ChildReply) => process.send?.(r)
  if (message.op === 'window') {
    loop.reset()
    cpuMark = process.cpuUsage()
    wallMark = performance.now()
    waitMark = runQueueWaitMs()
    reply({ id: message.id, ok: true })
  } else if (message.op === 'stats') reply({ id: message.id, ok: true, stats: stats() })
  else if (message.op === 'writes') {
    const taken = writes
    writes = new Map()
    reply({ id: message.id, ok: true, writes: Object.fromEntries(taken) })
  }
  else if (message.op === 'shutdown') {
    reply({ id: message.id, ok: true })
    void shutdown(0)
  } else reply({ id: (message as { id: number }).id, ok: false, error: `unknown op ${JSON.stringify((message as { op?: unknown }).op)}` })
})
process.on('disconnect', () => void shutdown(0))
process.on('SIGINT', () => void shutdown(130))
process.on('SIGTERM', () => void shutdown(143))

process.stdout.write(JSON.stringify({ url: provider.url, pid: process.pid }) + '\n')
