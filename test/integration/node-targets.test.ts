import type { Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { createTarget as createSseCanned } from '../../examples/node/sse-canned.ts'
import { createTarget as createSseGood } from '../../examples/node/sse-good.ts'
import { createTarget as createSseLeaky } from '../../examples/node/sse-leaky.ts'
import { createTarget as createSseNoKeepalive } from '../../examples/node/sse-no-keepalive.ts'
import { createTarget as createWsGood } from '../../examples/node/ws-good.ts'
import { createTarget as createWsIgnoreCancel } from '../../examples/node/ws-ignore-cancel.ts'
import { countInputTokens, createMockProvider, textOf, type LedgerRecord, type MockProvider } from '../../mock-provider/index.ts'

/**
 * The Node reference targets (examples/node/) against the real mock provider over HTTP: each target runs
 * in-process from its factory on port 0, a client streams through it and stops after a few tokens, and
 * the provider's ledger says whether the stop reached the model.
 *
 * Timing: 100 tokens/s, so 10 ms a token; a full generation is 300 tokens (3 s). IN_FLIGHT_MAX bounds
 * what a correct target may still be billed for after the client's last token (the client's abort, the
 * target noticing, its fetch abort, the provider noticing): 20 tokens = 200 ms, generous on a loaded
 * machine, yet far from the 290 a leak costs.
 */
const PLANNED = 300
const STOP_AFTER = 10
const IN_FLIGHT_MAX = 20

let provider: MockProvider
const targets: Array<{ close(): Promise<void> }> = []

beforeAll(async () => {
  provider = await createMockProvider({ timing: { ttftMs: 20, tokensPerSecond: 100, outputTokens: PLANNED } })
})
afterAll(async () => {
  await Promise.all(targets.map((target) => target.close()))
  await provider?.close()
})

let counter = 0
const newId = (prefix: string) => `${prefix}-${process.pid}-${++counter}`

function recordOf(correlationId: string): Promise<LedgerRecord> {
  return provider.ledger.waitFor((r) => r.correlationId === correlationId, AbortSignal.timeout(10_000))
}

/** Listens on an ephemeral port; returns the base URL. Every connection is dropped at the end. */
async function start(server: Server): Promise<string> {
  const sockets = new Set<Socket>()
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  targets.push({
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const socket of sockets) socket.destroy()
      }),
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function expectStoppedSoon(record: LedgerRecord, received: number) {
  expect(record.stopReason).toBe('client_disconnected')
  expect(record.billedOutputTokens).toBeGreaterThanOrEqual(received)
  expect(record.billedOutputTokens).toBeLessThanOrEqual(received + IN_FLIGHT_MAX)
  expect(record.billedOutputTokens).toBeLessThan(record.plannedOutputTokens)
}

function expectRanToTheEnd(record: LedgerRecord) {
  expect(record.stopReason).toBe('completed')
  expect(record.plannedOutputTokens).toBe(PLANNED)
  expect(record.billedOutputTokens).toBe(PLANNED)
  // The provider even delivered every token: its client, the target, never left.
  expect(record.emittedOutputTokens).toBe(PLANNED)
}

// ---------------------------------------------------------------------------------------------- HTTP

type Format = 'sse' | 'ndjson'
const PATHS: Record<Format, string> = { sse: '/chat', ndjson: '/chat.ndjson' }

interface StreamResult {
  status: number
  contentType: string | null
  tokens: number
  text: string
  keepalives: number
  keepalivesBeforeFirstToken: number
  done: boolean
  errors: string[]
  /** The client aborted (the stop condition was met before the stream ended). */
  aborted: boolean
}

/**
 * POSTs a prompt and reads the stream, parsing SSE blocks or NDJSON lines, until it ends or `stopWhen`
 * says to abort (checked after every parsed item, so `tokens` is what the client had received).
 */
async function stream(
  baseUrl: string,
  format: Format,
  prompt: string,
  stopWhen: (result: StreamResult) => boolean = () => false,
): Promise<StreamResult> {
  const controller = new AbortController()
  const response = await fetch(baseUrl + PATHS[format], {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt }),
    signal: controller.signal,
  })
  const result: StreamResult = {
    status: response.status,
    contentType: response.headers.get('content-type'),
    tokens: 0,
    text: '',
    keepalives: 0,
    keepalivesBeforeFirstToken: 0,
    done: false,
    errors: [],
    aborted: false,
  }
  const separator = format === 'sse' ? '\n\n' : '\n'
  const decoder = new TextDecoder()
  let buffer = ''
  try {
    for await (const chunk of response.body!) {
      buffer += decoder.decode(chunk, { stream: true })
      let end: number
      while ((end = buffer.indexOf(separator)) >= 0) {
        const item = buffer.slice(0, end)
        buffer = buffer.slice(end + separator.length)
        if (format === 'sse') parseSseBlock(item, result)
        else parseNdjsonLine(item, result)
        if (stopWhen(result)) {
          result.aborted = true
          controller.abort()
          return result
        }
      }
    }
  } catch (error) {
    if (!result.aborted) throw error
  }
  if (format === 'ndjson' && result.errors.length === 0) result.done = true // the end of the body is "done"
  return result
}

function parseSseBlock(block: string, result: StreamResult) {
  if (block.startsWith(':')) {
    expect(block).toBe(': keepalive')
    result.keepalives++
    if (result.tokens === 0) result.keepalivesBeforeFirstToken++
    return
  }
  const event = /^event: (.*)$/m.exec(block)?.[1]
  const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null') as { text?: string; message?: string }
  if (event === 'token') {
    result.tokens++
    result.text += data.text
  } else if (event === 'done') result.done = true
  else if (event === 'error') result.errors.push(data.message ?? '')
  else throw new Error(`unexpected SSE block ${JSON.stringify(block)}`)
}

function parseNdjsonLine(line: string, result: StreamResult) {
  const data = JSON.parse(line) as { text?: string; error?: string }
  if (typeof data.text === 'string') {
    result.tokens++
    result.text += data.text
  } else if (typeof data.error === 'string') result.errors.push(data.error)
  else throw new Error(`unexpected NDJSON line ${JSON.stringify(line)}`)
}

const afterTokens = (n: number) => (result: StreamResult) => result.tokens >= n

describe('sse-good', () => {
  let url: string
  beforeAll(async () => {
    url = await start(createSseGood({ anthropic: provider.url, keepaliveMs: 200 }))
  })

  it('streams every delta verbatim, then done; the prompt reaches the provider unchanged', async () => {
    const id = newId('good-full')
    const prompt = `Tell me a story. [cb:${id} outputTokens=20]`
    const result = await stream(url, 'sse', prompt)
    expect(result.status).toBe(200)
    expect(result.contentType).toBe('text/event-stream')
    expect(result).toMatchObject({ tokens: 20, done: true, errors: [] })
    const record = await recordOf(id)
    expect(record.stopReason).toBe('completed')
    expect(record.model).toBe('claude-sonnet-4-6')
    expect(record.inputTokens).toBe(countInputTokens(prompt))
    expect(result.text).toBe(textOf(record.seed, 0, 20))
  })

  it.each(['sse', 'ndjson'] as const)('%s: a client that stops after 10 tokens stops the provider within a few tokens', async (format) => {
    const id = newId(`good-${format}`)
    const result = await stream(url, format, `Write a lot. [cb:${id}]`, afterTokens(STOP_AFTER))
    expect(result.aborted).toBe(true)
    const record = await recordOf(id)
    expectStoppedSoon(record, result.tokens)
    // Nothing generated after the provider saw the target's connection close.
    expect(record.lastTokenAtMs!).toBeLessThanOrEqual(record.disconnectObservedAtMs!)
  })

  it('a client that leaves during the time to first token cancels the provider call before any token', async () => {
    const id = newId('good-ttft')
    // The first keepalive proves the headers went out and the target is waiting on the provider.
    const result = await stream(url, 'sse', `Think first. [cb:${id} ttftMs=1000]`, (r) => r.keepalives >= 1)
    expect(result.tokens).toBe(0)
    const record = await recordOf(id)
    expect(record.stopReason).toBe('client_disconnected')
    expect(record.billedOutputTokens).toBe(0)
    expect(record.firstTokenAtMs).toBeNull()
  })

  it('sends a keepalive comment every KEEPALIVE_MS, also during the time to first token', async () => {
    const id = newId('good-keepalive')
    const result = await stream(url, 'sse', `Slow start. [cb:${id} ttftMs=1000 outputTokens=5]`)
    expect(result).toMatchObject({ tokens: 5, done: true })
    // 1000 ms of silence from the model at one comment per 200 ms: about 5; timers on a busy machine run late.
    expect(result.keepalivesBeforeFirstToken).toBeGreaterThanOrEqual(3)
  })

  it('answers a provider error with an error event instead of done', async () => {
    const id = newId('good-error')
    const result = await stream(url, 'sse', `Hello. [cb:${id} fault=overloaded]`)
    expect(result.done).toBe(false)
    expect(result.errors).toHaveLength(1)
    expect(result.errors[0]).toMatch(/529|overloaded/i)
    expect((await recordOf(id)).stopReason).toBe('error')
  })

  it('rejects bad requests with a JSON 400 and unknown routes with 404', async () => {
    const post = (path: string, body: string) =>
      fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    for (const [path, body, status] of [
      ['/chat', '{not json', 400],
      ['/chat', '{}', 400],
      ['/chat.ndjson', '{"prompt": 42}', 400],
      ['/nope', '{"prompt": "hi"}', 404],
    ] as const) {
      const response = await post(path, body)
      expect(response.status, `${path} ${body}`).toBe(status)
      expect(response.headers.get('content-type')).toBe('application/json')
      expect(((await response.json()) as { error: string }).error).toEqual(expect.any(String))
    }
    expect((await fetch(url + '/chat')).status).toBe(404)
  })
})

describe('sse-leaky', () => {
  let url: string
  beforeAll(async () => {
    url = await start(createSseLeaky({ anthropic: provider.url, keepaliveMs: 200 }))
  })

  it.each(['sse', 'ndjson'] as const)('%s: the provider bills all 300 tokens though the client left after 10', async (format) => {
    const id = newId(`leaky-${format}`)
    const result = await stream(url, format, `Write a lot. [cb:${id}]`, afterTokens(STOP_AFTER))
    expect(result.aborted).toBe(true)
    expect(result.tokens).toBeLessThan(PLANNED)
    expectRanToTheEnd(await recordOf(id))
  })
})

describe('sse-no-keepalive', () => {
  let url: string
  beforeAll(async () => {
    // keepaliveMs is passed and must be ignored.
    url = await start(createSseNoKeepalive({ anthropic: provider.url, keepaliveMs: 200 }))
  })

  it('sends no keepalive, even through a long time to first token', async () => {
    const id = newId('nokeep-ttft')
    const result = await stream(url, 'sse', `Slow start. [cb:${id} ttftMs=1000 outputTokens=5]`)
    expect(result).toMatchObject({ tokens: 5, done: true, keepalives: 0 })
  })

  it('still cancels the provider stream when the client leaves', async () => {
    const id = newId('nokeep-cancel')
    const result = await stream(url, 'sse', `Write a lot. [cb:${id}]`, afterTokens(STOP_AFTER))
    expectStoppedSoon(await recordOf(id), result.tokens)
  })
})

describe('sse-canned', () => {
  let url: string
  beforeAll(async () => {
    url = await start(createSseCanned({ anthropic: provider.url, keepaliveMs: 200 }))
  })

  it.each(['sse', 'ndjson'] as const)('%s: streams 50 canned tokens without ever calling the provider', async (format) => {
    const id = newId(`canned-${format}`)
    const before = provider.ledger.size
    const result = await stream(url, format, `Hello. [cb:${id}]`)
    expect(result).toMatchObject({ status: 200, tokens: 50, done: true, errors: [] })
    expect(provider.ledger.size).toBe(before)
    expect(provider.ledger.query({ correlationId: id })).toEqual([])
    expect([...provider.core.active.values()]).toHaveLength(0)
  })
})

// ----------------------------------------------------------------------------------------- WebSocket

interface WsClient {
  socket: WebSocket
  /** Every message received, in order. */
  messages: Array<{ type: string; id?: string | null; text?: string; message?: string }>
  /** Resolves with the first message (already received or yet to come) that matches. */
  next(predicate: (message: WsClient['messages'][number]) => boolean): Promise<WsClient['messages'][number]>
  send(message: object): void
  tokens(id: string): number
}

async function connectWs(baseUrl: string): Promise<WsClient> {
  const socket = new WebSocket(baseUrl.replace(/^http/, 'ws') + '/ws', { perMessageDeflate: false })
  const messages: WsClient['messages'] = []
  const waiters = new Set<() => void>()
  socket.on('message', (data) => {
    messages.push(JSON.parse(data.toString()) as WsClient['messages'][number])
    for (const waiter of waiters) waiter()
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('error', reject)
  })
  return {
    socket,
    messages,
    next: (predicate) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find(predicate)
          if (!found) return
          waiters.delete(check)
          resolve(found)
        }
        waiters.add(check)
        check()
        AbortSignal.timeout(10_000).addEventListener('abort', () => {
          waiters.delete(check)
          reject(new Error(`no matching message in 10 s; the last ones: ${JSON.stringify(messages.slice(-3))}`))
        })
      }),
    send: (message) => socket.send(JSON.stringify(message)),
    tokens: (id) => messages.filter((m) => m.type === 'token' && m.id === id).length,
  }
}

const nthToken = (id: string, n: number) => {
  let seen = 0
  return (m: { type: string; id?: string | null }) => m.type === 'token' && m.id === id && ++seen === n
}

async function closeWs(client: WsClient) {
  client.socket.close(1000, 'client stop')
  await new Promise((resolve) => client.socket.once('close', resolve))
}

describe('ws-good', () => {
  let url: string
  beforeAll(async () => {
    url = await start(createWsGood({ anthropic: provider.url, keepaliveMs: 1000 }))
  })

  it('streams tokens and done; the prompt reaches the provider unchanged', async () => {
    const client = await connectWs(url)
    const id = newId('ws-full')
    client.send({ type: 'generate', id, prompt: `Hi. [cb:${id} outputTokens=20]` })
    await client.next((m) => m.type === 'done' && m.id === id)
    const record = await recordOf(id)
    expect(record.stopReason).toBe('completed')
    const text = client.messages.filter((m) => m.type === 'token' && m.id === id).map((m) => m.text).join('')
    expect(text).toBe(textOf(record.seed, 0, 20))
    await closeWs(client)
  })

  it('a cancel message aborts that generation only, acknowledges it, and sends no token of it afterwards', async () => {
    const client = await connectWs(url)
    const cancelled = newId('ws-cancel')
    const other = newId('ws-other')
    client.send({ type: 'generate', id: cancelled, prompt: `Write a lot. [cb:${cancelled}]` })
    client.send({ type: 'generate', id: other, prompt: `Write a little. [cb:${other} outputTokens=40]` })
    await client.next(nthToken(cancelled, STOP_AFTER))
    const received = client.tokens(cancelled)
    client.send({ type: 'cancel', message_id: cancelled })
    await client.next((m) => m.type === 'cancelled' && m.id === cancelled)
    const record = await recordOf(cancelled)
    expectStoppedSoon(record, received)
    // The other generation on the same socket is untouched.
    await client.next((m) => m.type === 'done' && m.id === other)
    expect((await recordOf(other)).stopReason).toBe('completed')
    // A later generation's done proves the socket carried everything sent before it: no stray token.
    const probe = newId('ws-probe')
    client.send({ type: 'generate', id: probe, prompt: `One more. [cb:${probe} outputTokens=2]` })
    await client.next((m) => m.type === 'done' && m.id === probe)
    const ackAt = client.messages.findIndex((m) => m.type === 'cancelled' && m.id === cancelled)
    expect(client.messages.slice(ackAt).filter((m) => m.id === cancelled && m.type === 'token')).toEqual([])
    expect(client.messages.some((m) => m.type === 'done' && m.id === cancelled)).toBe(false)
    await closeWs(client)
  })

  it('closing the socket aborts every generation it started', async () => {
    const client = await connectWs(url)
    const ids = [newId('ws-close'), newId('ws-close')]
    for (const id of ids) client.send({ type: 'generate', id, prompt: `Write a lot. [cb:${id}]` })
    await Promise.all(ids.map((id) => client.next(nthToken(id, STOP_AFTER))))
    const received = ids.map((id) => client.tokens(id))
    await closeWs(client)
    for (const [i, id] of ids.entries()) expectStoppedSoon(await recordOf(id), received[i]!)
  })

  it('answers malformed messages with an error and keeps the socket open', async () => {
    const client = await connectWs(url)
    client.socket.send('{nope')
    await client.next((m) => m.type === 'error' && m.id === null)
    client.send({ type: 'generate', id: 'x1' })
    await client.next((m) => m.type === 'error' && m.id === 'x1')
    client.send({ type: 'dance' })
    await client.next((m) => m.type === 'error' && /unknown message type/.test(m.message ?? ''))
    expect(client.socket.readyState).toBe(WebSocket.OPEN)
    await closeWs(client)
  })

  it('answers plain HTTP and other upgrade paths with 404', async () => {
    expect((await fetch(url + '/ws')).status).toBe(404)
    const socket = new WebSocket(url.replace(/^http/, 'ws') + '/other')
    const status = await new Promise<number | undefined>((resolve) => {
      socket.once('unexpected-response', (_request, response) => resolve(response.statusCode))
      socket.once('error', () => resolve(undefined))
    })
    expect(status).toBe(404)
    socket.terminate()
  })
})

describe('ws-ignore-cancel', () => {
  let url: string
  beforeAll(async () => {
    url = await start(createWsIgnoreCancel({ anthropic: provider.url, keepaliveMs: 1000 }))
  })

  it('ignores a cancel message: the tokens keep coming and the provider bills all 300', async () => {
    const client = await connectWs(url)
    const id = newId('ignore-cancel')
    client.send({ type: 'generate', id, prompt: `Write a lot. [cb:${id}]` })
    await client.next(nthToken(id, STOP_AFTER))
    client.send({ type: 'cancel', message_id: id })
    await client.next((m) => m.type === 'done' && m.id === id)
    expect(client.tokens(id)).toBe(PLANNED)
    expect(client.messages.some((m) => m.type === 'cancelled')).toBe(false)
    expectRanToTheEnd(await recordOf(id))
    await closeWs(client)
  })

  it('keeps generating after the socket closed', async () => {
    const client = await connectWs(url)
    const id = newId('ignore-close')
    client.send({ type: 'generate', id, prompt: `Write a lot. [cb:${id}]` })
    await client.next(nthToken(id, STOP_AFTER))
    await closeWs(client)
    expectRanToTheEnd(await recordOf(id))
  })
})
