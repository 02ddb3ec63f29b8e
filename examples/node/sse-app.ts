/**
 * The SSE reference target: an app server between a browser and Claude.
 *
 *   POST /chat          {"prompt": "..."}  ->  text/event-stream
 *                         event: token  data: {"text":"<delta>"}    one per text delta from the model
 *                         event: done   data: {}                    then the response ends
 *                         event: error  data: {"message":"..."}     instead of done, on a provider error
 *                         : keepalive                               an SSE comment every keepaliveMs
 *   POST /chat.ndjson   {"prompt": "..."}  ->  application/x-ndjson
 *                         {"text":"<delta>"}  one line per delta; the end of the body is "done";
 *                         {"error":"..."}     a last line on a provider error
 *
 * What it exists to show: when the browser goes away (the user clicks Stop and the page aborts its
 * fetch, closes the tab, loses the network), the server must cancel ITS OWN streaming call to the
 * provider. Nothing does that for you: the provider only sees the server's connection, which is still
 * open, so it keeps generating, and billing, a reply nobody will read.
 *
 * The right pattern, in three lines (see disconnectSignal() below for why each is what it is):
 *
 *   const clientGone = new AbortController()
 *   res.on('close', () => { if (!res.writableFinished) clientGone.abort() })
 *   anthropic.messages.stream(params, { signal: clientGone.signal })
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { anthropicClient, DEFAULT_MAX_TOKENS, DEFAULT_MODEL, type TargetOptions } from './common.ts'

/** The shared options (model, maxTokens, anthropic, log) plus what this variant decides. */
export interface SseTargetOptions extends Omit<TargetOptions, 'keepaliveMs'> {
  /**
   * true: a client disconnect aborts the provider stream (sse-good.ts).
   * false: the classic mistake, waiting for the request's 'aborted' event, which never comes once the
   * request body has been read; the provider stream runs to its end (sse-leaky.ts).
   */
  propagateCancel: boolean
  /** ms between `: keepalive` comments on /chat, from the moment the headers go out; 0 = none. */
  keepaliveMs: number
}

/**
 * Creates the server (not yet listening: call `.listen()`, port 0 works).
 *
 * @example
 * const server = createSseTarget({ propagateCancel: true, keepaliveMs: 15_000, anthropic: provider.url })
 * server.listen(0, '127.0.0.1')
 */
export function createSseTarget(options: SseTargetOptions): Server {
  const anthropic = anthropicClient(options.anthropic)
  const model = options.model ?? DEFAULT_MODEL
  const maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS
  const log = options.log ?? (() => {})
  let streamCount = 0

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Start watching before anything asynchronous, so the moment the client leaves cannot slip by unseen.
    const clientGone = options.propagateCancel ? disconnectSignal(res) : leakyDisconnectSignal(req)

    const chat = await readChatRequest(req, res)
    if (!chat) return

    const name = `stream ${++streamCount}`
    const out = openTokenStream(res, chat.framing, options.keepaliveMs)
    let tokens = 0
    try {
      // The signal is handed to the SDK before the request is even sent, so a client that leaves during
      // the time to first token cancels the call too (`stream.abort()` would do the same once the stream
      // object exists; a signal is the fetch-standard way and covers every await in between).
      const reply = anthropic.messages.stream(
        {
          model,
          max_tokens: maxTokens,
          // Verbatim: the prompt may carry a cancelbench marker ([cb:<id> ...]) that must reach the provider.
          messages: [{ role: 'user', content: chat.prompt }],
        },
        { signal: clientGone },
      )
      for await (const event of reply) {
        // After an abort the SDK still hands out events it had buffered before it: stop here, not after
        // them. (Leaving the loop also aborts the stream: its iterator's return() calls abort().)
        if (clientGone.aborted) break
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
          out.token(event.delta.text)
          tokens++
        }
      }
      if (clientGone.aborted) {
        log(`${name}: client left after ${tokens} tokens; provider stream aborted`)
        return
      }
      out.done()
      log(`${name}: completed, ${tokens} tokens` + (out.lost > 0 ? `; ${out.lost} writes went to a connection the client had closed` : ''))
    } catch (error) {
      // An abort makes the SDK throw (APIUserAbortError): that is the cancel working, not a failure.
      if (clientGone.aborted) {
        log(`${name}: client left after ${tokens} tokens; provider stream aborted`)
        return
      }
      out.error(errorMessage(error))
      log(`${name}: provider error after ${tokens} tokens: ${errorMessage(error)}`)
    } finally {
      // Always: stop the keepalive timer and end the response (a no-op when the client is gone).
      out.close()
    }
  }

  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // A bug, not a provider error (those are answered in-stream): don't take the process down with it.
      log(`unexpected error: ${errorMessage(error)}`)
      res.destroy()
    })
  })
}

/**
 * RIGHT: an AbortSignal that fires when the client goes away before the response is complete.
 *
 * - `res.on('close')`: the response closes when the connection under it closes, whoever closed it.
 *   `writableFinished` tells "we ended it and it was flushed" (normal end) from "it was cut short"
 *   (the client left: Stop button, closed tab, lost network, a proxy timing out).
 * - NOT `req.on('close')`: since Node 16 the request (a Readable) closes as soon as its BODY has been
 *   read, i.e. before the first token, not when the client leaves. Aborting there cancels every stream.
 * - NOT `req.on('aborted')`: deprecated, and only emitted when the request body itself is cut short,
 *   so never once we are streaming. That is the mistake sse-leaky.ts makes (leakyDisconnectSignal).
 */
export function disconnectSignal(res: ServerResponse): AbortSignal {
  const controller = new AbortController()
  res.on('close', () => {
    if (!res.writableFinished) controller.abort(new Error('client disconnected'))
  })
  return controller.signal
}

/**
 * WRONG, on purpose (sse-leaky.ts): looks right, is found in many older answers and tutorials, and
 * never fires when it matters.
 *
 * 'aborted' is emitted only if the connection closes while the request BODY is still arriving. A
 * streaming handler has read the whole body before it calls the provider, so a client that leaves
 * mid-stream never triggers it: the signal stays quiet, the loop keeps pulling tokens from the provider
 * to the very end, and `res.write()` on the closed response just returns false, without an error event
 * or an exception anyone would notice. Verified on Node 24: after a fetch abort, `res` emits
 * 'close' (writableFinished false), `req` emits nothing.
 */
export function leakyDisconnectSignal(req: IncomingMessage): AbortSignal {
  const controller = new AbortController()
  req.on('aborted', () => controller.abort(new Error('client disconnected')))
  return controller.signal
}

/** How a token stream is put on the wire. */
export interface Framing {
  contentType: string
  token(text: string): string
  /** What ends a successful stream ('' when the end of the body says it). */
  done: string
  error(message: string): string
  /** A line the client ignores, to keep an idle connection alive; null when the format has none. */
  keepalive: string | null
}

// JSON.stringify escapes newlines, so a data payload can never break out of its `data:` line.
export const SSE: Framing = {
  contentType: 'text/event-stream',
  token: (text) => `event: token\ndata: ${JSON.stringify({ text })}\n\n`,
  done: 'event: done\ndata: {}\n\n',
  error: (message) => `event: error\ndata: ${JSON.stringify({ message })}\n\n`,
  // A line starting with ':' is a comment: EventSource and SSE parsers skip it.
  keepalive: ': keepalive\n\n',
}

export const NDJSON: Framing = {
  contentType: 'application/x-ndjson',
  token: (text) => JSON.stringify({ text }) + '\n',
  done: '',
  error: (message) => JSON.stringify({ error: message }) + '\n',
  // NDJSON has no comment syntax, and a blank line breaks strict line parsers: no keepalive.
  keepalive: null,
}

const ROUTES = new Map<string, Framing>([
  ['/chat', SSE],
  ['/chat.ndjson', NDJSON],
])

const MAX_BODY_BYTES = 1024 * 1024

export interface ChatRequest {
  framing: Framing
  prompt: string
}

/**
 * Routes and validates a chat request. Answers 404 (no such route), 413 (body over 1 MiB) and 400 (not
 * JSON, no non-empty string `prompt`) itself and returns undefined, as it does when the client left
 * while sending the body.
 */
export async function readChatRequest(req: IncomingMessage, res: ServerResponse): Promise<ChatRequest | undefined> {
  const path = new URL(req.url ?? '/', 'http://target').pathname
  const framing = req.method === 'POST' ? ROUTES.get(path) : undefined
  if (!framing) {
    sendJson(res, 404, { error: `no route for ${req.method} ${path}; try POST /chat or POST /chat.ndjson` })
    return undefined
  }

  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        sendJson(res, 413, { error: `request body over ${MAX_BODY_BYTES} bytes` })
        return undefined
      }
      chunks.push(chunk)
    }
  } catch {
    return undefined // the client left before sending the whole body: nobody to answer
  }

  let body: unknown
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    sendJson(res, 400, { error: 'request body is not valid JSON' })
    return undefined
  }
  const prompt = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).prompt : undefined
  if (typeof prompt !== 'string' || prompt === '') {
    sendJson(res, 400, { error: 'expected a JSON body {"prompt": "<non-empty string>"}' })
    return undefined
  }
  return { framing, prompt }
}

export interface TokenStream {
  token(text: string): void
  done(): void
  error(message: string): void
  /** Stops the keepalive and ends the response; call it in `finally`. */
  close(): void
  /** Writes that went to a response already closed by the client (only a leaky target makes any). */
  readonly lost: number
}

/**
 * Sends the 200 and the streaming headers right away and starts the keepalive.
 */
export function openTokenStream(res: ServerResponse, framing: Framing, keepaliveMs: number): TokenStream {
  res.writeHead(200, {
    'content-type': framing.contentType,
    // no-transform: a compressing proxy would otherwise buffer the stream to compress it.
    'cache-control': 'no-cache, no-transform',
    // nginx buffers proxied responses unless told not to.
    'x-accel-buffering': 'no',
  })
  // Headers now, not with the first token (which may be seconds away): the browser's fetch() resolves,
  // the UI can show that the model is working, and every proxy in between sees the response start.
  res.flushHeaders()

  let lost = 0
  const write = (chunk: string) => {
    if (res.destroyed) lost++
    // The return value is backpressure, not "still connected": token streams are bounded by the model's
    // speed, so we do not wait for 'drain'. A gone client is the disconnect signal's job.
    res.write(chunk)
  }

  // Idle connections get cut by proxies and load balancers (often at 30-60 s), and the longest silence in
  // an LLM stream is usually the time to first token: so the keepalive starts now, not at the first token.
  const keepalive = framing.keepalive
  const timer = keepalive !== null && keepaliveMs > 0 ? setInterval(() => write(keepalive), keepaliveMs) : undefined

  return {
    token: (text) => write(framing.token(text)),
    done: () => {
      if (framing.done) write(framing.done)
    },
    error: (message) => write(framing.error(message)),
    close: () => {
      clearInterval(timer)
      res.end()
    },
    get lost() {
      return lost
    },
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body) + '\n')
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
