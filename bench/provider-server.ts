/**
 * The mock provider under benchmark, alone in its own process so that it gets a core to itself and its CPU
 * time can be read without the load generator's in it.
 *
 *   node bench/provider-server.ts            # prints {"url":"http://127.0.0.1:<port>","pid":<pid>} and serves
 *
 * Started by bench/provider.ts with `fork`, it also answers the IPC requests of ./lib/protocol.ts
 * (CPU usage, event-loop delay) and exits when the parent goes away, so it can never outlive a bench run.
 * Run by hand, it serves until SIGINT/SIGTERM.
 */
import { constants, monitorEventLoopDelay, performance, PerformanceObserver, type EventLoopUtilization, type NodeGCPerformanceDetail } from 'node:perf_hooks'
import { createMockProvider } from '../mock-provider/index.ts'
import { fullGc } from './lib/full-gc.ts'
import type { GcPause, ProviderHello, ProviderReply, ProviderRequest, ProviderStats } from './lib/protocol.ts'

// Defaults are the provider's own; every stream sets its timing through the marker's overrides.
const provider = await createMockProvider({ host: '127.0.0.1', port: Number(process.env.CB_BENCH_PORT ?? 0) })

// 10 ms sampling, the default: finer sampling would itself add timer work to the process being measured.
const LOOP_RESOLUTION_MS = 10
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
loopDelay.enable()
let eluMark: EventLoopUtilization = performance.eventLoopUtilization()

// Every GC pause stops the event loop, so every stream's next event with it: the bench lines them up with
// the jitter it sees. The observer costs one callback per collection.
const GC_KINDS: Record<number, GcPause['kind']> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
}
let gcPauses: GcPause[] = []
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    // The DOM lib's PerformanceEntry type (tsconfig includes "dom") lacks Node's `detail`.
    const detail = (entry as unknown as { detail?: NodeGCPerformanceDetail }).detail
    const kind = GC_KINDS[detail?.kind ?? -1] ?? 'other'
    gcPauses.push({ start: entry.startTime, duration: entry.duration, kind })
  }
})
gcObserver.observe({ entryTypes: ['gc'] })

let closing = false
async function shutdown(code: number): Promise<void> {
  if (closing) return
  closing = true
  loopDelay.disable()
  gcObserver.disconnect()
  // Bounded: closeAllConnections drops open streams, but never wait forever on a stuck socket.
  await Promise.race([provider.close(), new Promise((resolve) => setTimeout(resolve, 2_000).unref())])
  // process.exit (not a signal) so that a --cpu-prof profile gets written.
  process.exit(code)
}

function stats(): ProviderStats {
  const cpu = process.cpuUsage()
  const mem = process.memoryUsage()
  // The histogram records the interval between its timer's runs, resolution included: subtract it to get the delay.
  const ns = (n: number) => (Number.isFinite(n) ? Math.max(0, n / 1e6 - LOOP_RESOLUTION_MS) : 0)
  return {
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    rssBytes: mem.rss,
    heapUsedBytes: mem.heapUsed,
    active: provider.core.active.size,
    schedulerLagMs: provider.core.scheduler.lastLagMs,
    loopDelay: { p50: ns(loopDelay.percentile(50)), p99: ns(loopDelay.percentile(99)), max: ns(loopDelay.max) },
    loopUtilization: performance.eventLoopUtilization(eluMark).utilization,
    timing: provider.core.timing.summary(),
    timeOrigin: performance.timeOrigin,
    gc: gcPauses,
  }
}

process.on('message', (message: ProviderRequest) => {
  const reply = (r: ProviderReply) => process.send?.(r)
  switch (message.op) {
    case 'stats':
      reply({ id: message.id, ok: true, stats: stats() })
      return
    case 'window':
      loopDelay.reset()
      eluMark = performance.eventLoopUtilization()
      gcPauses = []
      provider.core.timing.reset()
      // Unix ms to the provider's clock (performance.now(), which every generation's times are on).
      provider.core.timing.window = message.timingUnixMs && {
        from: message.timingUnixMs.from - performance.timeOrigin,
        to: message.timingUnixMs.to - performance.timeOrigin,
      }
      reply({ id: message.id, ok: true })
      return
    case 'gc':
      fullGc()
      reply({ id: message.id, ok: true })
      return
    case 'shutdown':
      reply({ id: message.id, ok: true })
      void shutdown(0)
      return
    default:
      reply({ id: (message as { id: number }).id, ok: false, error: `unknown op ${JSON.stringify((message as { op?: unknown }).op)}` })
  }
})
// The parent died or closed the channel: nobody will ever stop us otherwise.
process.on('disconnect', () => void shutdown(0))
process.on('SIGINT', () => void shutdown(130))
process.on('SIGTERM', () => void shutdown(143))

const hello: ProviderHello = { url: provider.url, pid: process.pid }
process.stdout.write(JSON.stringify(hello) + '\n')
