import type { AbortMode } from '../scenario/schema.ts'

/**
 * What the client saw of one stream: plain, serialisable, timestamps in ms on the runner's clock
 * (`performance.now()` of the runner process). The aggregator converts them to the provider's clock.
 */
export interface ClientSample {
  id: string
  index: number
  startedAtMs: number
  /** Response headers (HTTP) or socket open (WebSocket). */
  responseAtMs: number | null
  firstByteAtMs: number | null
  /** Arrival time of each token event. */
  tokenTimesMs: number[]
  abortedAtMs: number | null
  abortMode: AbortMode | null
  endedAtMs: number
  /**
   * done: the target said it was complete; eof: the body ended without a done event; aborted: we aborted;
   * error: HTTP error, reset by the target, malformed stream or timeout; interrupted: the run was stopped.
   */
  end: 'done' | 'eof' | 'aborted' | 'error' | 'interrupted'
  httpStatus: number | null
  bytes: number
  /** Largest gap between received bytes while the stream was open, counted from the request start. */
  maxIdleGapMs: number
  error: string | null
}

/** Tracks the largest silence between bytes. */
export class IdleGapMeter {
  private last: number
  max = 0
  constructor(startMs: number) {
    this.last = startMs
  }
  bytesAt(nowMs: number): void {
    if (nowMs - this.last > this.max) this.max = nowMs - this.last
    this.last = nowMs
  }
  /** The stream closed (or we stopped listening) at `nowMs`: the silence up to then counts too. */
  closeAt(nowMs: number): number {
    this.bytesAt(nowMs)
    return Math.round(this.max * 1000) / 1000
  }
}
