import { build, type Histogram } from 'hdr-histogram-js'

export interface Quantiles {
  p50: number
  p99: number
  max: number
}

export interface TimingSummary {
  /** Stream events timed (content events only: deltas, not pings or the opening and closing frames). */
  events: number
  /** Written - due, per event (ms). */
  delayMs: Quantiles
  /** |delay - the same stream's previous event's delay| = |actual gap - planned gap| (ms). */
  jitterMs: Quantiles
}

/**
 * How punctually the provider writes stream events, as the provider itself sees it. An event is due when
 * the last token it carries is generated on the plan; its delay is the time it was written minus that.
 * Jitter is the change in delay from the same stream's previous event, which equals |actual gap - planned
 * gap|: the measure a client takes between arrivals, without the network and the client's own delays.
 *
 * A load test can tell from it whether the mock, not the system under test, was the bottleneck, and the
 * provider benchmark reports it beside the jitter its load generator sees. Recorded at 1 µs resolution
 * in HdrHistograms: a few hundred nanoseconds per event and no allocation.
 */
export class EmissionTiming {
  private readonly delay: Histogram = build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 2 })
  private readonly jitter: Histogram = build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 2 })
  /** Record only events due in [from, to] (provider clock ms); every event when unset. */
  window: { from: number; to: number } | undefined
  /**
   * Called for every event written, with the generation's correlation id, the output tokens sent so far
   * and the write time (provider clock ms). For instruments that pair a client's arrival times with the
   * provider's write times, as bench/runner.ts does to separate its own timing error from the provider's.
   */
  onEvent: ((correlationId: string | null, tokensSent: number, writtenAtMs: number) => void) | undefined

  /** `previousDelayMs` is undefined for a stream's first event, which has no gap before it. */
  record(dueMs: number, delayMs: number, previousDelayMs: number | undefined): void {
    if (this.window && (dueMs < this.window.from || dueMs > this.window.to)) return
    // A timer can fire a hair early relative to float token times: that is no delay.
    this.delay.recordValue(Math.max(0, Math.round(delayMs * 1000)))
    if (previousDelayMs !== undefined) this.jitter.recordValue(Math.round(Math.abs(delayMs - previousDelayMs) * 1000))
  }

  summary(): TimingSummary {
    return { events: this.delay.totalCount, delayMs: quantiles(this.delay), jitterMs: quantiles(this.jitter) }
  }

  reset(): void {
    this.delay.reset()
    this.jitter.reset()
  }
}

function quantiles(h: Histogram): Quantiles {
  if (h.totalCount === 0) return { p50: 0, p99: 0, max: 0 }
  const max = h.maxValue / 1000
  // Percentiles come back as the top of their bucket, which can exceed the true max.
  return { p50: Math.min(max, h.getValueAtPercentile(50) / 1000), p99: Math.min(max, h.getValueAtPercentile(99) / 1000), max }
}
