/** Small statistics and formatting helpers for the runner benchmark. */

export interface Percentiles {
  count: number
  p50: number
  p95: number
  p99: number
  max: number
  min: number
}

/** Nearest-rank percentiles of raw values (a few hundred thousand at most: a typed-array sort is fine). */
export function percentiles(values: ArrayLike<number>): Percentiles {
  if (values.length === 0) return { count: 0, p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, max: Number.NaN, min: Number.NaN }
  const sorted = Float64Array.from(values).sort()
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
  return { count: sorted.length, p50: rank(50), p95: rank(95), p99: rank(99), max: sorted[sorted.length - 1]!, min: sorted[0]! }
}

/** Median of a few numbers (wall times of 3 runs). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** ms for tables: 3 decimals under 1, 2 under 10, 1 under 100, else none. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a'
  const a = Math.abs(ms)
  return ms.toFixed(a < 1 ? 3 : a < 10 ? 2 : a < 100 ? 1 : 0)
}

export function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a'
}

/** Signed ms, for "increase over baseline" columns. */
export function fmtDeltaMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a'
  return (ms >= 0 ? '+' : '') + fmtMs(ms)
}

/**
 * A markdown table with padded columns, so the same text reads well on a terminal and renders on GitHub.
 * First column left-aligned, the rest right-aligned (numbers).
 */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length), 3))
  const cell = (text: string, i: number) => (i === 0 ? text.padEnd(widths[i]!) : text.padStart(widths[i]!))
  const line = (cells: string[]) => `| ${cells.map((c, i) => cell(c, i)).join(' | ')} |`
  const rule = `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : '-'.repeat(w - 1) + ':')).join(' | ')} |`
  return [line(header), rule, ...rows.map(line)].join('\n')
}
