import type { Clock } from './clock.ts'
import type { ApiName } from './ledger.ts'
import type { ProviderOptions } from './options.ts'

/**
 * A continuously refilling token bucket, the model Anthropic documents for its limits: capacity = the
 * per-minute limit, refilled at limit/60 000 per ms. `remaining` and `reset` in headers are read off the
 * bucket at response time, so they are truthful rather than decorative.
 */
class TokenBucket {
  readonly limit: number
  private level: number
  private updatedAt: number
  private readonly perMs: number
  private readonly clock: Clock

  constructor(limitPerMinute: number, clock: Clock) {
    this.limit = limitPerMinute
    this.level = limitPerMinute
    this.perMs = limitPerMinute / 60_000
    this.clock = clock
    this.updatedAt = clock.nowMs()
  }

  private refill(): void {
    const now = this.clock.nowMs()
    this.level = Math.min(this.limit, this.level + (now - this.updatedAt) * this.perMs)
    this.updatedAt = now
  }

  /** Whole units available now. */
  remaining(): number {
    this.refill()
    return Math.max(0, Math.floor(this.level))
  }

  /** Takes `n` if at least `min` are available. */
  tryTake(n: number, min = n): boolean {
    this.refill()
    if (this.level < min) return false
    this.level -= n
    return true
  }

  /** Takes `n` unconditionally (output tokens are billed whether or not the bucket had room). */
  take(n: number): void {
    this.refill()
    this.level -= n
  }

  /** ms until `n` units are available. */
  msUntil(n: number): number {
    this.refill()
    return this.level >= n ? 0 : (n - this.level) / this.perMs
  }

  /** ms until the bucket is full again. */
  msUntilFull(): number {
    return this.msUntil(this.limit)
  }
}

export type Admission = { ok: true } | { ok: false; retryAfterSec: number; message: string }

/** Requests/min, output tokens/min and concurrent generations, with the headers each API sends. */
export class RateLimiter {
  private readonly requests: TokenBucket | undefined
  private readonly outputTokens: TokenBucket | undefined
  private readonly concurrent: number | undefined

  constructor(limits: ProviderOptions['rateLimits'], clock: Clock) {
    this.requests = limits.requestsPerMinute ? new TokenBucket(limits.requestsPerMinute, clock) : undefined
    this.outputTokens = limits.outputTokensPerMinute ? new TokenBucket(limits.outputTokensPerMinute, clock) : undefined
    this.concurrent = limits.concurrentGenerations
  }

  get enabled(): boolean {
    return this.requests !== undefined || this.outputTokens !== undefined || this.concurrent !== undefined
  }

  /** Decides whether a new generation may start while `active` are running; takes a request if so. */
  admit(active: number): Admission {
    if (this.concurrent !== undefined && active >= this.concurrent) {
      return { ok: false, retryAfterSec: 1, message: `Number of concurrent generations has exceeded your limit of ${this.concurrent}.` }
    }
    if (this.outputTokens && this.outputTokens.remaining() < 1) {
      return {
        ok: false,
        retryAfterSec: Math.max(1, Math.ceil(this.outputTokens.msUntil(1) / 1000)),
        message: `Output tokens per minute have exceeded your rate limit of ${this.outputTokens.limit}.`,
      }
    }
    if (this.requests && !this.requests.tryTake(1)) {
      return {
        ok: false,
        retryAfterSec: Math.max(1, Math.ceil(this.requests.msUntil(1) / 1000)),
        message: `Requests per minute have exceeded your rate limit of ${this.requests.limit}.`,
      }
    }
    return { ok: true }
  }

  consumeOutputTokens(n: number): void {
    this.outputTokens?.take(n)
  }

  /** The rate-limit headers of `api`, read off the buckets now. */
  headers(api: ApiName, wallNowMs: number): Record<string, string> {
    const headers: Record<string, string> = {}
    const add = (bucket: TokenBucket | undefined, anthropicName: string, openaiName: string) => {
      if (!bucket) return
      const resetMs = bucket.msUntilFull()
      if (api === 'anthropic') {
        headers[`anthropic-ratelimit-${anthropicName}-limit`] = String(bucket.limit)
        headers[`anthropic-ratelimit-${anthropicName}-remaining`] = String(bucket.remaining())
        // RFC 3339 in whole seconds: when the bucket will be full again, rounded up so it is never early.
        headers[`anthropic-ratelimit-${anthropicName}-reset`] = new Date(Math.ceil((wallNowMs + resetMs) / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
      } else {
        headers[`x-ratelimit-limit-${openaiName}`] = String(bucket.limit)
        headers[`x-ratelimit-remaining-${openaiName}`] = String(bucket.remaining())
        headers[`x-ratelimit-reset-${openaiName}`] = formatDuration(resetMs)
      }
    }
    add(this.requests, 'requests', 'requests')
    add(this.outputTokens, 'output-tokens', 'tokens')
    return headers
  }
}

/** OpenAI's reset format: "1s", "6m0s", "1h2m3s", "120ms". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.ceil(ms)}ms`
  let seconds = Math.ceil(ms / 1000)
  const hours = Math.floor(seconds / 3600)
  seconds -= hours * 3600
  const minutes = Math.floor(seconds / 60)
  seconds -= minutes * 60
  return (hours ? `${hours}h` : '') + (hours || minutes ? `${minutes}m` : '') + `${seconds}s`
}
