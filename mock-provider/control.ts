import type { ProviderCore } from './provider.ts'

/** Header carrying the control token when `control.token` is set. */
export const CONTROL_TOKEN_HEADER = 'x-cancelbench-token'

/**
 * Control and observability routes: /_cancelbench/{ledger,reset,clock} and /metrics.
 * Returns undefined when the route is not a control route.
 */
export async function handleControl(core: ProviderCore, request: Request, route: 'ledger' | 'reset' | 'clock' | 'metrics'): Promise<Response> {
  const { enabled, token } = core.options.control
  if (!enabled) return core.notFound(request)
  if (token !== undefined && request.headers.get(CONTROL_TOKEN_HEADER) !== token) {
    return Response.json({ error: `control routes need header ${CONTROL_TOKEN_HEADER} with the provider's control token` }, { status: 401 })
  }
  switch (route) {
    case 'ledger': {
      const url = new URL(request.url)
      const correlationId = url.searchParams.get('correlationId') ?? undefined
      const since = url.searchParams.get('since')
      const sinceMs = since === null ? undefined : Number(since)
      if (sinceMs !== undefined && !Number.isFinite(sinceMs)) {
        return Response.json({ error: `since=${since} is not a number: pass a provider clock time in ms (see /_cancelbench/clock)` }, { status: 400 })
      }
      const records = core.ledger.query({ correlationId, sinceMs })
      // Generations still running, as they stand now; their stopReason is null.
      const active = url.searchParams.get('active') === '1'
        ? [...core.active.values()].map((g) => g.record).filter((r) => correlationId === undefined || r.correlationId === correlationId)
        : undefined
      return Response.json({ clock: clockReading(core), records, ...(active ? { active } : {}) })
    }
    case 'reset':
      core.reset()
      return Response.json({ ok: true, clock: clockReading(core) })
    case 'clock':
      return Response.json(clockReading(core))
    case 'metrics':
      return new Response(await core.metrics.text(), { headers: { 'content-type': core.metrics.registry.contentType } })
  }
}

/** `nowMs` on the ledger's clock, its epoch, and the wall clock, read together. */
function clockReading(core: ProviderCore) {
  return { nowMs: core.clock.nowMs(), epochMs: core.clock.epochMs, wallMs: Date.now() }
}
