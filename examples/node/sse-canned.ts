/**
 * sse-canned: a target that never calls the provider. It answers POST /chat and /chat.ndjson in exactly the
 * SSE/NDJSON contract of sse-app.ts, but streams canned tokens itself (CANNED_TOKENS, 50 by default,
 * CANNED_INTERVAL_MS = 20 ms apart), as a target would whose ANTHROPIC_BASE_URL does not point at the
 * mock provider, or that serves from a cache.
 *
 * cancelbench must notice: the client gets a perfectly good stream, yet the provider's ledger holds no
 * generation with the run's correlation id (verdict `no_upstream`), so nothing about cancellation can
 * be concluded from it.
 *
 * It still behaves well itself: it stops its own timer when the client leaves, and sends keepalives.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { DEFAULT_KEEPALIVE_MS, intFromEnv, isMain, runMain, type TargetOptions } from './common.ts'
import { disconnectSignal, errorMessage, openTokenStream, readChatRequest } from './sse-app.ts'

export interface CannedSseTargetOptions {
  keepaliveMs: number
  /** Tokens per reply; 50 by default. */
  tokens?: number | undefined
  /** ms between tokens; 20 by default. */
  intervalMs?: number | undefined
  log?: ((line: string) => void) | undefined
}

const WORDS = 'This reply comes from a canned script and no model was called to write it'.split(' ')

/** Token i: the script's words in a loop, space-separated like a model's tokens. */
function cannedToken(i: number): string {
  const word = WORDS[i % WORDS.length] ?? ''
  return i === 0 ? word : ` ${word}`
}

export function createCannedSseTarget(options: CannedSseTargetOptions): Server {
  const tokens = options.tokens ?? 50
  const intervalMs = options.intervalMs ?? 20
  const log = options.log ?? (() => {})
  let streamCount = 0

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const clientGone = disconnectSignal(res)
    const chat = await readChatRequest(req, res)
    if (!chat) return // the prompt is read and validated, then ignored

    const name = `stream ${++streamCount}`
    const out = openTokenStream(res, chat.framing, options.keepaliveMs)
    try {
      for (let i = 0; i < tokens; i++) {
        await sleep(intervalMs, undefined, { signal: clientGone })
        out.token(cannedToken(i))
      }
      out.done()
      log(`${name}: completed, ${tokens} canned tokens`)
    } catch (error) {
      if (!clientGone.aborted) throw error
      log(`${name}: client left; canned stream stopped`)
    } finally {
      out.close()
    }
  }

  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log(`unexpected error: ${errorMessage(error)}`)
      res.destroy()
    })
  })
}

/** The entry-file factory; the `anthropic`, `model` and `maxTokens` options are accepted and unused. */
export function createTarget(options: TargetOptions & { tokens?: number; intervalMs?: number } = {}) {
  return createCannedSseTarget({ ...options, keepaliveMs: options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS })
}

if (isMain(import.meta)) {
  runMain((env) =>
    createTarget({
      ...env,
      tokens: intFromEnv(process.env, 'CANNED_TOKENS', 50, 1_000_000, 1),
      intervalMs: intFromEnv(process.env, 'CANNED_INTERVAL_MS', 20, 60_000),
    }),
  )
}
