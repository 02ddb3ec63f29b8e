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
  /** Counts the request by route and status once its response is known. */
  const counted =
    (route: string, respond: (request: Request) => Response | Promise<Response>) =>
    async ({ request }: { request: Request }) => {
      const response = await respond(request)
      core.metrics.requests.inc({ route, status: String(response.status) })
      return response
    }
  return [
    http.post('*/v1/messages/count_tokens', counted('/v1/messages/count_tokens', (r) => core.countTokens(r))),
    http.post('*/v1/messages', counted('/v1/messages', (r) => core.handle(r, 'anthropic'))),
    http.post('*/v1/chat/completions', counted('/v1/chat/completions', (r) => core.handle(r, 'openai-chat'))),
    http.post('*/v1/responses', counted('/v1/responses', (r) => core.handle(r, 'openai-responses'))),
    http.get('*/v1/models', counted('/v1/models', (r) => core.listModels(r))),
    http.get('*/_cancelbench/ledger', ({ request }) => handleControl(core, request, 'ledger')),
    http.post('*/_cancelbench/reset', ({ request }) => handleControl(core, request, 'reset')),
    http.get('*/_cancelbench/clock', ({ request }) => handleControl(core, request, 'clock')),
    http.get('*/metrics', ({ request }) => handleControl(core, request, 'metrics')),
  ]
}
