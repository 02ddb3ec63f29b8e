import * as z from 'zod'
import { collectText, describeIssue, sseFrame, type ApiFormat, type ErrorKind, type FinishReason, type ResponseContext } from './types.ts'

const block = z.looseObject({ type: z.string() })
const requestSchema = z.looseObject({
  model: z.string().min(1),
  max_tokens: z.number().int().min(1),
  messages: z
    .array(z.looseObject({ role: z.enum(['user', 'assistant']), content: z.union([z.string(), z.array(block)]) }))
    .min(1),
  system: z.union([z.string(), z.array(block)]).optional(),
  stream: z.boolean().optional(),
})

const ERROR_TYPES: Record<ErrorKind, [number, string]> = {
  invalid_request: [400, 'invalid_request_error'],
  authentication: [401, 'authentication_error'],
  not_found: [404, 'not_found_error'],
  unknown_route: [404, 'not_found_error'],
  request_too_large: [413, 'request_too_large'],
  rate_limit: [429, 'rate_limit_error'],
  overloaded: [529, 'overloaded_error'],
  api_error: [500, 'api_error'],
}

const STOP_REASON: Record<FinishReason, string> = { completed: 'end_turn', max_tokens: 'max_tokens' }

function usage(ctx: ResponseContext, outputTokens: number) {
  return { input_tokens: ctx.inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: outputTokens }
}

/** Anthropic Messages API: POST /v1/messages. */
export const anthropic: ApiFormat = {
  name: 'anthropic',
  idPrefix: 'msg_',

  parse(body) {
    const parsed = requestSchema.safeParse(body)
    if (!parsed.success) return { ok: false, message: describeIssue(parsed.error.issues[0]!) }
    const texts: string[] = []
    collectText(parsed.data.system, texts)
    for (const message of parsed.data.messages) collectText(message.content, texts)
    return {
      ok: true,
      value: { model: parsed.data.model, stream: parsed.data.stream === true, maxTokens: parsed.data.max_tokens, texts, includeUsage: true },
    }
  },

  encoder(ctx) {
    return {
      open: () =>
        sseFrame(
          'message_start',
          JSON.stringify({
            type: 'message_start',
            message: {
              id: ctx.id,
              type: 'message',
              role: 'assistant',
              model: ctx.model,
              content: [],
              stop_reason: null,
              stop_sequence: null,
              // Output tokens so far: none yet (the real API reports a small number here too).
              usage: usage(ctx, 0),
            },
          }),
        ) +
        sseFrame('content_block_start', '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}') +
        sseFrame('ping', '{"type": "ping"}'),
      ping: () => sseFrame('ping', '{"type": "ping"}'),
      delta: (text) =>
        sseFrame('content_block_delta', `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":${JSON.stringify(text)}}}`),
      close: (reason, outputTokens) =>
        sseFrame('content_block_stop', '{"type":"content_block_stop","index":0}') +
        sseFrame(
          'message_delta',
          JSON.stringify({
            type: 'message_delta',
            delta: { stop_reason: STOP_REASON[reason], stop_sequence: null },
            // Cumulative, as the real API sends it.
            usage: { output_tokens: outputTokens },
          }),
        ) +
        sseFrame('message_stop', '{"type":"message_stop"}'),
      error: (kind, message) =>
        sseFrame('error', JSON.stringify({ type: 'error', error: { type: ERROR_TYPES[kind][1], message } })),
    }
  },

  completeBody(ctx, text, outputTokens, reason) {
    return {
      id: ctx.id,
      type: 'message',
      role: 'assistant',
      model: ctx.model,
      content: [{ type: 'text', text }],
      stop_reason: STOP_REASON[reason],
      stop_sequence: null,
      usage: usage(ctx, outputTokens),
    }
  },

  error(kind, message, requestId) {
    const [status, type] = ERROR_TYPES[kind]
    return { status, body: { type: 'error', error: { type, message }, request_id: requestId } }
  },
}
