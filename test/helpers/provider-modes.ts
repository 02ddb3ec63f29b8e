import Anthropic from '@anthropic-ai/sdk'
import { setupServer } from 'msw/node'
import OpenAI from 'openai'
import { createHandlers, createMockProvider, ProviderCore, type LedgerRecord, type ProviderOptionsInput } from '../../mock-provider/index.ts'

export type Mode = 'http' | 'msw'
export const MODES: Mode[] = ['http', 'msw']

export interface Harness {
  mode: Mode
  core: ProviderCore
  anthropic: Anthropic
  openai: OpenAI
  /** Base URL the SDKs talk to (the real APIs' defaults under msw). */
  anthropicBaseUrl: string
  close(): Promise<void>
}

/**
 * The same provider two ways: over a real HTTP socket, or in-process through msw intercepting the
 * SDKs' fetch. Tests run the same assertions against both, which is what "its handlers are msw handlers,
 * served over real HTTP and usable in-process" has to mean.
 */
export async function startHarness(mode: Mode, options: ProviderOptionsInput): Promise<Harness> {
  // maxRetries 0: a 429/529 must surface in the test, not be retried away by the SDK.
  const clientOptions = { apiKey: 'test-key', maxRetries: 0 }
  if (mode === 'http') {
    const provider = await createMockProvider(options)
    return {
      mode,
      core: provider.core,
      anthropic: new Anthropic({ ...clientOptions, baseURL: provider.url }),
      openai: new OpenAI({ ...clientOptions, baseURL: `${provider.url}/v1` }),
      anthropicBaseUrl: provider.url,
      close: once(() => provider.close()),
    }
  }
  const core = new ProviderCore(options)
  const server = setupServer(...createHandlers(core))
  server.listen({ onUnhandledFrame: 'error' })
  return {
    mode,
    core,
    anthropic: new Anthropic(clientOptions),
    openai: new OpenAI(clientOptions),
    anthropicBaseUrl: 'https://api.anthropic.com',
    close: once(async () => {
      server.close()
      core.close()
    }),
  }
}

let counter = 0
/** A fresh correlation id per test stream. */
export function newId(prefix = 't'): string {
  return `${prefix}-${process.pid}-${++counter}`
}

/** Waits for the ledger record of `correlationId`; fails the test after 10 s instead of hanging. */
export function recordOf(core: ProviderCore, correlationId: string): Promise<LedgerRecord> {
  return core.ledger.waitFor((r) => r.correlationId === correlationId, AbortSignal.timeout(10_000))
}

/** Closing twice (a test and its afterAll) is harmless. */
function once(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined
  return () => (closing ??= close())
}
