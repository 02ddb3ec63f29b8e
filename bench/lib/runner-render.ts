/** The runner benchmark's results as markdown: printed to the terminal and written to docs/benchmarks.md. */
import type { LevelResult, LoopFigures } from './runner-capacity.ts'
import type { CiPhases, CiRun } from './runner-ci.ts'
import type { FdLimit, Machine } from './runner-env.ts'
import { fmtDeltaMs, fmtInt, fmtMs, markdownTable, median } from './runner-stats.ts'

export const TARGET_STREAMS = 2_000
export const TARGET_CI_MS = 5_000
export const BOUND_MS = 1
/** Share of the nominal token rate the steady window must see for the level to count as N streams at once. */
export const MIN_STEADY_SHARE = 0.95

export interface LevelVerdict {
  /** The trial shown in the table: the median one by runner timing error p99. */
  result: LevelResult
  /** Every trial of the level, in the order run, each judged on its own. */
  trials: { result: LevelResult; pass: boolean }[]
  /** The level passes when more than half of its trials pass. */
  pass: boolean
  /** Why it failed, one phrase per criterion missed. */
  reasons: string[]
  /** The runner's own timing error p99 (stamp - provider write time) minus the baseline's. */
  runnerErrorIncreaseP99: number
}

export interface RunnerResults {
  date: Date
  quick: boolean
  machine: Machine
  fd: FdLimit
  command: string
  capacity?: {
    idle: LoopFigures
    idleMs: number
    baseline: LevelResult
    levels: LevelVerdict[]
    /** Trials run at each level (the baseline runs once). */
    trialsPerLevel: number
    /** Which CPUs the runner and the provider child were held to, or why they were not. */
    pinning: string
    /** Largest level that met the bound, every smaller level having met it too; 0 if none did. */
    capacity: number
    stoppedEarly: string | null
    offsetMs: number
    offsetUncertaintyMs: number
  }
  ci?: {
    file: string
    idealStreamsMs: number
    /** The same floor with every stream open at once (load.concurrency = streams). */
    idealAllAtOnceMs: number
    runs: CiRun[]
    phases?: CiPhases
  }
}

/**
 * A level passes with no stream errors, every stream streaming in the window, and the runner's own timing
 * error p99 <= 1 ms. The runner's loop delay is reported, not judged: it samples timer lateness every 1 ms,
 * while tokens are stamped in I/O callbacks, and the error it would cause is already in the timing error.
 */
/**
 * A level is run several times because one stall of a few ms (another process, the hypervisor) in a
 * ~2.6 s window delays enough tokens to decide a p99 on its own: the level passes when most of its trials
 * do, and the median trial (by runner timing error p99) stands for it in the table. Every trial's p99 is
 * listed beside it.
 */
export function judgeTrials(results: LevelResult[], baseline: LevelResult): LevelVerdict {
  const trials = results.map((result) => ({ result, pass: judgeLevel(result, baseline).pass }))
  // A trial without a p99 (no tokens in its window) sorts last.
  const key = (r: LevelResult) => (Number.isFinite(r.runnerErrorSteady.p99) ? r.runnerErrorSteady.p99 : Number.POSITIVE_INFINITY)
  const sorted = [...results].sort((a, b) => key(a) - key(b))
  const median = judgeLevel(sorted[Math.floor((sorted.length - 1) / 2)]!, baseline)
  const passed = trials.filter((t) => t.pass).length
  const pass = passed * 2 > trials.length
  const reasons = pass ? [] : [`${passed} of ${trials.length} trials passed`, ...median.reasons]
  return { ...median, trials, pass, reasons }
}

/** One trial against the criteria below. */
function judgeLevel(result: LevelResult, baseline: LevelResult): Omit<LevelVerdict, 'trials'> {
  const reasons: string[] = []
  const increase = result.runnerErrorSteady.p99 - baseline.runnerErrorSteady.p99
  if (result.errors > 0) reasons.push(`${result.errors} stream errors`)
  // Fewer tokens than N streams x rate in the window: some streams had not started (or had stalled), so
  // this level did not actually hold N streams at once. Typically the provider accepting connections late.
  if (!(result.steadyShare >= MIN_STEADY_SHARE)) {
    reasons.push(`only ${Math.round(result.steadyShare * 100)}% of the planned tokens in the window (request latency p99 ${fmtMs(result.requestLatency.p99)} ms)`)
  }
  if (!(result.runnerErrorSteady.p99 <= BOUND_MS)) reasons.push(`runner timing error p99 ${fmtMs(result.runnerErrorSteady.p99)} ms > ${BOUND_MS} ms`)
  return { result, pass: reasons.length === 0, reasons, runnerErrorIncreaseP99: increase }
}

/** The CI target is a bound a CI job relies on: met only if every run is within it. */
function ciVerdict(walls: number[]): string {
  if (Math.max(...walls) <= TARGET_CI_MS) return 'met in every run'
  return median(walls) <= TARGET_CI_MS ? 'met on the median, not in every run' : 'not met'
}

const pct = (n: number) => (Number.isFinite(n) ? `${Math.round(n)}%` : 'n/a')
const sec = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'n/a')

export function render(r: RunnerResults): string {
  const m = r.machine
  const out: string[] = []
  out.push('## Runner')
  out.push('')
  out.push(
    `Measured by \`${r.command}\` (bench/runner.ts) on ${r.date.toISOString().slice(0, 16).replace('T', ' ')} UTC${r.quick ? ' (**--quick** sanity run: short streams, small levels; not a capacity figure)' : ''}.`,
  )
  out.push('')
  out.push(
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.totalMemGiB.toFixed(1)} GiB, Node ${m.node}, ${m.kernel}; ` +
      `1-min load average at start ${m.loadAvg1.toFixed(2)}, CPU pressure (PSI some avg60) ${Number.isFinite(m.cpuPressure) ? `${m.cpuPressure.toFixed(1)}%` : 'n/a'}` +
      `${m.loadAvg1 > 0.5 || m.cpuPressure > 5 ? ' (other work was running: figures are pessimistic and noisy)' : ''}. ${r.fd.note}. ` +
      `Runner node flags: ${m.nodeFlags ? `\`${m.nodeFlags}\` (the GC flags \`cancelbench run\` runs with, bin/runtime-flags.js)` : 'none'}.`,
  )
  if (r.capacity) out.push('', ...renderCapacity(r.capacity))
  if (r.ci) out.push('', ...renderCi(r.ci))
  out.push('', '### Interpretation', '', interpretation(r))
  return out.join('\n')
}

/** "0.51% / 84%": how much of the level's tail there is, and how much of it a runner GC pause explains. */
function overBoundCell(res: LevelResult): string {
  const { count, nearGc } = res.overBound
  if (res.tokensSteady === 0) return ''
  const share = `${((count / res.tokensSteady) * 100).toFixed(2)}%`
  return count === 0 ? share : `${share} / ${Math.round((nearGc / count) * 100)}%`
}

function renderCapacity(c: NonNullable<RunnerResults['capacity']>): string[] {
  const b = c.baseline.config
  const first = c.levels[0]?.result.config ?? b
  const out: string[] = []
  out.push('### Capacity: concurrent SSE streams on one core with timing error <= 1 ms')
  out.push('')
  out.push(
    `The runner (\`plan()\` + \`execute()\` from src/runner, SSE transport: a socket per stream reading into one shared buffer, responses parsed by http-parser-js, events by eventsource-parser; its own clock-offset estimate) runs in the bench ` +
      `process, one Node thread = one core; the mock provider runs in a child process and is the runner's target (its Anthropic ` +
      `\`/v1/messages\`, \`content_block_delta\` = one token). CPUs: ${c.pinning}. Each stream: ${b.tokensPerSecond} tokens/s, 1 token per event, ` +
      `time to first token ${b.ttftMs} ms, ${first.outputTokens}+ tokens (~${Math.round((first.ttftMs + ((first.outputTokens - 1) * 1000) / first.tokensPerSecond) / 100) / 10} s); ` +
      `the N streams start evenly over max(1 s, N/2 ms) and run together; no aborts. Figures are taken in the **steady window** ` +
      `(every stream open and streaming: from the last start + TTFT to the first end, 150 ms margins).`,
  )
  out.push('')
  out.push(
    '- **runner loop delay**: `monitorEventLoopDelay({ resolution: 1 })` in the runner process, 1 ms subtracted: how stale a ' +
      'timestamp taken in a callback can be.',
  )
  out.push(
    '- **waiting for a CPU**: time the runner\'s / provider\'s main thread was runnable but not running in the window (Linux ' +
      'schedstat run_delay): lateness caused by other processes, not by the code.',
  )
  out.push(
    '- **request latency**: runner sends the request -> provider receives it (connect, accept, parse); multi-second values mean ' +
      'the provider\'s accept queue overflowed and SYNs were retried.',
  )
  out.push(
    '- **runner timing error**: the runner\'s stamp for a token minus the moment the provider wrote that token\'s event (the provider ' +
      'child records every write, `EmissionTiming.onEvent`), both on the provider\'s clock: the two processes share the machine\'s clock, ' +
      'so the offset is exactly the difference of their `performance.timeOrigin`. It is loopback delivery plus the runner\'s own delay in ' +
      `stamping; "vs baseline" is its p99 minus that of a ${fmtInt(c.baseline.config.streams)}-stream baseline.`,
  )
  out.push(
    '- **token error (end to end)**: the same stamp minus the token\'s *planned* time (`receivedAtMs + ttftMs + i * 1000 / tokensPerSecond` ' +
      'from the ledger): the runner\'s error plus the provider\'s lateness (its 1 ms scheduler slots, event loop and GC). At 1 token per ' +
      'event and tens of thousands of events per second the provider is itself late by milliseconds (see the provider benchmark), which is ' +
      'why the bound is judged on the runner timing error.',
  )
  out.push(
    `- **tokens over ${BOUND_MS} ms**: the share of steady-window tokens whose runner timing error was over the bound (a level passes while ` +
      'it is under 1%), and how many of those the provider wrote while a runner GC pause was under way or in the millisecond after it ' +
      '(`PerformanceObserver` gc entries): the part of the tail the runner\'s own garbage collection explains.',
  )
  out.push(
    `- A trial passes with 0 stream errors, at least ${MIN_STEADY_SHARE * 100}% of the planned tokens in the window (all N streams really streaming), ` +
      `and runner timing error p99 <= ${BOUND_MS} ms. Each level is run ${c.trialsPerLevel} time${c.trialsPerLevel === 1 ? '' : 's'} and passes when more than half of its trials do ` +
      '(one stall of another process in a ~2.6 s window can decide a p99 by itself); its row shows the median trial. The sweep stops at the first failing level. ' +
      "The runner loop delay (a 1 ms timer's lateness) " +
      'is shown to explain the error, not judged: tokens are stamped in I/O callbacks, and whatever delay the loop adds to them is already in the timing error.',
  )
  out.push('')
  const rows = [c.baseline, ...c.levels.map((l) => l.result)].map((res, i) => {
    const v = i === 0 ? undefined : c.levels[i - 1]
    return [
      i === 0 ? `${fmtInt(res.config.streams)} (baseline)` : fmtInt(res.config.streams),
      `${fmtInt(res.ok)}/${fmtInt(res.config.streams)}`,
      `${fmtInt(res.tokensPerSecSteady)} (${Math.round(res.steadyShare * 100)}%)`,
      `${fmtMs(res.loopSteady.p50)} / ${fmtMs(res.loopSteady.p99)} / ${fmtMs(res.loopSteady.max)}`,
      `${fmtMs(res.runnerErrorSteady.p50)} / ${fmtMs(res.runnerErrorSteady.p99)}`,
      v ? fmtDeltaMs(v.runnerErrorIncreaseP99) : '',
      `${fmtMs(res.tokenErrorSteady.p50)} / ${fmtMs(res.tokenErrorSteady.p99)}`,
      `${fmtMs(res.loopAll.p99)} / ${fmtMs(res.runnerErrorAll.p99)}`,
      `${fmtMs(res.requestLatency.p50)} / ${fmtMs(res.requestLatency.p99)}`,
      pct(res.cpuPctSteady),
      fmtMs(res.cpuMsPer1kTokensSteady),
      `${res.gcSteady.count} / ${fmtMs(res.gcSteady.totalMs)} / ${fmtMs(res.gcSteady.maxMs)}`,
      overBoundCell(res),
      `${fmtMs(res.provider.loopP99Ms)} / ${pct(res.provider.cpuPct)}`,
      `${fmtMs(res.runQueueWaitSteadyMs)} / ${fmtMs(res.provider.runQueueWaitMs)}`,
      v ? `${v.trials.filter((t) => t.pass).length}/${v.trials.length}: ${v.trials.map((t) => fmtMs(t.result.runnerErrorSteady.p99)).join(', ')}` : '',
      v ? (v.pass ? 'pass' : `FAIL: ${v.reasons.join('; ')}`) : '',
    ]
  })
  out.push(
    markdownTable(
      [
        'streams',
        'ok',
        'tokens/s (% of N x rate)',
        'runner loop delay p50 / p99 / max (ms)',
        'runner timing error p50 / p99 (ms)',
        'p99 vs baseline',
        'token error, end to end, p50 / p99 (ms)',
        'whole run incl. ramp: loop p99 / runner timing error p99',
        'request latency p50 / p99 (ms)',
        'runner CPU',
        'runner CPU ms / 1k tokens',
        'runner GC pauses: n / total / max (ms)',
        `tokens over ${BOUND_MS} ms: share / of them at a GC pause`,
        'provider loop p99 / CPU',
        'waiting for a CPU: runner / provider (ms)',
        'trials passing: runner timing error p99 of each (ms)',
        'verdict',
      ],
      rows,
    ),
  )
  out.push('')
  const errs = c.levels.flatMap((l) => l.result.errorSamples.map((e) => `${fmtInt(l.result.config.streams)}: ${e}`))
  if (errs.length) out.push(`Stream errors (first of each level): ${errs.slice(0, 6).join('; ')}.`, '')
  out.push(
    `Idle noise floor (this process doing nothing for ${fmtInt(c.idleMs)} ms): loop delay p50 ${fmtMs(c.idle.p50)} / p99 ${fmtMs(c.idle.p99)} / max ${fmtMs(c.idle.max)} ms. ` +
      `Clock offset to the provider estimated by the runner: ${fmtMs(c.offsetMs)} ms ± ${fmtMs(c.offsetUncertaintyMs)} ms ` +
      `(vs both processes' \`performance.timeOrigin\`, which the timing error uses: ${fmtDeltaMs(c.baseline.offsetCrossCheckMs)} ms; ` +
      'a run against a provider on another machine has that much constant error in its absolute times).',
  )
  out.push('')
  const best = c.levels.filter((l) => l.result.config.streams === c.capacity)[0]
  out.push(
    `**Result: ${fmtInt(c.capacity)} concurrent streams** met the bound (target >= ${fmtInt(TARGET_STREAMS)}: **${c.capacity >= TARGET_STREAMS ? 'met' : 'not met'}**)` +
      (best ? `, handling ${fmtInt(best.result.tokensPerSecSteady)} tokens/s at ${pct(best.result.cpuPctSteady)} of a core, ${fmtMs(best.result.cpuMsPer1kTokensSteady)} ms of runner CPU per 1,000 tokens` : '') +
      (c.stoppedEarly ? `; ${c.stoppedEarly}` : '') +
      '.',
  )
  return out
}

function renderCi(ci: NonNullable<RunnerResults['ci']>): string[] {
  const out: string[] = []
  const walls = ci.runs.map((r) => r.wallMs)
  const med = median(walls)
  out.push(`### CI scenario wall time (target <= ${TARGET_CI_MS / 1000} s)`)
  out.push('')
  out.push(
    `\`runCommand('${ci.file}')\`, as \`cancelbench run\` does: embedded provider, the runner starts examples/node/sse-good.ts, ` +
      '200 streams at concurrency 100, half aborted (abort / rst / fin). Wall time is around the runCommand call (scenario load to ' +
      'every report file written, target and provider stopped), without Node\'s own start-up (~0.1 s more for `npx cancelbench`). ' +
      'The phase columns come from the stream samples (first start, last end), the ledger (last provider stop) and report.json\'s mtime.',
  )
  out.push('')
  out.push(
    markdownTable(
      ['run', 'exit', 'wall', 'start-up (provider + target)', 'streams', 'after the streams: total (settle / report renders)', 'runner -> target -> provider p50 (ms): first 100 / later', 'provider -> target -> runner p50 / p95 (ms)', 'runner + provider CPU', 'verdicts', 'thresholds'],
      ci.runs.map((r, i) => [
        String(i + 1),
        String(r.exitCode),
        sec(r.wallMs),
        sec(r.startupMs),
        sec(r.streamsMs),
        `${sec(r.tailMs)} (${sec(r.settleWaitMs)} / ${sec(r.renderMs)})`,
        `${fmtMs(r.forwardFirstWave.p50)} / ${fmtMs(r.forwardLater.p50)}`,
        `${fmtMs(r.returnLatency.p50)} / ${fmtMs(r.returnLatency.p95)}`,
        pct(r.runnerCpuPct),
        `${r.summary.propagated} propagated, ${r.summary.leaked} leaked, ${r.summary.completed} completed, ${r.summary.errors} errors`,
        r.thresholds.every((t) => t.pass) ? 'all pass' : `failed: ${r.thresholds.filter((t) => !t.pass).map((t) => `${t.expression} (actual ${t.actual === null ? 'n/a' : fmtMs(t.actual)})`).join(', ')}`,
      ]),
    ),
  )
  out.push('')
  out.push(
    `**Wall time min / median / max: ${sec(Math.min(...walls))} / ${sec(med)} / ${sec(Math.max(...walls))}** ` +
      `(target <= ${TARGET_CI_MS / 1000} s: **${ciVerdict(walls)}**). ` +
      `Floor set by the scenario itself: with zero overhead the 200 scripted streams (TTFT + tokens up to the abort point, closed loop of 100) take ${sec(ci.idealStreamsMs)}.`,
  )
  if (ci.phases) {
    const p = ci.phases
    out.push('')
    out.push(
      'Phases of one more run, timed step by step with the calls `runScenario` makes (a replica, for the breakdown only; it writes ' +
        'report.json but not the other report files, whose rendering is the "report renders" column above):',
    )
    out.push('')
    out.push(
      markdownTable(
        ['phase', 'time (ms)'],
        [
          ['load scenario + plan', fmtMs(p.loadAndPlanMs)],
          ['start embedded provider', fmtMs(p.providerStartMs)],
          ['start target (spawn + port open)', fmtMs(p.targetStartMs)],
          ['streams', fmtMs(p.streamsMs)],
          ['settle ledger', fmtMs(p.settleMs)],
          ['aggregate + write report.json', fmtMs(p.aggregateAndWriteMs)],
          ['stop target', fmtMs(p.targetStopMs)],
          ['close provider', fmtMs(p.providerCloseMs)],
          ['total', fmtMs(p.totalMs)],
        ],
      ),
    )
  }
  return out
}

/** One honest paragraph, written from the numbers. */
function interpretation(r: RunnerResults): string {
  const parts: string[] = []
  const c = r.capacity
  if (c) {
    const failed = c.levels.find((l) => !l.pass)
    const best = c.levels.find((l) => l.result.config.streams === c.capacity)
    parts.push(
      c.capacity >= TARGET_STREAMS
        ? `The capacity target is met: the runner drove ${fmtInt(c.capacity)} concurrent streams (${fmtInt(best?.result.tokensPerSecSteady ?? Number.NaN)} tokens/s) on one core with its own timing error p99 within ${BOUND_MS} ms.`
        : `The capacity target is not met in this run: ${c.capacity > 0 ? `${fmtInt(c.capacity)} streams` : 'no level'} met the ${BOUND_MS} ms bound.`,
    )
    if (failed) {
      const f = failed.result
      // The runner timing error is paired with the provider's write times, so the provider's lateness is not
      // in it; the end-to-end token error, which has both, is stated beside it.
      const gc = f.gcSteady.count > 0 ? `, GC paused it ${f.gcSteady.count} time${f.gcSteady.count === 1 ? '' : 's'} (up to ${fmtMs(f.gcSteady.maxMs)} ms)` : ''
      parts.push(
        `At ${fmtInt(f.config.streams)} streams it failed (${failed.reasons.join('; ')}). In its window the runner used ${pct(f.cpuPctSteady)} of a core${gc}, ` +
          `with loop delay p99 ${fmtMs(f.loopSteady.p99)} ms; the provider used ${pct(f.provider.cpuPct)} with loop delay p99 ${fmtMs(f.provider.loopP99Ms)} ms.`,
      )
      if (f.overBound.count > 0) {
        parts.push(
          `Of its ${fmtInt(f.overBound.count)} tokens over ${BOUND_MS} ms, ${Math.round((f.overBound.nearGc / f.overBound.count) * 100)}% were written while a runner GC pause was under way or in the millisecond after it.`,
        )
      }
      if (f.tokenErrorSteady.p99 - f.runnerErrorSteady.p99 > BOUND_MS) {
        parts.push(`End to end (against planned times) the token error p99 was ${fmtMs(f.tokenErrorSteady.p99)} ms, of which the runner's own error was ${fmtMs(f.runnerErrorSteady.p99)} ms: the rest is the provider's lateness.`)
      }
      if (!(f.steadyShare >= MIN_STEADY_SHARE)) {
        parts.push(
          `Not all ${fmtInt(f.config.streams)} streams were streaming in the window: the provider received requests up to ${fmtMs(f.requestLatency.p99)} ms (p99) after the runner sent them` +
            (f.listenOverflows > 0 ? ` and the machine counted ${fmtInt(f.listenOverflows)} accept-queue overflows (dropped SYNs are retried after 1 s, 3 s)` : '') +
            ', a provider-side limit.',
        )
      }
      if (c.baseline.loopSteady.p99 > BOUND_MS / 2) {
        parts.push(
          `Even the ${fmtInt(c.baseline.config.streams)}-stream baseline, at ${pct(c.baseline.cpuPctSteady)} CPU, had a loop delay p99 of ${fmtMs(c.baseline.loopSteady.p99)} ms ` +
            `(its thread waited ${fmtMs(c.baseline.runQueueWaitSteadyMs)} ms for a CPU in its window): on this machine the noise floor under I/O is close to the bound itself.`,
        )
      }
      if (f.cpuPctSteady < 80) {
        parts.push(`The runner was far from CPU-bound, so what broke the bound were stalls (GC pauses, and on a shared machine preemption by other processes), not a lack of throughput.`)
      }
      const windowMs = f.steadyToMs - f.steadyFromMs
      if (f.runQueueWaitSteadyMs > 0.01 * windowMs || r.machine.loadAvg1 > 0.5) {
        parts.push(
          `The machine was not idle (load average ${r.machine.loadAvg1.toFixed(2)} on ${r.machine.cores} cores, CPU pressure ${r.machine.cpuPressure.toFixed(0)}% at the start): ` +
            `in the ${fmtInt(windowMs)} ms window the runner's thread waited ${fmtMs(f.runQueueWaitSteadyMs)} ms for a CPU and the provider's ${fmtMs(f.provider.runQueueWaitMs)} ms, ` +
            `so part of these delays is other processes, and an idle machine should do better: its re-run is the figure of record.`,
        )
      }
    } else if (c.stoppedEarly) parts.push(`The sweep ended without a failing level (${c.stoppedEarly}), so the capacity is at least that.`)
    // Per-token cost from the most loaded level measured: fixed costs (timers, the monitors) are best amortised there.
    const busiest = c.levels.at(-1)?.result
    const cpuPer1k = busiest?.cpuMsPer1kTokensSteady
    if (busiest && cpuPer1k !== undefined && Number.isFinite(cpuPer1k)) {
      parts.push(
        `Per token the runner spends about ${fmtMs(cpuPer1k)} µs of CPU (user and system time of the whole process at ${fmtInt(busiest.config.streams)} streams, its steady window), ` +
          `so CPU alone would allow about ${fmtInt(1e6 / cpuPer1k)} tokens/s, ${fmtInt(1e6 / cpuPer1k / busiest.config.tokensPerSecond)} streams at ${busiest.config.tokensPerSecond} tokens/s, on a core to itself.`,
      )
    }
  }
  const ci = r.ci
  if (ci) {
    const med = median(ci.runs.map((x) => x.wallMs))
    const startup = median(ci.runs.map((x) => x.startupMs))
    const streamsOver = median(ci.runs.map((x) => x.streamsMs)) - ci.idealStreamsMs
    const tail = median(ci.runs.map((x) => x.tailMs))
    const settleWait = median(ci.runs.map((x) => x.settleWaitMs))
    const renders = median(ci.runs.map((x) => x.renderMs))
    const forwardFirst = median(ci.runs.map((x) => x.forwardFirstWave.p50))
    const forwardLater = median(ci.runs.map((x) => x.forwardLater.p50))
    const back = median(ci.runs.map((x) => x.returnLatency.p50))
    const runnerCpu = median(ci.runs.map((x) => x.runnerCpuPct))
    const failedThresholds = ci.runs.some((x) => x.thresholds.some((t) => !t.pass))
    parts.push(
      `The CI scenario took ${sec(med)} (median of ${ci.runs.length}, max ${sec(Math.max(...ci.runs.map((x) => x.wallMs)))}) against a ${sec(TARGET_CI_MS)} target: ${ciVerdict(ci.runs.map((x) => x.wallMs))}` +
        `${med <= TARGET_CI_MS ? `, with ${sec(TARGET_CI_MS - med)} to spare on the median` : ''}. Most of it is the scenario itself: its scripted streams take ${sec(ci.idealStreamsMs)} with zero overhead ` +
        `(closed loop of 100, so each slot runs two streams back to back). The rest is start-up ${sec(startup)} (almost all of it spawning the Node target and waiting for its port), ` +
        `${sec(streamsOver)} of streaming beyond the script (each stream pays the trip through the target before the provider starts its clock and back, and a slot runs two streams in a row: ` +
        `median ${fmtMs(forwardFirst)} ms forward for the first 100 streams, sent at once to the freshly started target, ${fmtMs(forwardLater)} ms for the later ones, ${fmtMs(back)} ms back) ` +
        `and ${sec(tail)} from the last stream's end to the return: ${sec(settleWait)} until the provider had stopped its last generation ` +
        `(an aborted stream's generation stops only once the target has passed the cancel on), ${sec(renders)} rendering the report files after report.json ` +
        `(summary, Markdown, HTML, JUnit, PNG charts), the rest aggregating and stopping target and provider. ` +
        `The runner process (with the embedded provider in it) used ${pct(runnerCpu)} of a core${runnerCpu < 60 ? ', so it was not what held the run up' : ': enough that its own queueing may add to the trips above'}. ` +
        `The margin to 5 s is set by the scenario's timing (with every stream open at once its floor would be ${sec(ci.idealAllAtOnceMs)}) and by how fast the target starts and takes its first burst.` +
        (failedThresholds ? ' Some runs failed a threshold (propagation or leaked-token bounds): on a loaded machine the target and provider react later; that affects the verdict, not the wall time.' : ''),
    )
  }
  return parts.join(' ')
}
