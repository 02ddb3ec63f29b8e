import { describe, expect, it } from 'vitest'
import type { Summary } from '../../src/report/report.ts'
import { THRESHOLD_METRICS, evaluateThresholds, parseThreshold, type Threshold } from '../../src/runner/thresholds.ts'

function parsed(expression: string): Threshold {
  const result = parseThreshold(expression)
  if (!result.ok) throw new Error(`expected "${expression}" to parse, got: ${result.error}`)
  return result.value
}

function rejected(expression: string): string {
  const result = parseThreshold(expression)
  if (result.ok) throw new Error(`expected "${expression}" to be rejected, got ${JSON.stringify(result.value)}`)
  return result.error
}

function summary(fields: Partial<Summary> = {}): Summary {
  return {
    streams: 100,
    aborted: 50,
    propagated: 49,
    leaked: 1,
    completed: 48,
    noUpstream: 0,
    errors: 2,
    interrupted: 0,
    propagationRate: 0.98,
    propagationMs: { p50: 12, p95: 80, p99: 140, max: 300 },
    leakedTokens: { total: 40, p50: 0, p95: 3, max: 37 },
    maxIdleGapMs: 900,
    billedOutputTokens: 12_000,
    plannedOutputTokens: 20_000,
    ...fields,
  }
}

describe('parseThreshold: accepted', () => {
  it('propagation_ms.p95 <= 250', () => {
    expect(parsed('propagation_ms.p95 <= 250')).toEqual({ expression: 'propagation_ms.p95 <= 250', metric: 'propagation_ms.p95', operator: '<=', value: 250 })
  })

  it('an explicit ms unit keeps the value', () => {
    expect(parsed('propagation_ms.p95 <= 250ms').value).toBe(250)
    expect(parsed('propagation_ms.max < 1.5 ms').value).toBe(1.5)
  })

  it('seconds on a *_ms metric: max_idle_gap_ms <= 15s -> 15000', () => {
    expect(parsed('max_idle_gap_ms <= 15s')).toMatchObject({ metric: 'max_idle_gap_ms', operator: '<=', value: 15000 })
    expect(parsed('propagation_ms.p99 <= 0.25s').value).toBe(250)
  })

  it('a percentage on a *_rate metric: propagation_rate >= 99% -> 0.99', () => {
    expect(parsed('propagation_rate >= 99%')).toMatchObject({ metric: 'propagation_rate', operator: '>=', value: 0.99 })
    expect(parsed('error_rate <= 1%').value).toBe(0.01)
    expect(parsed('no_upstream_rate == 0%').value).toBe(0)
  })

  it.each(['<', '<=', '>', '>=', '==', '!='] as const)('operator %s', (operator) => {
    expect(parsed(`leaked ${operator} 3`)).toMatchObject({ metric: 'leaked', operator, value: 3 })
    expect(parsed(`leaked${operator}3`)).toMatchObject({ metric: 'leaked', operator, value: 3 })
  })

  it('every known metric parses', () => {
    for (const metric of Object.keys(THRESHOLD_METRICS)) expect(parsed(`${metric} >= 0`).metric).toBe(metric)
  })

  it('surrounding whitespace is trimmed from the stored expression; decimals and negatives parse', () => {
    expect(parsed('  propagation_rate >= 0.995  ')).toMatchObject({ expression: 'propagation_rate >= 0.995', value: 0.995 })
    expect(parsed('errors > -1').value).toBe(-1)
  })
})

describe('parseThreshold: rejected', () => {
  it('an unknown metric, listing every known one', () => {
    const error = rejected('propagation_speed <= 3')
    expect(error).toContain('unknown metric "propagation_speed"')
    expect(error).toContain('"propagation_speed <= 3"')
    expect(error).toContain(`known: ${Object.keys(THRESHOLD_METRICS).join(', ')}`)
  })

  it('an unknown percentile of a known family', () => {
    expect(rejected('propagation_ms.p90 <= 100')).toContain('unknown metric "propagation_ms.p90"')
  })

  it.each(['garbage', '', 'propagation_rate', 'propagation_rate >=', '>= 0.99', 'propagation_rate => 0.99', 'propagation_rate >= abc', 'propagation_rate >= 0.99 extra', 'propagation_ms.p95 <= 250 minutes'])(
    'garbage: %j',
    (expression) => {
      const error = rejected(expression)
      expect(error).toContain(`"${expression}"`)
      expect(error).toContain('<metric> <op> <number>')
      expect(error).toContain('propagation_ms.p95 <= 250')
    },
  )

  it.each(['leaked <= 5s', 'leaked_tokens.max <= 5ms', 'propagation_rate >= 1s', 'errors < 2ms'])('a time unit on a metric that is not in ms: %s', (expression) => {
    const error = rejected(expression)
    expect(error).toContain(expression)
    expect(error).toContain('time unit')
    expect(error).toContain('_ms')
  })

  it.each(['propagation_ms.p95 <= 5%', 'leaked <= 1%', 'errors == 0%'])('%% on a metric that is not a rate: %s', (expression) => {
    const error = rejected(expression)
    expect(error).toContain(expression)
    expect(error).toContain('%')
    expect(error).toContain('_rate')
  })
})

describe('evaluateThresholds', () => {
  const evaluate = (expressions: string[], s: Summary = summary()) => evaluateThresholds(expressions.map(parsed), s)

  it('passes and fails by the metric value, reporting the actual value', () => {
    expect(evaluate(['propagation_rate >= 0.99', 'propagation_ms.p95 <= 100', 'leaked_tokens.max <= 5', 'max_idle_gap_ms <= 15s'])).toEqual([
      { name: 'propagation_rate', expression: 'propagation_rate >= 0.99', actual: 0.98, pass: false },
      { name: 'propagation_ms.p95', expression: 'propagation_ms.p95 <= 100', actual: 80, pass: true },
      { name: 'leaked_tokens.max', expression: 'leaked_tokens.max <= 5', actual: 37, pass: false },
      { name: 'max_idle_gap_ms', expression: 'max_idle_gap_ms <= 15s', actual: 900, pass: true },
    ])
  })

  it('each operator, on both sides of the boundary', () => {
    const s = summary({ leaked: 3 })
    const cases: [string, boolean][] = [
      ['leaked < 3', false],
      ['leaked < 4', true],
      ['leaked <= 3', true],
      ['leaked <= 2', false],
      ['leaked > 3', false],
      ['leaked > 2', true],
      ['leaked >= 3', true],
      ['leaked >= 4', false],
      ['leaked == 3', true],
      ['leaked == 4', false],
      ['leaked != 3', false],
      ['leaked != 4', true],
    ]
    for (const [expression, pass] of cases) expect(evaluate([expression], s)[0]?.pass, expression).toBe(pass)
  })

  it('a percentage threshold compares with the rate as a fraction', () => {
    expect(evaluate(['propagation_rate >= 98%'])[0]?.pass).toBe(true)
    expect(evaluate(['propagation_rate >= 99%'])[0]?.pass).toBe(false)
  })

  it('derived rates: error_rate and no_upstream_rate', () => {
    const [errors, noUpstream] = evaluate(['error_rate <= 1%', 'no_upstream_rate == 0'], summary({ errors: 2, noUpstream: 0, streams: 100 }))
    expect(errors).toMatchObject({ actual: 0.02, pass: false })
    expect(noUpstream).toMatchObject({ actual: 0, pass: true })
  })

  it('no data proves nothing: actual null fails, whatever the operator', () => {
    const empty = summary({ propagationRate: null, propagationMs: { p50: null, p95: null, p99: null, max: null }, maxIdleGapMs: null, streams: 0 })
    const results = evaluate(['propagation_rate >= 0.99', 'propagation_rate != 1', 'propagation_ms.p95 <= 100000', 'max_idle_gap_ms >= 0', 'error_rate <= 100%'], empty)
    for (const result of results) {
      expect(result.actual, result.expression).toBeNull()
      expect(result.pass, result.expression).toBe(false)
    }
  })

  it('zero is data, not "no data"', () => {
    expect(evaluate(['leaked <= 0'], summary({ leaked: 0 }))[0]).toMatchObject({ actual: 0, pass: true })
    expect(evaluate(['propagation_ms.max <= 0'], summary({ propagationMs: { p50: 0, p95: 0, p99: 0, max: 0 } }))[0]?.pass).toBe(true)
  })

  it('no thresholds: no results', () => {
    expect(evaluateThresholds([], summary())).toEqual([])
  })
})
