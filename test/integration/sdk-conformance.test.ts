import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { textOf } from '../../mock-provider/index.ts'
import { MODES, newId, recordOf, startHarness, type Harness } from '../helpers/provider-modes.ts'

/**
 * The official SDKs are the oracle: if they accept the streams, reassemble the text and report the same
 * usage the ledger billed, the mock is exact enough. Each case runs over HTTP and in-process (msw).
 */
describe.each(MODES)('SDK conformance (%s)', (mode) => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness(mode, { timing: { ttftMs: 5, tokensPerSecond: 2000, tokensPerEvent: 3, outputTokens: 40 } })
  })
  afterAll(() => h.close())

  describe('Anthropic Messages', () => {
    it('messages.stream(): text reassembles, usage and stop reason match the ledger', async () => {
      const id = newId()
      const stream = h.anthropic.messages.stream({
        model: 'claude-sonnet-4-6',
        max_tokens: 1024,
        system: `You are terse. [cb:${id}]`,
        messages: [{ role: 'user', content: 'Hello' }],
      })
      let streamed = ''
      stream.on('text', (delta) => (streamed += delta))
      const message = await stream.finalMessage()
      const record = await recordOf(h.core, id)

      expect(record.api).toBe('anthropic')
      expect(record.stopReason).toBe('completed')
      expect(message.stop_reason).toBe('end_turn')
      expect(message.usage.output_tokens).toBe(record.billedOutputTokens)
      expect(record.billedOutputTokens).toBe(40)
      expect(record.emittedOutputTokens).toBe(40)
      expect(message.usage.input_tokens).toBe(record.inputTokens)
      expect(message.id).toBe(record.id)
      const text = message.content[0]?.type === 'text' ? message.content[0].text : undefined
      expect(text).toBe(streamed)
      expect(text).toBe(textOf(record.seed, 0, 40))
    })

    it('messages.create({ stream: true }): exact event order, request-id header', async () => {
      const id = newId()
      const { data: stream, response } = await h.anthropic.messages
        .create({ model: 'claude-haiku-4-5', max_tokens: 100, stream: true, messages: [{ role: 'user', content: `Hi [cb:${id}]` }] })
        .withResponse()
      expect(response.headers.get('request-id')).toMatch(/^req_/)
      expect(response.headers.get('content-type')).toContain('text/event-stream')
      const types: string[] = []
      let outputTokens = -1
      for await (const event of stream) {
        types.push(event.type)
        if (event.type === 'message_delta') outputTokens = event.usage.output_tokens
      }
      // 40 tokens at 3 per event: 14 deltas (13 full, 1 with the last token).
      expect(types).toEqual(['message_start', 'content_block_start', ...Array(14).fill('content_block_delta'), 'content_block_stop', 'message_delta', 'message_stop'])
      const record = await recordOf(h.core, id)
      expect(outputTokens).toBe(record.billedOutputTokens)
    })

    it('max_tokens is respected: stop_reason max_tokens and usage equal to the cap', async () => {
      const id = newId()
      const message = await h.anthropic.messages
        .stream({ model: 'claude-sonnet-4-6', max_tokens: 7, messages: [{ role: 'user', content: `Hi [cb:${id}]` }] })
        .finalMessage()
      const record = await recordOf(h.core, id)
      expect(message.stop_reason).toBe('max_tokens')
      expect(message.usage.output_tokens).toBe(7)
      expect(record).toMatchObject({ stopReason: 'max_tokens', plannedOutputTokens: 7, billedOutputTokens: 7 })
    })

    it('non-streaming messages.create', async () => {
      const id = newId()
      const message = await h.anthropic.messages.create({
        model: 'claude-sonnet-4-6',
        max_tokens: 1000,
        messages: [{ role: 'user', content: [{ type: 'text', text: `Block content [cb:${id}]` }] }],
      })
      const record = await recordOf(h.core, id)
      expect(record.stream).toBe(false)
      expect(message.usage.output_tokens).toBe(record.billedOutputTokens)
      expect(message.content[0]).toEqual({ type: 'text', text: textOf(record.seed, 0, 40) })
    })

    it('count_tokens and models.list', async () => {
      const counted = await h.anthropic.messages.countTokens({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'x'.repeat(40) }] })
      expect(counted.input_tokens).toBe(10)
      const models = await h.anthropic.models.list()
      expect(models.data.length).toBeGreaterThan(0)
      expect(models.data[0]?.type).toBe('model')
    })

    it('ping events are sent at the configured interval (raw SSE)', async () => {
      const id = newId()
      const response = await fetch(`${h.anthropicBaseUrl}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': 'k', 'content-type': 'application/json', 'x-cancelbench-override': 'ttftMs=120 outputTokens=1' },
        body: JSON.stringify({ model: 'm', max_tokens: 10, stream: true, messages: [{ role: 'user', content: `[cb:${id}]` }] }),
      })
      // The provider's ping interval is 10 s by default; this harness uses the default, so only the
      // opening ping is expected within a 120 ms TTFT. The interval itself is covered in unit tests.
      const text = await response.text()
      expect(text.match(/event: ping/g)?.length).toBe(1)
      expect(text.indexOf('event: ping')).toBeGreaterThan(text.indexOf('event: content_block_start'))
    })
  })

  describe('OpenAI Chat Completions', () => {
    it('stream with include_usage: content, final usage chunk, finish_reason', async () => {
      const id = newId()
      const stream = await h.openai.chat.completions.create({
        model: 'gpt-4o-mini',
        stream: true,
        stream_options: { include_usage: true },
        messages: [
          { role: 'system', content: `Be brief. [cb:${id}]` },
          { role: 'user', content: 'Hello' },
        ],
      })
      let content = ''
      const finishReasons: (string | null)[] = []
      let usage: { completion_tokens: number; prompt_tokens: number } | null | undefined
      let chunksWithoutUsage = 0
      for await (const chunk of stream) {
        if (chunk.choices.length === 0) {
          usage = chunk.usage
          continue
        }
        if (chunk.usage === null) chunksWithoutUsage++
        content += chunk.choices[0]?.delta.content ?? ''
        finishReasons.push(chunk.choices[0]?.finish_reason ?? null)
      }
      const record = await recordOf(h.core, id)
      expect(record.api).toBe('openai-chat')
      expect(content).toBe(textOf(record.seed, 0, 40))
      expect(finishReasons.at(-1)).toBe('stop')
      expect(finishReasons.slice(0, -1).every((r) => r === null)).toBe(true)
      expect(chunksWithoutUsage).toBe(finishReasons.length)
      expect(usage?.completion_tokens).toBe(record.billedOutputTokens)
      expect(usage?.prompt_tokens).toBe(record.inputTokens)
    })

    it('without include_usage there is no usage chunk; max_tokens gives finish_reason length', async () => {
      const id = newId()
      const stream = await h.openai.chat.completions.create({ model: 'gpt-4o', stream: true, max_tokens: 5, messages: [{ role: 'user', content: `Hi [cb:${id}]` }] })
      const chunks = []
      for await (const chunk of stream) chunks.push(chunk)
      expect(chunks.every((c) => c.choices.length === 1)).toBe(true)
      expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('length')
      expect(await recordOf(h.core, id)).toMatchObject({ stopReason: 'max_tokens', billedOutputTokens: 5 })
    })

    it('SDK helper chat.completions.stream() and non-streaming create agree with the ledger', async () => {
      const id1 = newId()
      const final = await h.openai.chat.completions
        .stream({ model: 'gpt-5', stream_options: { include_usage: true }, messages: [{ role: 'user', content: `A [cb:${id1}]` }] })
        .finalChatCompletion()
      const r1 = await recordOf(h.core, id1)
      expect(final.choices[0]?.message.content).toBe(textOf(r1.seed, 0, 40))
      expect(final.usage?.completion_tokens).toBe(40)

      const id2 = newId()
      const completion = await h.openai.chat.completions.create({ model: 'gpt-5', messages: [{ role: 'user', content: `B [cb:${id2}]` }] })
      const r2 = await recordOf(h.core, id2)
      expect(completion.choices[0]?.message.content).toBe(textOf(r2.seed, 0, 40))
      expect(completion.usage?.total_tokens).toBe(r2.inputTokens + 40)
    })

    it('models.list', async () => {
      const page = await h.openai.models.list()
      expect(page.data.length).toBeGreaterThan(0)
      expect(page.data[0]?.object).toBe('model')
    })
  })

  describe('OpenAI Responses', () => {
    it('responses.stream(): sequence numbers contiguous, text and usage match, no [DONE]', async () => {
      const id = newId()
      const stream = h.openai.responses.stream({ model: 'gpt-5', instructions: `Terse. [cb:${id}]`, input: 'Hello' })
      const sequence: number[] = []
      const types: string[] = []
      let deltas = ''
      for await (const event of stream) {
        sequence.push(event.sequence_number)
        types.push(event.type)
        if (event.type === 'response.output_text.delta') deltas += event.delta
      }
      const response = await stream.finalResponse()
      const record = await recordOf(h.core, id)
      expect(record.api).toBe('openai-responses')
      expect(sequence).toEqual(sequence.map((_, i) => i))
      expect(types[0]).toBe('response.created')
      expect(types.at(-1)).toBe('response.completed')
      expect(response.status).toBe('completed')
      expect(response.output_text).toBe(textOf(record.seed, 0, 40))
      expect(deltas).toBe(response.output_text)
      expect(response.usage?.output_tokens).toBe(record.billedOutputTokens)
      expect(response.usage?.input_tokens).toBe(record.inputTokens)
    })

    it('responses.create({ stream: true }) with max_output_tokens ends incomplete', async () => {
      const id = newId()
      const stream = await h.openai.responses.create({ model: 'gpt-5', stream: true, max_output_tokens: 6, input: [{ role: 'user', content: `Hi [cb:${id}]` }] })
      let last: { type: string; response?: { status?: string; incomplete_details?: unknown; usage?: { output_tokens: number } | null } } | undefined
      for await (const event of stream) last = event as typeof last
      expect(last?.type).toBe('response.incomplete')
      expect(last?.response?.status).toBe('incomplete')
      expect(last?.response?.incomplete_details).toEqual({ reason: 'max_output_tokens' })
      expect(last?.response?.usage?.output_tokens).toBe(6)
      expect(await recordOf(h.core, id)).toMatchObject({ stopReason: 'max_tokens', billedOutputTokens: 6 })
    })

    it('non-streaming responses.create', async () => {
      const id = newId()
      const response = await h.openai.responses.create({ model: 'gpt-5', input: `Hi [cb:${id}]` })
      const record = await recordOf(h.core, id)
      expect(response.output_text).toBe(textOf(record.seed, 0, 40))
      expect(response.usage?.output_tokens).toBe(40)
    })
  })
})
