import { http, type HttpHandler } from 'msw'
import { handleControl } from './control.ts'
import type { ProviderCore } from './provider.ts'

/**
 * The provider as msw request handlers. Patterns start with `*` so they match any origin: the real
 * SDKs' default base URLs under `setupServer`, and whatever host the HTTP adapter is bound to.
 *
 * @example
 * const provider = new ProviderCore({ timing: { outputTokens: 50 } })
 * const server = setupServer(...createHandlers(provider))
 * server.listen()
 */
export function createHandlers(core: ProviderCore): HttpHandler[] {
  return [
    http.post('*/v1/messages/count_tokens', ({ request }) => core.countTokens(request)),
    http.post('*/v1/messages', ({ request }) => core.handle(request, 'anthropic')),
    http.post('*/v1/chat/completions', ({ request }) => core.handle(request, 'openai-chat')),
    http.post('*/v1/responses', ({ request }) => core.handle(request, 'openai-responses')),
    http.get('*/v1/models', ({ request }) => core.listModels(request)),
    http.get('*/_cancelbench/ledger', ({ request }) => handleControl(core, request, 'ledger')),
    http.post('*/_cancelbench/reset', ({ request }) => handleControl(core, request, 'reset')),
    http.get('*/_cancelbench/clock', ({ request }) => handleControl(core, request, 'clock')),
    http.get('*/metrics', ({ request }) => handleControl(core, request, 'metrics')),
  ]
}
