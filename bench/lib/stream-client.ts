import { Agent, request, type IncomingMessage } from 'node:http'
import { connect } from 'node:net'
import { performance } from 'node:perf_hooks'
import { formatMarker } from '../../mock-provider/correlation.ts'

/** One stream's timing, sent to the provider as marker overrides. */
export interface StreamShape {
  ttftMs: number
  tokensPerSecond: number
  tokensPerEvent: number
  outputTokens: number
}

export type StreamStatus = 'pending' | 'ok' | 'cancelled' | 'error'

/**
 * The connection pool for bench streams: no keep-alive (every stream is its own connection, as a browser
 * tab's request through a target would be, and a destroyed socket is never reused), no socket cap.
 */
export function benchAgent(): Agent {
  return new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY })
}

const DELTA = 'event: content_block_delta\n'
const MESSAGE_DELTA = 'event: message_delta\n'
const MESSAGE_STOP = 'event: message_stop\n'
const ERROR = 'event: error\n'
const OUTPUT_TOKENS = '"output_tokens":'

/**
 * How a stream reaches the provider.
 *  - `net`: HTTP/1.1 written and read by hand on a net.Socket (request text, status line, chunked framing).
 *  - `http`: node:http ClientRequest through a no-keep-alive Agent.
 * Both send the same bytes. `net` is the default because the load generator shares a two-core machine with
 * the provider and a busy client adds its own queueing delay to the jitter it measures: profiled, node:http's
 * per-chunk work (llhttp, IncomingMessage stream, string decoder) was about 40% of the client's JS time per
 * event, and at 50,000 events/s `net` used ~35% of a core where node:http used ~48%.
 */
export type Transport = 'net' | 'http'

type RawPhase = 'head' | 'size' | 'data' | 'crlf' | 'done' | 'error-body'

/**
 * One streaming POST /v1/messages (Anthropic dialect) with a correlation marker, timing every
 * content_block_delta as it arrives.
 *
 * The SSE parser is a hand-written frame split: each frame is found by its blank line and recognised by
 * the first bytes of its `event:` line, and only the one message_delta per stream is parsed further.
 * Every microsecond the load generator spends per event is a microsecond of noise in the jitter it measures.
 */
export class BenchStream {
  readonly correlationId: string
  readonly shape: StreamShape
  /** Destroy the socket once this many deltas have arrived (a user pressing Stop); undefined = read to the end. */
  readonly destroyAfterDeltas: number | undefined
  /** performance.now() of each content_block_delta's arrival, in order. */
  readonly deltaTimes: Float64Array
  deltas = 0
  /** Every SSE frame received (message_start, pings, deltas, stops...). */
  frames = 0
  status: StreamStatus = 'pending'
  error: string | undefined
  startedAt = 0
  /** performance.now() when the response head (status line and headers) had arrived; 0 until then. */
  headAt = 0
  /** Unix ms (performance.timeOrigin + performance.now()) just before the socket was destroyed. */
  destroyedAtUnixMs: number | undefined
  /** usage.output_tokens of the final message_delta. */
  reportedOutputTokens: number | undefined
  sawMessageStop = false
  readonly done: Promise<void>
  private resolveDone!: () => void
  /** Whatever must be destroyed to drop the connection: the ClientRequest or the raw socket. */
  private conn: { destroy(): void } | undefined
  /** Unparsed tail of the SSE body (a frame split across reads). */
  private rest = ''
  // Raw transport state: HTTP response head, then chunked framing.
  private raw = ''
  private phase: RawPhase = 'head'
  private chunkLeft = 0
  private httpStatus = 0

  constructor(correlationId: string, shape: StreamShape, destroyAfterDeltas?: number) {
    this.correlationId = correlationId
    this.shape = shape
    this.destroyAfterDeltas = destroyAfterDeltas
    this.deltaTimes = new Float64Array(Math.ceil(shape.outputTokens / shape.tokensPerEvent))
    this.done = new Promise<void>((resolve) => (this.resolveDone = resolve))
  }

  /** Deltas a complete stream carries. */
  get expectedDeltas(): number {
    return this.deltaTimes.length
  }

  start(target: URL, transport: Transport, agent: Agent): void {
    const { ttftMs, tokensPerSecond, tokensPerEvent, outputTokens } = this.shape
    const marker = formatMarker(this.correlationId, { ttftMs, tokensPerSecond, tokensPerEvent, outputTokens })
    const body = JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: outputTokens + 1024,
      stream: true,
      messages: [{ role: 'user', content: `${marker} Tell me a long story.` }],
    })
    const headers = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'x-api-key': 'bench',
      'anthropic-version': '2023-06-01',
    }
    this.startedAt = performance.now()
    if (transport === 'http') this.startHttp(target, agent, headers, body)
    else this.startNet(target, headers, body)
  }

  /** Drops the stream (deadline or cleanup). Not a measured cancel: no timestamp is taken. */
  abort(reason: string): void {
    if (this.status !== 'pending') return
    this.fail(reason)
    this.conn?.destroy()
  }

  private startHttp(target: URL, agent: Agent, headers: Record<string, string>, body: string): void {
    const req = request({ host: target.hostname, port: target.port, method: 'POST', path: '/v1/messages', agent, headers })
    this.conn = req
    req.on('response', (res) => this.onResponse(res))
    req.on('error', (error) => this.fail(error.message))
    // 'close' comes last whatever happened: response read to the end, socket destroyed, or error.
    req.on('close', () => this.settle())
    req.end(body)
  }

  private onResponse(res: IncomingMessage): void {
    this.headAt = performance.now()
    if (res.statusCode !== 200) {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (text += chunk))
      res.on('end', () => this.fail(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`))
      return
    }
    // latin1: the generated text is ASCII, and latin1 decoding is a plain copy (no UTF-8 validation).
    res.setEncoding('latin1')
    res.on('data', (chunk: string) => this.onBody(chunk, performance.now()))
    res.on('error', (error) => this.fail(error.message))
  }

  private startNet(target: URL, headers: Record<string, string>, body: string): void {
    const socket = connect({ host: target.hostname, port: Number(target.port), noDelay: true })
    this.conn = socket
    // latin1 keeps one character per byte, so chunk sizes (bytes) can be counted in string positions.
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => this.onRaw(chunk, performance.now()))
    socket.on('error', (error) => this.fail(error.message))
    socket.on('close', () => this.settle())
    let head = `POST /v1/messages HTTP/1.1\r\nhost: ${target.host}\r\nconnection: close\r\n`
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`
    // One write before the connection is up: net queues it and sends head and body in one segment.
    socket.write(`${head}\r\n${body}`)
  }

  /** Raw transport: HTTP/1.1 response head, then chunked transfer coding, feeding the body to onBody. */
  private onRaw(chunk: string, now: number): void {
    const buf = this.raw === '' ? chunk : this.raw + chunk
    let pos = 0
    let body = ''
    for (;;) {
      if (this.phase === 'data') {
        const take = Math.min(this.chunkLeft, buf.length - pos)
        body += buf.slice(pos, pos + take)
        pos += take
        this.chunkLeft -= take
        if (this.chunkLeft > 0) break
        this.phase = 'crlf'
      } else if (this.phase === 'size') {
        const eol = buf.indexOf('\r\n', pos)
        if (eol < 0) break
        this.chunkLeft = Number.parseInt(buf.slice(pos, eol), 16)
        pos = eol + 2
        // The last chunk: the response is complete and the server closes (we asked for connection: close).
        this.phase = this.chunkLeft > 0 ? 'data' : 'done'
      } else if (this.phase === 'crlf') {
        if (buf.length - pos < 2) break
        pos += 2
        this.phase = 'size'
      } else if (this.phase === 'head') {
        const end = buf.indexOf('\r\n\r\n', pos)
        if (end < 0) break
        this.headAt = now
        this.httpStatus = Number(buf.slice(pos + 9, pos + 12))
        const chunked = /\r\ntransfer-encoding:\s*chunked/i.test(buf.slice(pos, end))
        pos = end + 4
        this.phase = this.httpStatus === 200 && chunked ? 'size' : 'error-body'
      } else {
        // 'done' or 'error-body': keep an error body for the message; nothing else is expected.
        if (this.phase === 'error-body') body += buf.slice(pos)
        pos = buf.length
        break
      }
    }
    this.raw = pos < buf.length ? buf.slice(pos) : ''
    if (this.phase === 'error-body') {
      this.rest += body
      this.fail(`HTTP ${this.httpStatus}: ${this.rest.slice(0, 200)}`)
      return
    }
    if (body !== '') this.onBody(body, now)
  }

  /** SSE body bytes, however they were framed on the wire. */
  private onBody(chunk: string, now: number): void {
    const buf = this.rest === '' ? chunk : this.rest + chunk
    let start = 0
    for (;;) {
      const end = buf.indexOf('\n\n', start)
      if (end < 0) break
      this.frames++
      if (buf.startsWith(DELTA, start)) {
        if (this.deltas < this.deltaTimes.length) this.deltaTimes[this.deltas] = now
        this.deltas++
      } else if (buf.startsWith(MESSAGE_DELTA, start)) {
        const at = buf.indexOf(OUTPUT_TOKENS, start)
        if (at >= 0 && at < end) this.reportedOutputTokens = Number.parseInt(buf.slice(at + OUTPUT_TOKENS.length, end), 10)
      } else if (buf.startsWith(MESSAGE_STOP, start)) {
        this.sawMessageStop = true
      } else if (buf.startsWith(ERROR, start)) {
        this.fail(`error event: ${buf.slice(start, end)}`)
      }
      start = end + 2
    }
    this.rest = start < buf.length ? buf.slice(start) : ''
    if (this.destroyAfterDeltas !== undefined && this.deltas >= this.destroyAfterDeltas && this.status === 'pending') {
      this.status = 'cancelled'
      // Taken immediately before destroy(): net.Socket#destroy closes the fd synchronously, which is
      // when the kernel sends the FIN/RST the provider will see.
      this.destroyedAtUnixMs = performance.timeOrigin + performance.now()
      this.conn?.destroy()
    }
  }

  private fail(message: string): void {
    if (this.status !== 'pending') return
    this.status = 'error'
    this.error = message
  }

  private settle(): void {
    if (this.status === 'pending') {
      const complete = this.sawMessageStop && this.deltas === this.expectedDeltas && this.reportedOutputTokens === this.shape.outputTokens
      if (complete) this.status = 'ok'
      else this.fail(`stream ended early: ${this.deltas}/${this.expectedDeltas} deltas, message_stop ${this.sawMessageStop ? 'seen' : 'missing'}, output_tokens ${this.reportedOutputTokens}`)
    }
    this.conn = undefined
    this.resolveDone()
  }
}

/** JSON GET on the provider's control routes, with a time limit. Times are taken around the whole exchange. */
export function getJson<T>(target: URL, path: string, agent: Agent, timeoutMs = 10_000): Promise<{ body: T; sentAtUnixMs: number; receivedAtUnixMs: number }> {
  return new Promise((resolve, reject) => {
    const sentAtUnixMs = performance.timeOrigin + performance.now()
    const req = request({ host: target.hostname, port: target.port, path, method: 'GET', agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const receivedAtUnixMs = performance.timeOrigin + performance.now()
        const text = Buffer.concat(chunks).toString('utf8')
        if (res.statusCode !== 200) return reject(new Error(`GET ${path}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`))
        try {
          resolve({ body: JSON.parse(text) as T, sentAtUnixMs, receivedAtUnixMs })
        } catch (error) {
          reject(new Error(`GET ${path}: invalid JSON: ${(error as Error).message}`))
        }
      })
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out after ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end()
  })
}

/** POST with an empty body, for /_cancelbench/reset. */
export function post(target: URL, path: string, agent: Agent, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, path, method: 'POST', agent, timeout: timeoutMs, headers: { 'content-length': 0 } }, (res) => {
      res.resume()
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`POST ${path}: HTTP ${res.statusCode}`))))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`POST ${path} timed out after ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end()
  })
}
