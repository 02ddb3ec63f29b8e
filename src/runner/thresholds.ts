import type { Summary, ThresholdResult } from '../report/report.ts'

/**
 * k6-style thresholds: `<metric> <op> <value>`, e.g. `propagation_ms.p95 <= 250` or
 * `max_idle_gap_ms <= 15s`. Parsed when the scenario is loaded (bad ones are input errors), evaluated by
 * one pure function after the run.
 */
export const THRESHOLD_METRICS: Record<string, (s: Summary) => number | null> = {
  propagation_rate: (s) => s.propagationRate,
  'propagation_ms.p50': (s) => s.propagationMs.p50,
  'propagation_ms.p95': (s) => s.propagationMs.p95,
  'propagation_ms.p99': (s) => s.propagationMs.p99,
  'propagation_ms.max': (s) => s.propagationMs.max,
  'leaked_tokens.total': (s) => s.leakedTokens.total,
  'leaked_tokens.p50': (s) => s.leakedTokens.p50,
  'leaked_tokens.p95': (s) => s.leakedTokens.p95,
  'leaked_tokens.max': (s) => s.leakedTokens.max,
  max_idle_gap_ms: (s) => s.maxIdleGapMs,
  leaked: (s) => s.leaked,
  errors: (s) => s.errors,
  no_upstream: (s) => s.noUpstream,
  error_rate: (s) => (s.streams ? s.errors / s.streams : null),
  no_upstream_rate: (s) => (s.streams ? s.noUpstream / s.streams : null),
  streams: (s) => s.streams,
  aborted: (s) => s.aborted,
  propagated: (s) => s.propagated,
  completed: (s) => s.completed,
}

const OPERATORS = {
  '<': (a: number, b: number) => a < b,
  '<=': (a: number, b: number) => a <= b,
  '>': (a: number, b: number) => a > b,
  '>=': (a: number, b: number) => a >= b,
  '==': (a: number, b: number) => a === b,
  '!=': (a: number, b: number) => a !== b,
} as const
type Operator = keyof typeof OPERATORS

export interface Threshold {
  expression: string
  metric: string
  operator: Operator
  value: number
}

const EXPRESSION = /^\s*([a-z_]+(?:\.[a-z0-9]+)?)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*(ms|s|%)?\s*$/

/**
 * Parses one expression or explains what is wrong with it.
 * @example parseThreshold('propagation_ms.p95 <= 250ms') // { ok: true, value: { metric: 'propagation_ms.p95', operator: '<=', value: 250, ... } }
 */
export function parseThreshold(expression: string): { ok: true; value: Threshold } | { ok: false; error: string } {
  const match = EXPRESSION.exec(expression)
  if (!match) return { ok: false, error: `"${expression}" is not <metric> <op> <number>, e.g. "propagation_ms.p95 <= 250"` }
  const [, metric, operator, raw, unit] = match as unknown as [string, string, Operator, string, string | undefined]
  if (!(metric in THRESHOLD_METRICS)) {
    return { ok: false, error: `unknown metric "${metric}" in "${expression}"; known: ${Object.keys(THRESHOLD_METRICS).join(', ')}` }
  }
  let value = Number(raw)
  if (unit === 's' || unit === 'ms') {
    if (!metric.includes('_ms')) return { ok: false, error: `"${expression}": a time unit only fits *_ms metrics` }
    if (unit === 's') value *= 1000
  }
  if (unit === '%') {
    if (!metric.endsWith('_rate')) return { ok: false, error: `"${expression}": % only fits *_rate metrics` }
    value /= 100
  }
  return { ok: true, value: { expression: expression.trim(), metric, operator, value } }
}

/** Evaluates every threshold against a summary. A metric with no data fails: nothing was proven. */
export function evaluateThresholds(thresholds: Threshold[], summary: Summary): ThresholdResult[] {
  return thresholds.map((t) => {
    const actual = THRESHOLD_METRICS[t.metric]!(summary)
    return { name: t.metric, expression: t.expression, actual, pass: actual !== null && OPERATORS[t.operator](actual, t.value) }
  })
}
