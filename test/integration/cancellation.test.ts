import { request as httpRequest } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fullGc } from '../../bench/lib/full-gc.ts'
import type { LedgerRecord, ProviderCore } from '../../mock-provider/index.ts'
import { MODES, newId, recordOf, startHarness, type Harness } from '../helpers/provider-modes.ts'

/**
 * Disconnect = stop. The SDK breaks out, aborts, or the socket is destroyed; the ledger must say
 * client_disconnected, bill about what the client saw plus what was in flight, and nothing afterwards.
 *
 * Timing: 200 tokens/s, one token per event, so a token is 5 ms apart. "In flight" is what the provider
 * generated between the client's last read and the moment it observed the close: on loopback the close
 * is seen within a few ms, so a handful of tokens. IN_FLIGHT_MAX is a generous "it did stop" bound
 * (60 ms of generation), not a latency assertion; latency is measured in bench/.
 */
const TOKENS_PER_SECOND = 200
const PLANNED = 400
const IN_FLIGHT_MAX = 12
const BREAK_AFTER = 10

function expectStoppedAt(record: LedgerRecord, received: number) {
  expect(record.stopReason).toBe('client_disconnected')
  expect(record.disconnectObservedAtMs).not.toBeNull()
  expect(record.emittedOutputTokens).toBeGreaterThanOrEqual(received)
  expect(record.emittedOutputTokens).toBeLessThanOrEqual(received + IN_FLIGHT_MAX)
  expect(record.billedOutputTokens).toBeGreaterThanOrEqual(record.emittedOutputTokens)
  expect(record.billedOutputTokens).toBeLessThanOrEqual(received + IN_FLIGHT_MAX)
  expect(record.billedOutputTokens).toBeLessThan(record.plannedOutputTokens)
  // stopLagMs 0: no token generated after the disconnect was observed.
  expect(record.lastTokenAtMs).not.toBeNull()
  expect(record.lastTokenAtMs!).toBeLessThanOrEqual(record.disconnectObservedAtMs!)
  expect(record.stoppedAtMs).toBe(record.disconnectObservedAtMs)
}

/** After a stop nothing more is billed: the generation is gone and the billing counter stands still. */
async function expectNothingMoreBilled(core: ProviderCore, record: LedgerRecord) {
  expect(core.active.has(record.id)).toBe(false)
  const before = await billedCounter(core)
  // Long enough for ~10 more tokens had the generation kept going.
  await new Promise((resolve) => setTimeout(resolve, 50))
  expect(await billedCounter(core)).toBe(before)
}

/**
 * Consumes an SDK stream, ignoring the abort: the SDKs end iteration quietly when their signal aborts
 * (openai and @anthropic-ai/sdk both swallow AbortError in `for await`), older versions threw.
 */
async function consumeUntilAborted<T>(stream: AsyncIterable<T>, onItem: (item: T) => void): Promise<void> {
  try {
    for await (const item of stream) onItem(item)
  } catch (error) {
    if ((error as Error).name !== 'AbortError' && !(error as Error).constructor.name.includes('UserAbort')) throw error
  }
}

async function billedCounter(core: ProviderCore): Promise<number> {
  const metric = await core.metrics.outputTokensGenerated.get()
  return metric.values[0]?.value ?? 0
}

describe.each(MODES)('cancellation (%s)', (mode) => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness(mode, { timing: { ttftMs: 10, tokensPerSecond: TOKENS_PER_SECOND, tokensPerEvent: 1, outputTokens: PLANNED } })
  })
  afterAll(() => h.close())

  const anthropicParams = (id: string) => ({
    model: 'claude-sonnet-4-6',
    max_tokens: 4096,
    messages: [{ role: 'user' as const, content: `Write a lot. [cb:${id}]` }],
  })

  it('Anthropic SDK: breaking out of the event loop after N deltas stops the generation', async () => {
    const id = newId('break')
    const stream = await h.anthropic.messages.create({ ...anthropicParams(id), stream: true })
    let deltas = 0
    for await (const event of stream) {
      if (event.type === 'content_block_delta' && ++deltas === BREAK_AFTER) break
    }
    const record = await recordOf(h.core, id)
    expectStoppedAt(record, BREAK_AFTER)
    await expectNothingMoreBilled(h.core, record)
  })

  it('Anthropic SDK: MessageStream.abort() stops the generation', async () => {
    const id = newId('abort')
    const stream = h.anthropic.messages.stream(anthropicParams(id))
    let deltas = 0
    stream.on('text', () => {
      if (++deltas === BREAK_AFTER) stream.abort()
    })
    await expect(stream.done()).rejects.toThrow()
    const record = await recordOf(h.core, id)
    expectStoppedAt(record, BREAK_AFTER)
  })

  it('Anthropic SDK: an AbortController signal stops the generation', async () => {
    const id = newId('signal')
    const controller = new AbortController()
    const stream = await h.anthropic.messages.create({ ...anthropicParams(id), stream: true }, { signal: controller.signal })
    let deltas = 0
    await consumeUntilAborted(stream, (event) => {
      if (event.type === 'content_block_delta' && ++deltas === BREAK_AFTER) controller.abort()
    })
    expectStoppedAt(await recordOf(h.core, id), BREAK_AFTER)
  })

  it('OpenAI chat: breaking out stops the generation (and no usage chunk arrives)', async () => {
    const id = newId('chat')
    const stream = await h.openai.chat.completions.create({
      model: 'gpt-5',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: `Go [cb:${id}]` }],
    })
    let deltas = 0
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content && ++deltas === BREAK_AFTER) break
    }
    const record = await recordOf(h.core, id)
    expect(record.api).toBe('openai-chat')
    expectStoppedAt(record, BREAK_AFTER)
  })

  it('OpenAI chat: AbortController stops the generation', async () => {
    const id = newId('chat-abort')
    const controller = new AbortController()
    const stream = await h.openai.chat.completions.create(
      { model: 'gpt-5', stream: true, messages: [{ role: 'user', content: `Go [cb:${id}]` }] },
      { signal: controller.signal },
    )
    let deltas = 0
    await consumeUntilAborted(stream, (chunk) => {
      if (chunk.choices[0]?.delta.content && ++deltas === BREAK_AFTER) controller.abort()
    })
    expectStoppedAt(await recordOf(h.core, id), BREAK_AFTER)
  })

  it('OpenAI Responses: stream.abort() stops the generation', async () => {
    const id = newId('resp')
    const stream = h.openai.responses.stream({ model: 'gpt-5', input: `Go [cb:${id}]` })
    let deltas = 0
    stream.on('response.output_text.delta', () => {
      if (++deltas === BREAK_AFTER) stream.abort()
    })
    await expect(stream.finalResponse()).rejects.toThrow()
    const record = await recordOf(h.core, id)
    expect(record.api).toBe('openai-responses')
    expectStoppedAt(record, BREAK_AFTER)
  })

  it('a disconnect during the time to first token stops before any token is billed', async () => {
    const id = newId('ttft')
    const controller = new AbortController()
    const stream = await h.anthropic.messages.create(
      { ...anthropicParams(id), stream: true, messages: [{ role: 'user', content: `[cb:${id} ttftMs=5000]` }] },
      { signal: controller.signal },
    )
    // message_start arrives at once; abort while the model is still "thinking".
    await consumeUntilAborted(stream, (event) => {
      if (event.type === 'message_start') controller.abort()
    })
    const record = await recordOf(h.core, id)
    expect(record).toMatchObject({ stopReason: 'client_disconnected', billedOutputTokens: 0, emittedOutputTokens: 0, firstTokenAtMs: null })
  })
})

/** Raw sockets: only over HTTP. Both a graceful close (FIN) and a reset (RST) must be noticed. */
describe('cancellation by socket (http)', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness('http', { timing: { ttftMs: 10, tokensPerSecond: TOKENS_PER_SECOND, tokensPerEvent: 1, outputTokens: PLANNED } })
  })
  afterAll(() => h.close())

  // 'gc-then-destroy': the HTTP adapter lets the Request and Response go once frames flow straight to the
  // socket, so the disconnect must reach the generation without them; a full GC before the close proves it.
  for (const how of ['destroy', 'reset', 'gc-then-destroy'] as const) {
    it(`socket ${how} after N deltas stops the generation`, async () => {
      const id = newId(how)
      const deltas = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${h.anthropicBaseUrl}/v1/messages`, { method: 'POST', headers: { 'x-api-key': 'k', 'content-type': 'application/json' } }, (res) => {
          let count = 0
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => {
            count += chunk.split('event: content_block_delta').length - 1
            if (count >= BREAK_AFTER) {
              if (how === 'gc-then-destroy') fullGc()
              if (how === 'reset') req.socket?.resetAndDestroy()
              else req.destroy()
              resolve(count)
            }
          })
          res.on('error', () => {})
        })
        req.on('error', (error) => (error.message.includes('aborted') || error.message.includes('socket hang up') ? undefined : reject(error)))
        req.end(JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 4096, stream: true, messages: [{ role: 'user', content: `[cb:${id}]` }] }))
      })
      const record = await recordOf(h.core, id)
      expectStoppedAt(record, deltas)
      await expectNothingMoreBilled(h.core, record)
    })
  }
})

describe.each(MODES)('stop policies (%s)', (mode) => {
  let h: Harness
  afterAll(() => h?.close())

  it('stopLagMs: 200 keeps generating and billing about 200 ms after the disconnect', async () => {
    h = await startHarness(mode, { timing: { ttftMs: 10, tokensPerSecond: 100, tokensPerEvent: 1, outputTokens: PLANNED }, policy: { stopLagMs: 200 } })
    const id = newId('lag')
    const stream = await h.anthropic.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 4096, stream: true, messages: [{ role: 'user', content: `[cb:${id}]` }] })
    let deltas = 0
    for await (const event of stream) {
      if (event.type === 'content_block_delta' && ++deltas === BREAK_AFTER) break
    }
    const record = await recordOf(h.core, id)
    await h.close()
    expect(record.stopReason).toBe('client_disconnected')
    expect(record.stoppedAtMs! - record.disconnectObservedAtMs!).toBeCloseTo(200, 0)
    // 200 ms at 100 tokens/s = 20 tokens billed after the disconnect, none of them delivered.
    const afterDisconnect = record.billedOutputTokens - record.emittedOutputTokens
    expect(afterDisconnect).toBeGreaterThanOrEqual(19)
    expect(afterDisconnect).toBeLessThanOrEqual(21 + 2)
    expect(record.lastTokenAtMs!).toBeGreaterThan(record.disconnectObservedAtMs!)
    expect(record.lastTokenAtMs!).toBeLessThanOrEqual(record.stoppedAtMs!)
  })

  it('ignoreDisconnect: every planned token is billed though the client left', async () => {
    h = await startHarness(mode, { timing: { ttftMs: 10, tokensPerSecond: 1000, tokensPerEvent: 1, outputTokens: 300 }, policy: { ignoreDisconnect: true } })
    const id = newId('ignore')
    const stream = await h.anthropic.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 4096, stream: true, messages: [{ role: 'user', content: `[cb:${id}]` }] })
    let deltas = 0
    for await (const event of stream) {
      if (event.type === 'content_block_delta' && ++deltas === BREAK_AFTER) break
    }
    const record = await recordOf(h.core, id)
    await h.close()
    expect(record.disconnectObservedAtMs).not.toBeNull()
    expect(record.stopReason).toBe('completed')
    expect(record.billedOutputTokens).toBe(300)
    expect(record.emittedOutputTokens).toBeLessThan(300)
    expect(record.stoppedAtMs!).toBeGreaterThan(record.disconnectObservedAtMs!)
  })
})
