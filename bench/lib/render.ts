import { relative } from 'node:path'
import type { DisconnectFigures, LoadFigures } from './analyse.ts'
import type { OffsetEstimate } from './clock-offset.ts'
import { ROOT, type BenchConfig, type DisconnectLevel } from './config.ts'
import type { FdLimit, MachineInfo } from './machine.ts'
import { markdownTable } from './report.ts'
import { fmtInt, fmtMs } from './stats.ts'

export interface SweepResult {
  tokensPerEvent: number
  rows: LoadFigures[]
  /** Largest N that passed under the configured criterion, if any. */
  maxPassing: number | undefined
  /** Smallest N that failed, if any (undefined: every step passed or the fd limit capped the sweep). */
  firstFailing: number | undefined
}

export interface DisconnectResult extends DisconnectFigures {
  level: DisconnectLevel
  cancelStaggerMs: number
}

export interface Results {
  config: BenchConfig
  machine: MachineInfo
  fd: FdLimit
  startedAt: Date
  durationS: number
  loadAvgEnd: number
  offset: OffsetEstimate
  sweeps: SweepResult[]
  disconnects: DisconnectResult[]
}

const TARGET_STREAMS = 5000

/** How each pass/fail criterion reads in a sentence. */
const CRITERIA: Record<BenchConfig['criterion'], string> = {
  provider: "by its own emission timing (provider-side steady jitter p99 within the limit)",
  steady: 'by the jitter the load generator measured while all streams were open',
  all: 'by the jitter the load generator measured over every gap, ramp included',
}
const TARGET_DISCONNECT_P99_MS = 2

/** Largest N such that it and every smaller N measured passed `pass` (a sweep is only meaningful up to its first failure). */
function largestPassing(rows: LoadFigures[], pass: (f: LoadFigures) => boolean): number | undefined {
  let best: number | undefined
  for (const f of rows) {
    if (!pass(f)) break
    best = f.streams
  }
  return best
}

function sweepTable(sweeps: SweepResult[]): string {
  const rows = sweeps.flatMap((s) =>
    s.rows.map((f) => [
      fmtInt(f.streams),
      String(f.tokensPerEvent),
      `${(f.staggerMs / 1000).toFixed(1)} / ${fmtInt(f.outputTokens)}`,
      f.ok === f.streams ? 'all' : `${fmtInt(f.ok)}`,
      `${fmtMs(f.providerTiming.jitterMs.p50)} / ${fmtMs(f.providerTiming.jitterMs.p99)} / ${fmtMs(f.providerTiming.jitterMs.max)}`,
      fmtMs(f.providerTiming.delayMs.p99),
      fmtMs(f.jitterSteady.p50),
      fmtMs(f.jitterSteady.p99),
      fmtMs(f.jitterSteady.max),
      fmtMs(f.jitter.p99),
      fmtMs(f.head.p99),
      fmtMs(f.firstDeltaLate.p99),
      fmtInt(f.headOver1s),
      fmtInt(f.tokensPerSecSteady),
      fmtInt(f.eventsPerSecSteady),
      fmtInt(f.providerCpuPctSteady),
      fmtMs(f.cpuMsPer1kFramesSteady),
      fmtMs(f.setupCpuMsPerStream),
      `${fmtMs(f.providerLoopDelayP99)} / ${fmtMs(f.providerLoopDelayMax)}`,
      `${f.gcSteady.over5ms} of ${f.gcSteady.count}, ${fmtMs(f.gcSteady.maxMs)}`,
      fmtMs(f.gcMaxMsStep),
      fmtInt(f.clientCpuPctSteady),
      fmtMs(f.clientLoopDelayP99),
      fmtInt(f.cpuPressurePctSteady),
      !f.complete ? 'FAIL (errors)' : f.passed ? 'pass' : 'FAIL (jitter)',
    ]),
  )
  return markdownTable(
    [
      'streams',
      'tok/ev',
      'ramp s / tokens',
      'ok',
      'provider-side jitter p50 / p99 / max',
      'provider-side delay p99',
      'client steady jitter p50',
      'p99',
      'max',
      'client all-gaps p99',
      'head p99',
      'start late p99',
      'head >= 1 s',
      'tokens/s',
      'events/s',
      'prov. CPU %',
      'CPU ms / 1k events',
      'setup CPU ms / stream',
      'prov. loop delay p99 / max',
      'steady GC pauses > 5 ms, longest',
      'longest GC (step)',
      'client CPU %',
      'client loop delay p99',
      'CPU pressure %',
      'result',
    ],
    rows,
    [...Array<'r'>(24).fill('r'), 'l'],
  )
}

function disconnectTable(results: DisconnectResult[]): string {
  const rows = results.map((d) => [
    d.level.background === 0 ? 'none' : `${fmtInt(d.level.background)} @ ${d.level.tokensPerEvent} tok/ev`,
    `${d.destroyed}/${d.cancels}`,
    String(d.destroyed - d.unrecorded),
    fmtMs(d.observed.p50),
    fmtMs(d.observed.p99),
    fmtMs(d.observed.max),
    fmtMs(d.stopped.p50),
    fmtMs(d.stopped.p99),
    fmtMs(d.stopped.max),
    fmtMs(d.observed.min),
    Number.isFinite(d.tokensBilledAfterDestroy.max) ? `${d.tokensBilledAfterDestroy.p50} / ${d.tokensBilledAfterDestroy.max}` : 'n/a',
    Object.entries(d.stopReasons).map(([k, v]) => `${k} ${v}`).join(', ') || 'n/a',
    d.level.background === 0 ? '-' : `${d.backgroundOk}/${d.background} ok, p99 ${fmtMs(d.backgroundJitter.p99)}`,
    fmtMs(d.providerLoopDelayP99),
  ])
  return markdownTable(
    ['background', 'destroyed', 'recorded', 'observed p50', 'p99', 'max', 'stopped p50', 'p99', 'max', 'min (raw)', 'billed after destroy p50/max', 'stop reasons', 'background streams, jitter', 'prov. loop delay p99'],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'l', 'r'],
  )
}

function interpretation(r: Results): string {
  const c = r.config
  const parts: string[] = []
  for (const s of r.sweeps) {
    const providerMax = largestPassing(s.rows, (f) => f.passedProvider)
    const steadyMax = largestPassing(s.rows, (f) => f.passedSteady)
    const allMax = largestPassing(s.rows, (f) => f.passedAll)
    const reached = s.maxPassing ?? 0
    const failing = s.rows.find((f) => f.streams === s.firstFailing)
    const best = s.rows.find((f) => f.streams === s.maxPassing)
    const upTo = (n: number | undefined) => (n === undefined ? 'at no tested level' : `up to ${fmtInt(n)} streams`)
    let why = ''
    if (failing) {
      why = !failing.complete
        ? `; at ${fmtInt(failing.streams)} streams it failed with errors (${failing.errorSamples[0] ?? `${failing.ledgerMismatches} ledger mismatches`})`
        : `; at ${fmtInt(failing.streams)} it failed on jitter (provider-side p99 ${fmtMs(failing.providerTiming.jitterMs.p99)} ms, client steady p99 ${fmtMs(failing.jitterSteady.p99)} ms) with the provider at ${fmtInt(failing.providerCpuPctSteady)}% of a core, the load generator at ${fmtInt(failing.clientCpuPctSteady)}%, ${failing.gcSteady.over5ms} provider GC pause(s) over 5 ms in the steady window (longest ${fmtMs(failing.gcSteady.maxMs)} ms) and CPU pressure ${fmtInt(failing.cpuPressurePctSteady)}%`
    } else if (s.rows.length > 0) {
      why = `; no tested level failed (largest ${fmtInt(s.rows.at(-1)!.streams)})`
    }
    parts.push(
      `At ${s.tokensPerEvent} token${s.tokensPerEvent === 1 ? '' : 's'} per event (${(c.tokensPerSecond / s.tokensPerEvent).toFixed(0)} events/s per stream) the provider held **${fmtInt(reached)}** concurrent streams ` +
        `${CRITERIA[c.criterion]}, which ${reached >= TARGET_STREAMS ? 'meets' : 'misses'} the ${fmtInt(TARGET_STREAMS)}-stream target${why}. ` +
        `By each measure (levels above a sweep's first failure are not run): provider-side steady jitter p99 <= ${c.maxJitterP99Ms} ms ${upTo(providerMax)}; ` +
        `the load generator's steady jitter ${upTo(steadyMax)}; the load generator's jitter over every gap, ramp included, ${upTo(allMax)}.` +
        (best ? ` At ${fmtInt(best.streams)} streams it served ${fmtInt(best.tokensPerSecSteady)} tokens/s (${fmtInt(best.eventsPerSecSteady)} events/s) at ${fmtMs(best.cpuMsPer1kFramesSteady)} ms of provider CPU per 1,000 events, plus about ${fmtMs(best.setupCpuMsPerStream)} ms per stream to accept and set it up.` : ''),
    )
  }
  const clientBound = r.sweeps.flatMap((s) => s.rows).filter((f) => !f.passed && f.clientCpuPctSteady >= 85)
  if (clientBound.length > 0) {
    parts.push(
      `Caveat: at ${clientBound.map((f) => `${fmtInt(f.streams)}@${f.tokensPerEvent}`).join(', ')} the load generator itself was at >= 85% of a core, so part of that jitter may be the client's; those failures bound the provider from below only.`,
    )
  }
  for (const d of r.disconnects) {
    const where = d.level.background === 0 ? 'on an otherwise idle provider' : `with ${fmtInt(d.level.background)} background streams at ${d.level.tokensPerEvent} token(s)/event`
    parts.push(
      `Disconnects ${where}: the ledger recorded them p50 ${fmtMs(d.observed.p50)} ms / p99 ${fmtMs(d.observed.p99)} ms after the client destroyed its socket ` +
        `(${d.observed.p99 <= TARGET_DISCONNECT_P99_MS ? 'meets' : 'misses'} the ${TARGET_DISCONNECT_P99_MS} ms p99 target), billing stopped at that instant (stopped p99 ${fmtMs(d.stopped.p99)} ms)` +
        `${d.unrecorded === 0 ? '' : `, and ${d.unrecorded} destroyed streams had no recorded disconnect`}.`,
    )
  }
  const pressures = r.sweeps.flatMap((s) => s.rows.map((f) => f.cpuPressurePctSteady)).filter(Number.isFinite)
  const maxPressure = pressures.length > 0 ? Math.max(...pressures) : Number.NaN
  if (maxPressure > 5 || r.machine.loadAvg1 > 0.5) {
    parts.push(
      `**The machine was not idle**: CPU pressure (PSI) during steady windows reached ${fmtInt(maxPressure)}% and the 1-minute load average was ${r.machine.loadAvg1.toFixed(2)} before the run started, ` +
        `so other processes competed for the two cores; jitter, loop delay and the stream limits above are pessimistic, while CPU per event (CPU time, not wall time) is less affected.`,
    )
  }
  return parts.join(' ')
}

/** The docs/benchmarks.md section (also printed to stdout). */
export function render(r: Results): string {
  const c = r.config
  const m = r.machine
  const server = relative(ROOT, c.server)
  const sweepsSummary = r.sweeps
    .map((s) => {
      const all = largestPassing(s.rows, (f) => f.passedAll)
      const steady = largestPassing(s.rows, (f) => f.passedSteady)
      return (
        `- ${s.tokensPerEvent} token(s)/event: **${s.maxPassing === undefined ? 'no level passed' : `${fmtInt(s.maxPassing)} streams`}** (${c.criterion} jitter p99 <= ${c.maxJitterP99Ms} ms)` +
        (s.firstFailing !== undefined ? `, first failing ${fmtInt(s.firstFailing)}` : '') +
        `; client-measured steady: ${steady === undefined ? 'none' : fmtInt(steady)}; client-measured, ramp gaps too: ${all === undefined ? 'none' : fmtInt(all)}`
      )
    })
    .join('\n')
  const cancelSpread = r.disconnects[0]?.cancelStaggerMs ?? c.minStaggerMs
  return `## Mock provider (\`npm run bench:provider\`)

Run ${r.startedAt.toISOString()} (${c.mode}${c.mode === 'quick' ? ': smoke run, not representative' : ''}), ${r.durationS.toFixed(0)} s.
Machine: ${m.cpuModel}, ${m.cores} cores, ${m.totalMemGiB.toFixed(1)} GiB, Node ${m.node}, ${m.kernel}; 1-minute load average ${m.loadAvg1.toFixed(2)} at start, ${r.loadAvgEnd.toFixed(2)} at end; ${r.fd.note}.

**Setup.** The provider (\`${server}\`: \`createMockProvider()\` with default options) runs in its own process, the load generator
(\`bench/provider.ts\`) in another, so each can have one of the cores; all traffic is over 127.0.0.1. Every stream is a streaming
\`POST /v1/messages\` on its own connection (no keep-alive; ${c.transport === 'net' ? 'HTTP/1.1 written and parsed by hand on \`net\` sockets, which measured about 30% less load-generator CPU per event than \`node:http\`' : '\`node:http\` client'}) whose marker sets \`ttftMs=${c.ttftMs} tokensPerSecond=${c.tokensPerSecond}\`,
\`tokensPerEvent\` and \`outputTokens\`; the load generator timestamps each \`content_block_delta\` as it arrives.
A step with N streams starts them evenly over max(${(c.minStaggerMs / 1000).toFixed(1)} s, N / ${fmtInt(c.rampPerSecond)} per s) ("ramp"), and makes them long enough
that all N are open together for about ${(c.holdMs / 1000).toFixed(1)} s (the "steady" window, from the last stream's first delta to the first stream's last).
Before each step the provider runs a full garbage collection (over the bench's IPC channel), so that no step's window pays for collecting the previous step's heap.
${c.warmupStreams > 0 ? `An unreported warm-up step of ${fmtInt(c.warmupStreams)} streams runs first, so that V8 has compiled both processes' hot paths before the first level.` : 'No warm-up step.'}${c.providerFlags.length > 0 ? ` Provider node flags: \`${c.providerFlags.join(' ')}\` (\`cancelbench provider\` runs with the GC flags of bin/runtime-flags.js).` : ' Provider node flags: none (Node\'s defaults, not the GC flags `cancelbench provider` runs with).'}

**Figures.** Jitter = |gap between consecutive deltas of a stream − planned gap (1000 / ${c.tokensPerSecond} × tokensPerEvent ms)|, in ms,
taken in two places. *Provider-side*: the provider's own record of when it wrote each event (\`EmissionTiming\`, also in its
\`/metrics\`), for events due in the planned steady window; "delay" = written − due. *Client*: arrival times at the load generator,
"steady" over the gaps inside the steady window, "all-gaps" over every gap including the ramp, when connection setup competes with
streaming. The client figures add the kernel's loopback path and the load generator's own stalls: on two cores the load generator
(about as busy as the provider) and both processes' GC threads share the CPUs, and one 15-20 ms stall of either process delays an
event of most streams, which alone is more than 1% of a 3-second window's gaps. The provider-side figure is what the provider
controls. A step passes when every stream completes with every token, the ledger shows every generation \`completed\` with all
tokens billed and emitted, and ${c.criterion === 'provider' ? 'provider-side' : `client ${c.criterion}`} jitter p99 <= ${c.maxJitterP99Ms} ms; each sweep stops at its first failure${c.refine > 0 ? ` and then bisects ${c.refine} time(s)` : ''}.
"head" = request start → response head received (connect, accept, parse, route, plan); "start late" = first delta's arrival −
request start − its planned time; "head >= 1 s" counts streams whose response head took 1 s or more (typically a connection dropped
by the provider's full accept queue and retried by TCP after 1 s). Tokens/s and events/s are
delivered deltas in the steady window. CPU is the provider process's \`process.cpuUsage()\` (user + system) read over IPC:
"CPU ms / 1k events" is steady-window CPU per 1,000 SSE events sent (only deltas flow then), "setup CPU / stream" is the rest of the
step's CPU per stream (accept, parse, route, plan, close). On loopback the sender's system time includes the kernel's receive
path for the peer socket, so provider CPU includes some of what a NIC and the client machine would do. Loop delay is
\`monitorEventLoopDelay\` (10 ms sampling), in ms. GC pauses are the provider's \`PerformanceObserver\` 'gc' entries (each stops the
event loop, so every stream's next event): "steady GC pauses" counts those overlapping the steady window. "CPU pressure" is Linux PSI (\`/proc/pressure/cpu\` "some") over the steady
window: the share of time in which some task waited for a core. The bench's two processes fit on two cores, so pressure above a few %
means other work competed for the CPUs and the jitter figures of that step are disturbed.

### Concurrent streams at ${c.tokensPerSecond} tokens/s each

${sweepTable(r.sweeps)}

${sweepsSummary}

### Disconnect to recorded stop

${c.disconnectStreams} streams per level (tokensPerEvent=1) each destroy their socket (\`req.destroy()\`) right after their
${c.disconnectAfterDeltas}th delta; their starts are spread over ${(cancelSpread / 1000).toFixed(1)} s and, with background load, begin once every background stream is
streaming. "observed" = ledger \`disconnectObservedAtMs\` − the client's destroy time, "stopped" = \`stoppedAtMs\` − destroy time, in ms on the
provider's clock (the client's \`performance.timeOrigin + performance.now()\` just before \`destroy()\`, minus the record's \`clockEpochMs\`:
both processes read the same kernel clocks, so the alignment error is microseconds; "min (raw)" would go negative if it were not).
Cross-check over \`GET /_cancelbench/clock\` (best of ${r.offset.samples} round trips, RTT ${fmtMs(r.offset.bestRttMs)} ms best / ${fmtMs(r.offset.medianRttMs)} ms median):
provider − bench = ${fmtMs(r.offset.offsetMs)} ± ${fmtMs(r.offset.uncertaintyMs)} ms (± RTT/2), ${Math.abs(r.offset.offsetMs) <= r.offset.uncertaintyMs ? 'consistent with 0' : 'off 0 by more than RTT/2 (request and response paths are not symmetric)'}. "billed after destroy" = billed tokens − tokens the client had received.

${disconnectTable(r.disconnects)}

### Interpretation

${interpretation(r)}
`
}
