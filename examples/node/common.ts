/**
 * What every reference target shares and none of them is about: configuration from the environment,
 * the Anthropic client, starting from the command line, and shutting down on a signal.
 *
 * The interesting code (noticing that the client left and cancelling the provider call) is in
 * sse-app.ts and ws-app.ts.
 */
import { realpathSync } from 'node:fs'
import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import Anthropic from '@anthropic-ai/sdk'

export const DEFAULT_MODEL = 'claude-sonnet-4-6'
export const DEFAULT_MAX_TOKENS = 4096
/** The WHATWG HTML spec suggests a comment about every 15 s; proxies commonly cut streams idle for 30-60 s. */
export const DEFAULT_KEEPALIVE_MS = 15_000

/** Options every entry file's `createTarget()` accepts; the variant decides the rest. */
export interface TargetOptions {
  /** ms between keepalives; 0 = none. Defaults to 15 s. */
  keepaliveMs?: number
  model?: string
  maxTokens?: number
  /** An Anthropic client, or the base URL to build one for (else ANTHROPIC_BASE_URL, as the SDK reads it). */
  anthropic?: Anthropic | string
  /** One line per finished stream (how it ended, how many tokens); silent when absent. */
  log?: (line: string) => void
}

export interface TargetEnv {
  port: number
  host: string
  model: string
  maxTokens: number
  keepaliveMs: number
  log: ((line: string) => void) | undefined
}

/**
 * PORT (3000; 0 = any free port), HOST (127.0.0.1), MODEL, MAX_TOKENS (4096), KEEPALIVE_MS (15000; 0 = none),
 * LOG=1 for a line per stream on stderr. ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY are read by the SDK.
 */
export function readTargetEnv(env: NodeJS.ProcessEnv = process.env): TargetEnv {
  return {
    port: intFromEnv(env, 'PORT', 3000, 65_535),
    host: env.HOST || '127.0.0.1',
    model: env.MODEL || DEFAULT_MODEL,
    maxTokens: intFromEnv(env, 'MAX_TOKENS', DEFAULT_MAX_TOKENS, Number.MAX_SAFE_INTEGER, 1),
    keepaliveMs: intFromEnv(env, 'KEEPALIVE_MS', DEFAULT_KEEPALIVE_MS, 2 ** 31 - 1),
    // Off by default: stderr into a pipe is synchronous on Linux, so under load a runner that does not
    // drain it would stall the whole server on a log line.
    log: env.LOG === '1' ? (line) => process.stderr.write(line + '\n') : undefined,
  }
}

/** An integer env var within [min, max], or `fallback` when unset; anything else is an error, not a guess. */
export function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, max: number, min = 0): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`)
  }
  return value
}

/**
 * The client the targets call the provider with.
 *
 * - The API key falls back to a placeholder: these targets are meant to be pointed at the cancelbench mock
 *   provider, which accepts any key. Passing one explicitly also stops the SDK from looking for
 *   credentials (and a base URL) in a profile on disk.
 * - maxRetries 0: a retried request is a second generation under the same correlation id; the reference
 *   targets keep one client stream = one provider generation, so the ledger reads unambiguously.
 */
export function anthropicClient(anthropic: Anthropic | string | undefined): Anthropic {
  if (anthropic instanceof Anthropic) return anthropic
  return new Anthropic({
    baseURL: anthropic, // undefined: the SDK reads ANTHROPIC_BASE_URL itself
    apiKey: process.env.ANTHROPIC_API_KEY || 'cancelbench-placeholder-key',
    maxRetries: 0,
  })
}

/** True when the module whose `import.meta` this is was the one run by `node <file>`. */
export function isMain(meta: ImportMeta): boolean {
  // Node >= 24.2 says so itself; on Node 22 compare the entry script with this module.
  if (typeof meta.main === 'boolean') return meta.main
  const entry = process.argv[1]
  if (!entry) return false
  try {
    return realpathSync(entry) === fileURLToPath(meta.url)
  } catch {
    return false
  }
}

/**
 * The command-line entry of every target: reads the environment, creates the server, serves it.
 * A bad setting exits 1 with one line on stderr, before anything listens.
 */
export function runMain(create: (env: TargetEnv) => Server): void {
  let env: TargetEnv
  let server: Server
  try {
    env = readTargetEnv()
    server = create(env)
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  }
  serve(server, env)
}

/**
 * Listens, prints `listening on http://<host>:<port>` (the one line a runner parses; the port is the real
 * one when PORT=0), and on SIGTERM/SIGINT stops accepting, drops open connections and exits 0.
 * A listen error (port taken, bad host) exits 1 with the reason on stderr.
 */
export function serve(server: Server, { port, host }: { port: number; host: string }): void {
  // Track raw sockets ourselves: server.closeAllConnections() does not see connections that were
  // upgraded to WebSocket, and those would keep the process alive after close().
  const sockets = new Set<Socket>()
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })

  server.once('error', (error) => {
    process.stderr.write(`cannot listen on ${host}:${port}: ${error.message}\n`)
    process.exit(1)
  })

  server.listen(port, host, () => {
    const address = server.address()
    const actualPort = typeof address === 'object' && address ? address.port : port
    const urlHost = host.includes(':') ? `[${host}]` : host // IPv6 literals need brackets in a URL
    process.stdout.write(`listening on http://${urlHost}:${actualPort}\n`)
  })

  const shutdown = () => {
    server.close(() => process.exit(0))
    // Dropping a connection is a client disconnect like any other: the correct targets cancel their
    // provider calls on the way out.
    for (const socket of sockets) socket.destroy()
  }
  process.once('SIGTERM', shutdown)
  process.once('SIGINT', shutdown)
}
