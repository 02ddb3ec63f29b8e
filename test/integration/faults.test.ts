/**
 * Faults and rate limits: injected 429 `rate_limit_error` (with `retry-after` and rate-limit headers), 529
 * `overloaded_error` (503 for OpenAI) and a mid-stream `event: error`, each for chosen correlation ids or by a
 * seeded probability; and real rate limiting (requests/min, output tokens/min, concurrent generations) whose
 * remaining/reset headers tell the truth.
 */
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { afterEach, describe, expect, it } from 'vitest'
import { createMockProvider, ProviderCore, textOf, type ApiName, type LedgerRecord, type MockProvider, type ProviderOptionsInput } from '../../mock-provider/index.ts'
import { readAnswer, type Answer } from '../helpers/answer.ts'

const timing = { ttftMs: 10, tokensPerSecond: 200, outputTokens: 20 }

const ANTHROPIC_HEADERS = { 'content-type': 'application/json', 'x-api-key': 'test-key', 'anthropic-version': '2023-06-01' }
const OPENAI_HEADERS = { 'content-type': 'application/json', authorization: 'Bearer test-key' }

const PATHS: Record<ApiName, string> = { anthropic: '/v1/messages', 'openai-chat': '/v1/chat/completions', 'openai-responses': '/v1/responses' }
const APIS = Object.keys(PATHS) as ApiName[]

function requestBody(api: ApiName, prompt: string, stream = false, maxTokens = 1000): Record<string, unknown> {
  if (api === 'anthropic') return { model: 'claude-sonnet-4-5', max_tokens: maxTokens, stream, messages: [{ role: 'user', content: prompt }] }
  if (api === 'openai-chat') return { model: 'gpt-4o', max_tokens: maxTokens, stream, messages: [{ role: 'user', content: prompt }] }
  return { model: 'gpt-4o', max_output_tokens: maxTokens, stream, input: prompt }
}


async function call(
  base: string,
  api: ApiName,
  prompt: string,
  opts: { stream?: boolean; headers?: Record<string, string>; timeoutMs?: number; maxTokens?: number } = {},
): Promise<Answer> {
  const res = await fetch(base + PATHS[api], {
    method: 'POST',
    headers: { ...(api === 'anthropic' ? ANTHROPIC_HEADERS : OPENAI_HEADERS), ...opts.headers },
    body: JSON.stringify(requestBody(api, prompt, opts.stream ?? false, opts.maxTokens)),
    signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
  })
  return readAnswer(res)
}

/** Parses a complete SSE body into (event, data) frames. */
function sseFrames(text: string): { event: string | undefined; data: string }[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      let event: string | undefined
      const data: string[] = []
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7)
        else if (line.startsWith('data: ')) data.push(line.slice(6))
      }
      return { event, data: data.join('\n') }
    })
}

const providers: MockProvider[] = []
async function start(options: ProviderOptionsInput): Promise<MockProvider> {
  const provider = await createMockProvider(options)
  providers.push(provider)
  return provider
}
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close()))
})

function recordOf(provider: MockProvider, correlationId: string): Promise<LedgerRecord> {
  return provider.ledger.waitFor((r) => r.correlationId === correlationId, AbortSignal.timeout(5000))
}

/** The status and body of the injected-fault errors in each API's dialect. */
function expectRateLimited(api: ApiName, answer: Answer): void {
  expect(answer.status, answer.text).toBe(429)
  if (api === 'anthropic') {
    expect(answer.body).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: expect.any(String) }, request_id: expect.any(String) })
    expect(answer.headers.get('request-id')).toBe((answer.body as { request_id: string }).request_id)
  } else {
    expect(answer.body).toEqual({ error: { message: expect.any(String), type: 'requests', param: null, code: 'rate_limit_exceeded' } })
  }
  const retryAfter = answer.headers.get('retry-after')
  expect(retryAfter, 'retry-after header').toMatch(/^\d+$/)
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1)
}

function expectOverloaded(api: ApiName, answer: Answer): void {
  if (api === 'anthropic') {
    expect(answer.status, answer.text).toBe(529)
    expect(answer.body).toEqual({ type: 'error', error: { type: 'overloaded_error', message: expect.any(String) }, request_id: expect.any(String) })
  } else {
    // OpenAI has no 529: overload is 503.
    expect(answer.status, answer.text).toBe(503)
    expect(answer.body).toEqual({ error: { message: expect.any(String), type: 'server_error', param: null, code: 'overloaded' } })
  }
}

describe('injected faults for chosen correlation ids', () => {
  const faults = {
    rateLimited: { correlationIds: ['rl-a', 'rl-b', 'rl-c'] },
    overloaded: { correlationIds: ['ov-a', 'ov-b', 'ov-c'] },
    midStreamError: { correlationIds: ['ms-a', 'ms-b', 'ms-c'], afterTokens: 5 },
  }

  it.each(APIS)('%s: rate_limited ids get 429 with retry-after, overloaded ids get the overload error, other ids are served', async (api) => {
    const provider = await start({ timing, faults })
    const suffix = APIS.indexOf(api)
    const rlId = ['rl-a', 'rl-b', 'rl-c'][suffix]!
    const ovId = ['ov-a', 'ov-b', 'ov-c'][suffix]!

    expectRateLimited(api, await call(provider.url, api, `hi [cb:${rlId}]`))
    expectOverloaded(api, await call(provider.url, api, `hi [cb:${ovId}]`))
    // Other ids, an id that merely contains a faulted one, and no marker at all: unaffected.
    for (const prompt of ['hi [cb:fine-1]', `hi [cb:${rlId}x]`, 'no marker here']) {
      const ok = await call(provider.url, api, prompt)
      expect(ok.status, `${prompt}: ${ok.text}`).toBe(200)
    }

    // The refusals are in the ledger too: nothing generated, nothing billed, the fault named.
    const rl = await recordOf(provider, rlId)
    expect(rl).toMatchObject({ stopReason: 'error', billedOutputTokens: 0, emittedOutputTokens: 0, plan: { fault: 'rate_limited' }, api })
    const ov = await recordOf(provider, ovId)
    expect(ov).toMatchObject({ stopReason: 'error', billedOutputTokens: 0, plan: { fault: 'overloaded' } })
    const fine = await recordOf(provider, 'fine-1')
    expect(fine).toMatchObject({ stopReason: 'completed', billedOutputTokens: 20, plan: { fault: null } })
  })

  it('the SDKs (maxRetries: 0) see a RateLimitError / overloaded error for the chosen ids', async () => {
    const provider = await start({ timing, faults })
    const anthropic = new Anthropic({ apiKey: 'k', baseURL: provider.url, maxRetries: 0 })
    const openai = new OpenAI({ apiKey: 'k', baseURL: `${provider.url}/v1`, maxRetries: 0 })
    const params = (id: string) => ({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user' as const, content: `[cb:${id}]` }] })

    const rate = await anthropic.messages.create(params('rl-a')).then(() => undefined, (e: unknown) => e)
    expect(rate).toBeInstanceOf(Anthropic.RateLimitError)
    expect((rate as InstanceType<typeof Anthropic.RateLimitError>).type).toBe('rate_limit_error')
    expect(Number((rate as InstanceType<typeof Anthropic.RateLimitError>).headers.get('retry-after'))).toBeGreaterThanOrEqual(1)

    const over = await anthropic.messages.create(params('ov-a')).then(() => undefined, (e: unknown) => e)
    expect(over).toBeInstanceOf(Anthropic.APIError)
    expect((over as InstanceType<typeof Anthropic.APIError>).status).toBe(529)
    expect((over as InstanceType<typeof Anthropic.APIError>).type).toBe('overloaded_error')

    const ok = await anthropic.messages.create(params('fine-sdk'))
    expect(ok.usage.output_tokens).toBe(20)

    const chat = (id: string) => ({ model: 'gpt-4o', messages: [{ role: 'user' as const, content: `[cb:${id}]` }] })
    const orate = await openai.chat.completions.create(chat('rl-b')).then(() => undefined, (e: unknown) => e)
    expect(orate).toBeInstanceOf(OpenAI.RateLimitError)
    expect((orate as InstanceType<typeof OpenAI.APIError>).code).toBe('rate_limit_exceeded')
    const oover = await openai.chat.completions.create(chat('ov-b')).then(() => undefined, (e: unknown) => e)
    expect(oover).toBeInstanceOf(OpenAI.InternalServerError)
    expect((oover as InstanceType<typeof OpenAI.APIError>).status).toBe(503)
    expect((oover as InstanceType<typeof OpenAI.APIError>).code).toBe('overloaded')
    expect((await openai.chat.completions.create(chat('fine-sdk-2'))).usage?.completion_tokens).toBe(20)
  })

  it('anthropic stream: mid-stream `event: error` (overloaded_error) after exactly afterTokens deltas; others complete', async () => {
    const provider = await start({ timing, faults })
    const answer = await call(provider.url, 'anthropic', 'hi [cb:ms-a]', { stream: true })
    expect(answer.status).toBe(200)
    const frames = sseFrames(answer.text)
    const deltas = frames.filter((f) => f.event === 'content_block_delta')
    expect(deltas).toHaveLength(5)
    const last = frames.at(-1)!
    expect(last.event).toBe('error')
    expect(JSON.parse(last.data)).toEqual({ type: 'error', error: { type: 'overloaded_error', message: expect.any(String) } })
    expect(frames.some((f) => f.event === 'message_stop')).toBe(false)
    const record = await recordOf(provider, 'ms-a')
    expect(record).toMatchObject({ stopReason: 'error', billedOutputTokens: 5, emittedOutputTokens: 5, plan: { fault: 'mid_stream_error' } })
    expect(record.error).toMatch(/mid-stream/i)

    const fine = await call(provider.url, 'anthropic', 'hi [cb:ms-fine]', { stream: true })
    const fineFrames = sseFrames(fine.text)
    expect(fineFrames.some((f) => f.event === 'error')).toBe(false)
    expect(fineFrames.at(-1)?.event).toBe('message_stop')
    expect(await recordOf(provider, 'ms-fine')).toMatchObject({ stopReason: 'completed', billedOutputTokens: 20 })
  })

  it('@anthropic-ai/sdk messages.stream rejects with an APIError of type overloaded_error after some text', async () => {
    const provider = await start({ timing, faults })
    const client = new Anthropic({ apiKey: 'k', baseURL: provider.url, maxRetries: 0 })
    const stream = client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 1000, messages: [{ role: 'user', content: 'go [cb:ms-b]' }] })
    let text = ''
    stream.on('text', (delta) => (text += delta))
    const error = await stream.finalMessage().then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(Anthropic.APIError)
    expect((error as InstanceType<typeof Anthropic.APIError>).type).toBe('overloaded_error')

    const record = await recordOf(provider, 'ms-b')
    expect(record.stopReason).toBe('error')
    expect(record.billedOutputTokens).toBe(5)
    // The text the client saw before the error is exactly the first afterTokens tokens.
    expect(text.length).toBeGreaterThan(0)
    expect(text).toBe(textOf(record.seed, 0, 5))
  })

  it('openai chat stream: iteration throws an APIError after some content; the ledger says error, billed == afterTokens', async () => {
    const provider = await start({ timing, faults })
    const client = new OpenAI({ apiKey: 'k', baseURL: `${provider.url}/v1`, maxRetries: 0 })
    const stream = await client.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'go [cb:ms-c]' }] })
    let text = ''
    const error = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
    })().then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(OpenAI.APIError)
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('overloaded')

    const record = await recordOf(provider, 'ms-c')
    expect(record).toMatchObject({ stopReason: 'error', billedOutputTokens: 5, emittedOutputTokens: 5 })
    expect(text).toBe(textOf(record.seed, 0, 5))
  })

  it('openai responses stream: iteration throws after some text; the ledger says error', async () => {
    const provider = await start({ timing, faults: { midStreamError: { correlationIds: ['ms-r'], afterTokens: 7 } } })
    const client = new OpenAI({ apiKey: 'k', baseURL: `${provider.url}/v1`, maxRetries: 0 })
    const stream = await client.responses.create({ model: 'gpt-4o', stream: true, input: 'go [cb:ms-r]' })
    let text = ''
    const error = await (async () => {
      for await (const event of stream) if (event.type === 'response.output_text.delta') text += event.delta
    })().then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(OpenAI.APIError)
    const record = await recordOf(provider, 'ms-r')
    expect(record).toMatchObject({ stopReason: 'error', billedOutputTokens: 7 })
    expect(text).toBe(textOf(record.seed, 0, 7))
  })

  it.each(APIS)('%s non-streaming: a mid-stream fault still answers (an overload error), it does not hang', async (api) => {
    const provider = await start({ timing, faults: { midStreamError: { correlationIds: ['ms-ns'], afterTokens: 5 } } })
    const answer = await call(provider.url, api, 'hi [cb:ms-ns]', { timeoutMs: 5000 })
    expect(answer.status).toBeGreaterThanOrEqual(500)
    if (api === 'anthropic') expect((answer.body as { error: { type: string } }).error.type).toBe('overloaded_error')
    else expect((answer.body as { error: { code: string } }).error.code).toBe('overloaded')
    expect(await recordOf(provider, 'ms-ns')).toMatchObject({ stopReason: 'error', billedOutputTokens: 5 })
  })

  it('an injected 429 carries the rate-limit headers when rate limits are configured', async () => {
    const provider = await start({ timing, faults, rateLimits: { requestsPerMinute: 1000 } })
    const anthropic = await call(provider.url, 'anthropic', 'hi [cb:rl-a]')
    expectRateLimited('anthropic', anthropic)
    expect(anthropic.headers.get('anthropic-ratelimit-requests-limit')).toBe('1000')
    expect(anthropic.headers.get('anthropic-ratelimit-requests-remaining')).toMatch(/^\d+$/)
    expect(anthropic.headers.get('anthropic-ratelimit-requests-reset')).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/)
    const openai = await call(provider.url, 'openai-chat', 'hi [cb:rl-b]')
    expectRateLimited('openai-chat', openai)
    expect(openai.headers.get('x-ratelimit-limit-requests')).toBe('1000')
    expect(openai.headers.get('x-ratelimit-remaining-requests')).toMatch(/^\d+$/)
  })
})

describe('fault override in the marker / header', () => {
  it.each(APIS)('%s: fault=overloaded / fault=rate_limited / fault=mid_stream_error on a provider with no faults configured', async (api) => {
    const provider = await start({ timing })
    expectOverloaded(api, await call(provider.url, api, 'x [cb:fo-1 fault=overloaded]'))
    expectRateLimited(api, await call(provider.url, api, 'x [cb:fo-2 fault=rate_limited]'))
    expectOverloaded(api, await call(provider.url, api, 'x [cb:fo-3]', { headers: { 'x-cancelbench-override': 'fault=overloaded' } }))

    const mid = await call(provider.url, api, 'x [cb:fo-4 fault=mid_stream_error faultAfterTokens=3]', { stream: true })
    expect(mid.status).toBe(200)
    expect(mid.text).toMatch(/error/)
    expect(await recordOf(provider, 'fo-4')).toMatchObject({ stopReason: 'error', billedOutputTokens: 3, plan: { fault: 'mid_stream_error' } })

    // The same provider serves an unmarked request normally.
    expect((await call(provider.url, api, 'x [cb:fo-5]')).status).toBe(200)
    expect(await recordOf(provider, 'fo-5')).toMatchObject({ stopReason: 'completed', plan: { fault: null } })
  })
})

describe('faults by probability', () => {
  it('probability 1: every request faulted; probability 0: none', async () => {
    const always = await start({ timing, faults: { overloaded: { probability: 1 } } })
    for (let i = 0; i < 10; i++) expectOverloaded('anthropic', await call(always.url, 'anthropic', `[cb:p1-${i}]`))
    expectOverloaded('openai-chat', await call(always.url, 'openai-chat', 'no marker'))

    const never = await start({
      timing,
      faults: { rateLimited: { probability: 0 }, overloaded: { probability: 0 }, midStreamError: { probability: 0 } },
    })
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => call(never.url, APIS[i % 3]!, `[cb:p0-${i}]`, { stream: true })))
    for (const a of answers) {
      expect(a.status).toBe(200)
      expect(a.text).not.toMatch(/event: error|data: {"error"/)
    }
    expect(never.ledger.query().filter((r) => r.stopReason === 'error')).toHaveLength(0)
    expect(never.ledger.size).toBe(30)
  })

  it('probability 1 mid-stream error: every stream ends in an error after its afterTokens', async () => {
    const provider = await start({ timing, faults: { midStreamError: { probability: 1, afterTokens: 4 } } })
    await Promise.all(
      APIS.map(async (api, i) => {
        const a = await call(provider.url, api, `[cb:pm-${i}]`, { stream: true })
        expect(a.status).toBe(200)
        expect(await recordOf(provider, `pm-${i}`)).toMatchObject({ stopReason: 'error', billedOutputTokens: 4 })
      }),
    )
  })

  /** Sends 200 requests with distinct ids to an in-process core; the ids the ledger says were faulted, and each answer's status. */
  async function faultedIds(seed: number): Promise<{ faulted: Set<string>; statuses: Map<string, number | 'rejected'> }> {
    const core = new ProviderCore({ seed, timing: { ttftMs: 0, tokensPerSecond: 1000, outputTokens: 1 }, faults: { overloaded: { probability: 0.5 } } })
    const statuses = new Map<string, number | 'rejected'>()
    try {
      await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const id = `share-${i}`
          const request = new Request('http://mock.test/v1/messages', {
            method: 'POST',
            headers: ANTHROPIC_HEADERS,
            body: JSON.stringify(requestBody('anthropic', `[cb:${id}]`)),
          })
          const status = await core.handle(request, 'anthropic').then(
            async (r) => {
              await r.arrayBuffer()
              return r.status
            },
            () => 'rejected' as const,
          )
          statuses.set(id, status)
        }),
      )
      expect(core.ledger.size).toBe(200)
      const faulted = new Set(core.ledger.query().filter((r) => r.plan.fault === 'overloaded').map((r) => r.correlationId!))
      return { faulted, statuses }
    } finally {
      core.close()
    }
  }

  it('probability 0.5 over 200 ids: a sane share, the same ids for the same seed, different ids for another seed', async () => {
    const a = await faultedIds(1)
    const b = await faultedIds(1)
    const c = await faultedIds(2)
    // Binomial(200, 0.5): sd ~7; 70..130 is over 4 sd either side, and the draw is deterministic anyway.
    expect(a.faulted.size).toBeGreaterThanOrEqual(70)
    expect(a.faulted.size).toBeLessThanOrEqual(130)
    expect(c.faulted.size).toBeGreaterThanOrEqual(70)
    expect(c.faulted.size).toBeLessThanOrEqual(130)
    expect([...b.faulted].sort()).toEqual([...a.faulted].sort())
    const differ = [...a.faulted].filter((id) => !c.faulted.has(id)).length + [...c.faulted].filter((id) => !a.faulted.has(id)).length
    // Independent draws would differ on about half the ids.
    expect(differ).toBeGreaterThan(40)
  })

  it('probability 0.5: each faulted id is answered 529 and every other id 200', async () => {
    const { faulted, statuses } = await faultedIds(3)
    expect(faulted.size).toBeGreaterThan(0)
    for (const [id, status] of statuses) expect(status, id).toBe(faulted.has(id) ? 529 : 200)
  })

  it('over HTTP the same seed faults the same ids as in-process', async () => {
    const { faulted } = await faultedIds(4)
    const provider = await start({ seed: 4, timing: { ttftMs: 0, tokensPerSecond: 1000, outputTokens: 1 }, faults: { overloaded: { probability: 0.5 } } })
    const viaHttp = new Set<string>()
    for (let i = 0; i < 40; i++) {
      const answer = await call(provider.url, 'anthropic', `[cb:share-${i}]`)
      if (answer.status !== 200) viaHttp.add(`share-${i}`)
    }
    const expected = [...faulted].filter((id) => Number(id.slice('share-'.length)) < 40).sort()
    expect([...viaHttp].sort()).toEqual(expected)
  })
})

/** Parses OpenAI's reset duration ("20s", "1m0s", "120ms", "1h2m3s") to ms. */
function durationMs(value: string): number {
  const match = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(value)
  if (!match || value === '') throw new Error(`not a duration: ${value}`)
  return (Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0)) * 1000 + Number(match[4] ?? 0)
}

describe('real rate limits', () => {
  it('requestsPerMinute 3 (Anthropic SDK): remaining 2,1,0 with a future reset, then 429 with retry-after', async () => {
    const provider = await start({ timing, rateLimits: { requestsPerMinute: 3 } })
    const client = new Anthropic({ apiKey: 'k', baseURL: provider.url, maxRetries: 0 })
    const params = { model: 'claude-sonnet-4-5', max_tokens: 5, messages: [{ role: 'user' as const, content: 'hi' }] }
    const remaining: string[] = []
    for (let i = 0; i < 3; i++) {
      const { response } = await client.messages.create(params).withResponse()
      const h = response.headers
      remaining.push(h.get('anthropic-ratelimit-requests-remaining') ?? 'missing')
      expect(h.get('anthropic-ratelimit-requests-limit')).toBe('3')
      const reset = h.get('anthropic-ratelimit-requests-reset') ?? ''
      expect(reset).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/)
      const resetAt = Date.parse(reset)
      const now = Date.now()
      // The bucket refills one request per 20 s: after the i-th request it is full again (20 * (i + 1)) s later.
      expect(resetAt).toBeGreaterThan(now)
      // A full bucket is at most 60 s away; the header rounds up to whole seconds (never early).
      expect(resetAt).toBeLessThanOrEqual(now + 61_000)
      expect(resetAt).toBeGreaterThanOrEqual(now + 20_000 * (i + 1) - 2_000)
    }
    expect(remaining).toEqual(['2', '1', '0'])

    const error = await client.messages.create(params).then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(Anthropic.RateLimitError)
    const rate = error as InstanceType<typeof Anthropic.RateLimitError>
    expect(rate.type).toBe('rate_limit_error')
    const retryAfter = Number(rate.headers.get('retry-after'))
    // Truthful: the next request is available in about 20 s, not 1 s and not a minute.
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeGreaterThanOrEqual(15)
    expect(retryAfter).toBeLessThanOrEqual(20)
    expect(rate.message).toMatch(/requests per minute/i)
    // The refused request is recorded as an error, nothing billed.
    expect(provider.ledger.query().filter((r) => r.stopReason === 'error')).toHaveLength(1)
  })

  it('requestsPerMinute 3 (OpenAI dialect): x-ratelimit-remaining-requests 2,1,0 and reset durations, then 429', async () => {
    const provider = await start({ timing, rateLimits: { requestsPerMinute: 3 } })
    const client = new OpenAI({ apiKey: 'k', baseURL: `${provider.url}/v1`, maxRetries: 0 })
    const params = { model: 'gpt-4o', max_tokens: 5, messages: [{ role: 'user' as const, content: 'hi' }] }
    const remaining: string[] = []
    const resets: number[] = []
    for (let i = 0; i < 3; i++) {
      const { response } = await client.chat.completions.create(params).withResponse()
      remaining.push(response.headers.get('x-ratelimit-remaining-requests') ?? 'missing')
      expect(response.headers.get('x-ratelimit-limit-requests')).toBe('3')
      const reset = response.headers.get('x-ratelimit-reset-requests') ?? ''
      expect(reset).toMatch(/^(\d+h)?(\d+m)?\d+(ms|s)$/)
      resets.push(durationMs(reset))
    }
    expect(remaining).toEqual(['2', '1', '0'])
    // 20 s per request used, up to a minute: "20s", "40s", "1m0s".
    expect(resets[0]).toBeGreaterThan(15_000)
    expect(resets[0]).toBeLessThanOrEqual(20_000)
    for (const ms of resets) expect(ms).toBeLessThanOrEqual(60_000)
    expect(resets[2]).toBeGreaterThan(resets[0]!)

    const error = await client.chat.completions.create(params).then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(OpenAI.RateLimitError)
    const rate = error as InstanceType<typeof OpenAI.RateLimitError>
    expect(rate.code).toBe('rate_limit_exceeded')
    expect(Number(rate.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
  })

  it('a real 429 carries the rate-limit headers too (remaining 0 and when it resets)', async () => {
    const provider = await start({ timing, rateLimits: { requestsPerMinute: 1 } })
    expect((await call(provider.url, 'anthropic', 'hi')).status).toBe(200)
    const refused = await call(provider.url, 'anthropic', 'hi')
    expectRateLimited('anthropic', refused)
    expect(refused.headers.get('anthropic-ratelimit-requests-limit')).toBe('1')
    expect(refused.headers.get('anthropic-ratelimit-requests-remaining')).toBe('0')
    const reset = Date.parse(refused.headers.get('anthropic-ratelimit-requests-reset') ?? '')
    expect(reset).toBeGreaterThan(Date.now())
    // At most 60 s away, rounded up to whole seconds (never early).
    expect(reset).toBeLessThanOrEqual(Date.now() + 61_000)

    const openaiRefused = await call(provider.url, 'openai-chat', 'hi')
    expectRateLimited('openai-chat', openaiRefused)
    expect(openaiRefused.headers.get('x-ratelimit-remaining-requests')).toBe('0')
    expect(openaiRefused.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+h)?(\d+m)?\d+(ms|s)$/)
  })

  it('concurrentGenerations 2: a third concurrent stream is 429 while two are open, and admitted after one finishes', async () => {
    const provider = await start({ timing, rateLimits: { concurrentGenerations: 2 } })
    const long = (id: string) => `[cb:${id} outputTokens=100000 tokensPerSecond=20]`
    const controllers = new Map<string, AbortController>()
    const open = async (id: string) => {
      const controller = new AbortController()
      controllers.set(id, controller)
      return fetch(`${provider.url}/v1/messages`, {
        method: 'POST',
        headers: ANTHROPIC_HEADERS,
        body: JSON.stringify(requestBody('anthropic', long(id), true, 200_000)),
        signal: controller.signal,
      })
    }
    try {
      const a = await open('cc-a')
      const b = await open('cc-b')
      expect(a.status).toBe(200)
      expect(b.status).toBe(200)
      expect(provider.core.active.size).toBe(2)

      const third = await call(provider.url, 'anthropic', long('cc-c'), { stream: true })
      expectRateLimited('anthropic', third)
      expect((third.body as { error: { message: string } }).error.message).toMatch(/concurrent/i)
      // OpenAI callers share the same limit.
      expectRateLimited('openai-chat', await call(provider.url, 'openai-chat', long('cc-c2'), { stream: true }))

      // One finishes (its client goes away): a new stream is admitted again.
      controllers.get('cc-a')!.abort()
      expect(await recordOf(provider, 'cc-a')).toMatchObject({ stopReason: 'client_disconnected' })
      const d = await open('cc-d')
      expect(d.status).toBe(200)
      expect(provider.core.active.size).toBe(2)
      // And the limit still holds with the new pair.
      expectRateLimited('anthropic', await call(provider.url, 'anthropic', long('cc-e'), { stream: true }))
    } finally {
      for (const c of controllers.values()) c.abort()
    }
    await provider.ledger.waitFor((r) => r.correlationId === 'cc-d', AbortSignal.timeout(5000))
  })

  it('concurrentGenerations 1: a generation that completes on its own frees its slot', async () => {
    const provider = await start({ timing, rateLimits: { concurrentGenerations: 1 } })
    // Completes about 1 s after it arrives; the second request is sent as soon as the first is admitted.
    // A stream's 200 is sent on admission, so the response headers mean "it is running".
    const first = await fetch(`${provider.url}/v1/messages`, {
      method: 'POST',
      headers: ANTHROPIC_HEADERS,
      body: JSON.stringify(requestBody('anthropic', '[cb:nat-a outputTokens=3 ttftMs=1000]', true)),
      signal: AbortSignal.timeout(5000),
    })
    expect(first.status).toBe(200)
    const refused = await call(provider.url, 'anthropic', '[cb:nat-b]')
    expectRateLimited('anthropic', refused)
    expect(provider.ledger.query({ correlationId: 'nat-a' }), 'the first generation was still running when refused').toHaveLength(0)
    await first.text()
    expect(await recordOf(provider, 'nat-a')).toMatchObject({ stopReason: 'completed', billedOutputTokens: 3 })
    expect((await call(provider.url, 'anthropic', '[cb:nat-c]')).status).toBe(200)
  })

  it('outputTokensPerMinute: after billing more than the limit the next request is 429; headers report what is left', async () => {
    const provider = await start({ timing, rateLimits: { outputTokensPerMinute: 100 } })
    const first = await call(provider.url, 'anthropic', '[cb:otpm-1 outputTokens=40]')
    expect(first.status).toBe(200)
    expect(first.headers.get('anthropic-ratelimit-output-tokens-limit')).toBe('100')
    expect(first.headers.get('anthropic-ratelimit-output-tokens-remaining')).toBe('100')
    expect(await recordOf(provider, 'otpm-1')).toMatchObject({ billedOutputTokens: 40 })

    // 40 used: about 60 left (the bucket refills 100/min, under 2 per second).
    const second = await call(provider.url, 'openai-chat', '[cb:otpm-2 outputTokens=80]')
    expect(second.status).toBe(200)
    const left = Number(second.headers.get('x-ratelimit-remaining-tokens'))
    expect(left).toBeGreaterThanOrEqual(60)
    expect(left).toBeLessThanOrEqual(64)
    expect(second.headers.get('x-ratelimit-limit-tokens')).toBe('100')
    expect(await recordOf(provider, 'otpm-2')).toMatchObject({ billedOutputTokens: 80 })

    // 120 billed against 100/min: refused until the bucket has refilled.
    const refused = await call(provider.url, 'anthropic', '[cb:otpm-3]')
    expectRateLimited('anthropic', refused)
    expect((refused.body as { error: { message: string } }).error.message).toMatch(/output tokens/i)
    // About 20 tokens over: back above zero in ~12 s (100/min), so retry-after is seconds, not 1 and not minutes.
    const retryAfter = Number(refused.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(5)
    expect(retryAfter).toBeLessThanOrEqual(60)
  })
})
