import { basename, dirname, extname, resolve } from 'node:path'
import * as z from 'zod'
import { readConfigFile } from '../config-file.ts'
import { InputError } from '../errors.ts'
import { parseThreshold, type Threshold } from '../runner/thresholds.ts'
import { ABORT_MODES, scenarioSchema, type AbortMode, type Scenario } from './schema.ts'

/** A scenario resolved for a run: every default filled, paths absolute, rules checked. */
export interface LoadedScenario {
  scenario: Scenario & { name: string }
  /** The file it came from ('' for an in-memory scenario). */
  file: string
  thresholds: Threshold[]
  /** Directory relative paths in the scenario are resolved against. */
  baseDir: string
  warnings: string[]
  /** `--price-in` / `--price-out` of `cancelbench run` (USD per million tokens): above the scenario's `cost`. */
  priceFlags?: { inputPerMTok?: number | undefined; outputPerMTok?: number | undefined }
}

export interface Validation {
  value?: LoadedScenario
  warnings: string[]
  errors: string[]
}

/**
 * unknown -> schema -> normalise -> cross-field rules -> { value, warnings, errors }.
 * Never throws for bad input: every problem becomes an error line naming the field.
 * @example validateScenario({ target: { url: 'http://127.0.0.1:3000' } }, 'inline').errors // []
 */
export function validateScenario(input: unknown, file: string): Validation {
  const parsed = scenarioSchema.safeParse(input)
  if (!parsed.success) return { warnings: [], errors: parsed.error.issues.flatMap((issue) => describe(issue, input)) }
  const scenario = parsed.data
  const errors: string[] = []
  const warnings: string[] = []
  const { transport, cancel, target, load, provider } = scenario

  const modes: AbortMode[] = cancel.mode === undefined ? [transport.type === 'ws' ? 'ws-cancel' : 'abort'] : [cancel.mode].flat()
  for (const mode of modes) {
    if (transport.type === 'ws' && (mode === 'fin' || mode === 'abort' || mode === 'rst')) {
      errors.push(`cancel.mode: "${mode}" does not apply to transport ws; use ws-cancel (send the cancel message, keep the socket) or ws-close (close the socket)`)
    }
    if (transport.type !== 'ws' && mode.startsWith('ws-')) {
      errors.push(`cancel.mode: "${mode}" needs transport ws; with transport ${transport.type} use abort (fetch AbortController), fin (graceful TCP close) or rst (TCP reset)`)
    }
  }
  if (load.concurrency !== undefined && load.arrivalRatePerSec !== undefined) {
    errors.push('load: give either concurrency (closed loop: N streams open at once) or arrivalRatePerSec (open loop: N new streams per second), not both')
  }
  if (target.url.includes('{{port}}') && !target.command) {
    errors.push('target.url: {{port}} is only filled in when cancelbench starts the target; add target.command or write the port in the URL')
  }
  if (!/^https?:\/\//.test(target.url)) {
    errors.push(`target.url: "${target.url}" must start with http:// or https:// (ws:// and wss:// are derived from it for transport ws)`)
  }
  if (provider.url && (Object.keys(provider.faults).length > 0 || Object.keys(provider.rateLimits).length > 0)) {
    warnings.push('provider.faults and provider.rateLimits are ignored with an external provider (provider.url): configure them where it runs')
  }
  if (cancel.fraction > 0 && 'tokens' in cancel.after && transport.type === 'chunked' && transport.split === 'chunk') {
    warnings.push('cancel.after.tokens with transport chunked and split: chunk counts network chunks, not tokens; prefer split: line')
  }
  const thresholds: Threshold[] = []
  scenario.thresholds.forEach((expression, i) => {
    const parsed = parseThreshold(expression)
    if (parsed.ok) thresholds.push(parsed.value)
    else errors.push(`thresholds[${i}]: ${parsed.error}`)
  })
  if (scenario.graceMs < 50) warnings.push(`graceMs: ${scenario.graceMs} ms leaves almost no time for the cancel to travel; most streams will count as leaked`)

  const name = scenario.name ?? (file ? basename(file, extname(file)) : 'scenario')
  const baseDir = file ? dirname(resolve(file)) : process.cwd()
  if (errors.length > 0) return { warnings, errors }
  return { value: { scenario: { ...scenario, name, cancel: { ...cancel, mode: modes.length === 1 ? modes[0] : modes } }, file, thresholds, baseDir, warnings }, warnings, errors }
}

/**
 * Reads and validates a scenario file; throws InputError (exit 2) listing every problem with the file
 * path, the field and how to fix it.
 */
export async function loadScenario(file: string): Promise<LoadedScenario> {
  const input = await readConfigFile(file)
  const result = validateScenario(input, file)
  if (!result.value) {
    throw new InputError(`${file}: invalid scenario:\n` + result.errors.map((e) => `  - ${e}`).join('\n'))
  }
  return result.value
}

/** One zod issue as "path: what is wrong (allowed values / did you mean)". */
function describe(issue: z.core.$ZodIssue, input: unknown): string | string[] {
  const path = issue.path.map(String).join('.')
  const at = path || '(top level)'
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeys(input, issue.path)
      return issue.keys.map((key) => {
        const suggestion = closest(key, known)
        const where = path ? `${path}.${key}` : key
        return `${where}: unknown field${suggestion ? ` (did you mean "${suggestion}"?)` : ''}${known.length ? `; allowed: ${known.join(', ')}` : ''}`
      })
    }
    case 'invalid_value':
      return `${at}: ${JSON.stringify(valueAt(input, issue.path))} is not allowed; allowed: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`
    case 'invalid_type':
      if (valueAt(input, issue.path) === undefined) {
        return issue.path.join('.') === 'target' ? 'target: required: give target.url (and target.command to have cancelbench start it)' : `${at}: required (${issue.message})`
      }
      return `${at}: ${issue.message}`
    case 'invalid_union':
      if (issue.path.join('.') === 'transport.type' && valueAt(input, issue.path) === undefined) return `${at}: required; one of "sse", "chunked", "ws"`
      if (issue.path.join('.') === 'transport.type') return `${at}: ${JSON.stringify(valueAt(input, issue.path))} is not a transport; allowed: "sse", "chunked", "ws"`
      if (issue.path.at(-1) === 'mode') return `${at}: ${JSON.stringify(valueAt(input, issue.path))} is not an abort mode; allowed: ${ABORT_MODES.join(', ')} (or a list of them)`
      if (issue.path.at(-1) === 'after') return `${at}: expected one of { tokens: N }, { ms: N } or { firstByte: true } (N a number or a distribution)`
      return `${at}: ${issue.message}`
    case 'invalid_key':
      // zod reports a bad record key as "Invalid key in record"; the reason is in the key's own issues.
      return `${at}: ${issue.issues.map((inner) => inner.message).join('; ') || issue.message}`
    default:
      return `${at}: ${issue.message}`
  }
}

/** Field names allowed at `path`, read off the schema (best effort: objects and defaults). */
function knownKeys(input: unknown, path: PropertyKey[]): string[] {
  let schema: z.core.$ZodType | undefined = scenarioSchema
  for (const key of path) {
    schema = unwrap(schema)
    if (schema instanceof z.ZodObject) schema = (schema.shape as Record<string, z.core.$ZodType>)[String(key)]
    else if (schema instanceof z.ZodDiscriminatedUnion) {
      const type = (valueAt(input, path.slice(0, path.indexOf(key))) as { type?: unknown } | undefined)?.type
      schema = (schema.options as z.ZodObject[]).find((o) => (o.shape.type as z.ZodLiteral).value === type)
      if (schema instanceof z.ZodObject) schema = (schema.shape as Record<string, z.core.$ZodType>)[String(key)]
    } else return []
  }
  schema = unwrap(schema)
  if (schema instanceof z.ZodDiscriminatedUnion) {
    const type = (valueAt(input, path) as { type?: unknown } | undefined)?.type
    schema = (schema.options as z.ZodObject[]).find((o) => (o.shape.type as z.ZodLiteral).value === type)
  }
  return schema instanceof z.ZodObject ? Object.keys(schema.shape).filter((k) => k !== '$schema') : []
}

function unwrap(schema: z.core.$ZodType | undefined): z.core.$ZodType | undefined {
  let current = schema
  while (current instanceof z.ZodDefault || current instanceof z.ZodPrefault || current instanceof z.ZodOptional) {
    current = current.def.innerType as z.core.$ZodType
  }
  return current
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let value = input
  for (const key of path) value = (value as Record<PropertyKey, unknown> | undefined)?.[key]
  return value
}

/** The known key within edit distance 2 (or a case-insensitive match), if any. */
function closest(key: string, known: string[]): string | undefined {
  let best: string | undefined
  let bestDistance = 3
  for (const candidate of known) {
    const d = candidate.toLowerCase() === key.toLowerCase() ? 0 : levenshtein(key, candidate)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1))
      previous = current
    }
  }
  return row[b.length]!
}
