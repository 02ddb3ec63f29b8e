import type { LedgerRecord } from '../../mock-provider/ledger.ts'
import { tokensGeneratedBy, type GenerationPlan } from '../../mock-provider/plan.ts'
import type { Percentiles, StreamResult, Summary, Verdict } from '../report/report.ts'
import type { RunPlan } from './plan.ts'
import type { ClientSample } from './sample.ts'

export interface AggregateInput {
  plan: RunPlan
  samples: ClientSample[]
  /** Ledger records of this run's generations, finished or (stopReason null) still running. */
  records: LedgerRecord[]
  /** provider clock = runner clock + offset. 0 when the provider runs in the runner's process. */
  clockOffsetMs: number
  graceMs: number
}

/**
 * Joins what each client saw with what the provider billed and decides a verdict per stream. Pure: the
 * same samples and ledger always give the same results, so verdicts can be tested without sockets.
 *
 * - propagated: aborted, and every generation still running at the abort observed the disconnect and
 *   stopped within the grace period;
 * - leaked: aborted, and some generation did not (ran on past the grace, to its end, or never noticed);
 * - completed: not aborted and ended normally (or ran out before its abort point);
 * - no_upstream: the provider has no generation for the stream: the target never called it;
 * - error: HTTP error, reset by the target, malformed stream or timeout;
 * - interrupted: the run was stopped (Ctrl-C, duration cap) while the stream was open.
 */
export function aggregate(input: AggregateInput): { streams: StreamResult[]; summary: Summary } {
  const byId = new Map<string, LedgerRecord[]>()
  for (const record of input.records) {
    if (record.correlationId === null) continue
    const list = byId.get(record.correlationId)
    if (list) list.push(record)
    else byId.set(record.correlationId, [record])
  }
  const streams = input.samples.map((sample) => judge(sample, byId.get(sample.id) ?? [], input))
  return { streams, summary: summarize(streams) }
}

function judge(sample: ClientSample, generations: LedgerRecord[], input: AggregateInput): StreamResult {
  const toProvider = (t: number) => round(t + input.clockOffsetMs)
  const abortAt = sample.abortedAtMs === null ? null : toProvider(sample.abortedAtMs)
  const tokensReceived = abortAt === null ? sample.tokenTimesMs.length : sample.tokenTimesMs.filter((t) => t <= sample.abortedAtMs!).length
  // Generations that had already finished when the client aborted were not cancelled by it. One stopped
  // by a disconnect was, even if clock-offset noise puts its stop a hair before our abort timestamp.
  const running =
    abortAt === null ? [] : generations.filter((g) => g.stoppedAtMs === null || g.stoppedAtMs > abortAt || g.stopReason === 'client_disconnected')

  let verdict: Verdict
  let propagationMs: number | null = null
  let leakedTokens: number | null = null
  if (sample.end === 'interrupted') verdict = 'interrupted'
  else if (sample.end === 'error') verdict = 'error'
  else if (generations.length === 0) verdict = 'no_upstream'
  else if (abortAt === null || running.length === 0) verdict = 'completed'
  else {
    const observed = running.map((g) => (g.disconnectObservedAtMs === null ? null : g.disconnectObservedAtMs - abortAt))
    const stoppedInGrace = running.every(
      (g) => g.disconnectObservedAtMs !== null && g.stoppedAtMs !== null && g.stoppedAtMs - abortAt <= input.graceMs,
    )
    verdict = stoppedInGrace ? 'propagated' : 'leaked'
    // The slowest generation decides; a disconnect seen before our abort timestamp (clock noise) is 0.
    propagationMs = observed.every((o) => o !== null) ? round(Math.max(0, ...observed.map((o) => o!))) : null
    leakedTokens = running.reduce((sum, g) => sum + billedAfter(g, abortAt), 0)
  }

  const latest = generations.reduce<LedgerRecord | undefined>((a, g) => (a === undefined || (g.stoppedAtMs ?? Infinity) > (a.stoppedAtMs ?? Infinity) ? g : a), undefined)
  return {
    id: sample.id,
    aborted: abortAt !== null,
    abortMode: sample.abortMode,
    abortAtMs: sample.abortedAtMs === null ? null : round(sample.abortedAtMs - sample.startedAtMs),
    tokensReceived,
    verdict,
    propagationMs,
    leakedTokens,
    billedOutputTokens: sum(generations.map((g) => g.billedOutputTokens)),
    plannedOutputTokens: sum(generations.map((g) => g.plannedOutputTokens)),
    maxIdleGapMs: sample.maxIdleGapMs,
    generations: generations.length,
    timeline: {
      startMs: toProvider(sample.startedAtMs),
      firstByteMs: sample.firstByteAtMs === null ? null : toProvider(sample.firstByteAtMs),
      tokenMs: sample.tokenTimesMs.map(toProvider),
      abortMs: abortAt,
      providerObservedMs: latest?.disconnectObservedAtMs ?? null,
      providerStoppedMs: latest?.stoppedAtMs ?? null,
      providerFirstTokenMs: latest?.firstTokenAtMs ?? null,
      providerLastTokenMs: latest?.lastTokenAtMs ?? null,
    },
    error: sample.error,
  }
}

/** Tokens a generation billed after `abortAt`: its total minus what its plan had generated by then. */
function billedAfter(record: LedgerRecord, abortAt: number): number {
  const plan = { ttftMs: record.plan.ttftMs, tokensPerSecond: record.plan.tokensPerSecond } as GenerationPlan
  const byAbort = tokensGeneratedBy(plan, abortAt - record.receivedAtMs, record.billedOutputTokens)
  return record.billedOutputTokens - byAbort
}

function summarize(streams: StreamResult[]): Summary {
  const count = (v: Verdict) => streams.filter((s) => s.verdict === v).length
  const propagated = count('propagated')
  const leaked = count('leaked')
  const judged = streams.filter((s) => s.verdict === 'propagated' || s.verdict === 'leaked')
  const leakedTokens = judged.map((s) => s.leakedTokens ?? 0)
  const gaps = streams.filter((s) => s.verdict !== 'interrupted').map((s) => s.maxIdleGapMs)
  return {
    streams: streams.length,
    aborted: streams.filter((s) => s.aborted).length,
    propagated,
    leaked,
    completed: count('completed'),
    noUpstream: count('no_upstream'),
    errors: count('error'),
    interrupted: count('interrupted'),
    propagationRate: judged.length ? round(propagated / judged.length, 4) : null,
    propagationMs: percentiles(judged.map((s) => s.propagationMs).filter((v): v is number => v !== null)),
    leakedTokens: { total: sum(leakedTokens), ...pick(percentiles(leakedTokens), 'p50', 'p95', 'max') },
    maxIdleGapMs: gaps.length ? Math.max(...gaps) : null,
    billedOutputTokens: sum(streams.map((s) => s.billedOutputTokens)),
    plannedOutputTokens: sum(streams.map((s) => s.plannedOutputTokens)),
  }
}

/**
 * Nearest-rank percentiles, exact on the samples (a run has at most a few thousand streams, so sorting
 * them is cheaper and clearer than a histogram's bucketed approximation).
 */
export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: null, p95: null, p99: null, max: null }
  const sorted = [...values].sort((a, b) => a - b)
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
  return { p50: at(50), p95: at(95), p99: at(99), max: sorted.at(-1)! }
}

function pick<T, K extends keyof T>(object: T, ...keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, object[k]])) as Pick<T, K>
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0)
}

function round(value: number, digits = 3): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}
