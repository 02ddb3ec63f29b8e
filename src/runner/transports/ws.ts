import WebSocket from 'ws'
import type { Transport } from '../../scenario/schema.ts'
import type { StreamRecorder } from '../recorder.ts'
import { fillTemplate, matches } from '../template.ts'

type WsTransport = Extract<Transport, { type: 'ws' }>

/**
 * WebSocket: one socket per stream. Messages are JSON; `token`, `done`, `error` and `cancelled` are
 * field matches. Messages carrying an `id` for another stream are ignored (a target may multiplex).
 * Abort modes: `ws-cancel` sends the cancel message and keeps the socket open (the target must stop on the
 * message alone), `ws-close` closes the socket with a normal close frame.
 */
export function runWs(recorder: StreamRecorder, transport: WsTransport, baseUrl: string): void {
  const { stream } = recorder.context
  const url = new URL(transport.path, baseUrl)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  const socket = new WebSocket(url, { perMessageDeflate: false })
  const values = { prompt: stream.prompt, id: stream.id }

  recorder.setAborter((mode) => {
    // Before the socket is open there is nothing to cancel on it: closing is the only way to stop.
    if (mode === 'ws-cancel' && socket.readyState === WebSocket.OPEN) socket.send(fillTemplate(transport.cancel, values))
    else socket.close(1000, 'client stop')
  })
  recorder.setCloser(() => {
    if (recorder.sample.abortMode === 'ws-close') return
    if (socket.readyState === WebSocket.OPEN) socket.close(1000, 'done')
    else socket.terminate()
  })
  socket.on('open', () => {
    recorder.onResponse(101)
    socket.send(fillTemplate(transport.send, values))
  })
  socket.on('message', (data: Buffer, isBinary) => {
    recorder.onBytes(data.byteLength)
    if (isBinary) return
    let message: unknown
    try {
      message = JSON.parse(data.toString('utf8'))
    } catch {
      return recorder.onError(`target sent a message that is not JSON: ${data.toString('utf8').slice(0, 200)}`)
    }
    const id = (message as { id?: unknown })?.id
    if (id !== undefined && id !== stream.id) return
    if (matches(message, transport.token)) recorder.onToken()
    else if (matches(message, transport.done) || matches(message, transport.cancelled)) recorder.onDone()
    else if (matches(message, transport.error)) recorder.onError(`target sent an error message: ${data.toString('utf8').slice(0, 300)}`)
  })
  socket.on('unexpected-response', (_request, response) => recorder.onError(`WebSocket upgrade refused: HTTP ${response.statusCode}`))
  socket.on('close', () => recorder.onEof())
  socket.on('error', (error) => recorder.onError(error.message))
}
