/**
 * Per-request overrides of the generation plan and policy.
 *
 * Two carriers, same `key=value` syntax:
 *  - the correlation marker in the prompt: `[cb:<id> outputTokens=300 ttftMs=50]` (reaches the provider
 *    through any target server, since targets forward prompts), and
 *  - the HTTP header `x-cancelbench-override: outputTokens=300, ttftMs=50` (for direct callers).
 * The header wins over the marker for the same key.
 */
export const OVERRIDE_HEADER = 'x-cancelbench-override'

export const FAULT_KINDS = ['rate_limited', 'overloaded', 'mid_stream_error'] as const
export type FaultKind = (typeof FAULT_KINDS)[number]

export interface Overrides {
  ttftMs?: number
  tokensPerSecond?: number
  tokensPerEvent?: number
  outputTokens?: number
  stopLagMs?: number
  ignoreDisconnect?: boolean
  fault?: FaultKind
  faultAfterTokens?: number
}

type NumberKey = 'ttftMs' | 'tokensPerSecond' | 'tokensPerEvent' | 'outputTokens' | 'stopLagMs' | 'faultAfterTokens'
const NUMBER_KEYS: Record<NumberKey, { min: number; integer: boolean }> = {
  ttftMs: { min: 0, integer: false },
  tokensPerSecond: { min: 0.001, integer: false },
  tokensPerEvent: { min: 1, integer: true },
  outputTokens: { min: 0, integer: true },
  stopLagMs: { min: 0, integer: false },
  faultAfterTokens: { min: 0, integer: true },
}
const KNOWN_KEYS = [...Object.keys(NUMBER_KEYS), 'ignoreDisconnect', 'fault']

/** Splits the header's value into pairs: separators are spaces, commas or semicolons. */
export function parseOverrideHeader(value: string | null): Record<string, string> {
  const params: Record<string, string> = {}
  if (!value) return params
  for (const pair of value.split(/[\s,;]+/)) {
    if (!pair) continue
    const eq = pair.indexOf('=')
    if (eq <= 0) params[pair] = ''
    else params[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return params
}

/**
 * Validates raw pairs. Returns the overrides or an error sentence naming the key and what it accepts.
 * @example parseOverrides({ outputTokens: '300' }) // { ok: true, value: { outputTokens: 300 } }
 */
export function parseOverrides(params: Record<string, string>): { ok: true; value: Overrides } | { ok: false; error: string } {
  const value: Overrides = {}
  for (const [key, raw] of Object.entries(params)) {
    if (key in NUMBER_KEYS) {
      const rule = NUMBER_KEYS[key as NumberKey]
      const n = Number(raw)
      if (raw === '' || !Number.isFinite(n) || n < rule.min || (rule.integer && !Number.isInteger(n))) {
        return { ok: false, error: `override ${key}=${raw} is invalid: expected ${rule.integer ? 'an integer' : 'a number'} >= ${rule.min}` }
      }
      value[key as NumberKey] = n
    } else if (key === 'ignoreDisconnect') {
      if (!['true', 'false', '1', '0'].includes(raw)) return { ok: false, error: `override ignoreDisconnect=${raw} is invalid: expected true or false` }
      value.ignoreDisconnect = raw === 'true' || raw === '1'
    } else if (key === 'fault') {
      if (!(FAULT_KINDS as readonly string[]).includes(raw)) return { ok: false, error: `override fault=${raw} is invalid: expected one of ${FAULT_KINDS.join(', ')}` }
      value.fault = raw as FaultKind
    } else {
      return { ok: false, error: `unknown override "${key}": known keys are ${KNOWN_KEYS.join(', ')}` }
    }
  }
  return { ok: true, value }
}
