import type { ApiName } from '../ledger.ts'

/** What every API's request boils down to for the generation model. */
export interface ParsedRequest {
  model: string
  stream: boolean
  maxTokens: number | undefined
  /** Prompt texts, system/instructions first, then messages in order: searched for the marker, counted. */
  texts: string[]
  /** OpenAI chat `stream_options.include_usage`. */
  includeUsage: boolean
}

export type ErrorKind =
  | 'invalid_request'
  | 'authentication'
  | 'not_found'
  | 'unknown_route'
  | 'request_too_large'
  | 'rate_limit'
  | 'overloaded'
  | 'api_error'

/** Identity and usage of one response, shared by its events. */
export interface ResponseContext {
  id: string
  model: string
  inputTokens: number
  maxTokens: number | undefined
  createdAtSec: number
  includeUsage: boolean
}

export type FinishReason = 'completed' | 'max_tokens'

/** Serialises one response's stream events. Each method returns complete SSE frames. */
export interface StreamEncoder {
  open(): string
  /** Keepalive frame, or '' where the API has none. */
  ping(): string
  delta(text: string): string
  close(reason: FinishReason, outputTokens: number, fullText: string): string
  error(kind: ErrorKind, message: string): string
}

export interface ApiFormat {
  name: ApiName
  parse(body: unknown): { ok: true; value: ParsedRequest } | { ok: false; message: string }
  encoder(ctx: ResponseContext): StreamEncoder
  /** The non-streaming response body. */
  completeBody(ctx: ResponseContext, text: string, outputTokens: number, reason: FinishReason): unknown
  error(kind: ErrorKind, message: string, requestId: string): { status: number; body: unknown }
  /** Prefix of generated ids, e.g. `msg_`. */
  idPrefix: string
}

/** `event:`/`data:` frame. */
export function sseFrame(event: string | undefined, data: string): string {
  return event === undefined ? `data: ${data}\n\n` : `event: ${event}\ndata: ${data}\n\n`
}

/** Collects prompt text from a message content value: a string, or an array of blocks with text/content. */
export function collectText(value: unknown, into: string[]): void {
  if (typeof value === 'string') {
    into.push(value)
    return
  }
  if (Array.isArray(value)) {
    for (const item of value) collectText(item, into)
    return
  }
  if (value && typeof value === 'object') {
    const block = value as Record<string, unknown>
    if (typeof block.text === 'string') into.push(block.text)
    if (block.content !== undefined) collectText(block.content, into)
  }
}

/** "messages.0.content: expected string, received number" from zod-like issues. */
export function describeIssue(issue: { path: PropertyKey[]; message: string }): string {
  const path = issue.path.map(String).join('.')
  return path ? `${path}: ${issue.message}` : issue.message
}
