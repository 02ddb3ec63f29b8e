import * as z from 'zod'
import { openaiError } from './openai-errors.ts'
import { collectText, describeIssue, sseFrame, type ApiFormat, type FinishReason, type ResponseContext } from './types.ts'

const requestSchema = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.looseObject({}))]),
  instructions: z.string().nullish(),
  stream: z.boolean().nullish(),
  max_output_tokens: z.number().int().min(1).nullish(),
})

function responseObject(ctx: ResponseContext, status: string, extra: Record<string, unknown> = {}) {
  return {
    id: ctx.id,
    object: 'response',
    created_at: ctx.createdAtSec,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: ctx.maxTokens ?? null,
    model: ctx.model,
    output: [],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: true,
    temperature: 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    truncation: 'disabled',
    usage: null,
    user: null,
    metadata: {},
    ...extra,
  }
}

function usage(ctx: ResponseContext, outputTokens: number) {
  return {
    input_tokens: ctx.inputTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: ctx.inputTokens + outputTokens,
  }
}

/** The message output item; its id is the response id with a different prefix. */
function itemId(ctx: ResponseContext): string {
  return 'msg_' + ctx.id.slice('resp_'.length)
}

function finalParts(ctx: ResponseContext, text: string, reason: FinishReason) {
  const part = { type: 'output_text', annotations: [], logprobs: [], text }
  const item = { id: itemId(ctx), type: 'message', status: reason === 'completed' ? 'completed' : 'incomplete', content: [part], role: 'assistant' }
  return { part, item }
}

function finalResponse(ctx: ResponseContext, text: string, outputTokens: number, reason: FinishReason) {
  const { item } = finalParts(ctx, text, reason)
  return responseObject(ctx, reason === 'completed' ? 'completed' : 'incomplete', {
    output: [item],
    incomplete_details: reason === 'completed' ? null : { reason: 'max_output_tokens' },
    usage: usage(ctx, outputTokens),
  })
}

/** OpenAI Responses API: POST /v1/responses. Every event carries `sequence_number`; no [DONE]. */
export const openaiResponses: ApiFormat = {
  name: 'openai-responses',
  idPrefix: 'resp_',

  parse(body) {
    const parsed = requestSchema.safeParse(body)
    if (!parsed.success) return { ok: false, message: describeIssue(parsed.error.issues[0]!) }
    const texts: string[] = []
    collectText(parsed.data.instructions ?? undefined, texts)
    collectText(parsed.data.input, texts)
    return {
      ok: true,
      value: {
        model: parsed.data.model,
        stream: parsed.data.stream === true,
        maxTokens: parsed.data.max_output_tokens ?? undefined,
        texts,
        includeUsage: true,
      },
    }
  },

  encoder(ctx) {
    let sequence = 0
    const event = (type: string, fields: Record<string, unknown>) =>
      sseFrame(type, JSON.stringify({ type, ...fields, sequence_number: sequence++ }))
    const item_id = itemId(ctx)
    const at = { item_id, output_index: 0, content_index: 0 }
    return {
      open: () =>
        event('response.created', { response: responseObject(ctx, 'in_progress') }) +
        event('response.in_progress', { response: responseObject(ctx, 'in_progress') }) +
        event('response.output_item.added', {
          output_index: 0,
          item: { id: item_id, type: 'message', status: 'in_progress', content: [], role: 'assistant' },
        }) +
        event('response.content_part.added', { ...at, part: { type: 'output_text', annotations: [], logprobs: [], text: '' } }),
      ping: () => '',
      delta: (text) => event('response.output_text.delta', { ...at, delta: text, logprobs: [] }),
      close: (reason, outputTokens, fullText) => {
        const { part, item } = finalParts(ctx, fullText, reason)
        return (
          event('response.output_text.done', { ...at, text: fullText, logprobs: [] }) +
          event('response.content_part.done', { ...at, part }) +
          event('response.output_item.done', { output_index: 0, item }) +
          event(reason === 'completed' ? 'response.completed' : 'response.incomplete', {
            response: finalResponse(ctx, fullText, outputTokens, reason),
          })
        )
      },
      error: (kind, message) => event('error', { code: kind === 'overloaded' ? 'server_is_overloaded' : 'server_error', message, param: null }),
    }
  },

  completeBody: (ctx, text, outputTokens, reason) => finalResponse(ctx, text, outputTokens, reason),
  error: (kind, message) => openaiError(kind, message),
}
