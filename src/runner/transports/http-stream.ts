import { HTTPParser } from 'http-parser-js'
import { isIP, connect as netConnect } from 'node:net'
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls'
import type { StreamRecorder } from '../recorder.ts'

export interface HttpStreamRequest {
  url: string
  method: string
  headers: Record<string, string>
  body: string | undefined
}

/** Connections still open, destroyed when the run ends (a FIN-aborted stream may still be draining). */
export type OpenConnections = Set<{ destroy(): unknown }>

/**
 * Opens one streaming HTTP request and feeds its body to `onChunk`. A chunk may be a view of a read buffer
 * shared by every stream: it is valid only during the call, so decode or copy it there, never keep it.
 *
 * Streams planned to be aborted with `abort` go through fetch and an AbortController, as a browser's
 * Stop button does. The others get a socket of their own, for the TCP-level modes: `rst` resets the
 * connection (RST, what a crashed client or a proxy timeout looks like) and `fin` half-closes it (FIN, a
 * graceful close) and drains what is still in flight, because closing a socket with unread data makes the
 * kernel send RST instead of FIN. Each stream has its own connection (no keep-alive), as each browser
 * tab's request would.
 *
 * Why a plain socket and http-parser-js rather than undici or node:http: the runner timestamps every token,
 * and at thousands of streams what spoils a timestamp is a garbage-collection pause, whose frequency is
 * set by what is allocated per token. With undici, each socket read allocated a new ArrayBuffer (which the
 * young-generation GC then had to sweep, about 0.4 ms of every pause) and went through a Readable stream
 * (a nextTick and a buffer-list entry per read). Here the socket reads into one shared buffer (`onread`)
 * and the response is parsed in place. Measured in bench/runner.ts at 2,000 streams: less than half the
 * bytes allocated (135 MB against 295 MB per level), 19 young-generation pauses in the steady window
 * instead of 43, each about 1 ms instead of 1.3-1.7, CPU per token 8.7-10 µs instead of 11.3-12.2, and
 * (with neither process pinned to a CPU) a runner timing error p99 of 0.4-0.96 ms instead of 1.02-1.49.
 */
export function runHttpStream(recorder: StreamRecorder, req: HttpStreamRequest, connections: OpenConnections, onChunk: (chunk: Uint8Array) => void): void {
  if (recorder.plannedAbortMode === 'abort') void viaFetch(recorder, req, onChunk)
  else viaSocket(recorder, req, connections, onChunk)
}

async function viaFetch(recorder: StreamRecorder, req: HttpStreamRequest, onChunk: (chunk: Uint8Array) => void): Promise<void> {
  const controller = new AbortController()
  recorder.setAborter(() => controller.abort())
  recorder.setCloser(() => controller.abort())
  try {
    const response = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, signal: controller.signal })
    recorder.onResponse(response.status)
    if (!response.ok || !response.body) {
      recorder.onError(httpError(response.status, await response.text().catch(() => '')))
      return
    }
    for await (const chunk of response.body) {
      recorder.onBytes(chunk.byteLength)
      onChunk(chunk)
      if (recorder.isEnded) return
    }
    recorder.onEof()
  } catch (error) {
    if (!recorder.isEnded) recorder.onError(describeNetworkError(error))
  }
}

/** How long a FIN-aborted stream may keep draining before its socket is destroyed. */
const FIN_DRAIN_MS = 5_000

/**
 * One read buffer for every stream. With `onread`, the socket reads into it and calls back at once; each
 * callback has turned the bytes into strings (or counted them) before it returns, so the next read, on
 * whichever socket, may overwrite them. No per-read ArrayBuffer means none for the GC to sweep.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024)

function viaSocket(recorder: StreamRecorder, req: HttpStreamRequest, connections: OpenConnections, onChunk: (chunk: Uint8Array) => void): void {
  const url = new URL(req.url)
  const head = requestHead(url, req)
  const tls = url.protocol === 'https:'
  const port = Number(url.port) || (tls ? 443 : 80)
  const parser = new HTTPParser(HTTPParser.RESPONSE)
  let status = 0
  let errorBody: string | undefined
  let complete = false
  parser[HTTPParser.kOnHeadersComplete] = (info) => {
    // 1xx (100 Continue, 103 Early Hints) come before the real response.
    if (info.statusCode < 200) return
    status = info.statusCode
    recorder.onResponse(status)
    // Anything but 2xx fails the stream (a redirect is not followed), as `response.ok` decides in viaFetch.
    if (status >= 300) errorBody = ''
  }
  parser[HTTPParser.kOnBody] = (chunk) => {
    if (errorBody !== undefined) {
      if (errorBody.length < ERROR_BODY_CHARS) errorBody += chunk.toString('utf8')
      return
    }
    if (recorder.isEnded) return
    recorder.onBytes(chunk.byteLength)
    onChunk(chunk)
  }
  parser[HTTPParser.kOnMessageComplete] = () => {
    if (status === 0) return
    complete = true
    if (errorBody !== undefined) recorder.onError(httpError(status, errorBody))
    else recorder.onEof()
    release()
  }
  const fail = (message: string) => {
    if (!recorder.isEnded) recorder.onError(message)
    release()
  }
  const onread = {
    buffer: READ_BUFFER,
    callback: (bytes: number, buffer: Uint8Array) => {
      if (complete) return true
      let result: number | Error
      try {
        result = parser.execute(buffer as Buffer, 0, bytes)
      } catch (error) {
        // The parser passes through what our own callbacks throw: a bug here ends this stream, not the run.
        fail(`runner error while reading the response: ${(error as Error).message}`)
        return true
      }
      if (result instanceof Error) fail(`invalid HTTP response from the target: ${result.message}`)
      return true
    },
  }
  // "[::1]" in a URL is the address ::1; a server name (SNI) may not be an address at all (RFC 6066).
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  const socket = tls
    ? // tls.connect takes `onread` too (Node docs), though @types/node does not list it.
      tlsConnect({ host, port, servername: isIP(host) ? undefined : host, onread } as ConnectionOptions)
    : netConnect({ host, port, onread })
  socket.setNoDelay(true)
  connections.add(socket)
  const release = () => {
    connections.delete(socket)
    socket.destroy()
  }
  socket.on('error', (error) => {
    if (!recorder.isEnded) recorder.onError(describeNetworkError(error))
  })
  // A body that runs until the connection closes is complete at the target's FIN; any other unfinished
  // body was cut off, which 'close' (always after 'end') reports.
  socket.on('end', () => {
    if (!complete && !recorder.isEnded) parser.finish()
  })
  socket.on('close', () => {
    connections.delete(socket)
    if (!complete && !recorder.isEnded) recorder.onError(status === 0 ? 'connection closed by the target before it answered' : 'connection closed by the target in the middle of the response')
  })
  recorder.setAborter((mode) => {
    if (mode === 'rst') socket.resetAndDestroy()
    else if (mode === 'fin') {
      // Half-close and keep reading, so the close stays a FIN (closing a socket with unread data sends RST).
      socket.end()
      setTimeout(release, FIN_DRAIN_MS).unref()
    } else release()
  })
  recorder.setCloser(() => {
    if (!recorder.isAborted) release()
  })
  socket.write(req.body === undefined ? head : head + req.body)
}

/** Headers this client sets itself: one request per connection, and the length of the body it sends. */
const OWN_HEADERS = new Set(['connection', 'content-length', 'transfer-encoding', 'keep-alive'])

/**
 * The HTTP/1.1 request line and headers; the body, if any, follows as is. The scenario schema has already
 * checked that names are tokens and values have no line breaks, so they are written unchanged.
 */
function requestHead(url: URL, req: HttpStreamRequest): string {
  let host = url.host
  let lines = ''
  for (const [name, value] of Object.entries(req.headers)) {
    const lower = name.toLowerCase()
    if (lower === 'host') host = value
    else if (!OWN_HEADERS.has(lower)) lines += `${name}: ${value}\r\n`
  }
  const length = req.body === undefined ? '' : `content-length: ${Buffer.byteLength(req.body)}\r\n`
  return `${req.method} ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n${lines}${length}\r\n`
}

/** How much of an error response's body a stream error quotes. */
const ERROR_BODY_CHARS = 300

/** "HTTP 503: upstream is down", the stream error for a response that is not a success. */
function httpError(status: number, body: string): string {
  return `HTTP ${status}${body ? `: ${body.slice(0, ERROR_BODY_CHARS)}` : ''}`
}

/** "connection reset by the target" reads better than ECONNRESET. */
export function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string } })?.cause
  const code = (error as NodeJS.ErrnoException)?.code ?? cause?.code
  switch (code) {
    case 'ECONNRESET':
      return 'connection reset by the target'
    case 'ECONNREFUSED':
      return 'connection refused: is the target running and listening on that port?'
    case 'UND_ERR_SOCKET':
      return 'connection closed by the target'
    default:
      return (error as Error)?.message ?? String(error)
  }
}
