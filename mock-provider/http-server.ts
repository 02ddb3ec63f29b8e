import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { getResponse, type RequestHandler } from 'msw'
import { attachFrameSink } from './generation.ts'

export interface ServeOptions {
  port?: number
  /** Loopback by default: a mock provider has no business listening on other interfaces. */
  host?: string
  /** Answer for requests no handler matched. */
  fallback: (request: Request) => Response | Promise<Response>
}

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:8787 */
  url: string
  port: number
  server: Server
  close(): Promise<void>
}

/**
 * Serves msw handlers over real HTTP. Each socket's close, before the response finished, aborts the
 * Request's signal and cancels the Response body: the same two disconnect signals the handlers see
 * in-process under msw, so one code path notices both.
 *
 * Node's `req.on('close')` fires once the request body is read (Node >= 16), not on disconnect;
 * `res.on('close')` with `!res.writableFinished` is the reliable signal.
 */
export async function serveHandlers(handlers: RequestHandler[], options: ServeOptions): Promise<RunningServer> {
  const server = createServer({ requestTimeout: 30_000, keepAliveTimeout: 5_000 }, (req, res) => {
    void respond(handlers, options, req, res)
  })
  // A client that vanishes mid-request must never take the server down.
  server.on('clientError', (_error, socket) => socket.destroy())
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1')
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => Promise.reject(error))])
  const { port } = server.address() as AddressInfo
  const host = options.host ?? '127.0.0.1'
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

async function respond(handlers: RequestHandler[], options: ServeOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const abort = new AbortController()
  const socket = req.socket
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
  // Set when a generation writes its frames straight to the socket (see streamFrames).
  let disconnectDirect: (() => void) | undefined
  const onClose = () => {
    // Once per request: a kept-alive socket carries the next request with listeners of its own.
    socket.off('end', onClose)
    if (res.writableFinished) return
    disconnectDirect?.()
    abort.abort(new Error('client disconnected'))
    reader?.cancel().catch(() => {})
  }
  res.on('close', onClose)
  // A FIN from the client (socket 'end') is seen a loop turn or two before res 'close': Node's server answers
  // it by ending its side, and 'close' waits for that shutdown and the handle to close. Node itself treats
  // the FIN as the end of every request in flight on the socket (abortIncoming), and so does this.
  socket.once('end', onClose)
  try {
    const request = await toRequest(req, abort.signal)
    const response = (await getResponse(handlers, request)) ?? (await options.fallback(request))
    if (abort.signal.aborted) {
      await response.body?.cancel().catch(() => {})
      return
    }
    res.writeHead(response.status, headersOf(response, req))
    if (!response.body) {
      res.end()
      return
    }
    // Send headers now: an SSE client waiting for its first byte during a long TTFT must see the 200.
    res.flushHeaders()
    disconnectDirect = streamFrames(response.body, res)
    // The generation writes and ends the response itself, and onClose stays registered to tell it when the
    // client leaves. Returning now, rather than awaiting the end, is what lets the Request and Response be
    // collected while the stream goes on (see attachFrameSink).
    if (disconnectDirect) return
    reader = response.body.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (!res.write(value)) await drainOrClose(res)
      if (res.destroyed) return
    }
    res.end()
  } catch (error) {
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: `mock provider failure: ${(error as Error).message}` } }))
    } else {
      res.destroy()
    }
  } finally {
    if (!disconnectDirect) {
      res.off('close', onClose)
      socket.off('end', onClose)
    }
    reader?.releaseLock()
  }
}

/** The Response's headers for writeHead. A loop, not a callback: a closure over the Response would keep it alive. */
function headersOf(response: Response, req: IncomingMessage): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {}
  for (const [key, value] of response.headers) headers[key] = key === 'set-cookie' ? response.headers.getSetCookie() : value
  // Answered before the request body was read to its end (e.g. 413): close the connection after this
  // response instead of leaving unread body bytes in front of the next request on it.
  if (!req.complete) headers['connection'] = 'close'
  return headers
}

/**
 * A small body with a declared length is read into memory before the Request is made: a streamed body
 * (Readable.toWeb) costs a web stream and its reader per request, objects that live as long as the
 * response and, at hundreds of new streams a second, make young-generation GC pauses longer. Larger or
 * chunked bodies stay streamed, so a handler can still refuse them (413) without buffering them.
 */
const BUFFERED_BODY_MAX_BYTES = 64 * 1024

async function toRequest(req: IncomingMessage, signal: AbortSignal): Promise<Request> {
  const headers = new Headers()
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!)
  const method = req.method ?? 'GET'
  const url = `http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`
  if (method === 'GET' || method === 'HEAD') return new Request(url, { method, headers, signal })
  const declared = Number(req.headers['content-length'] ?? Number.NaN)
  let body: BodyInit
  if (declared <= BUFFERED_BODY_MAX_BYTES) {
    const bytes = await readSmallBody(req, declared)
    // The client went away mid-body: a body stream that fails, as a streamed one would, so the handler
    // answers "body ended early" (to nobody) through its usual path.
    body = bytes ? new Uint8Array(bytes) : new ReadableStream({ start: (c) => c.error(new Error('request body cut short')) })
  } else {
    body = Readable.toWeb(req) as ReadableStream<Uint8Array>
  }
  // duplex: required by undici for a streamed body, harmless for bytes.
  return new Request(url, { method, headers, signal, body, duplex: 'half' } as RequestInit)
}

/** The whole body, or undefined when the request was cut short before `length` bytes arrived. */
function readSmallBody(req: IncomingMessage, length: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.once('end', () => resolve(Buffer.concat(chunks, length)))
    req.once('error', () => resolve(undefined))
    req.once('close', () => {
      if (!req.complete) resolve(undefined)
    })
  })
}

/**
 * Writes a Generation's frames straight to the response, one write per event, when the body is one
 * (see attachFrameSink), and returns the function to call when the client goes away; undefined otherwise.
 */
function streamFrames(body: ReadableStream<Uint8Array>, res: ServerResponse): (() => void) | undefined {
  // With chunked framing done here, one socket write per event instead of ServerResponse's three
  // buffered writes, cork and nextTick uncork; res.end() still writes the terminating chunk.
  const socket = res.socket
  const ownFraming = res.chunkedEncoding && socket !== null
  return attachFrameSink(body, {
    write: (frames) => {
      if (res.destroyed) return
      if (ownFraming) socket!.write(`${Buffer.byteLength(frames).toString(16)}\r\n${frames}\r\n`)
      else res.write(frames)
    },
    close: () => {
      if (!res.destroyed) res.end()
    },
  })
}

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}
