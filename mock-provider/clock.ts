/**
 * One monotonic clock for every timestamp the provider records.
 *
 * `nowMs()` is `performance.now()`: milliseconds since `epochMs` (the process's `performance.timeOrigin`,
 * Unix ms). Wall-clock `Date.now()` can jump (NTP, suspend), so ledger timestamps never use it; a remote
 * runner converts with `epochMs + t` and estimates the offset between machines from `GET /_cancelbench/clock`.
 */
export interface Clock {
  /** Milliseconds since `epochMs`, monotonic, sub-millisecond resolution. */
  nowMs(): number
  /** Unix time in ms at which `nowMs()` was 0. */
  readonly epochMs: number
}

export const monotonicClock: Clock = {
  nowMs: () => performance.now(),
  epochMs: performance.timeOrigin,
}

/** Rounds a clock reading for the ledger: microsecond resolution is plenty and keeps JSON short. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000
}
