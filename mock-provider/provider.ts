import { randomBytes } from 'node:crypto'
import { anthropic } from './apis/anthropic.ts'
import { openaiChat } from './apis/openai-chat.ts'
import { openaiResponses } from './apis/openai-responses.ts'
import type { ApiFormat, ErrorKind, ParsedRequest, ResponseContext } from './apis/types.ts'
import { monotonicClock, roundMs, type Clock } from './clock.ts'
import { findMarker } from './correlation.ts'
import { Generation } from './generation.ts'
import { EmissionTiming } from './timing.ts'
import { Ledger, type ApiName, type LedgerRecord } from './ledger.ts'
import { ProviderMetrics } from './metrics.ts'
import { resolveProviderOptions, type ProviderOptions, type ProviderOptionsInput } from './options.ts'
import { OVERRIDE_HEADER, parseOverrideHeader, parseOverrides } from './overrides.ts'
import { planGeneration, type GenerationPlan } from './plan.ts'
import { RateLimiter } from './rate-limit.ts'
import { Scheduler } from './scheduler.ts'
import { countInputTokens } from './words.ts'

export const APIS: Record<ApiName, ApiFormat> = { anthropic, 'openai-chat': openaiChat, 'openai-responses': openaiResponses }

/** Thrown inside request handling to answer with an API-shaped error. */
class ApiError extends Error {
  readonly kind: ErrorKind
  readonly headers: Record<string, string>
  constructor(kind: ErrorKind, message: string, headers: Record<string, string> = {}) {
    super(message)
    this.kind = kind
    this.headers = headers
  }
}

/**
 * The mock provider's core, independent of transport: `handle(request, api)` takes a web-standard
 * Request and returns a Response whose body streams. msw handlers call it in-process; the node:http
 * adapter calls the same handlers over real sockets.
 */
export class ProviderCore {
  readonly options: ProviderOptions
  readonly clock: Clock
  readonly ledger: Ledger
  readonly metrics: ProviderMetrics
  readonly scheduler: Scheduler
  readonly active = new Map<string, Generation>()
  /** How punctually stream events are written (also in /metrics). */
  readonly timing = new EmissionTiming()
  private readonly rateLimiter: RateLimiter
  private sequence = 0

  constructor(input: ProviderOptionsInput | ProviderOptions = {}, clock: Clock = monotonicClock) {
    this.options = resolveProviderOptions(input)
    this.clock = clock
    this.ledger = new Ledger(this.options.ledgerFile)
    this.metrics = new ProviderMetrics(() => this.active.size, () => this.timing.summary())
    this.scheduler = new Scheduler(clock)
    this.rateLimiter = new RateLimiter(this.options.rateLimits, clock)
  }

  /**
   * Serves one generation request of `api`.
   * @example await core.handle(new Request('http://x/v1/messages', { method: 'POST', headers, body }), 'anthropic')
   */
  async handle(request: Request, apiName: ApiName): Promise<Response> {
    const api = APIS[apiName]
    const requestId = newId('req_')
    const receivedAt = this.clock.nowMs()
    try {
      checkAuth(request)
      const body = await readJson(request, this.options.maxBodyBytes)
      const parsed = api.parse(body)
      if (!parsed.ok) throw new ApiError('invalid_request', parsed.message)
      // await: a rejection from generate() (fault, rate limit, unknown model, bad override) must be
      // answered by errorResponse below, not escape to the transport as a 500.
      return await this.generate(request, api, parsed.value, requestId, receivedAt)
    } catch (error) {
      return this.errorResponse(api, error, requestId)
    }
  }

  /** POST /v1/messages/count_tokens: the same approximation the ledger uses for input tokens. */
  async countTokens(request: Request): Promise<Response> {
    const requestId = newId('req_')
    try {
      checkAuth(request)
      const body = (await readJson(request, this.options.maxBodyBytes)) as Record<string, unknown>
      // count_tokens takes a messages request without max_tokens.
      const parsed = anthropic.parse({ max_tokens: 1, ...body })
      if (!parsed.ok) throw new ApiError('invalid_request', parsed.message)
      this.checkModel(parsed.value.model)
      return json({ input_tokens: countInputTokens(parsed.value.texts.join('')) }, 200, { 'request-id': requestId })
    } catch (error) {
      return this.errorResponse(anthropic, error, requestId)
    }
  }

  /** GET /v1/models in the caller's dialect (Anthropic SDKs send `anthropic-version`). */
  listModels(request: Request): Response {
    const models = this.options.models ?? ['claude-opus-4-7', 'claude-sonnet-4-6', 'claude-haiku-4-5', 'gpt-5', 'gpt-5-mini', 'gpt-4o', 'gpt-4o-mini']
    if (isAnthropicCaller(request)) {
      const data = models.map((id) => ({ type: 'model', id, display_name: id, created_at: '2025-01-01T00:00:00Z' }))
      return json({ data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null })
    }
    return json({ object: 'list', data: models.map((id) => ({ id, object: 'model', created: 1735689600, owned_by: 'cancelbench' })) })
  }

  /** 404 for a route the provider does not serve, in the dialect of the caller. */
  notFound(request: Request): Response {
    const url = new URL(request.url)
    const message = `Not found: ${request.method} ${url.pathname}. cancelbench serves POST /v1/messages, POST /v1/messages/count_tokens, POST /v1/chat/completions, POST /v1/responses and GET /v1/models.`
    const api = isAnthropicCaller(request) ? anthropic : openaiChat
    const requestId = newId('req_')
    const { status, body } = api.error('unknown_route', message, requestId)
    return json(body, status, { [api.name === 'anthropic' ? 'request-id' : 'x-request-id']: requestId })
  }

  /** Forgets finished records and counters; generations in progress carry on. */
  reset(): void {
    this.ledger.clear()
    this.metrics.reset()
    this.timing.reset()
    this.sequence = 0
  }

  /** Stops every generation (as disconnected) and releases the ledger file. */
  close(): void {
    for (const generation of [...this.active.values()]) generation.disconnect()
    this.scheduler.clear()
    this.ledger.close()
  }

  private async generate(request: Request, api: ApiFormat, parsed: ParsedRequest, requestId: string, receivedAt: number): Promise<Response> {
    this.checkModel(parsed.model)
    const marker = findMarker(parsed.texts)
    // The header wins over the marker for the same key.
    const overrides = parseOverrides({ ...marker?.params, ...parseOverrideHeader(request.headers.get(OVERRIDE_HEADER)) })
    if (!overrides.ok) throw new ApiError('invalid_request', overrides.error)
    const sequence = this.sequence++
    const plan = planGeneration({ options: this.options, correlationId: marker?.correlationId, sequence, maxTokens: parsed.maxTokens, overrides: overrides.value })
    const record = this.newRecord(api, parsed, plan, sequence, marker?.correlationId ?? null, receivedAt)

    // Rejected before generating: recorded too, so a runner can tell "provider refused" from "never called".
    const rejection = this.rejection(plan)
    if (rejection) {
      record.stopReason = 'error'
      record.stoppedAtMs = roundMs(this.clock.nowMs())
      record.error = rejection.message
      this.recordFinished(record)
      // A 429/529 carries the rate-limit headers too, read off the buckets now (remaining 0 when exhausted).
      throw new ApiError(rejection.kind, rejection.message, { ...this.rateLimiter.headers(api.name, Date.now()), ...rejection.headers })
    }

    const headers: Record<string, string> = {
      ...(api.name === 'anthropic' ? { 'request-id': requestId } : { 'x-request-id': requestId }),
      ...this.rateLimiter.headers(api.name, Date.now()),
    }
    const ctx: ResponseContext = {
      id: record.id,
      model: parsed.model,
      inputTokens: record.inputTokens,
      maxTokens: parsed.maxTokens,
      createdAtSec: Math.floor(Date.now() / 1000),
      includeUsage: parsed.includeUsage,
    }
    const generation = new Generation({
      record,
      plan,
      clock: this.clock,
      scheduler: this.scheduler,
      encoder: parsed.stream ? api.encoder(ctx) : undefined,
      pingIntervalMs: api.name === 'anthropic' ? this.options.pingIntervalMs : 0,
      timing: this.timing,
      hooks: {
        billed: (n) => {
          this.metrics.totals.outputTokensGenerated += n
          this.rateLimiter.consumeOutputTokens(n)
        },
        emitted: (n) => {
          this.metrics.totals.outputTokensEmitted += n
        },
        disconnected: () => this.metrics.disconnects.inc(),
        finished: (r) => {
          this.active.delete(r.id)
          this.recordFinished(r)
        },
      },
    })
    this.active.set(record.id, generation)
    this.metrics.inputTokensBilled.inc(record.inputTokens)
    // Over HTTP the adapter aborts this signal when the socket closes; under msw it follows the consumer.
    request.signal.addEventListener('abort', () => generation.disconnect(), { once: true })
    if (request.signal.aborted) generation.disconnect()

    if (parsed.stream) {
      return new Response(generation.stream(), {
        status: 200,
        headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers },
      })
    }
    const result = await generation.result()
    if (!result && generation.record.stopReason === 'error') {
      const { status, body } = api.error('overloaded', generation.record.error ?? 'Overloaded', requestId)
      return json(body, status, headers)
    }
    if (!result) {
      // Nobody is listening any more; this response goes nowhere but must still be a Response.
      return json(api.error('api_error', 'client disconnected', requestId).body, 499, headers)
    }
    return json(api.completeBody(ctx, result.text, generation.record.billedOutputTokens, result.reason), 200, headers)
  }

  private rejection(plan: GenerationPlan): ApiError | undefined {
    if (plan.fault?.kind === 'rate_limited') {
      return new ApiError('rate_limit', 'Rate limited (injected fault).', { 'retry-after': '1' })
    }
    if (plan.fault?.kind === 'overloaded') return new ApiError('overloaded', 'Overloaded (injected fault).')
    const admission = this.rateLimiter.admit(this.active.size)
    if (!admission.ok) return new ApiError('rate_limit', admission.message, { 'retry-after': String(admission.retryAfterSec) })
    return undefined
  }

  private checkModel(model: string): void {
    const models = this.options.models
    if (models && !models.includes(model)) {
      throw new ApiError('not_found', `model: ${model} is not served by this mock provider; configured models: ${models.join(', ')}`)
    }
  }

  private newRecord(api: ApiFormat, parsed: ParsedRequest, plan: GenerationPlan, seq: number, correlationId: string | null, receivedAt: number): LedgerRecord {
    return {
      id: newId(api.idPrefix),
      seq,
      correlationId,
      api: api.name,
      model: parsed.model,
      stream: parsed.stream,
      seed: plan.seed,
      inputTokens: countInputTokens(parsed.texts.join('')),
      plannedOutputTokens: plan.outputTokens,
      emittedOutputTokens: 0,
      billedOutputTokens: 0,
      receivedAtMs: roundMs(receivedAt),
      firstTokenAtMs: null,
      lastTokenAtMs: null,
      disconnectObservedAtMs: null,
      stoppedAtMs: null,
      stopReason: null,
      plan: {
        ttftMs: roundMs(plan.ttftMs),
        tokensPerSecond: roundMs(plan.tokensPerSecond),
        tokensPerEvent: plan.tokensPerEvent,
        stopLagMs: plan.stopLagMs,
        ignoreDisconnect: plan.ignoreDisconnect,
        fault: plan.fault?.kind ?? null,
      },
      error: null,
      clockEpochMs: this.clock.epochMs,
    }
  }

  private recordFinished(record: LedgerRecord): void {
    this.metrics.generations.inc({ api: record.api, stop_reason: record.stopReason ?? 'unknown' })
    if (record.disconnectObservedAtMs !== null && record.stoppedAtMs !== null) {
      this.metrics.stopLatency.observe(Math.max(0, record.stoppedAtMs - record.disconnectObservedAtMs) / 1000)
    }
    this.ledger.append(record)
  }

  private errorResponse(api: ApiFormat, error: unknown, requestId: string): Response {
    const apiError = error instanceof ApiError ? error : new ApiError('api_error', `internal error: ${(error as Error)?.message ?? String(error)}`)
    const { status, body } = api.error(apiError.kind, apiError.message, requestId)
    const idHeader = api.name === 'anthropic' ? 'request-id' : 'x-request-id'
    return json(body, status, { [idHeader]: requestId, ...apiError.headers })
  }
}

function checkAuth(request: Request): void {
  // Any key is accepted; only its absence is an error, as a misconfigured target is worth catching.
  if (request.headers.get('x-api-key') || request.headers.get('authorization')) return
  throw new ApiError('authentication', 'No API key: send x-api-key (Anthropic) or Authorization: Bearer (OpenAI). Any value is accepted.')
}

function isAnthropicCaller(request: Request): boolean {
  return request.headers.has('anthropic-version') || request.headers.has('x-api-key')
}

/** Reads the body as JSON, refusing more than `limit` bytes without buffering past the limit. */
async function readJson(request: Request, limit: number): Promise<unknown> {
  const declared = Number(request.headers.get('content-length') ?? NaN)
  if (declared > limit) throw new ApiError('request_too_large', `Request body of ${declared} bytes exceeds the limit of ${limit} bytes.`)
  if (!request.body) throw new ApiError('invalid_request', 'Request body is empty; expected a JSON object.')
  const chunks: Uint8Array[] = []
  let size = 0
  const reader = request.body.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > limit) throw new ApiError('request_too_large', `Request body exceeds the limit of ${limit} bytes.`)
      chunks.push(value)
    }
  } catch (error) {
    if (error instanceof ApiError) throw error
    // The client sent part of a body and went away; nobody will read this answer.
    throw new ApiError('invalid_request', 'Request body ended early (client disconnected while sending).')
  } finally {
    reader.releaseLock()
  }
  const text = Buffer.concat(chunks).toString('utf8')
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new ApiError('invalid_request', `Request body is not valid JSON: ${(error as Error).message}`)
  }
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } })
}

function newId(prefix: string): string {
  return prefix + randomBytes(12).toString('base64url')
}
