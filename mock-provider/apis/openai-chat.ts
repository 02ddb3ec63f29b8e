import * as z from 'zod'
import { openaiError, openaiErrorObject } from './openai-errors.ts'
import { collectText, describeIssue, sseFrame, type ApiFormat, type FinishReason, type ResponseContext } from './types.ts'

const requestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z
    .array(z.looseObject({ role: z.string().min(1), content: z.union([z.string(), z.array(z.looseObject({})), z.null()]).optional() }))
    .min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
})

const FINISH: Record<FinishReason, string> = { completed: 'stop', max_tokens: 'length' }

function usage(ctx: ResponseContext, outputTokens: number) {
  return {
    prompt_tokens: ctx.inputTokens,
    completion_tokens: outputTokens,
    total_tokens: ctx.inputTokens + outputTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  }
}

/** OpenAI Chat Completions: POST /v1/chat/completions. */
export const openaiChat: ApiFormat = {
  name: 'openai-chat',
  idPrefix: 'chatcmpl-',

  parse(body) {
    const parsed = requestSchema.safeParse(body)
    if (!parsed.success) return { ok: false, message: describeIssue(parsed.error.issues[0]!) }
    const texts: string[] = []
    // System/developer messages first, so a marker there wins like Anthropic's `system`.
    const messages = parsed.data.messages
    for (const m of messages) if (m.role === 'system' || m.role === 'developer') collectText(m.content, texts)
    for (const m of messages) if (m.role !== 'system' && m.role !== 'developer') collectText(m.content, texts)
    return {
      ok: true,
      value: {
        model: parsed.data.model,
        stream: parsed.data.stream === true,
        maxTokens: parsed.data.max_completion_tokens ?? parsed.data.max_tokens ?? undefined,
        texts,
        includeUsage: parsed.data.stream_options?.include_usage === true,
      },
    }
  },

  encoder(ctx) {
    // Every chunk shares this head; only the choices differ. Built once per response, not per token.
    const head = `{"id":${JSON.stringify(ctx.id)},"object":"chat.completion.chunk","created":${ctx.createdAtSec},"model":${JSON.stringify(ctx.model)},"service_tier":"default","system_fingerprint":"fp_cancelbench","choices":`
    // With include_usage every chunk but the last carries "usage": null.
    const tail = ctx.includeUsage ? ',"usage":null}' : '}'
    const choice = (delta: string, finish: string | null) =>
      `[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finish === null ? 'null' : `"${finish}"`}}]`
    return {
      open: () => sseFrame(undefined, head + choice('{"role":"assistant","content":"","refusal":null}', null) + tail),
      ping: () => '',
      delta: (text) => sseFrame(undefined, head + choice(`{"content":${JSON.stringify(text)}}`, null) + tail),
      close: (reason, outputTokens) =>
        sseFrame(undefined, head + choice('{}', FINISH[reason]) + tail) +
        (ctx.includeUsage ? sseFrame(undefined, head + `[],"usage":${JSON.stringify(usage(ctx, outputTokens))}}`) : '') +
        sseFrame(undefined, '[DONE]'),
      // The SDK raises an APIError for a data frame that carries `error`.
      error: (kind, message) => sseFrame(undefined, JSON.stringify({ error: openaiErrorObject(kind, message) })),
    }
  },

  completeBody(ctx, text, outputTokens, reason) {
    return {
      id: ctx.id,
      object: 'chat.completion',
      created: ctx.createdAtSec,
      model: ctx.model,
      choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null, annotations: [] }, logprobs: null, finish_reason: FINISH[reason] }],
      usage: usage(ctx, outputTokens),
      service_tier: 'default',
      system_fingerprint: 'fp_cancelbench',
    }
  },

  error: (kind, message) => openaiError(kind, message),
}
