import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer as createTlsServer } from 'node:tls'
import { afterEach, describe, expect, it } from 'vitest'
import type { StreamPlan } from '../../src/runner/plan.ts'
import { StreamRecorder } from '../../src/runner/recorder.ts'
import { runHttpStream, type OpenConnections } from '../../src/runner/transports/http-stream.ts'

/*
 * The runner's HTTP client against raw TCP servers, so that every byte the target sends, and when it closes
 * or resets, is under the test's control: framings, errors, cut-off responses, and what each abort mode
 * does on the wire.
 */

interface Exchange {
  /** Everything the client sent. */
  request: Promise<string>
  /** How the client's side of the connection ended, as the server saw it. */
  clientClosed: Promise<'fin' | 'reset'>
}

const servers: Server[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve))
})

/** A TCP (or TLS) server whose connections are handed to `respond` once the request head and body arrived. */
async function serve(respond: (socket: Socket, request: string) => void, options: { allowHalfOpen?: boolean; tls?: { key: Buffer; cert: Buffer } } = {}): Promise<{ url: string; exchanges: Exchange[] }> {
  const server: Server = options.tls ? createTlsServer({ ...options.tls, allowHalfOpen: options.allowHalfOpen }) : createServer({ allowHalfOpen: options.allowHalfOpen })
  servers.push(server)
  const exchanges: Exchange[] = []
  server.on(options.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    let received = ''
    let answered = false
    let resolveRequest!: (s: string) => void
    let resolveClosed!: (how: 'fin' | 'reset') => void
    exchanges.push({
      request: new Promise((resolve) => (resolveRequest = resolve)),
      clientClosed: new Promise((resolve) => (resolveClosed = resolve)),
    })
    socket.on('data', (data) => {
      received += data.toString('latin1')
      const end = received.indexOf('\r\n\r\n')
      if (answered || end < 0) return
      const length = Number(/content-length: (\d+)/i.exec(received.slice(0, end))?.[1] ?? 0)
      if (received.length < end + 4 + length) return
      answered = true
      resolveRequest(received)
      respond(socket, received)
    })
    socket.on('end', () => resolveClosed('fin'))
    socket.on('error', (error: NodeJS.ErrnoException) => resolveClosed(error.code === 'ECONNRESET' ? 'reset' : 'fin'))
    socket.on('close', () => resolveClosed('fin'))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, exchanges }
}

function plan(abort: StreamPlan['abort']): StreamPlan {
  return { index: 0, id: 't1-0', prompt: 'hi', sendAtMs: null, abort, script: { ttftMs: 0, tokensPerSecond: 100, tokensPerEvent: 1, outputTokens: 10 } }
}

/** Runs one stream against `url` and collects its body as text (decoded while the chunk is valid). */
function stream(url: string, options: { abort?: StreamPlan['abort']; body?: string; headers?: Record<string, string>; method?: string; idleTimeoutMs?: number; onText?: (text: string) => void } = {}) {
  const recorder = new StreamRecorder({
    stream: plan(options.abort ?? null),
    baseUrl: url,
    now: () => performance.now(),
    runSignal: new AbortController().signal,
    idleTimeoutMs: options.idleTimeoutMs ?? 5_000,
    graceMs: 500,
  })
  const connections: OpenConnections = new Set()
  const decoder = new TextDecoder()
  let text = ''
  runHttpStream(
    recorder,
    { url: `${url}/chat?x=1`, method: options.method ?? 'POST', headers: options.headers ?? { 'content-type': 'application/json' }, body: options.body ?? (options.method === 'GET' ? undefined : '{"prompt":"héllo"}') },
    connections,
    (chunk) => {
      const piece = decoder.decode(chunk, { stream: true })
      text += piece
      options.onText?.(piece)
      // One token per chunk, so that abort points in tokens can be exercised.
      recorder.onToken()
    },
  )
  return { recorder, connections, text: () => text }
}

const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`
const CHUNKED_HEAD = 'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n'

describe('runner HTTP client: the request', () => {
  it('sends one request per connection, with host, content-length in bytes, the scenario headers and the body', async () => {
    const { url, exchanges } = await serve((socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'))
    const { recorder } = stream(url, { headers: { 'content-type': 'application/json', 'x-api-key': 'k', Connection: 'keep-alive', 'Content-Length': '1' } })
    const sample = await recorder.done
    const request = await exchanges[0]!.request
    const [head, body] = request.split('\r\n\r\n')
    const lines = head!.split('\r\n')
    expect(lines[0]).toBe('POST /chat?x=1 HTTP/1.1')
    expect(lines).toContain(`host: ${new URL(url).host}`)
    expect(lines).toContain('connection: close')
    expect(lines).toContain('x-api-key: k')
    expect(lines).toContain(`content-length: ${Buffer.byteLength('{"prompt":"héllo"}')}`)
    // The client's own framing wins over a scenario's Connection / Content-Length.
    expect(lines.filter((l) => /^(connection|content-length):/i.test(l))).toHaveLength(2)
    expect(Buffer.from(body!, 'latin1').toString('utf8')).toBe('{"prompt":"héllo"}')
    expect(sample).toMatchObject({ end: 'eof', httpStatus: 200, bytes: 2, error: null })
  })

  it('GET has no body and no content-length; a scenario Host header replaces the URL host', async () => {
    const { url, exchanges } = await serve((socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'))
    const { recorder } = stream(url, { method: 'GET', headers: { host: 'chat.example' } })
    await recorder.done
    const request = await exchanges[0]!.request
    expect(request.startsWith('GET /chat?x=1 HTTP/1.1\r\n')).toBe(true)
    expect(request).toContain('host: chat.example\r\n')
    expect(request).not.toMatch(/content-length/i)
    expect(request.endsWith('\r\n\r\n')).toBe(true)
  })
})

describe('runner HTTP client: response framings', () => {
  it('chunked: every chunk reaches the transport, split reads included; the last chunk ends the stream', async () => {
    const events = Array.from({ length: 5 }, (_, i) => `event: token\ndata: {"i":${i},"t":"ü${i}"}\n\n`)
    const wire = CHUNKED_HEAD + events.map(chunk).join('') + '0\r\n\r\n'
    // One byte per write, with pauses: lines, sizes and UTF-8 sequences all arrive cut in pieces.
    const { url } = await serve(async (socket) => {
      socket.setNoDelay(true)
      const bytes = Buffer.from(wire)
      for (let i = 0; i < bytes.length; i++) {
        socket.write(bytes.subarray(i, i + 1))
        if (i % 40 === 0) await new Promise((resolve) => setTimeout(resolve, 1))
      }
      // The connection stays open: the terminal chunk alone must end the stream.
    })
    const { recorder, text } = stream(url)
    const sample = await recorder.done
    expect(sample).toMatchObject({ end: 'eof', httpStatus: 200, error: null })
    expect(text()).toBe(events.join(''))
    expect(sample.bytes).toBe(Buffer.byteLength(events.join('')))
  })

  it('content-length: the stream ends after that many bytes, even if the connection stays open', async () => {
    const { url } = await serve((socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nhello world'))
    const { recorder, text } = stream(url)
    expect(await recorder.done).toMatchObject({ end: 'eof', error: null, bytes: 11 })
    expect(text()).toBe('hello world')
  })

  it('neither: the body runs until the target closes the connection', async () => {
    const { url } = await serve((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nfirst ')
      setTimeout(() => socket.end('second'), 20)
    })
    const { recorder, text } = stream(url)
    expect(await recorder.done).toMatchObject({ end: 'eof', error: null })
    expect(text()).toBe('first second')
  })

  it('a 100 Continue before the answer is skipped', async () => {
    const { url } = await serve((socket) => socket.end('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'))
    const { recorder, text } = stream(url)
    expect(await recorder.done).toMatchObject({ end: 'eof', httpStatus: 200 })
    expect(text()).toBe('ok')
  })

  it('two streams read through the shared buffer at once keep their own bytes', async () => {
    const body = (c: string) => Array.from({ length: 50 }, (_, i) => `${c}${i};`).join('')
    const { url } = await serve(async (socket, request) => {
      const mine = body(request.includes('"a"') ? 'a' : 'b')
      socket.write(CHUNKED_HEAD)
      for (let i = 0; i < mine.length; i += 7) {
        socket.write(chunk(mine.slice(i, i + 7)))
        await new Promise((resolve) => setImmediate(resolve))
      }
      socket.end('0\r\n\r\n')
    })
    const a = stream(url, { body: '{"who":"a"}' })
    const b = stream(url, { body: '{"who":"b"}' })
    await Promise.all([a.recorder.done, b.recorder.done])
    expect(a.text()).toBe(body('a'))
    expect(b.text()).toBe(body('b'))
  })
})

describe('runner HTTP client: failures are stream errors with a reason', () => {
  it('an HTTP error status: "HTTP 503" and the start of the body', async () => {
    const { url } = await serve((socket) => socket.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 17\r\n\r\nupstream is down!'))
    const { recorder } = stream(url)
    expect(await recorder.done).toMatchObject({ end: 'error', httpStatus: 503, error: 'HTTP 503: upstream is down!', tokenTimesMs: [] })
  })

  it('a 3xx is a stream error ("HTTP 302"): this client does not follow redirects', async () => {
    const { url } = await serve((socket) => socket.end('HTTP/1.1 302 Found\r\nlocation: /elsewhere\r\ncontent-length: 0\r\n\r\n'))
    const { recorder } = stream(url)
    expect(await recorder.done).toMatchObject({ end: 'error', httpStatus: 302, error: 'HTTP 302' })
  })

  it('the target closes in the middle of a chunked body', async () => {
    const { url } = await serve((socket) => socket.end(CHUNKED_HEAD + chunk('event: token\ndata: 1\n\n')))
    const { recorder } = stream(url)
    expect(await recorder.done).toMatchObject({ end: 'error', error: 'connection closed by the target in the middle of the response' })
  })

  it('the target closes without answering', async () => {
    const { url } = await serve((socket) => socket.end())
    const { recorder } = stream(url)
    expect(await recorder.done).toMatchObject({ end: 'error', httpStatus: null, error: 'connection closed by the target before it answered' })
  })

  it('the target resets the connection', async () => {
    const { url } = await serve((socket) => {
      socket.write(CHUNKED_HEAD + chunk('x'))
      setTimeout(() => socket.resetAndDestroy(), 20)
    })
    const { recorder } = stream(url)
    expect(await recorder.done).toMatchObject({ end: 'error', error: 'connection reset by the target' })
  })

  it('something that is not HTTP', async () => {
    const { url } = await serve((socket) => socket.end('SSH-2.0-OpenSSH_9.6\r\n'))
    const { recorder } = stream(url)
    const sample = await recorder.done
    expect(sample.end).toBe('error')
    expect(sample.error).toMatch(/^invalid HTTP response from the target: /)
  })

  it('a transport callback that throws ends that stream with the reason, not the process', async () => {
    const { url } = await serve((socket) => socket.end(CHUNKED_HEAD + chunk('event: token\ndata: 1\n\n') + '0\r\n\r\n'))
    const { recorder } = stream(url, {
      onText: () => {
        throw new Error('parser state corrupt')
      },
    })
    expect(await recorder.done).toMatchObject({ end: 'error', error: 'runner error while reading the response: parser state corrupt' })
  })

  it('nothing listening: connection refused, with a hint', async () => {
    const { url } = await serve(() => {})
    await new Promise((resolve) => servers.pop()!.close(resolve))
    const { recorder } = stream(url)
    expect(await recorder.done).toMatchObject({ end: 'error', error: 'connection refused: is the target running and listening on that port?' })
  })

  it('a target that goes silent: the idle timeout ends the stream', async () => {
    const { url } = await serve((socket) => socket.write(CHUNKED_HEAD + chunk('x')))
    const { recorder, connections } = stream(url, { idleTimeoutMs: 200 })
    const sample = await recorder.done
    expect(sample).toMatchObject({ end: 'error', error: 'timeout: no data for 200 ms' })
    // Ending the stream released its connection.
    expect(connections.size).toBe(0)
  })
})

describe('runner HTTP client: abort modes on the wire', () => {
  /** A target that streams a chunk every 10 ms until the client goes. */
  async function endless() {
    // Half-open allowed: after the client's FIN the target may go on sending, as a leaky one does.
    return serve(
      (socket) => {
      socket.write(CHUNKED_HEAD)
      const timer = setInterval(() => socket.writable && socket.write(chunk('event: token\ndata: x\n\n')), 10)
      socket.on('close', () => clearInterval(timer))
      socket.on('error', () => clearInterval(timer))
      },
      { allowHalfOpen: true },
    )
  }

  it('rst: the target sees a reset', async () => {
    const { url, exchanges } = await endless()
    const { recorder } = stream(url, { abort: { at: { kind: 'tokens', tokens: 3 }, mode: 'rst' } })
    expect(await recorder.done).toMatchObject({ end: 'aborted', abortMode: 'rst' })
    expect(recorder.sample.tokenTimesMs).toHaveLength(3)
    expect(await exchanges[0]!.clientClosed).toBe('reset')
  })

  it('fin: the target sees a graceful close (no reset) while it is still sending', async () => {
    const { url, exchanges } = await endless()
    const { recorder, connections } = stream(url, { abort: { at: { kind: 'tokens', tokens: 3 }, mode: 'fin' } })
    expect(await recorder.done).toMatchObject({ end: 'aborted', abortMode: 'fin' })
    expect(await exchanges[0]!.clientClosed).toBe('fin')
    // The half-closed socket keeps draining what the target still sends: it is still open, and counted.
    expect(connections.size).toBe(1)
    for (const connection of connections) connection.destroy()
  })

  it('abort (fetch): the stream ends and the target sees the connection go', async () => {
    const { url, exchanges } = await endless()
    const { recorder } = stream(url, { abort: { at: { kind: 'tokens', tokens: 3 }, mode: 'abort' } })
    expect(await recorder.done).toMatchObject({ end: 'aborted', abortMode: 'abort' })
    expect(['fin', 'reset']).toContain(await exchanges[0]!.clientClosed)
  })
})

describe('runner HTTP client: https', () => {
  let dir: string | undefined
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true })
    dir = undefined
  })

  it('streams over TLS; an untrusted certificate is a stream error that says so', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cb-tls-'))
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
    const key = readFileSync(join(dir, 'key.pem'))
    const cert = readFileSync(join(dir, 'cert.pem'))
    const { url } = await serve((socket) => socket.end(CHUNKED_HEAD + chunk('event: token\ndata: over tls\n\n') + '0\r\n\r\n'), { tls: { key, cert } })
    const httpsUrl = url.replace('http:', 'https:')

    const untrusted = stream(httpsUrl)
    const refused = await untrusted.recorder.done
    expect(refused.end).toBe('error')
    expect(refused.error).toMatch(/self[- ]signed certificate/)

    // Trusted for this one connection, as NODE_TLS_REJECT_UNAUTHORIZED=0 would for a staging target.
    const previous = process.env.NODE_TLS_REJECT_UNAUTHORIZED
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'
    process.removeAllListeners('warning')
    try {
      const trusted = stream(httpsUrl)
      expect(await trusted.recorder.done).toMatchObject({ end: 'eof', httpStatus: 200, error: null })
      expect(trusted.text()).toBe('event: token\ndata: over tls\n\n')
    } finally {
      if (previous === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = previous
    }
  })
})
