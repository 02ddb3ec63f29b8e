import * as z from 'zod'
import { distributionSchema } from '../../mock-provider/distribution.ts'
import { providerOptionsSchema } from '../../mock-provider/options.ts'
import { priceProblem } from '../cost/prices.ts'

/**
 * The scenario file. Every default lives here, resolved once by `loadScenario` before a run.
 * JSON Schema for editors is generated from this (`npm run schema` -> scenarios/schema.json).
 */

/**
 * Request headers. Names are HTTP tokens and values have no line breaks (RFC 9110): the runner writes them
 * into the request as they are, so anything else would be a different request, or an injected one.
 */
const headers = z.record(
  z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'a header name is letters, digits and !#$%&\'*+-.^_`|~ only (no spaces or colons)'),
  z.string().regex(/^[^\r\n\0]*$/, 'a header value must not contain a line break'),
)
/** A request body: an object whose string values may hold {{prompt}} / {{id}}, or a raw string template. */
const bodyTemplate = z.union([z.string(), z.record(z.string(), z.unknown())])
/** A WebSocket message: an object (sent as JSON) or a raw string template. */
const messageTemplate = z.union([z.string(), z.record(z.string(), z.unknown())])
/** Matches a JSON WebSocket message when every listed field is equal. */
const messageMatch = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]))

export const ABORT_MODES = ['rst', 'fin', 'abort', 'ws-cancel', 'ws-close'] as const
export type AbortMode = (typeof ABORT_MODES)[number]

export const targetSchema = z.strictObject({
  /** Base URL of the target; `{{port}}` is replaced by the port cancelbench picks when it starts `command`. */
  url: z.string().min(1).describe('Base URL of the target server, e.g. http://127.0.0.1:{{port}}'),
  /** Shell command that starts the target; run in its own process group and killed as a group at the end. */
  command: z.union([z.string().min(1), z.array(z.string()).min(1)]).optional(),
  /** Working directory for `command`, relative to the scenario file. */
  cwd: z.string().optional(),
  env: z.record(z.string(), z.string()).default({}),
  /** How long the target may take to accept connections. */
  readyTimeoutMs: z.number().positive().default(15_000),
})

const sseTransport = z.strictObject({
  type: z.literal('sse'),
  path: z.string().default('/chat'),
  method: z.enum(['POST', 'GET']).default('POST'),
  headers: headers.default({ 'content-type': 'application/json' }),
  body: bodyTemplate.default({ prompt: '{{prompt}}' }),
  /** SSE event name whose events count as tokens ("message" for events without an `event:` line). */
  tokenEvent: z.string().default('token'),
  /** SSE event name that means the answer is complete. */
  doneEvent: z.string().default('done'),
  /** A `data:` payload that means done, e.g. "[DONE]" (OpenAI style). */
  doneData: z.string().optional(),
  errorEvent: z.string().default('error'),
})

const chunkedTransport = z.strictObject({
  type: z.literal('chunked'),
  path: z.string().default('/chat.ndjson'),
  method: z.enum(['POST', 'GET']).default('POST'),
  headers: headers.default({ 'content-type': 'application/json' }),
  body: bodyTemplate.default({ prompt: '{{prompt}}' }),
  /** `line`: each non-empty line is a token (NDJSON); `chunk`: each received chunk is one. */
  split: z.enum(['line', 'chunk']).default('line'),
})

const wsTransport = z.strictObject({
  type: z.literal('ws'),
  path: z.string().default('/ws'),
  send: messageTemplate.default({ type: 'generate', id: '{{id}}', prompt: '{{prompt}}' }),
  token: messageMatch.default({ type: 'token' }),
  done: messageMatch.default({ type: 'done' }),
  error: messageMatch.default({ type: 'error' }),
  /** The target's acknowledgement of a cancel message; ends the stream early after `ws-cancel`. */
  cancelled: messageMatch.default({ type: 'cancelled' }),
  /** Sent for abort mode `ws-cancel`; the socket stays open. */
  cancel: messageTemplate.default({ type: 'cancel', message_id: '{{id}}' }),
})

export const transportSchema = z.discriminatedUnion('type', [sseTransport, chunkedTransport, wsTransport])

const abortPoint = z.union([
  z.strictObject({ tokens: distributionSchema.describe('abort after this many token events') }),
  z.strictObject({ ms: distributionSchema.describe('abort this many ms after the request started') }),
  z.strictObject({ firstByte: z.literal(true).describe('abort as soon as the first byte arrives') }),
])

export const cancelSchema = z.strictObject({
  /** Share of streams to abort, 0..1. */
  fraction: z.number().min(0).max(1).default(0.5),
  after: abortPoint.default({ tokens: { dist: 'uniform', min: 5, max: 40 } }),
  /** How to abort; a list mixes modes, drawn per stream. Default: abort (sse, chunked) / ws-cancel (ws). */
  mode: z.union([z.enum(ABORT_MODES), z.array(z.enum(ABORT_MODES)).min(1)]).optional(),
})

export const loadSchema = z.strictObject({
  streams: z.number().int().min(1).default(20),
  /** Closed loop: this many streams open at once. */
  concurrency: z.number().int().min(1).optional(),
  /** Open loop: new streams per second, whatever is still open. */
  arrivalRatePerSec: z.number().positive().optional(),
  /** Hard cap on the whole run; streams still open then are ended and the report is marked partial. */
  maxDurationMs: z.number().positive().default(120_000),
  /** A stream with no byte for this long is ended as an error (timeout). */
  streamTimeoutMs: z.number().positive().default(60_000),
  /** After the last stream, how long to wait for generations still running (leaks) to finish, so their bill is complete. */
  settleTimeoutMs: z.number().nonnegative().default(30_000),
})

const { ledgerFile: _ledgerFile, control: _control, ...providerShape } = providerOptionsSchema.shape
export const scenarioProviderSchema = z.strictObject({
  ...providerShape,
  /** URL of a provider already running (`cancelbench provider`); absent = embedded on an ephemeral port. */
  url: z.string().url().optional(),
  /** Control token of an external provider. */
  controlToken: z.string().optional(),
})

/** USD per million tokens, at most 3 decimals (so one token costs whole nano-dollars: docs/cost.md). */
const priceUsdPerMTok = z.number().superRefine((value, ctx) => {
  const problem = priceProblem(value)
  if (problem) ctx.addIssue({ code: 'custom', message: problem })
}).describe('USD per million tokens, >= 0, at most 3 decimals')

/** Prices for the run's cost; `cancelbench run --price-in/--price-out` override them. Default: src/cost/prices.json. */
export const costSchema = z.strictObject({
  /** Per model id (a dated snapshot id such as claude-sonnet-4-5-20250929 matches its model). */
  prices: z.record(z.string().min(1), z.strictObject({ inputPerMTok: priceUsdPerMTok, outputPerMTok: priceUsdPerMTok })).optional(),
  /** Input price for every model without its own entry in `prices`. */
  priceInPerMTok: priceUsdPerMTok.optional(),
  /** Output price for every model without its own entry in `prices`. */
  priceOutPerMTok: priceUsdPerMTok.optional(),
}).describe('Prices for the run\'s cost (docs/cost.md); default: the shipped price table. `cancelbench run --price-in/--price-out` override them.')

export const scenarioSchema = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits, dot, dash and underscore').optional(),
  description: z.string().optional(),
  seed: z.number().int().default(1),
  /** The user prompt; the correlation marker is appended to it. */
  prompt: z.string().default('Write a detailed answer about the history of the telephone.'),
  /** Model name the target is expected to ask for; only used to label the report. */
  target: targetSchema,
  transport: transportSchema.prefault({ type: 'sse' }),
  provider: scenarioProviderSchema.prefault({}),
  load: loadSchema.prefault({}),
  cancel: cancelSchema.prefault({}),
  /** After an abort, the provider must have stopped within this many ms for the stream to count as propagated. */
  graceMs: z.number().nonnegative().default(1_000),
  /** k6-style expressions, e.g. "propagation_ms.p95 <= 250". */
  thresholds: z.array(z.string()).default(['propagation_rate >= 0.99']),
  /** Prices for the run's cost (docs/cost.md). */
  cost: costSchema.optional(),
})

export type ScenarioInput = z.input<typeof scenarioSchema>
export type Scenario = z.output<typeof scenarioSchema>
export type Transport = z.output<typeof transportSchema>
export type AbortPoint = z.output<typeof abortPoint>
