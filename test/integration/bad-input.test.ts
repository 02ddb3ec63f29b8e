/**
 * Bad input: malformed JSON, wrong types, missing fields, oversized bodies (declared and chunked),
 * unknown routes, missing keys, unknown models, invalid per-request overrides, and clients that send half
 * a request and vanish. Each bad request must get the right status and the API's own error shape, and the
 * server must go on serving: after every bad request a good one still succeeds.
 */
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { readAnswer, type Answer } from '../helpers/answer.ts'
import {
  createHandlers,
  createMockProvider,
  ProviderCore,
  serveHandlers,
  type ApiName,
  type MockProvider,
  type RunningServer,
} from '../../mock-provider/index.ts'

const timing = { ttftMs: 10, tokensPerSecond: 200, outputTokens: 20 }
const MAX_BODY = 1024

const ANTHROPIC_HEADERS = { 'content-type': 'application/json', 'x-api-key': 'test-key', 'anthropic-version': '2023-06-01' }
const OPENAI_HEADERS = { 'content-type': 'application/json', authorization: 'Bearer test-key' }

interface Route {
  api: ApiName
  path: string
  headers: Record<string, string>
  good: (prompt?: string) => Record<string, unknown>
}

const ROUTES: Record<ApiName, Route> = {
  anthropic: {
    api: 'anthropic',
    path: '/v1/messages',
    headers: ANTHROPIC_HEADERS,
    good: (prompt = 'hello') => ({ model: 'claude-sonnet-4-5', max_tokens: 4, messages: [{ role: 'user', content: prompt }] }),
  },
  'openai-chat': {
    api: 'openai-chat',
    path: '/v1/chat/completions',
    headers: OPENAI_HEADERS,
    good: (prompt = 'hello') => ({ model: 'gpt-4o', max_tokens: 4, messages: [{ role: 'user', content: prompt }] }),
  },
  'openai-responses': {
    api: 'openai-responses',
    path: '/v1/responses',
    headers: OPENAI_HEADERS,
    good: (prompt = 'hello') => ({ model: 'gpt-4o', max_output_tokens: 4, input: prompt }),
  },
}
const APIS = Object.keys(ROUTES) as ApiName[]


/** One request with a deadline: a server that stops answering fails the test in seconds, not at the 30 s test timeout. */
async function send(base: string, path: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Answer> {
  const { timeoutMs = 5000, ...rest } = init
  const res = await fetch(base + path, { method: 'POST', signal: AbortSignal.timeout(timeoutMs), ...rest })
  return readAnswer(res)
}

function post(base: string, route: Route, body: unknown, extraHeaders: Record<string, string> = {}): Promise<Answer> {
  return send(base, route.path, { headers: { ...route.headers, ...extraHeaders }, body: typeof body === 'string' ? body : JSON.stringify(body) })
}

/** Anthropic's error shape: `{type:'error', error:{type, message}, request_id}` plus header `request-id`. */
function expectAnthropicError(answer: Answer, status: number, type: string): string {
  expect(answer.status, answer.text).toBe(status)
  expect(answer.headers.get('content-type')).toMatch(/application\/json/)
  expect(answer.body).toEqual({ type: 'error', error: { type, message: expect.any(String) }, request_id: expect.stringMatching(/^req_/) })
  const body = answer.body as { error: { message: string }; request_id: string }
  expect(answer.headers.get('request-id'), 'request-id header').toBe(body.request_id)
  expect(body.error.message.length).toBeGreaterThan(0)
  return body.error.message
}

/** OpenAI's error shape: `{error:{message, type, param, code}}`, all four keys present. */
function expectOpenAIError(answer: Answer, status: number, type: string, code: string | null): string {
  expect(answer.status, answer.text).toBe(status)
  expect(answer.headers.get('content-type')).toMatch(/application\/json/)
  expect(answer.body).toEqual({ error: { message: expect.any(String), type, param: null, code } })
  const message = (answer.body as { error: { message: string } }).error.message
  expect(message.length).toBeGreaterThan(0)
  return message
}

/** The error in whichever shape `api` uses; returns its message. */
function expectApiError(api: ApiName, answer: Answer, status: number, kind: { anthropic: string; openaiType: string; openaiCode: string | null }): string {
  return api === 'anthropic' ? expectAnthropicError(answer, status, kind.anthropic) : expectOpenAIError(answer, status, kind.openaiType, kind.openaiCode)
}

const INVALID = { anthropic: 'invalid_request_error', openaiType: 'invalid_request_error', openaiCode: null }

/** A good request of every API still succeeds (several in a row, so a wedged keep-alive connection shows). */
async function expectStillServing(base: string, rounds = 2): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (const api of APIS) {
      const route = ROUTES[api]
      const answer = await post(base, route, route.good())
      expect(answer.status, `${api} good request after a bad one: ${answer.text}`).toBe(200)
      const body = answer.body as Record<string, unknown>
      expect(typeof body.id).toBe('string')
    }
  }
}

describe('bad input over HTTP', () => {
  let provider: MockProvider

  beforeAll(async () => {
    provider = await createMockProvider({ timing, maxBodyBytes: MAX_BODY })
  })
  afterAll(async () => {
    await provider?.close()
  })
  afterEach(async () => {
    // After every bad request the same server still answers good ones.
    await expectStillServing(provider.url)
  })

  describe.each(APIS)('%s', (api) => {
    const route = ROUTES[api]

    it('malformed JSON is 400 invalid_request_error saying the body is not JSON', async () => {
      const before = provider.ledger.size
      const message = expectApiError(api, await post(provider.url, route, '{"model": "x", "messages": ['), 400, INVALID)
      expect(message).toMatch(/JSON/)
      // Nothing was generated for it.
      expect(provider.ledger.size).toBe(before)
    })

    it('an empty body is 400', async () => {
      expectApiError(api, await post(provider.url, route, ''), 400, INVALID)
    })

    it.each([
      ['null', 'null'],
      ['an array', '[]'],
      ['a string', '"hello"'],
      ['a number', '42'],
    ])('a body that is %s instead of an object is 400', async (_name, raw) => {
      expectApiError(api, await post(provider.url, route, raw), 400, INVALID)
    })

    it('a wrong type for the token limit is 400 naming the field', async () => {
      const field = api === 'openai-responses' ? 'max_output_tokens' : 'max_tokens'
      const message = expectApiError(api, await post(provider.url, route, { ...route.good(), [field]: 'sixteen' }), 400, INVALID)
      expect(message).toContain(field)
    })

    it('a non-integer / non-positive token limit is 400 naming the field', async () => {
      const field = api === 'openai-responses' ? 'max_output_tokens' : 'max_tokens'
      expect(expectApiError(api, await post(provider.url, route, { ...route.good(), [field]: 1.5 }), 400, INVALID)).toContain(field)
      expect(expectApiError(api, await post(provider.url, route, { ...route.good(), [field]: 0 }), 400, INVALID)).toContain(field)
    })

    it('a wrong type for model is 400 naming the field', async () => {
      const message = expectApiError(api, await post(provider.url, route, { ...route.good(), model: 42 }), 400, INVALID)
      expect(message).toContain('model')
    })

    it('a wrong type for stream is 400 naming the field', async () => {
      const message = expectApiError(api, await post(provider.url, route, { ...route.good(), stream: 'yes' }), 400, INVALID)
      expect(message).toContain('stream')
    })

    it('a missing prompt field (messages / input) is 400 naming it', async () => {
      const field = api === 'openai-responses' ? 'input' : 'messages'
      const body = route.good()
      delete body[field]
      const message = expectApiError(api, await post(provider.url, route, body), 400, INVALID)
      expect(message).toContain(field)
    })

    it('a missing model is 400 naming it', async () => {
      const body = route.good()
      delete body.model
      expect(expectApiError(api, await post(provider.url, route, body), 400, INVALID)).toContain('model')
    })

    if (api !== 'openai-responses') {
      it('messages of the wrong type (a string, an empty array, an entry without role) are 400 naming messages', async () => {
        for (const messages of ['hello', [], [{ content: 'hi' }]]) {
          const message = expectApiError(api, await post(provider.url, route, { ...route.good(), messages }), 400, INVALID)
          expect(message).toContain('messages')
        }
      })
    }

    it('a declared Content-Length over maxBodyBytes is 413', async () => {
      const body = JSON.stringify({ ...route.good(), padding: 'x'.repeat(MAX_BODY * 2) })
      const answer = await post(provider.url, route, body)
      const message =
        api === 'anthropic'
          ? expectAnthropicError(answer, 413, 'request_too_large')
          : expectOpenAIError(answer, 413, 'invalid_request_error', 'request_too_large')
      expect(message).toContain(String(MAX_BODY))
    })

    it('a chunked body (no Content-Length) over maxBodyBytes is 413', async () => {
      const payload = new TextEncoder().encode(JSON.stringify({ ...route.good(), padding: 'x'.repeat(MAX_BODY * 2) }))
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          // Several chunks, each under the limit, together over it.
          for (let i = 0; i < payload.length; i += 512) controller.enqueue(payload.slice(i, i + 512))
          controller.close()
        },
      })
      const answer = await send(provider.url, route.path, { headers: route.headers, body, duplex: 'half' } as RequestInit)
      const message =
        api === 'anthropic'
          ? expectAnthropicError(answer, 413, 'request_too_large')
          : expectOpenAIError(answer, 413, 'invalid_request_error', 'request_too_large')
      expect(message).toContain(String(MAX_BODY))
    })

    it('a body just under maxBodyBytes is served', async () => {
      const base = JSON.stringify(route.good())
      const body = JSON.stringify({ ...route.good(), padding: 'x'.repeat(MAX_BODY - base.length - 20) })
      expect(body.length).toBeLessThanOrEqual(MAX_BODY)
      expect((await post(provider.url, route, body)).status).toBe(200)
    })

    it('no key header is 401; any key value is accepted', async () => {
      const { 'x-api-key': _k, ...anthropicNoKey } = ANTHROPIC_HEADERS
      const headers: Record<string, string> = api === 'anthropic' ? anthropicNoKey : { 'content-type': 'application/json' }
      const answer = await send(provider.url, route.path, { headers, body: JSON.stringify(route.good()) })
      if (api === 'anthropic') expectAnthropicError(answer, 401, 'authentication_error')
      else expectOpenAIError(answer, 401, 'invalid_request_error', 'invalid_api_key')
      expect((answer.body as { error: { message: string } }).error.message).toMatch(/key/i)

      // Any value of either header is accepted.
      const random = `k-${Math.random().toString(36).slice(2)}`
      const keyHeaders: Record<string, string>[] = [{ 'x-api-key': random }, { authorization: `Bearer ${random}` }]
      for (const keyHeader of keyHeaders) {
        const ok = await send(provider.url, route.path, { headers: { ...headers, ...keyHeader }, body: JSON.stringify(route.good()) })
        expect(ok.status, ok.text).toBe(200)
      }
    })

    it('an invalid override in the marker is 400 naming the key, and nothing is generated', async () => {
      const before = provider.ledger.size
      const cases: [string, string][] = [
        ['[cb:bad-1 outputTokens=abc]', 'outputTokens'],
        ['[cb:bad-2 ttftMs=-5]', 'ttftMs'],
        ['[cb:bad-3 tokensPerEvent=1.5]', 'tokensPerEvent'],
        ['[cb:bad-4 ignoreDisconnect=maybe]', 'ignoreDisconnect'],
        ['[cb:bad-5 fault=explode]', 'fault'],
        ['[cb:bad-6 bogusKey=1]', 'bogusKey'],
      ]
      for (const [marker, key] of cases) {
        const message = expectApiError(api, await post(provider.url, route, route.good(`hi ${marker}`)), 400, INVALID)
        expect(message, marker).toContain(key)
      }
      expect(provider.ledger.size).toBe(before)
      expect(provider.core.active.size).toBe(0)
    })

    it('an invalid override in the x-cancelbench-override header is 400 naming the key', async () => {
      const message = expectApiError(api, await post(provider.url, route, route.good(), { 'x-cancelbench-override': 'outputTokens=5, stopLagMs=soon' }), 400, INVALID)
      expect(message).toContain('stopLagMs')
    })
  })

  it('unknown route: 404 in the Anthropic shape (with request-id header) for an Anthropic caller', async () => {
    const answer = await send(provider.url, '/v1/does-not-exist', { headers: ANTHROPIC_HEADERS, body: '{}' })
    expect(expectAnthropicError(answer, 404, 'not_found_error')).toContain('/v1/does-not-exist')
  })

  it('unknown route: 404 in the OpenAI shape for an OpenAI caller', async () => {
    const answer = await send(provider.url, '/v1/completions', { headers: OPENAI_HEADERS, body: '{}' })
    expect(expectOpenAIError(answer, 404, 'invalid_request_error', null)).toContain('/v1/completions')
  })

  it('a known path with the wrong method is 404, not a generation', async () => {
    const before = provider.ledger.size
    const res = await fetch(`${provider.url}/v1/messages`, { headers: OPENAI_HEADERS, signal: AbortSignal.timeout(5000) })
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ error: { message: expect.stringContaining('GET /v1/messages'), type: 'invalid_request_error', param: null, code: null } })
    expect(provider.ledger.size).toBe(before)
  })

  it('count_tokens: missing messages is 400 naming it; no key is 401', async () => {
    const bad = await send(provider.url, '/v1/messages/count_tokens', { headers: ANTHROPIC_HEADERS, body: JSON.stringify({ model: 'claude-sonnet-4-5' }) })
    expect(expectAnthropicError(bad, 400, 'invalid_request_error')).toContain('messages')
    const noKey = await send(provider.url, '/v1/messages/count_tokens', {
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }] }),
    })
    expectAnthropicError(noKey, 401, 'authentication_error')
  })

  it('without `models` configured, any model name is served (no 404)', async () => {
    for (const api of APIS) {
      const route = ROUTES[api]
      const answer = await post(provider.url, route, { ...route.good(), model: 'no-such-model-anywhere-1' })
      expect(answer.status, answer.text).toBe(200)
    }
  })
})

describe('unknown model with `models` configured', () => {
  let provider: MockProvider
  beforeAll(async () => {
    provider = await createMockProvider({ timing, models: ['claude-sonnet-4-5', 'gpt-4o'] })
  })
  afterAll(async () => {
    await provider?.close()
  })

  it.each(APIS)('%s: an unconfigured model is 404 naming it; a configured one is served', async (api) => {
    const route = ROUTES[api]
    const answer = await post(provider.url, route, { ...route.good(), model: 'gpt-9-imaginary' })
    const message =
      api === 'anthropic'
        ? expectAnthropicError(answer, 404, 'not_found_error')
        : expectOpenAIError(answer, 404, 'invalid_request_error', 'model_not_found')
    expect(message).toContain('gpt-9-imaginary')
    expect((await post(provider.url, route, route.good())).status).toBe(200)
    await expectStillServing(provider.url, 1)
  })

  it('count_tokens: an unconfigured model is 404', async () => {
    const answer = await send(provider.url, '/v1/messages/count_tokens', {
      headers: ANTHROPIC_HEADERS,
      body: JSON.stringify({ model: 'claude-imaginary', messages: [{ role: 'user', content: 'hi' }] }),
    })
    expect(expectAnthropicError(answer, 404, 'not_found_error')).toContain('claude-imaginary')
  })
})

describe('large oversized bodies leave the server (and the keep-alive connection) usable', () => {
  let provider: MockProvider
  beforeAll(async () => {
    provider = await createMockProvider({ timing, maxBodyBytes: MAX_BODY })
  })
  afterAll(async () => {
    await provider?.close()
  })

  // Big enough that the body cannot sit in socket buffers: the server must answer 413 without reading it all,
  // and then either discard the rest or close the connection; never leave it open and silent.
  const BIG = 4 * 1024 * 1024

  it.each([
    ['content-length', 300 * 1024],
    ['chunked', 300 * 1024],
    ['content-length', BIG],
    ['chunked', BIG],
  ] as const)('fetch: a %s body of %i bytes gets 413, then good requests (reusing keep-alive connections) succeed', async (framing, size) => {
    const route = ROUTES.anthropic
    const payload = new Uint8Array(size).fill(0x78)
    const body =
      framing === 'content-length'
        ? payload
        : new ReadableStream<Uint8Array>({
            start(controller) {
              for (let i = 0; i < payload.length; i += 64 * 1024) controller.enqueue(payload.slice(i, i + 64 * 1024))
              controller.close()
            },
          })
    const answer = await send(provider.url, route.path, { headers: route.headers, body, duplex: 'half' } as RequestInit)
    expectAnthropicError(answer, 413, 'request_too_large')
    await expectStillServing(provider.url, 3)
  })

  it.each(['content-length', 'chunked'] as const)(
    '%s: on one raw keep-alive connection, a pipelined good request after a 4 MB oversized one is answered, or the connection is closed',
    async (framing) => {
      const socket = connect(provider.port, '127.0.0.1')
      socket.on('error', () => {})
      await once(socket, 'connect')
      let received = ''
      socket.on('data', (d: Buffer) => (received += d.toString('latin1')))
      // Not events.once: it rejects on 'error', and EPIPE while we are still writing is part of a close.
      const closed = new Promise<'closed'>((resolve) => socket.once('close', () => resolve('closed')))

      const head =
        framing === 'content-length'
          ? `POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: k\r\ncontent-type: application/json\r\ncontent-length: ${BIG}\r\n\r\n`
          : `POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: k\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n${BIG.toString(16)}\r\n`
      const good = JSON.stringify(ROUTES.anthropic.good())
      const goodRequest = `POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: k\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(good)}\r\n\r\n${good}`
      socket.write(head)
      socket.write(Buffer.alloc(BIG, 0x78))
      if (framing === 'chunked') socket.write('\r\n0\r\n\r\n')
      socket.write(goodRequest)

      // Either outcome is acceptable; silence is not.
      const answered = new Promise<'answered'>((resolve) => {
        const check = () => {
          if (/HTTP\/1\.1 200 /.test(received)) {
            socket.off('data', check)
            resolve('answered')
          }
        }
        socket.on('data', check)
      })
      const deadline = new Promise<'silent'>((resolve) => setTimeout(() => resolve('silent'), 5000).unref())
      const outcome = await Promise.race([answered, closed, deadline])
      socket.destroy()
      expect(received).toMatch(/^HTTP\/1\.1 413 /)
      expect(outcome, `after the 413 the connection was neither answered nor closed; got:\n${received.slice(0, 400)}`).not.toBe('silent')
      if (outcome === 'closed' && !/HTTP\/1\.1 200 /.test(received)) {
        // Closing is fine only if the 413 said so.
        expect(received.toLowerCase()).toContain('connection: close')
      }
      await expectStillServing(provider.url, 1)
    },
  )
})

describe('a client that sends half a request and vanishes', () => {
  let core: ProviderCore
  let server: RunningServer
  beforeAll(async () => {
    core = new ProviderCore({ timing, maxBodyBytes: MAX_BODY })
    server = await serveHandlers(createHandlers(core), { fallback: (request) => core.notFound(request) })
  })
  afterAll(async () => {
    core?.close()
    await server?.close()
  })

  /** Resolves when the socket has closed (never rejects: a reset is also a close). */
  function closedOf(socket: Socket): Promise<void> {
    return socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()))
  }

  /** Opens a raw socket, resolves with it and with the server's side of the same connection. */
  async function rawConnection(): Promise<{ socket: Socket; serverSide: Socket }> {
    const serverSide = once(server.server, 'connection').then(([s]) => s as Socket)
    const socket = connect(server.port, '127.0.0.1')
    socket.on('error', () => {})
    await once(socket, 'connect')
    return { socket, serverSide: await serverSide }
  }

  it.each([
    ['Content-Length: 1000 and 10 bytes of body', 'content-length: 1000\r\n\r\n{"model":"', true],
    ['a chunked body cut off mid-chunk', 'transfer-encoding: chunked\r\n\r\n3e8\r\n{"model":"', true],
    ['headers only, cut off before the blank line', 'content-length: 1000\r\n', false],
  ])('%s: the server drops the connection, generates nothing and keeps serving', async (_name, tail, hasBody) => {
    const ledgerBefore = core.ledger.size
    const { socket, serverSide } = await rawConnection()
    const requestSeen = hasBody ? once(server.server, 'request') : undefined
    socket.write(`POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: k\r\nanthropic-version: 2023-06-01\r\ncontent-type: application/json\r\n${tail}`)
    // Vanish only once the server is in the middle of reading the body (when there is a body to read).
    if (requestSeen) await requestSeen
    socket.destroy()
    // The server notices: its side of the connection closes.
    await closedOf(serverSide)
    expect(core.active.size).toBe(0)
    expect(core.ledger.size).toBe(ledgerBefore)
    await expectStillServing(server.url, 1)
  })

  it('many half requests at once do not take the server down', async () => {
    // One at a time, so each client socket is paired with its own server-side socket.
    const sockets: { socket: Socket; serverSide: Socket }[] = []
    for (let i = 0; i < 20; i++) sockets.push(await rawConnection())
    const seen = new Promise<void>((resolve) => {
      let n = 0
      const onRequest = () => {
        if (++n === sockets.length) {
          server.server.off('request', onRequest)
          resolve()
        }
      }
      server.server.on('request', onRequest)
    })
    for (const { socket } of sockets) {
      socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nauthorization: Bearer k\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"model":"')
    }
    await seen
    for (const { socket } of sockets) socket.destroy()
    await Promise.all(sockets.map(({ serverSide }) => closedOf(serverSide)))
    expect(core.active.size).toBe(0)
    await expectStillServing(server.url, 1)
  })
})

describe('bad input in-process (ProviderCore.handle, no sockets)', () => {
  let core: ProviderCore
  beforeAll(() => {
    core = new ProviderCore({ timing, maxBodyBytes: MAX_BODY })
  })
  afterAll(() => core?.close())

  function request(body: BodyInit | null, headers: Record<string, string> = ANTHROPIC_HEADERS): Request {
    return new Request('http://mock.test/v1/messages', { method: 'POST', headers, body, duplex: 'half' } as RequestInit)
  }

  it('a streamed body that never ends is cut off at the limit: 413 without reading it all', async () => {
    let pulled = 0
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 256
        controller.enqueue(new Uint8Array(256).fill(0x20))
      },
    })
    const answer = await readAnswer(await core.handle(request(endless), 'anthropic'))
    expectAnthropicError(answer, 413, 'request_too_large')
    // It stopped reading soon after the limit (the stream may have pulled a little ahead).
    expect(pulled).toBeLessThan(MAX_BODY * 4)
  })

  it('a body that errors part-way (client went away while sending) is a 400, nothing generated', async () => {
    const before = core.ledger.size
    const broken = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"model":"'))
        controller.error(new Error('socket hang up'))
      },
    })
    const answer = await readAnswer(await core.handle(request(broken), 'anthropic'))
    expect(expectAnthropicError(answer, 400, 'invalid_request_error')).toMatch(/ended early/)
    expect(core.ledger.size).toBe(before)
    expect(core.active.size).toBe(0)
  })

  it('malformed JSON / wrong types / missing messages in-process get the same answers as over HTTP', async () => {
    expect(expectAnthropicError(await readAnswer(await core.handle(request('{oops'), 'anthropic')), 400, 'invalid_request_error')).toMatch(/JSON/)
    const wrongType = JSON.stringify({ model: 'm', max_tokens: '10', messages: [{ role: 'user', content: 'hi' }] })
    expect(expectAnthropicError(await readAnswer(await core.handle(request(wrongType), 'anthropic')), 400, 'invalid_request_error')).toContain('max_tokens')
    const noMessages = JSON.stringify({ model: 'm', max_tokens: 10 })
    expect(expectAnthropicError(await readAnswer(await core.handle(request(noMessages), 'anthropic')), 400, 'invalid_request_error')).toContain('messages')
    const chat = new Request('http://mock.test/v1/chat/completions', {
      method: 'POST',
      headers: OPENAI_HEADERS,
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_completion_tokens: -1 }),
    })
    expect(expectOpenAIError(await readAnswer(await core.handle(chat, 'openai-chat')), 400, 'invalid_request_error', null)).toContain('max_completion_tokens')
  })

  it('an oversized chunked body in-process is 413; a good request afterwards is served', async () => {
    const big = new TextEncoder().encode('x'.repeat(MAX_BODY + 1))
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(big.slice(0, 600))
        controller.enqueue(big.slice(600))
        controller.close()
      },
    })
    expectAnthropicError(await readAnswer(await core.handle(request(body), 'anthropic')), 413, 'request_too_large')
    const good = await core.handle(request(JSON.stringify(ROUTES.anthropic.good())), 'anthropic')
    expect(good.status).toBe(200)
    expect(((await good.json()) as { type: string }).type).toBe('message')
  })

  it('no key in-process is 401', async () => {
    const { 'x-api-key': _k, ...noKey } = ANTHROPIC_HEADERS
    expectAnthropicError(await readAnswer(await core.handle(request(JSON.stringify(ROUTES.anthropic.good()), noKey), 'anthropic')), 401, 'authentication_error')
  })
})
