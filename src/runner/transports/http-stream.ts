import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { Client, type Dispatcher } from 'undici'
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
 * Opens one streaming HTTP request and feeds its body to `onChunk`.
 *
 * Streams planned to be aborted with `abort` go through fetch and an AbortController, as a browser's
 * Stop button does. The others use an undici Client of their own whose socket this code opens, for the
 * TCP-level modes: `rst` resets the connection (RST, what a crashed client or a proxy timeout looks like)
 * and `fin` half-closes it (FIN, a graceful close) and drains what is still in flight, because closing a
 * socket with unread data makes the kernel send RST instead of FIN.
 *
 * Why undici's dispatch API and not node:http: the runner timestamps every token, and node:http's
 * per-chunk path (IncomingMessage stream, 'data' events) was the largest part of its CPU per token in a
 * profile. Dispatch hands each body chunk straight to a callback; measured in bench/runner.ts, about 10%
 * less CPU per token (11.3-12.1 µs against 12.7-14.0 µs at 2,000 streams). Each stream still has its own
 * connection (no keep-alive), as each browser tab's request would.
 */
export function runHttpStream(recorder: StreamRecorder, req: HttpStreamRequest, connections: OpenConnections, onChunk: (chunk: Uint8Array) => void): void {
  if (recorder.plannedAbortMode === 'abort') void viaFetch(recorder, req, onChunk)
  else viaDispatch(recorder, req, connections, onChunk)
}

async function viaFetch(recorder: StreamRecorder, req: HttpStreamRequest, onChunk: (chunk: Uint8Array) => void): Promise<void> {
  const controller = new AbortController()
  recorder.setAborter(() => controller.abort())
  recorder.setCloser(() => controller.abort())
  try {
    const response = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, signal: controller.signal })
    recorder.onResponse(response.status)
    if (!response.ok || !response.body) {
      const text = await response.text().catch(() => '')
      recorder.onError(`HTTP ${response.status}${text ? `: ${text.slice(0, 300)}` : ''}`)
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

function viaDispatch(recorder: StreamRecorder, req: HttpStreamRequest, connections: OpenConnections, onChunk: (chunk: Uint8Array) => void): void {
  const url = new URL(req.url)
  let socket: Socket | undefined
  const client = new Client(url.origin, {
    // The runner has its own time limits (streamTimeoutMs, the run's cap); undici's must not cut a stream first.
    headersTimeout: 0,
    bodyTimeout: 0,
    // The socket is opened here so that the abort modes can reach it.
    connect: (options, callback) => {
      const tls = url.protocol === 'https:'
      const port = Number(options.port) || (tls ? 443 : 80)
      const s = tls ? tlsConnect({ host: options.hostname, port, servername: options.servername ?? options.hostname }) : netConnect({ host: options.hostname, port })
      socket = s
      s.setNoDelay(true)
      s.once(tls ? 'secureConnect' : 'connect', () => callback(null, s))
      s.once('error', (error) => callback(error, null))
    },
  })
  connections.add(client)
  const release = () => {
    connections.delete(client)
    void client.destroy().catch(() => {})
  }
  recorder.setAborter((mode) => {
    if (!socket) return release()
    if (mode === 'rst') socket.resetAndDestroy()
    else if (mode === 'fin') {
      socket.end()
      // undici keeps reading, so the close stays a FIN; give up after a while.
      setTimeout(release, FIN_DRAIN_MS).unref()
      return
    }
    release()
  })
  recorder.setCloser(() => {
    if (!recorder.isAborted) release()
  })
  let status = 0
  let errorBody: string | undefined
  const handler: Dispatcher.DispatchHandler = {
    // Required by undici's dispatch validation, even when there is nothing to do.
    onRequestStart() {},
    onResponseStart(_controller, statusCode) {
      status = statusCode
      recorder.onResponse(statusCode)
      if (statusCode >= 400) errorBody = ''
    },
    onResponseData(_controller, chunk) {
      if (errorBody !== undefined) {
        if (errorBody.length < 300) errorBody += chunk.toString('utf8')
        return
      }
      if (recorder.isEnded) return
      recorder.onBytes(chunk.byteLength)
      onChunk(chunk)
    },
    onResponseEnd() {
      if (errorBody !== undefined) recorder.onError(`HTTP ${status}${errorBody ? `: ${errorBody.slice(0, 300)}` : ''}`)
      else recorder.onEof()
      release()
    },
    onResponseError(_controller, error) {
      if (!recorder.isEnded) recorder.onError(describeNetworkError(error))
      if (!recorder.isAborted) release()
    },
  }
  client.dispatch({ path: url.pathname + url.search, method: req.method as Dispatcher.HttpMethod, headers: req.headers, body: req.body ?? null, reset: true }, handler)
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
