import type { RequestHandler } from 'msw'
import { createHandlers } from './handlers.ts'
import { serveHandlers } from './http-server.ts'
import type { Ledger } from './ledger.ts'
import type { ProviderOptionsInput } from './options.ts'
import { ProviderCore } from './provider.ts'

export interface MockProvider {
  /** Base URL of the HTTP server: set ANTHROPIC_BASE_URL to it, OPENAI_BASE_URL to it + "/v1". */
  url: string
  port: number
  ledger: Ledger
  core: ProviderCore
  handlers: RequestHandler[]
  close(): Promise<void>
}

/**
 * Starts the mock provider on a real HTTP port (127.0.0.1 and an ephemeral port by default).
 *
 * @example
 * const provider = await createMockProvider({ timing: { outputTokens: 300, tokensPerSecond: 100 } })
 * process.env.ANTHROPIC_BASE_URL = provider.url
 * // ... run the target ...
 * console.log(provider.ledger.query())
 * await provider.close()
 */
export async function createMockProvider(options: ProviderOptionsInput & { port?: number; host?: string } = {}): Promise<MockProvider> {
  const { port, host, ...providerOptions } = options
  const core = new ProviderCore(providerOptions)
  const handlers = createHandlers(core)
  let server
  try {
    server = await serveHandlers(handlers, { port, host, fallback: (request) => core.notFound(request) })
  } catch (error) {
    core.close()
    throw error
  }
  return {
    url: server.url,
    port: server.port,
    ledger: core.ledger,
    core,
    handlers,
    async close() {
      core.close()
      await server.close()
    },
  }
}

export { ProviderCore, APIS } from './provider.ts'
export { createHandlers } from './handlers.ts'
export { serveHandlers } from './http-server.ts'
export { Ledger } from './ledger.ts'
export { resolveProviderOptions, providerOptionsSchema, ProviderOptionsError, formatIssues } from './options.ts'
export { findMarker, formatMarker } from './correlation.ts'
export { OVERRIDE_HEADER, parseOverrides } from './overrides.ts'
export { planGeneration, tokenTimeMs, tokensGeneratedBy } from './plan.ts'
export { tokenText, textOf, countInputTokens } from './words.ts'
export { monotonicClock } from './clock.ts'
export { CONTROL_TOKEN_HEADER } from './control.ts'
export type { ApiName, LedgerRecord, LedgerQuery, StopReason } from './ledger.ts'
export type { ProviderOptions, ProviderOptionsInput } from './options.ts'
export type { GenerationPlan } from './plan.ts'
export type { Overrides, FaultKind } from './overrides.ts'
export type { Clock } from './clock.ts'
export type { RunningServer, ServeOptions } from './http-server.ts'
export type { Distribution } from './distribution.ts'
