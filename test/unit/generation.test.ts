import { afterEach, describe, expect, it, vi } from 'vitest'
import { formatMarker } from '../../mock-provider/correlation.ts'
import type { ApiName, LedgerRecord } from '../../mock-provider/ledger.ts'
import type { ProviderOptionsInput } from '../../mock-provider/options.ts'
import { tokensGeneratedBy, type GenerationPlan } from '../../mock-provider/plan.ts'
import { ProviderCore } from '../../mock-provider/provider.ts'
import { countInputTokens, textOf } from '../../mock-provider/words.ts'

/**
 * ProviderCore.handle driven directly with web-standard Requests: no sockets, no msw. Real timers with short
 * timings; every wait is for an event (a frame, a ledger record) with a timeout, not a sleep (the one exception:
 * a non-streaming generation has no event to wait for before it is aborted).
 */

const FAST = { ttftMs: 5, tokensPerSecond: 1000 }

let cores: ProviderCore[] = []
afterEach(() => {
  for (const core of cores) core.close()
  cores = []
})

function provider(options: ProviderOptionsInput = {}): ProviderCore {
  const core = new ProviderCore(options)
  cores.push(core)
  return core
}

let counter = 0
function newId(): string {
  return `gen-${process.pid}-${++counter}`
}

const PATHS: Record<ApiName, string> = { anthropic: '/v1/messages', 'openai-chat': '/v1/chat/completions', 'openai-responses': '/v1/responses' }

function request(api: ApiName, body: Record<string, unknown>, init: { headers?: Record<string, string>; signal?: AbortSignal } = {}): Request {
  const auth: Record<string, string> = api === 'anthropic' ? { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' } : { authorization: 'Bearer k' }
  return new Request(`http://x${PATHS[api]}`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json', ...init.headers },
    body: JSON.stringify(body),
    signal: init.signal,
  })
}

function anthropicBody(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'claude-sonnet-4-5', max_tokens: 1024, stream: true, messages: [{ role: 'user', content: `Say something. ${formatMarker(id)}` }], ...extra }
}

/** Rejects after `ms` so that a stream that never ends fails its test instead of hanging the run. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

interface Frame {
  event: string | undefined
  data: string
}

/** Incremental SSE reader over a Response body. */
class SseReader {
  readonly reader: ReadableStreamDefaultReader<Uint8Array>
  private buffer = ''
  private readonly decoder = new TextDecoder()
  ended = false

  constructor(response: Response) {
    expect(response.body).not.toBeNull()
    this.reader = response.body!.getReader()
  }

  /** The next frame, or undefined at the end of the stream. */
  async next(): Promise<Frame | undefined> {
    for (;;) {
      const end = this.buffer.indexOf('\n\n')
      if (end >= 0) {
        const raw = this.buffer.slice(0, end)
        this.buffer = this.buffer.slice(end + 2)
        return parseFrame(raw)
      }
      if (this.ended) return undefined
      const { done, value } = await within(this.reader.read(), 10_000, 'the next stream chunk')
      if (done) {
        this.ended = true
        expect(this.buffer, 'stream ended inside a frame').toBe('')
        return undefined
      }
      this.buffer += this.decoder.decode(value, { stream: true })
    }
  }

  /** Every remaining frame, up to the end of the stream. */
  async all(): Promise<Frame[]> {
    const frames: Frame[] = []
    for (let frame = await this.next(); frame; frame = await this.next()) frames.push(frame)
    return frames
  }

  /** Frames up to and including the `count`-th one matching `predicate`. */
  async until(predicate: (frame: Frame) => boolean, count = 1): Promise<Frame[]> {
    const frames: Frame[] = []
    let seen = 0
    while (seen < count) {
      const frame = await this.next()
      if (!frame) throw new Error(`stream ended after ${seen} of ${count} matching frames`)
      frames.push(frame)
      if (predicate(frame)) seen++
    }
    return frames
  }
}

function parseFrame(raw: string): Frame {
  let event: string | undefined
  const data: string[] = []
  for (const line of raw.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice('event: '.length)
    else if (line.startsWith('data: ')) data.push(line.slice('data: '.length))
    else throw new Error(`unexpected SSE line: ${JSON.stringify(line)}`)
  }
  return { event, data: data.join('\n') }
}

type Json = any
const json = (frame: Frame): Json => JSON.parse(frame.data)
const isDelta = (frame: Frame) => frame.event === 'content_block_delta'

function recordOf(core: ProviderCore, correlationId: string): Promise<LedgerRecord> {
  return core.ledger.waitFor((r) => r.correlationId === correlationId, AbortSignal.timeout(10_000))
}

/** The plan's timing as the ledger recorded it, enough for tokensGeneratedBy. */
function planOf(record: LedgerRecord): GenerationPlan {
  return {
    seed: record.seed,
    ttftMs: record.plan.ttftMs,
    tokensPerSecond: record.plan.tokensPerSecond,
    tokensPerEvent: record.plan.tokensPerEvent,
    outputTokens: record.plannedOutputTokens,
    naturalStop: 'completed',
    stopLagMs: record.plan.stopLagMs,
    ignoreDisconnect: record.plan.ignoreDisconnect,
  }
}

/** A stopped record bills exactly the tokens whose generation time is at or before the stop (µs rounding aside). */
function expectBilledUpTo(record: LedgerRecord, atMs: number): void {
  const plan = planOf(record)
  const elapsed = atMs - record.receivedAtMs
  const low = tokensGeneratedBy(plan, elapsed - 0.002)
  const high = tokensGeneratedBy(plan, elapsed + 0.002)
  expect(record.billedOutputTokens).toBeGreaterThanOrEqual(low)
  expect(record.billedOutputTokens).toBeLessThanOrEqual(high)
  if (record.billedOutputTokens > 0) {
    expect(record.lastTokenAtMs).toBeCloseTo(record.receivedAtMs + plan.ttftMs + ((record.billedOutputTokens - 1) * 1000) / plan.tokensPerSecond, 2)
  }
}

describe('Anthropic Messages streaming', () => {
  it('sends the exact event sequence with cumulative usage, and records a completed generation', async () => {
    const core = provider({ timing: { ...FAST, outputTokens: 8 } })
    const id = newId()
    const response = await core.handle(request('anthropic', anthropicBody(id)), 'anthropic')
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(response.headers.get('request-id')).toMatch(/^req_/)
    const frames = await new SseReader(response).all()

    expect(frames.map((f) => f.event)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      ...Array<string>(8).fill('content_block_delta'),
      'content_block_stop',
      'message_delta',
      'message_stop',
    ])
    for (const frame of frames) expect(json(frame).type).toBe(frame.event)

    const record = await recordOf(core, id)
    const start = json(frames[0]!)
    expect(start.message).toMatchObject({ id: record.id, type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], stop_reason: null })
    expect(start.message.usage).toMatchObject({ input_tokens: record.inputTokens, output_tokens: 0 })
    expect(json(frames[1]!)).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })

    const deltas = frames.filter(isDelta).map(json)
    for (const d of deltas) expect(d).toMatchObject({ index: 0, delta: { type: 'text_delta' } })
    expect(deltas.map((d) => d.delta.text).join('')).toBe(textOf(record.seed, 0, 8))

    expect(json(frames.at(-3)!)).toEqual({ type: 'content_block_stop', index: 0 })
    expect(json(frames.at(-2)!)).toEqual({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 8 } })

    expect(record).toMatchObject({
      api: 'anthropic',
      stream: true,
      model: 'claude-sonnet-4-5',
      plannedOutputTokens: 8,
      billedOutputTokens: 8,
      emittedOutputTokens: 8,
      stopReason: 'completed',
      disconnectObservedAtMs: null,
      error: null,
    })
    expect(record.id).toMatch(/^msg_/)
    expect(record.inputTokens).toBe(countInputTokens(`Say something. ${formatMarker(id)}`))
    expect(record.firstTokenAtMs).toBeCloseTo(record.receivedAtMs + 5, 2)
    expect(record.lastTokenAtMs).toBeCloseTo(record.receivedAtMs + 5 + 7, 2)
    expect(record.stoppedAtMs!).toBeGreaterThanOrEqual(record.lastTokenAtMs!)
    expect(core.active.size).toBe(0)
  })

  it('stops at max_tokens with stop_reason max_tokens', async () => {
    const core = provider({ timing: { ...FAST, outputTokens: 10 } })
    const id = newId()
    const frames = await new SseReader(await core.handle(request('anthropic', anthropicBody(id, { max_tokens: 3 })), 'anthropic')).all()
    expect(frames.filter(isDelta)).toHaveLength(3)
    expect(json(frames.at(-2)!)).toMatchObject({ type: 'message_delta', delta: { stop_reason: 'max_tokens' }, usage: { output_tokens: 3 } })
    expect(frames.at(-1)!.event).toBe('message_stop')
    expect(await recordOf(core, id)).toMatchObject({ plannedOutputTokens: 3, billedOutputTokens: 3, stopReason: 'max_tokens' })
  })

  it('sends keepalive pings at the ping interval while waiting for tokens', async () => {
    const core = provider({ timing: { ttftMs: 60, tokensPerSecond: 1000, outputTokens: 2 }, pingIntervalMs: 10 })
    const id = newId()
    const frames = await new SseReader(await core.handle(request('anthropic', anthropicBody(id)), 'anthropic')).all()
    const firstDelta = frames.findIndex(isDelta)
    const pingsBeforeFirstToken = frames.slice(3, firstDelta).filter((f) => f.event === 'ping').length
    expect(frames.slice(3, firstDelta).every((f) => f.event === 'ping')).toBe(true)
    expect(pingsBeforeFirstToken).toBeGreaterThanOrEqual(5) // due at 10, 20, 30, 40, 50 ms; the token at 60 ms
    expect(frames.at(-1)!.event).toBe('message_stop')
  })

  it('reports zero output tokens for an empty plan', async () => {
    const core = provider({ timing: { ...FAST, outputTokens: 0 } })
    const id = newId()
    const frames = await new SseReader(await core.handle(request('anthropic', anthropicBody(id)), 'anthropic')).all()
    expect(frames.map((f) => f.event)).toEqual(['message_start', 'content_block_start', 'ping', 'content_block_stop', 'message_delta', 'message_stop'])
    expect(json(frames[4]!).usage).toEqual({ output_tokens: 0 })
    expect(await recordOf(core, id)).toMatchObject({ billedOutputTokens: 0, firstTokenAtMs: null, lastTokenAtMs: null, stopReason: 'completed' })
  })
})

describe('on an injected clock', () => {
  it('finishes a generation on a fake clock that reads whole milliseconds', async () => {
    // Received at 1000.003 with a TTFT of 1.997: the first token is due at exactly 1002, and a fake clock
    // (vi timers, a test harness's own Clock) reads exactly 1002 then. 1002 - 1000.003 < 1.997 in floats.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    let now = 1000.003
    const clock = { epochMs: 0, nowMs: () => now }
    const core = new ProviderCore({ timing: { ttftMs: 1.997, tokensPerSecond: 1000, outputTokens: 3 } }, clock)
    // A 3-token generation wakes a handful of times; thousands of wake-ups at one clock reading is a spin,
    // and inside one scheduler tick a spin never ends: fail it instead of hanging the test run.
    const schedule = core.scheduler.schedule.bind(core.scheduler)
    let scheduled = 0
    core.scheduler.schedule = (item, atMs) => {
      if (++scheduled > 10_000) throw new Error(`10000 wake-ups scheduled by ${now} ms: the generation is spinning without time passing`)
      schedule(item, atMs)
    }
    try {
      const id = newId()
      const response = await core.handle(request('anthropic', anthropicBody(id)), 'anthropic')
      expect(response.status).toBe(200)
      const reader = response.body!.getReader()
      // Move the clock and the timers together, one millisecond at a time.
      for (let t = 1001; t <= 1010; t++) {
        now = t
        vi.advanceTimersByTime(1)
        await Promise.resolve()
      }
      const record = core.ledger.query({ correlationId: id })[0]
      expect(record).toMatchObject({ stopReason: 'completed', billedOutputTokens: 3, emittedOutputTokens: 3, firstTokenAtMs: 1002, lastTokenAtMs: 1004 })
      await reader.cancel()
    } finally {
      core.close()
      vi.useRealTimers()
    }
  })
  it('records each event\'s delay and jitter as the provider writes it (EmissionTiming)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    let now = 1000
    const clock = { epochMs: 0, nowMs: () => now }
    // Tokens due at 1010, 1020, 1030 (one per event).
    const core = new ProviderCore({ timing: { ttftMs: 10, tokensPerSecond: 100, outputTokens: 3 } }, clock)
    try {
      const response = await core.handle(request('anthropic', anthropicBody(newId())), 'anthropic')
      const reader = response.body!.getReader()
      const step = async (to: number) => {
        now = to
        vi.advanceTimersByTime(1)
        await Promise.resolve()
      }
      for (let t = 1001; t <= 1019; t++) await step(t)
      // The provider is stalled from 1019 to 1027: the second event goes out 7 ms late.
      await step(1027)
      for (let t = 1028; t <= 1035; t++) await step(t)
      const { events, delayMs, jitterMs } = core.timing.summary()
      expect(events).toBe(3)
      expect(delayMs.max).toBeCloseTo(7, 1)
      expect(delayMs.p50).toBeCloseTo(0, 1)
      // 0 -> 7 -> 0: both gaps are off by 7 ms.
      expect(jitterMs.p50).toBeCloseTo(7, 1)
      const metrics = await core.metrics.text()
      expect(metrics).toMatch(/cancelbench_event_delay_seconds\{quantile="1"\} 0\.007/)
      core.reset()
      expect(core.timing.summary().events).toBe(0)
      await reader.cancel()
    } finally {
      core.close()
      vi.useRealTimers()
    }
  })
})

describe('tokensPerEvent chunking', () => {
  it('puts tokensPerEvent tokens in each delta, the last one carrying the remainder', async () => {
    const core = provider({ timing: { ...FAST, outputTokens: 10, tokensPerEvent: 4 } })
    const id = newId()
    const frames = await new SseReader(await core.handle(request('anthropic', anthropicBody(id)), 'anthropic')).all()
    const record = await recordOf(core, id)
    expect(frames.filter(isDelta).map((f) => json(f).delta.text)).toEqual([textOf(record.seed, 0, 4), textOf(record.seed, 4, 8), textOf(record.seed, 8, 10)])
    expect(record.plan.tokensPerEvent).toBe(4)
    expect(record.emittedOutputTokens).toBe(10)
  })

  it('sends whole events only when the plan divides evenly, and takes a per-request override', async () => {
    const core = provider({ timing: { ...FAST, outputTokens: 9, tokensPerEvent: 4 } })
    const id = newId()
    const response = await core.handle(request('anthropic', anthropicBody(id), { headers: { 'x-cancelbench-override': 'tokensPerEvent=3' } }), 'anthropic')
    const frames = await new SseReader(response).all()
    const record = await recordOf(core, id)
    expect(frames.filter(isDelta).map((f) => json(f).delta.text)).toEqual([textOf(record.seed, 0, 3), textOf(record.seed, 3, 6), textOf(record.seed, 6, 9)])
  })

  it('never sends a partial event before the plan ends', async () => {
    // 100 tokens/s: each 5-token event is due 40 ms after its first token; cancel mid-way and count.
    const core = provider({ timing: { ttftMs: 5, tokensPerSecond: 100, outputTokens: 500, tokensPerEvent: 5 } })
    const id = newId()
    const sse = new SseReader(await core.handle(request('anthropic', anthropicBody(id)), 'anthropic'))
    const frames = await sse.until(isDelta, 3)
    await sse.reader.cancel()
    const record = await recordOf(core, id)
    expect(frames.filter(isDelta).map((f) => json(f).delta.text)).toEqual([textOf(record.seed, 0, 5), textOf(record.seed, 5, 10), textOf(record.seed, 10, 15)])
    expect(record.emittedOutputTokens % 5).toBe(0)
    expect(record.billedOutputTokens).toBeGreaterThanOrEqual(record.emittedOutputTokens)
  })
})

describe('disconnects', () => {
  const SLOW = { ttftMs: 5, tokensPerSecond: 100, outputTokens: 500 } // 5 s if nobody stops it

  it('stops and bills at the moment the consumer cancels the body', async () => {
    const core = provider({ timing: SLOW })
    const id = newId()
    const sse = new SseReader(await core.handle(request('anthropic', anthropicBody(id)), 'anthropic'))
    await sse.until(isDelta, 3)
    await sse.reader.cancel()
    // Recorded synchronously with the cancel: nothing left running.
    expect(core.ledger.query({ correlationId: id })).toHaveLength(1)
    expect(core.active.size).toBe(0)
    const record = await recordOf(core, id)
    expect(record.stopReason).toBe('client_disconnected')
    expect(record.disconnectObservedAtMs).not.toBeNull()
    expect(record.stoppedAtMs).toBe(record.disconnectObservedAtMs)
    expect(record.lastTokenAtMs!).toBeLessThanOrEqual(record.disconnectObservedAtMs!)
    expect(record.emittedOutputTokens).toBeGreaterThanOrEqual(3)
    expect(record.billedOutputTokens).toBeGreaterThanOrEqual(record.emittedOutputTokens)
    expect(record.billedOutputTokens).toBeLessThan(500)
    expectBilledUpTo(record, record.disconnectObservedAtMs!)
  })

  it('stops the same way when the request signal aborts', async () => {
    const core = provider({ timing: SLOW })
    const id = newId()
    const abort = new AbortController()
    const sse = new SseReader(await core.handle(request('anthropic', anthropicBody(id), { signal: abort.signal }), 'anthropic'))
    await sse.until(isDelta, 2)
    abort.abort()
    const record = await recordOf(core, id)
    expect(record.stopReason).toBe('client_disconnected')
    expect(record.stoppedAtMs).toBe(record.disconnectObservedAtMs)
    expect(record.lastTokenAtMs!).toBeLessThanOrEqual(record.disconnectObservedAtMs!)
    expect(record.billedOutputTokens).toBeGreaterThanOrEqual(2)
    expect(record.billedOutputTokens).toBeLessThan(500)
    expectBilledUpTo(record, record.disconnectObservedAtMs!)
    expect(core.active.size).toBe(0)
    await sse.reader.cancel()
    // A second signal (the body cancel) changes nothing: disconnect is idempotent.
    expect(core.ledger.query({ correlationId: id })).toEqual([record])
  })

  it('bills every planned token when the policy ignores disconnects', async () => {
    // 600 ms of generation: long enough that the cancel surely lands mid-way, even on a busy machine.
    const core = provider({ timing: { ttftMs: 5, tokensPerSecond: 1000, outputTokens: 600 }, policy: { ignoreDisconnect: true } })
    const id = newId()
    const sse = new SseReader(await core.handle(request('anthropic', anthropicBody(id)), 'anthropic'))
    await sse.until(isDelta, 1)
    await sse.reader.cancel()
    expect(core.ledger.query({ correlationId: id })).toHaveLength(0) // still generating
    const record = await recordOf(core, id)
    expect(record.stopReason).toBe('completed')
    expect(record.disconnectObservedAtMs).not.toBeNull()
    expect(record.billedOutputTokens).toBe(600)
    expect(record.emittedOutputTokens).toBeLessThan(600)
    expect(record.lastTokenAtMs).toBeCloseTo(record.receivedAtMs + 5 + 599, 2)
    expect(record.stoppedAtMs!).toBeGreaterThanOrEqual(record.lastTokenAtMs!)
  })

  it('ignores a disconnect per request through the override header', async () => {
    const core = provider({ timing: { ttftMs: 5, tokensPerSecond: 1000, outputTokens: 200 } })
    const id = newId()
    const response = await core.handle(request('anthropic', anthropicBody(id), { headers: { 'x-cancelbench-override': 'ignoreDisconnect=true' } }), 'anthropic')
    const sse = new SseReader(response)
    await sse.until(isDelta, 1)
    await sse.reader.cancel()
    const record = await recordOf(core, id)
    expect(record).toMatchObject({ stopReason: 'completed', billedOutputTokens: 200 })
    expect(record.plan.ignoreDisconnect).toBe(true)
  })

  it('keeps generating and billing for stopLagMs after a disconnect, then stops', async () => {
    const core = provider({ timing: { ttftMs: 5, tokensPerSecond: 200, outputTokens: 1000 }, policy: { stopLagMs: 60 } })
    const id = newId()
    const sse = new SseReader(await core.handle(request('anthropic', anthropicBody(id)), 'anthropic'))
    await sse.until(isDelta, 2)
    await sse.reader.cancel()
    expect(core.ledger.query({ correlationId: id })).toHaveLength(0) // still in its stop lag
    const record = await recordOf(core, id)
    expect(record.stopReason).toBe('client_disconnected')
    expect(record.stoppedAtMs! - record.disconnectObservedAtMs!).toBeCloseTo(60, 2)
    expectBilledUpTo(record, record.stoppedAtMs!)
    const atDisconnect = tokensGeneratedBy(planOf(record), record.disconnectObservedAtMs! - record.receivedAtMs)
    // 60 ms at 200 tokens/s: 12 more tokens, give or take the one straddling either end.
    expect(record.billedOutputTokens - atDisconnect).toBeGreaterThanOrEqual(11)
    expect(record.billedOutputTokens - atDisconnect).toBeLessThanOrEqual(13)
    expect(record.lastTokenAtMs!).toBeGreaterThan(record.disconnectObservedAtMs!)
    expect(record.lastTokenAtMs!).toBeLessThanOrEqual(record.stoppedAtMs!)
    expect(record.emittedOutputTokens).toBeLessThan(record.billedOutputTokens) // nothing is sent after the disconnect
  })

  it('ends a streaming body whose request was aborted before the provider saw it', async () => {
    const core = provider({ timing: SLOW })
    const id = newId()
    const response = await core.handle(request('anthropic', anthropicBody(id), { signal: AbortSignal.abort() }), 'anthropic')
    const record = await recordOf(core, id)
    expect(record).toMatchObject({ stopReason: 'client_disconnected', billedOutputTokens: 0 })
    // Nobody should be left waiting on a body that can never produce anything.
    const reader = response.body?.getReader()
    if (reader) {
      const drained = (async () => {
        for (;;) if ((await reader.read()).done) return 'ended'
      })()
      expect(await within(drained, 2000, 'the body of a pre-aborted request to end').catch((e: Error) => e.message)).toBe('ended')
      await reader.cancel().catch(() => {})
    }
  })
})

describe('non-streaming requests', () => {
  it('answers Anthropic with the whole message once the plan completes', async () => {
    const core = provider({ timing: { ...FAST, outputTokens: 12 } })
    const id = newId()
    const response = await core.handle(request('anthropic', anthropicBody(id, { stream: false })), 'anthropic')
    expect(response.status).toBe(200)
    const body = await response.json()
    const record = await recordOf(core, id)
    expect(body).toEqual({
      id: record.id,
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [{ type: 'text', text: textOf(record.seed, 0, 12) }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: record.inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 12 },
    })
    expect(record).toMatchObject({ stream: false, billedOutputTokens: 12, emittedOutputTokens: 12, stopReason: 'completed' })
  })

  it('answers with stop_reason max_tokens when capped', async () => {
    const core = provider({ timing: { ...FAST, outputTokens: 12 } })
    const id = newId()
    const body = await (await core.handle(request('anthropic', anthropicBody(id, { stream: false, max_tokens: 4 })), 'anthropic')).json()
    expect(body).toMatchObject({ stop_reason: 'max_tokens', usage: { output_tokens: 4 } })
  })

  it('answers OpenAI chat and responses requests with their own shapes', async () => {
    const core = provider({ timing: { ...FAST, outputTokens: 6 } })
    const chatId = newId()
    const chat = await (
      await core.handle(request('openai-chat', { model: 'gpt-4o', messages: [{ role: 'user', content: formatMarker(chatId) }] }), 'openai-chat')
    ).json()
    const chatRecord = await recordOf(core, chatId)
    expect(chat).toMatchObject({
      id: chatRecord.id,
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: textOf(chatRecord.seed, 0, 6) }, finish_reason: 'stop' }],
      usage: { prompt_tokens: chatRecord.inputTokens, completion_tokens: 6, total_tokens: chatRecord.inputTokens + 6 },
    })

    const respId = newId()
    const resp = await (await core.handle(request('openai-responses', { model: 'gpt-5', input: formatMarker(respId) }), 'openai-responses')).json()
    const respRecord = await recordOf(core, respId)
    expect(resp).toMatchObject({
      id: respRecord.id,
      object: 'response',
      status: 'completed',
      output: [{ type: 'message', status: 'completed', content: [{ type: 'output_text', text: textOf(respRecord.seed, 0, 6) }] }],
      usage: { input_tokens: respRecord.inputTokens, output_tokens: 6 },
    })
  })

  it('stops billing when the request is aborted mid-generation', async () => {
    const core = provider({ timing: { ttftMs: 5, tokensPerSecond: 100, outputTokens: 500 } })
    const id = newId()
    const abort = new AbortController()
    const pending = core.handle(request('anthropic', anthropicBody(id, { stream: false }), { signal: abort.signal }), 'anthropic')
    await vi.waitFor(() => expect(core.active.size).toBe(1))
    // A non-streaming generation has no event to wait for: let a few tokens (10 ms each) be generated.
    await new Promise((resolve) => setTimeout(resolve, 60))
    abort.abort()
    const response = await within(pending, 5000, 'the aborted non-streaming response')
    expect(response.status).toBe(499)
    const record = await recordOf(core, id)
    expect(record.stopReason).toBe('client_disconnected')
    expect(record.billedOutputTokens).toBeGreaterThanOrEqual(2)
    expect(record.billedOutputTokens).toBeLessThan(500)
    expect(record.stoppedAtMs).toBe(record.disconnectObservedAtMs)
  })

  it('answers a request whose signal was aborted before the provider saw it', async () => {
    const core = provider({ timing: { ttftMs: 5, tokensPerSecond: 100, outputTokens: 500 } })
    const id = newId()
    const pending = core.handle(request('anthropic', anthropicBody(id, { stream: false }), { signal: AbortSignal.abort() }), 'anthropic')
    const record = await recordOf(core, id)
    expect(record).toMatchObject({ stopReason: 'client_disconnected', billedOutputTokens: 0 })
    // handle() must settle; left pending, the HTTP adapter's request handler never finishes.
    const response = await within(pending, 2000, 'handle() of a pre-aborted non-streaming request').catch((e: Error) => e.message)
    expect(response).toBeInstanceOf(Response)
  })
})

describe('OpenAI Chat Completions streaming', () => {
  function chatBody(id: string, extra: Record<string, unknown> = {}) {
    return {
      model: 'gpt-4o',
      stream: true,
      messages: [
        { role: 'system', content: `You are terse. ${formatMarker(id)}` },
        { role: 'user', content: 'Hello' },
      ],
      ...extra,
    }
  }

  it('sends role first, content chunks, finish_reason, the usage chunk, then [DONE]', async () => {
    const core = provider({ timing: { ...FAST, outputTokens: 5 } })
    const id = newId()
    const response = await core.handle(request('openai-chat', chatBody(id, { stream_options: { include_usage: true } })), 'openai-chat')
    expect(response.status).toBe(200)
    expect(response.headers.get('x-request-id')).toMatch(/^req_/)
    const frames = await new SseReader(response).all()
    const record = await recordOf(core, id)

    for (const frame of frames) expect(frame.event).toBeUndefined()
    expect(frames.at(-1)!.data).toBe('[DONE]')
    const chunks = frames.slice(0, -1).map(json)
    expect(chunks).toHaveLength(1 + 5 + 1 + 1)
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({ id: record.id, object: 'chat.completion.chunk', model: 'gpt-4o', created: chunks[0].created })
      expect(Object.hasOwn(chunk, 'usage')).toBe(true)
    }

    const [first, ...rest] = chunks
    expect(first.choices).toEqual([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }])
    expect(first.usage).toBeNull()

    const content = rest.slice(0, 5)
    for (const chunk of content) {
      expect(chunk.usage).toBeNull()
      expect(chunk.choices).toHaveLength(1)
      expect(chunk.choices[0]).toMatchObject({ index: 0, finish_reason: null })
      expect(Object.keys(chunk.choices[0].delta)).toEqual(['content'])
    }
    expect(content.map((c) => c.choices[0].delta.content).join('')).toBe(textOf(record.seed, 0, 5))

    const finish = rest[5]
    expect(finish.choices).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }])
    expect(finish.usage).toBeNull()

    const usage = rest[6]
    expect(usage.choices).toEqual([])
    expect(usage.usage).toMatchObject({ prompt_tokens: record.inputTokens, completion_tokens: 5, total_tokens: record.inputTokens + 5 })

    expect(record).toMatchObject({ api: 'openai-chat', stopReason: 'completed', billedOutputTokens: 5 })
    expect(record.id).toMatch(/^chatcmpl-/)
  })

  it('omits usage entirely without include_usage', async () => {
    const core = provider({ timing: { ...FAST, outputTokens: 3 } })
    const id = newId()
    const frames = await new SseReader(await core.handle(request('openai-chat', chatBody(id)), 'openai-chat')).all()
    expect(frames.at(-1)!.data).toBe('[DONE]')
    const chunks = frames.slice(0, -1).map(json)
    expect(chunks).toHaveLength(1 + 3 + 1)
    for (const chunk of chunks) {
      expect(Object.hasOwn(chunk, 'usage')).toBe(false)
      expect(chunk.choices).toHaveLength(1)
    }
    expect(chunks.at(-1).choices[0].finish_reason).toBe('stop')
  })

  it('finishes with length at max_tokens or max_completion_tokens', async () => {
    const core = provider({ timing: { ...FAST, outputTokens: 10 } })
    for (const cap of [{ max_tokens: 2 }, { max_completion_tokens: 2 }]) {
      const id = newId()
      const frames = await new SseReader(await core.handle(request('openai-chat', chatBody(id, cap)), 'openai-chat')).all()
      const chunks = frames.slice(0, -1).map(json)
      expect(chunks).toHaveLength(1 + 2 + 1)
      expect(chunks.at(-1).choices[0].finish_reason).toBe('length')
      expect(await recordOf(core, id)).toMatchObject({ stopReason: 'max_tokens', billedOutputTokens: 2 })
    }
  })
})

describe('OpenAI Responses streaming', () => {
  async function events(core: ProviderCore, id: string, extra: Record<string, unknown> = {}) {
    const response = await core.handle(request('openai-responses', { model: 'gpt-5', input: `Hi ${formatMarker(id)}`, stream: true, ...extra }), 'openai-responses')
    expect(response.status).toBe(200)
    const frames = await new SseReader(response).all()
    for (const frame of frames) {
      expect(frame.data).not.toBe('[DONE]')
      expect(json(frame).type).toBe(frame.event)
    }
    return frames.map(json)
  }

  it('numbers events contiguously from 0 and ends with response.completed, without [DONE]', async () => {
    const core = provider({ timing: { ...FAST, outputTokens: 4 } })
    const id = newId()
    const all = await events(core, id)
    const record = await recordOf(core, id)
    expect(all.map((e) => e.sequence_number)).toEqual(all.map((_, i) => i))
    expect(all.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      ...Array<string>(4).fill('response.output_text.delta'),
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ])
    const text = textOf(record.seed, 0, 4)
    expect(all.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('')).toBe(text)
    expect(all.find((e) => e.type === 'response.output_text.done').text).toBe(text)
    const completed = all.at(-1).response
    expect(completed).toMatchObject({ id: record.id, object: 'response', status: 'completed', incomplete_details: null })
    expect(completed.output[0].content[0].text).toBe(text)
    expect(completed.usage).toMatchObject({ input_tokens: record.inputTokens, output_tokens: 4, total_tokens: record.inputTokens + 4 })
    expect(all[0].response).toMatchObject({ id: record.id, status: 'in_progress' })
    expect(record.id).toMatch(/^resp_/)
  })

  it('ends with response.incomplete (max_output_tokens) when capped', async () => {
    const core = provider({ timing: { ...FAST, outputTokens: 10 } })
    const id = newId()
    const all = await events(core, id, { max_output_tokens: 3 })
    expect(all.map((e) => e.sequence_number)).toEqual(all.map((_, i) => i))
    expect(all.filter((e) => e.type === 'response.output_text.delta')).toHaveLength(3)
    const last = all.at(-1)
    expect(last.type).toBe('response.incomplete')
    expect(last.response).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, max_output_tokens: 3, usage: { output_tokens: 3 } })
    expect(all.some((e) => e.type === 'response.completed')).toBe(false)
    expect(await recordOf(core, id)).toMatchObject({ stopReason: 'max_tokens', billedOutputTokens: 3 })
  })
})

describe('request handling around generations', () => {
  it('sends a scripted mid-stream error after the planned tokens and records it', async () => {
    const core = provider({ timing: { ...FAST, outputTokens: 10 } })
    const id = newId()
    const response = await core.handle(
      request('anthropic', anthropicBody(id), { headers: { 'x-cancelbench-override': 'fault=mid_stream_error, faultAfterTokens=3' } }),
      'anthropic',
    )
    const frames = await new SseReader(response).all()
    expect(frames.filter(isDelta)).toHaveLength(3)
    expect(frames.at(-1)!.event).toBe('error')
    expect(json(frames.at(-1)!)).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } })
    expect(frames.some((f) => f.event === 'message_stop')).toBe(false)
    expect(await recordOf(core, id)).toMatchObject({ stopReason: 'error', billedOutputTokens: 3, emittedOutputTokens: 3 })
  })

  it('takes per-request overrides from the marker, the header winning for the same key', async () => {
    const core = provider({ timing: { ...FAST, outputTokens: 50 } })
    const id = newId()
    const body = { ...anthropicBody(id), messages: [{ role: 'user', content: formatMarker(id, { outputTokens: 2, tokensPerEvent: 2 }) }] }
    const frames = await new SseReader(await core.handle(request('anthropic', body, { headers: { 'x-cancelbench-override': 'outputTokens=4' } }), 'anthropic')).all()
    expect(frames.filter(isDelta)).toHaveLength(2)
    expect(await recordOf(core, id)).toMatchObject({ plannedOutputTokens: 4, billedOutputTokens: 4, plan: { tokensPerEvent: 2 } })
  })

  /** handle() answers every failure as an API-shaped Response; a rejected promise becomes a 500 over HTTP. */
  async function answer(core: ProviderCore, req: Request, api: ApiName): Promise<Response> {
    try {
      return await core.handle(req, api)
    } catch (error) {
      return expect.fail(`handle() threw instead of answering: ${(error as Error).message}`)
    }
  }

  it('rejects an invalid override with a 400 naming it', async () => {
    const core = provider({ timing: FAST })
    const response = await answer(
      core,request('anthropic', anthropicBody(newId()), { headers: { 'x-cancelbench-override': 'outputTokens=lots' } }),
      'anthropic',
    )
    expect(response.status).toBe(400)
    const body = await response.json()
    expect(body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } })
    expect(body.error.message).toContain('outputTokens=lots')
  })

  it('answers an injected rate_limited fault with 429 and retry-after, and records it', async () => {
    const core = provider({ timing: FAST, faults: { rateLimited: { correlationIds: ['limited-1'] } } })
    const response = await answer(core, request('anthropic', anthropicBody('limited-1')), 'anthropic')
    expect(response.status).toBe(429)
    expect(response.headers.get('retry-after')).toBe('1')
    expect((await response.json()).error.type).toBe('rate_limit_error')
    expect(await recordOf(core, 'limited-1')).toMatchObject({ stopReason: 'error', billedOutputTokens: 0, plan: { fault: 'rate_limited' } })
  })

  it('answers an injected overload with 529 (Anthropic) and 503 (OpenAI)', async () => {
    const core = provider({ timing: FAST, faults: { overloaded: { probability: 1 } } })
    const anthropicResponse = await answer(core, request('anthropic', anthropicBody(newId())), 'anthropic')
    expect(anthropicResponse.status).toBe(529)
    expect((await anthropicResponse.json()).error.type).toBe('overloaded_error')
    const openaiResponse = await answer(core, request('openai-chat', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }), 'openai-chat')
    expect(openaiResponse.status).toBe(503)
    expect((await openaiResponse.json()).error).toMatchObject({ type: 'server_error', code: 'overloaded' })
  })

  it('answers a model it does not serve with 404', async () => {
    const core = provider({ timing: FAST, models: ['claude-haiku-4-5'] })
    const response = await answer(core, request('anthropic', anthropicBody(newId())), 'anthropic')
    expect(response.status).toBe(404)
    const body = await response.json()
    expect(body.error.type).toBe('not_found_error')
    expect(body.error.message).toContain('claude-sonnet-4-5')
  })

  it('answers a request over the concurrency limit with 429', async () => {
    const core = provider({ timing: { ttftMs: 5, tokensPerSecond: 100, outputTokens: 500 }, rateLimits: { concurrentGenerations: 1 } })
    const first = new SseReader(await answer(core, request('anthropic', anthropicBody(newId())), 'anthropic'))
    const second = await answer(core, request('anthropic', anthropicBody(newId())), 'anthropic')
    expect(second.status).toBe(429)
    expect((await second.json()).error.message).toContain('concurrent')
    await first.reader.cancel()
  })

  it('refuses a request without an API key, recording nothing', async () => {
    const core = provider({ timing: FAST })
    const response = await core.handle(
      new Request('http://x/v1/messages', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(anthropicBody(newId())) }),
      'anthropic',
    )
    expect(response.status).toBe(401)
    expect((await response.json()).error.type).toBe('authentication_error')
    expect(core.ledger.size).toBe(0)
  })
})
