import { describe, expect, it } from 'vitest'
import type { Clock } from '../../mock-provider/clock.ts'
import { formatDuration, RateLimiter } from '../../mock-provider/rate-limit.ts'

/** A clock that only moves when told to. */
function fakeClock(start = 1000): Clock & { advance(ms: number): void } {
  let now = start
  return {
    nowMs: () => now,
    epochMs: 1_700_000_000_000,
    advance(ms) {
      now += ms
    },
  }
}

const WALL = Date.UTC(2025, 0, 1, 0, 0, 0)

describe('formatDuration', () => {
  it('formats like OpenAI reset headers', () => {
    expect(formatDuration(120)).toBe('120ms')
    expect(formatDuration(0)).toBe('0ms')
    expect(formatDuration(0.2)).toBe('1ms')
    expect(formatDuration(1000)).toBe('1s')
    expect(formatDuration(1500)).toBe('2s')
    expect(formatDuration(59_000)).toBe('59s')
    expect(formatDuration(60_000)).toBe('1m0s')
    expect(formatDuration(360_000)).toBe('6m0s')
    expect(formatDuration(3_723_000)).toBe('1h2m3s')
    expect(formatDuration(3_600_000)).toBe('1h0m0s')
    expect(formatDuration(7_205_000)).toBe('2h0m5s')
  })
})

describe('RateLimiter', () => {
  it('is disabled without limits', () => {
    const limiter = new RateLimiter({}, fakeClock())
    expect(limiter.enabled).toBe(false)
    expect(limiter.admit(1000)).toEqual({ ok: true })
    expect(limiter.headers('anthropic', WALL)).toEqual({})
    expect(limiter.headers('openai-chat', WALL)).toEqual({})
  })

  it('admits up to requestsPerMinute, then refuses with a retry-after and a message naming the limit', () => {
    const clock = fakeClock()
    const limiter = new RateLimiter({ requestsPerMinute: 3 }, clock)
    expect(limiter.enabled).toBe(true)
    for (let i = 0; i < 3; i++) expect(limiter.admit(0)).toEqual({ ok: true })
    const refused = limiter.admit(0)
    expect(refused.ok).toBe(false)
    if (refused.ok) return
    // 3/min refills one request every 20 s.
    expect(refused.retryAfterSec).toBe(20)
    expect(refused.message).toContain('Requests per minute')
    expect(refused.message).toContain('3')
  })

  it('counts remaining requests down and refills them continuously', () => {
    const clock = fakeClock()
    const limiter = new RateLimiter({ requestsPerMinute: 60 }, clock)
    const remaining = () => limiter.headers('openai-chat', WALL)['x-ratelimit-remaining-requests']
    expect(remaining()).toBe('60')
    limiter.admit(0)
    expect(remaining()).toBe('59')
    for (let i = 0; i < 59; i++) expect(limiter.admit(0).ok).toBe(true)
    expect(remaining()).toBe('0')
    expect(limiter.admit(0).ok).toBe(false)
    clock.advance(999)
    expect(remaining()).toBe('0')
    expect(limiter.admit(0).ok).toBe(false)
    clock.advance(1) // 60/min: one per second
    expect(remaining()).toBe('1')
    expect(limiter.admit(0).ok).toBe(true)
    clock.advance(10_000)
    expect(remaining()).toBe('10')
    clock.advance(10 * 60_000)
    expect(remaining()).toBe('60') // never above the limit
  })

  it('sends OpenAI headers: limit, remaining, and reset as time until full', () => {
    const clock = fakeClock()
    const limiter = new RateLimiter({ requestsPerMinute: 60, outputTokensPerMinute: 6000 }, clock)
    expect(limiter.headers('openai-chat', WALL)).toEqual({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '60',
      'x-ratelimit-reset-requests': '0ms',
      'x-ratelimit-limit-tokens': '6000',
      'x-ratelimit-remaining-tokens': '6000',
      'x-ratelimit-reset-tokens': '0ms',
    })
    limiter.admit(0)
    limiter.consumeOutputTokens(600)
    expect(limiter.headers('openai-responses', WALL)).toEqual({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '59',
      'x-ratelimit-reset-requests': '1s',
      'x-ratelimit-limit-tokens': '6000',
      'x-ratelimit-remaining-tokens': '5400',
      'x-ratelimit-reset-tokens': '6s',
    })
    limiter.consumeOutputTokens(5400)
    expect(limiter.headers('openai-chat', WALL)['x-ratelimit-reset-tokens']).toBe('1m0s')
    clock.advance(250)
    expect(limiter.headers('openai-chat', WALL)['x-ratelimit-reset-requests']).toBe('750ms')
  })

  it('sends Anthropic headers: limit, remaining, and reset as the RFC 3339 time the bucket is full again', () => {
    const clock = fakeClock()
    const limiter = new RateLimiter({ requestsPerMinute: 60, outputTokensPerMinute: 6000 }, clock)
    for (let i = 0; i < 30; i++) limiter.admit(0)
    limiter.consumeOutputTokens(3000)
    expect(limiter.headers('anthropic', WALL)).toEqual({
      'anthropic-ratelimit-requests-limit': '60',
      'anthropic-ratelimit-requests-remaining': '30',
      'anthropic-ratelimit-requests-reset': '2025-01-01T00:00:30Z',
      'anthropic-ratelimit-output-tokens-limit': '6000',
      'anthropic-ratelimit-output-tokens-remaining': '3000',
      'anthropic-ratelimit-output-tokens-reset': '2025-01-01T00:00:30Z',
    })
    clock.advance(10_000)
    const later = limiter.headers('anthropic', WALL + 10_000)
    expect(later['anthropic-ratelimit-requests-remaining']).toBe('40')
    expect(later['anthropic-ratelimit-output-tokens-remaining']).toBe('4000')
    expect(later['anthropic-ratelimit-requests-reset']).toBe('2025-01-01T00:00:30Z')
  })

  it('bills output tokens past the limit and refuses new generations until the bucket has room', () => {
    const clock = fakeClock()
    const limiter = new RateLimiter({ outputTokensPerMinute: 600 }, clock)
    expect(limiter.admit(0).ok).toBe(true)
    limiter.consumeOutputTokens(900) // tokens are billed whether or not there was room
    expect(limiter.headers('openai-chat', WALL)['x-ratelimit-remaining-tokens']).toBe('0')
    const refused = limiter.admit(0)
    expect(refused.ok).toBe(false)
    if (!refused.ok) {
      // 300 in debt + 1 token at 10 tokens/s: just over 30 s.
      expect(refused.retryAfterSec).toBe(31)
      expect(refused.message).toContain('Output tokens per minute')
      expect(refused.message).toContain('600')
    }
    clock.advance(30_100)
    expect(limiter.admit(0).ok).toBe(true)
  })

  it('refuses a generation over the concurrency limit without taking a request', () => {
    const clock = fakeClock()
    const limiter = new RateLimiter({ concurrentGenerations: 2, requestsPerMinute: 10 }, clock)
    expect(limiter.admit(0).ok).toBe(true)
    expect(limiter.admit(1).ok).toBe(true)
    const refused = limiter.admit(2)
    expect(refused).toMatchObject({ ok: false, retryAfterSec: 1 })
    if (!refused.ok) expect(refused.message).toContain('2')
    expect(limiter.headers('openai-chat', WALL)['x-ratelimit-remaining-requests']).toBe('8')
    expect(limiter.admit(1).ok).toBe(true)
  })
})
