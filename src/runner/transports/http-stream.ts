import { Agent, request as httpRequest, type ClientRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { StreamRecorder } from '../recorder.ts'

export interface HttpStreamRequest {
  url: string
  method: string
  headers: Record<string, string>
  body: string | undefined
}

/**
 * Opens one streaming HTTP request and feeds its body to `onChunk`.
 *
 * Streams planned to be aborted with `abort` go through fetch and an AbortController, as a browser's
 * Stop button does. The others use node:http, which exposes the socket for the TCP-level modes:
 * `rst` resets the connection (RST, what a crashed client or a proxy timeout looks like) and `fin`
 * half-closes it (FIN, a graceful close) and drains what is still in flight, because closing a socket with
 * unread data makes the kernel send RST instead of FIN.
 */
export function runHttpStream(recorder: StreamRecorder, req: HttpStreamRequest, agent: Agent, onChunk: (chunk: Uint8Array) => void): void {
  if (recorder.plannedAbortMode === 'abort') void viaFetch(recorder, req, onChunk)
  else viaNodeHttp(recorder, req, agent, onChunk)
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

function viaNodeHttp(recorder: StreamRecorder, req: HttpStreamRequest, agent: Agent, onChunk: (chunk: Uint8Array) => void): void {
  const url = new URL(req.url)
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest
  const request: ClientRequest = send(url, { method: req.method, headers: req.headers, agent })
  recorder.setAborter((mode) => {
    const socket = request.socket
    if (!socket) return void request.destroy()
    if (mode === 'rst') socket.resetAndDestroy()
    else if (mode === 'fin') {
      socket.end()
      // Keep reading so the close stays a FIN; give up after a while.
      socket.resume()
      setTimeout(() => socket.destroy(), 5_000).unref()
    } else request.destroy()
  })
  recorder.setCloser(() => {
    if (!recorder.isAborted) request.destroy()
  })
  request.on('response', (response) => {
    recorder.onResponse(response.statusCode ?? 0)
    if ((response.statusCode ?? 0) >= 400) {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (text += chunk))
      response.on('end', () => recorder.onError(`HTTP ${response.statusCode}${text ? `: ${text.slice(0, 300)}` : ''}`))
      return
    }
    response.on('data', (chunk: Buffer) => {
      if (recorder.isEnded) return
      recorder.onBytes(chunk.byteLength)
      onChunk(chunk)
    })
    response.on('end', () => recorder.onEof())
    response.on('error', (error) => recorder.onError(describeNetworkError(error)))
  })
  request.on('error', (error) => {
    if (!recorder.isEnded) recorder.onError(describeNetworkError(error))
  })
  request.end(req.body)
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
