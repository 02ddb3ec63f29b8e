/**
 * The WebSocket reference target: a chat socket at /ws, several generations at once on one socket.
 *
 *   client -> server   {"type":"generate","id":"<id>","prompt":"<text>"}
 *                      {"type":"cancel","message_id":"<id>"}
 *   server -> client   {"type":"token","id":"<id>","text":"<delta>"}   one per text delta from the model
 *                      {"type":"done","id":"<id>"}                     the generation is complete
 *                      {"type":"error","id":"<id>"|null,"message":"..."}
 *                      {"type":"cancelled","id":"<id>"}                the provider stream was aborted
 *
 * Over a WebSocket, "Stop generating" reaches the server one of two ways, and both must cancel the
 * provider call:
 * - a cancel message: the socket stays open (the user may ask again right away), so nothing at the
 *   transport level tells the server anything; only an explicit handler that aborts THAT generation helps;
 * - the socket closing (tab closed, page navigated away, network lost): every generation of that socket
 *   is now unreadable and must be aborted.
 *
 * The pattern: one AbortController per generation, kept in a per-socket map by id, its signal passed to
 * the SDK; a cancel aborts one, a close aborts them all.
 */
import { createServer, type Server } from 'node:http'
import { WebSocket, WebSocketServer } from 'ws'
import { anthropicClient, DEFAULT_MAX_TOKENS, DEFAULT_MODEL, type TargetOptions } from './common.ts'
import { errorMessage, sendJson } from './sse-app.ts'

/** The shared options (model, maxTokens, anthropic, log) plus what this variant decides. */
export interface WsTargetOptions extends Omit<TargetOptions, 'keepaliveMs'> {
  /**
   * true: a cancel message aborts its generation, a closed socket aborts all of its generations
   * (ws-good.ts). false: both are ignored and every generation runs to its end (ws-ignore-cancel.ts).
   */
  propagateCancel: boolean
  /**
   * ms between WebSocket pings; 0 = none. A socket that misses a pong is terminated, which counts as a
   * disconnect. Pings also keep proxies from closing a socket that is idle during a long time to first token.
   */
  keepaliveMs: number
}

/** A message from the client, as far as it could be understood. */
type ClientMessage =
  | { type: 'generate'; id: string; prompt: string }
  | { type: 'cancel'; id: string }
  | { type: 'invalid'; id: string | null; message: string }

/**
 * Creates the HTTP server with the WebSocket endpoint at /ws (not yet listening: call `.listen()`).
 *
 * @example
 * const server = createWsTarget({ propagateCancel: true, keepaliveMs: 15_000, anthropic: provider.url })
 * server.listen(0, '127.0.0.1')
 */
export function createWsTarget(options: WsTargetOptions): Server {
  const anthropic = anthropicClient(options.anthropic)
  const model = options.model ?? DEFAULT_MODEL
  const maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS
  const log = options.log ?? (() => {})

  // Plain HTTP requests get a 404; only an upgrade on /ws becomes a socket (`noServer` lets us answer
  // other paths with a real 404 rather than ws's generic 400).
  const server = createServer((req, res) => sendJson(res, 404, { error: 'this target speaks WebSocket at /ws' }))
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false })
  server.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://target').pathname !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
  })

  wss.on('connection', (ws: WebSocket) => {
    /** The generations running on this socket, by the client's id. */
    const running = new Map<string, AbortController>()
    const send = (message: object) => {
      // Only while open: after a close there is nobody to tell (ws would drop it anyway).
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message))
    }

    ws.on('message', (data, isBinary) => {
      const message = parseClientMessage(data, isBinary)
      switch (message.type) {
        case 'generate': {
          if (running.has(message.id)) {
            send({ type: 'error', id: message.id, message: `generation ${message.id} is already running` })
            return
          }
          const controller = new AbortController()
          running.set(message.id, controller)
          void generate(message.id, message.prompt, controller.signal, send).finally(() => {
            // Only our own entry: after a cancel the id may already belong to a new generation.
            if (running.get(message.id) === controller) running.delete(message.id)
          })
          return
        }
        case 'cancel': {
          if (!options.propagateCancel) {
            // ws-ignore-cancel.ts: THE BUG. There is no cancel handler; the client's Stop button only
            // stops rendering the tokens, while the provider generates (and bills) the rest of the reply.
            return
          }
          const controller = running.get(message.id)
          // Unknown id: the generation already ended (its done crossed the cancel on the wire). Nothing to do.
          if (!controller) return
          running.delete(message.id)
          controller.abort(new Error('cancelled by the client'))
          // Sent after the abort, so no token of this id can follow it: generate() checks the signal
          // before every send.
          send({ type: 'cancelled', id: message.id })
          return
        }
        case 'invalid':
          send({ type: 'error', id: message.id, message: message.message })
      }
    })

    // 'close' comes for every way a socket ends: a close frame, a dropped TCP connection, a missed pong.
    ws.on('close', () => {
      if (!options.propagateCancel) return // ws-ignore-cancel.ts: the generations run on, talking to nobody
      for (const controller of running.values()) controller.abort(new Error('socket closed'))
      running.clear()
    })
    // Without an 'error' listener a malformed frame would crash the process; 'close' follows it.
    ws.on('error', (error) => log(`socket error: ${error.message}`))

    if (options.keepaliveMs > 0) keepAlive(ws, options.keepaliveMs)
  })

  async function generate(id: string, prompt: string, signal: AbortSignal, send: (message: object) => void) {
    let tokens = 0
    try {
      const reply = anthropic.messages.stream(
        // Verbatim: the prompt may carry a cancelbench marker ([cb:<id> ...]) that must reach the provider.
        { model, max_tokens: maxTokens, messages: [{ role: 'user', content: prompt }] },
        { signal },
      )
      for await (const event of reply) {
        // After an abort the SDK still hands out events it had buffered: none of them may be sent.
        if (signal.aborted) break
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
          send({ type: 'token', id, text: event.delta.text })
          tokens++
        }
      }
      if (!signal.aborted) {
        send({ type: 'done', id })
        log(`generation ${id}: completed, ${tokens} tokens`)
        return
      }
    } catch (error) {
      if (!signal.aborted) {
        send({ type: 'error', id, message: errorMessage(error) })
        log(`generation ${id}: provider error after ${tokens} tokens: ${errorMessage(error)}`)
        return
      }
      // An abort makes the SDK throw (APIUserAbortError): that is the cancel working, not a failure.
    }
    log(`generation ${id}: ${errorMessage(signal.reason)} after ${tokens} tokens; provider stream aborted`)
  }

  return server
}

function parseClientMessage(data: WebSocket.RawData, isBinary: boolean): ClientMessage {
  if (isBinary) return { type: 'invalid', id: null, message: 'expected a JSON text message' }
  let value: unknown
  try {
    value = JSON.parse(data.toString())
  } catch {
    return { type: 'invalid', id: null, message: 'message is not valid JSON' }
  }
  const fields = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {}
  const id = typeof fields.id === 'string' && fields.id !== '' ? fields.id : null
  if (fields.type === 'generate') {
    if (id === null) return { type: 'invalid', id, message: 'generate needs a non-empty string "id"' }
    if (typeof fields.prompt !== 'string' || fields.prompt === '') {
      return { type: 'invalid', id, message: 'generate needs a non-empty string "prompt"' }
    }
    return { type: 'generate', id, prompt: fields.prompt }
  }
  if (fields.type === 'cancel') {
    if (typeof fields.message_id !== 'string') return { type: 'invalid', id, message: 'cancel needs a string "message_id"' }
    return { type: 'cancel', id: fields.message_id }
  }
  return { type: 'invalid', id, message: `unknown message type ${JSON.stringify(fields.type)}; expected "generate" or "cancel"` }
}

/**
 * Pings every `intervalMs`; a socket that has not answered the previous ping by the next one is
 * terminated. Without this, a client that vanished without a FIN (laptop lid closed, mobile network
 * gone) looks connected for many minutes, and its generations keep running all that time.
 */
function keepAlive(ws: WebSocket, intervalMs: number): void {
  let alive = true
  ws.on('pong', () => {
    alive = true
  })
  const timer = setInterval(() => {
    if (!alive) {
      ws.terminate()
      return
    }
    alive = false
    ws.ping()
  }, intervalMs)
  ws.once('close', () => clearInterval(timer))
}
