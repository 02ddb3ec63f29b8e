import * as z from 'zod'
import { distributionSchema } from './distribution.ts'

/** Who is (pretend-)sent a fault: a share of all generations, and/or the listed correlation ids. */
const faultTargetSchema = z.strictObject({
  probability: z.number().min(0).max(1).default(0),
  correlationIds: z.array(z.string()).default([]),
})

export const timingSchema = z.strictObject({
  /** Request received -> first output token generated. */
  ttftMs: distributionSchema.default(200),
  /** Generation speed once started. */
  tokensPerSecond: distributionSchema.default(50),
  /** Tokens carried by one text delta event (chunking); real APIs send 1 to a few. */
  tokensPerEvent: distributionSchema.default(1),
  /** Output length the model "wants"; capped by the request's max_tokens. */
  outputTokens: distributionSchema.default(200),
})

export const policySchema = z.strictObject({
  /** After noticing a disconnect, keep generating (and billing) this long: real providers are not instant. */
  stopLagMs: z.number().nonnegative().default(0),
  /** Never stop on disconnect: every planned token is generated and billed (e.g. non-streaming endpoints). */
  ignoreDisconnect: z.boolean().default(false),
})

export const providerOptionsSchema = z.strictObject({
  /** Seed for every generation plan, fault draw and word stream. */
  seed: z.number().int().default(1),
  timing: timingSchema.prefault({}),
  policy: policySchema.prefault({}),
  /** Anthropic `ping` event interval while a stream is open; 0 disables pings after the first. */
  pingIntervalMs: z.number().nonnegative().default(10_000),
  /** When set, other model names get 404 not_found_error; when absent, every model name is served. */
  models: z.array(z.string().min(1)).optional(),
  /** Request bodies larger than this get 413 (Anthropic's own limit is 32 MB). */
  maxBodyBytes: z.number().int().positive().default(32 * 1024 * 1024),
  faults: z
    .strictObject({
      rateLimited: faultTargetSchema.optional(),
      overloaded: faultTargetSchema.optional(),
      midStreamError: faultTargetSchema
        .extend({
          /** Tokens generated before the error event; default: half the plan. */
          afterTokens: z.number().int().nonnegative().optional(),
        })
        .optional(),
    })
    .default({}),
  rateLimits: z
    .strictObject({
      requestsPerMinute: z.number().positive().optional(),
      outputTokensPerMinute: z.number().positive().optional(),
      concurrentGenerations: z.number().int().positive().optional(),
    })
    .default({}),
  control: z
    .strictObject({
      /** Serve /_cancelbench/* and /metrics. */
      enabled: z.boolean().default(true),
      /** When set, control routes require header `x-cancelbench-token: <token>`. */
      token: z.string().min(1).optional(),
    })
    .prefault({}),
  /** Append every finished ledger record to this JSONL file, one write per record. */
  ledgerFile: z.string().optional(),
})

/** What a user writes (everything optional). */
export type ProviderOptionsInput = z.input<typeof providerOptionsSchema>
/** What the provider runs with: every default resolved once, up front. */
export type ProviderOptions = z.output<typeof providerOptionsSchema>
export type Timing = z.output<typeof timingSchema>
export type Policy = z.output<typeof policySchema>

export class ProviderOptionsError extends Error {
  readonly issues: string[]
  constructor(issues: string[], source: string) {
    super(`invalid mock provider options${source ? ` in ${source}` : ''}:\n` + issues.map((i) => `  - ${i}`).join('\n'))
    this.name = 'ProviderOptionsError'
    this.issues = issues
  }
}

/**
 * Validates and fills in defaults. Throws ProviderOptionsError listing every bad field by path.
 * @example resolveProviderOptions({ timing: { outputTokens: 500 } }).timing.tokensPerSecond // 50
 */
export function resolveProviderOptions(input: unknown = {}, source = ''): ProviderOptions {
  const parsed = providerOptionsSchema.safeParse(input ?? {})
  if (!parsed.success) throw new ProviderOptionsError(formatIssues(parsed.error), source)
  return parsed.data
}

/** Turns zod issues into "path: message" lines, naming allowed values where zod knows them. */
export function formatIssues(error: z.ZodError, prefix = ''): string[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || '(root)'
    if (issue.code === 'unrecognized_keys') return `${path}: unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`
    return `${path}: ${issue.message}`
  })
}
