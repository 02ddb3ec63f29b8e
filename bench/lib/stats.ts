import { build, type Histogram } from 'hdr-histogram-js'

export interface Summary {
  count: number
  p50: number
  p99: number
  max: number
  /** Smallest raw value, before clamping negatives to 0 (shows clock-alignment error in latencies). */
  min: number
}

/**
 * A latency/jitter histogram in milliseconds, recorded at 1 µs resolution with 3 significant digits
 * (HdrHistogram), so p99 of millions of gaps costs a few kB and no sort.
 */
export class MsHistogram {
  private readonly hist: Histogram = build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3 })
  private minRaw = Number.POSITIVE_INFINITY

  record(ms: number): void {
    if (ms < this.minRaw) this.minRaw = ms
    // Negative values can only come from clock alignment error; they are kept visible through `min`.
    this.hist.recordValue(Math.max(0, Math.round(ms * 1000)))
  }

  get count(): number {
    return this.hist.totalCount
  }

  summary(): Summary {
    if (this.hist.totalCount === 0) return { count: 0, p50: Number.NaN, p99: Number.NaN, max: Number.NaN, min: Number.NaN }
    const max = this.hist.maxValue / 1000
    // Percentiles come back as the top of their bucket (3 significant digits), which can exceed the true max.
    return {
      count: this.hist.totalCount,
      p50: Math.min(max, this.hist.getValueAtPercentile(50) / 1000),
      p99: Math.min(max, this.hist.getValueAtPercentile(99) / 1000),
      max,
      min: this.minRaw,
    }
  }
}

/** Exact percentiles (nearest rank) of a small sample, e.g. token counts of a few hundred streams. */
export function summarise(values: number[]): Summary {
  if (values.length === 0) return { count: 0, p50: Number.NaN, p99: Number.NaN, max: Number.NaN, min: Number.NaN }
  const sorted = [...values].sort((a, b) => a - b)
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
  return { count: sorted.length, p50: rank(50), p99: rank(99), max: sorted.at(-1)!, min: sorted[0]! }
}

/** Formats a number of ms for tables: 2 decimals under 10, 1 under 100, else none. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a'
  if (Math.abs(ms) < 10) return ms.toFixed(2)
  if (Math.abs(ms) < 100) return ms.toFixed(1)
  return ms.toFixed(0)
}

/** 12345.6 -> "12,346" */
export function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a'
}
