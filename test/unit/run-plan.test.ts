import { describe, expect, it } from 'vitest'
import { findMarker } from '../../mock-provider/correlation.ts'
import { parseOverrides } from '../../mock-provider/overrides.ts'
import { plan, type RunPlan } from '../../src/runner/plan.ts'
import { validateScenario, type LoadedScenario } from '../../src/scenario/load.ts'

type Input = Record<string, unknown>

/** A scenario as a run gets it: validated, every default filled. */
function scenario(input: Input = {}): LoadedScenario['scenario'] {
  const result = validateScenario({ target: { url: 'http://127.0.0.1:3000' }, ...input }, 'plan-test.yaml')
  if (!result.value) throw new Error(`invalid test scenario: ${result.errors.join('; ')}`)
  return result.value.scenario
}

/** Timing drawn per stream, so the scripts differ from stream to stream. */
const DRAWN_TIMING = {
  timing: {
    ttftMs: { dist: 'uniform', min: 50, max: 500 },
    tokensPerSecond: { dist: 'lognormal', median: 60, sigma: 0.4, min: 5 },
    tokensPerEvent: { dist: 'uniform', min: 1, max: 4 },
    outputTokens: { dist: 'uniform', min: 100, max: 600 },
  },
}

const abortsOf = (p: RunPlan) => p.streams.map((s) => s.abort)
const scriptsOf = (p: RunPlan) => p.streams.map((s) => s.script)

describe('plan: determinism', () => {
  const s = scenario({ provider: DRAWN_TIMING, load: { streams: 50 }, cancel: { mode: ['abort', 'fin', 'rst'] } })

  it('the same scenario, seed and runId give deep-equal plans', () => {
    expect(plan(s, { seed: 7, runId: 'r1' })).toEqual(plan(s, { seed: 7, runId: 'r1' }))
  })

  it('has one stream per load.streams, indexed and named <runId>-<index>', () => {
    const p = plan(s, { seed: 7, runId: 'r1' })
    expect(p.runId).toBe('r1')
    expect(p.scenario).toBe('plan-test')
    expect(p.seed).toBe(7)
    expect(p.streams).toHaveLength(50)
    p.streams.forEach((stream, i) => {
      expect(stream.index).toBe(i)
      expect(stream.id).toBe(`r1-${i}`)
    })
  })

  it('uses the scenario seed when none is given', () => {
    const seeded = scenario({ seed: 7, provider: DRAWN_TIMING, load: { streams: 20 } })
    expect(plan(seeded, { runId: 'r1' }).seed).toBe(7)
    expect(plan(seeded, { runId: 'r1' })).toEqual(plan(seeded, { seed: 7, runId: 'r1' }))
  })

  it('a different seed gives different abort points and scripts', () => {
    const a = plan(s, { seed: 1, runId: 'r1' })
    const b = plan(s, { seed: 2, runId: 'r1' })
    expect(abortsOf(a)).not.toEqual(abortsOf(b))
    expect(scriptsOf(a)).not.toEqual(scriptsOf(b))
  })

  it('the runId changes only ids and prompts: aborts, scripts and send times are identical', () => {
    const a = plan(s, { seed: 7, runId: 'r1' })
    const b = plan(s, { seed: 7, runId: 'other-run' })
    expect(abortsOf(b)).toEqual(abortsOf(a))
    expect(scriptsOf(b)).toEqual(scriptsOf(a))
    a.streams.forEach((stream, i) => {
      const twin = b.streams[i]!
      expect(twin.id).toBe(`other-run-${i}`)
      expect(twin.sendAtMs).toBe(stream.sendAtMs)
      expect(twin.prompt).toBe(stream.prompt.replace(`[cb:r1-${i} `, `[cb:other-run-${i} `))
    })
  })

  it('adding streams does not change the plans of the existing ones', () => {
    const small = plan(scenario({ provider: DRAWN_TIMING, load: { streams: 10 } }), { seed: 3, runId: 'r' })
    const large = plan(scenario({ provider: DRAWN_TIMING, load: { streams: 40 } }), { seed: 3, runId: 'r' })
    expect(large.streams.slice(0, 10)).toEqual(small.streams)
  })
})

describe('plan: aborts', () => {
  it('fraction 0 aborts nothing, fraction 1 aborts everything', () => {
    expect(abortsOf(plan(scenario({ load: { streams: 200 }, cancel: { fraction: 0 } }), { runId: 'r' })).every((a) => a === null)).toBe(true)
    expect(abortsOf(plan(scenario({ load: { streams: 200 }, cancel: { fraction: 1 } }), { runId: 'r' })).every((a) => a !== null)).toBe(true)
  })

  it.each([0.1, 0.3, 0.5, 0.9])('over 1000 streams, the share aborted is near the fraction %s', (fraction) => {
    for (const seed of [1, 2, 3]) {
      const p = plan(scenario({ load: { streams: 1000 }, cancel: { fraction } }), { seed, runId: 'r' })
      const share = p.streams.filter((s) => s.abort !== null).length / 1000
      // Binomial sd is at most 0.016 at n = 1000: 0.05 is over 3 sd.
      expect(Math.abs(share - fraction)).toBeLessThan(0.05)
    }
  })

  it('token abort points are integers within the distribution bounds, and both ends are reached', () => {
    const p = plan(scenario({ load: { streams: 1000 }, cancel: { fraction: 1, after: { tokens: { dist: 'uniform', min: 5, max: 40 } } } }), { runId: 'r' })
    const tokens = p.streams.map((s) => {
      const at = s.abort!.at
      if (at.kind !== 'tokens') throw new Error(`expected a tokens abort point, got ${at.kind}`)
      return at.tokens
    })
    for (const n of tokens) {
      expect(Number.isInteger(n)).toBe(true)
      expect(n).toBeGreaterThanOrEqual(5)
      expect(n).toBeLessThanOrEqual(40)
    }
    expect(Math.min(...tokens)).toBeLessThanOrEqual(6)
    expect(Math.max(...tokens)).toBeGreaterThanOrEqual(39)
  })

  it('the default abort point is tokens uniform 5..40', () => {
    const p = plan(scenario({ load: { streams: 300 }, cancel: { fraction: 1 } }), { runId: 'r' })
    for (const s of p.streams) {
      expect(s.abort?.at.kind).toBe('tokens')
      const at = s.abort!.at as { kind: 'tokens'; tokens: number }
      expect(at.tokens).toBeGreaterThanOrEqual(5)
      expect(at.tokens).toBeLessThanOrEqual(40)
    }
  })

  it('a tokens abort point is at least 1 token', () => {
    const p = plan(scenario({ load: { streams: 20 }, cancel: { fraction: 1, after: { tokens: 0 } } }), { runId: 'r' })
    for (const s of p.streams) expect(s.abort?.at).toEqual({ kind: 'tokens', tokens: 1 })
  })

  it('ms abort points are within the distribution bounds', () => {
    const p = plan(scenario({ load: { streams: 500 }, cancel: { fraction: 1, after: { ms: { dist: 'uniform', min: 100, max: 300 } } } }), { runId: 'r' })
    for (const s of p.streams) {
      const at = s.abort!.at
      if (at.kind !== 'ms') throw new Error(`expected an ms abort point, got ${at.kind}`)
      expect(at.ms).toBeGreaterThanOrEqual(100)
      expect(at.ms).toBeLessThanOrEqual(300)
    }
  })

  it('a fixed ms abort point and firstByte', () => {
    const ms = plan(scenario({ load: { streams: 5 }, cancel: { fraction: 1, after: { ms: 250 } } }), { runId: 'r' })
    for (const s of ms.streams) expect(s.abort?.at).toEqual({ kind: 'ms', ms: 250 })
    const first = plan(scenario({ load: { streams: 5 }, cancel: { fraction: 1, after: { firstByte: true } } }), { runId: 'r' })
    for (const s of first.streams) expect(s.abort?.at).toEqual({ kind: 'firstByte' })
  })

  it('modes are drawn from the list: each appears, in roughly equal shares', () => {
    const modes = ['abort', 'fin', 'rst'] as const
    const p = plan(scenario({ load: { streams: 300 }, cancel: { fraction: 1, mode: [...modes] } }), { runId: 'r' })
    const counts = new Map<string, number>()
    for (const s of p.streams) counts.set(s.abort!.mode, (counts.get(s.abort!.mode) ?? 0) + 1)
    expect([...counts.keys()].sort()).toEqual([...modes].sort())
    for (const mode of modes) expect(counts.get(mode)).toBeGreaterThan(60)
  })

  it('a single mode is used for every aborted stream; ws defaults to ws-cancel', () => {
    const rst = plan(scenario({ load: { streams: 50 }, cancel: { fraction: 1, mode: 'rst' } }), { runId: 'r' })
    expect(new Set(rst.streams.map((s) => s.abort?.mode))).toEqual(new Set(['rst']))
    const sse = plan(scenario({ load: { streams: 50 }, cancel: { fraction: 1 } }), { runId: 'r' })
    expect(new Set(sse.streams.map((s) => s.abort?.mode))).toEqual(new Set(['abort']))
    const ws = plan(scenario({ transport: { type: 'ws' }, load: { streams: 50 }, cancel: { fraction: 1 } }), { runId: 'r' })
    expect(new Set(ws.streams.map((s) => s.abort?.mode))).toEqual(new Set(['ws-cancel']))
  })
})

describe('plan: the prompt carries the correlation marker and the script', () => {
  const s = scenario({ prompt: 'Tell me about bridges.', provider: DRAWN_TIMING, load: { streams: 40 } })
  const p = plan(s, { seed: 11, runId: 'run7' })

  it('the prompt is the scenario prompt followed by the marker', () => {
    for (const stream of p.streams) expect(stream.prompt.startsWith('Tell me about bridges. [cb:')).toBe(true)
  })

  it('findMarker parses back the stream id and the script values', () => {
    for (const stream of p.streams) {
      const marker = findMarker([stream.prompt])
      expect(marker?.correlationId).toBe(stream.id)
      expect(Object.keys(marker!.params).sort()).toEqual(['outputTokens', 'tokensPerEvent', 'tokensPerSecond', 'ttftMs'])
      expect(Number(marker!.params.ttftMs)).toBe(stream.script.ttftMs)
      expect(Number(marker!.params.tokensPerSecond)).toBe(stream.script.tokensPerSecond)
      expect(Number(marker!.params.tokensPerEvent)).toBe(stream.script.tokensPerEvent)
      expect(Number(marker!.params.outputTokens)).toBe(stream.script.outputTokens)
    }
  })

  it('parseOverrides accepts the marker and yields exactly the script', () => {
    for (const stream of p.streams) {
      const parsed = parseOverrides(findMarker([stream.prompt])!.params)
      expect(parsed).toEqual({ ok: true, value: stream.script })
    }
  })

  it('the marker survives a prompt that contains brackets and other markers-like text', () => {
    const tricky = plan(scenario({ prompt: 'Explain [x] and cb: prefixes.', load: { streams: 3 } }), { runId: 'r' })
    for (const stream of tricky.streams) expect(findMarker([stream.prompt])?.correlationId).toBe(stream.id)
  })

  it('scripts stay within the timing bounds, with integer events and lengths', () => {
    for (const { script } of p.streams) {
      expect(script.ttftMs).toBeGreaterThanOrEqual(50)
      expect(script.ttftMs).toBeLessThanOrEqual(500)
      expect(script.tokensPerSecond).toBeGreaterThanOrEqual(5)
      expect(Number.isInteger(script.tokensPerEvent)).toBe(true)
      expect(script.tokensPerEvent).toBeGreaterThanOrEqual(1)
      expect(script.tokensPerEvent).toBeLessThanOrEqual(4)
      expect(Number.isInteger(script.outputTokens)).toBe(true)
      expect(script.outputTokens).toBeGreaterThanOrEqual(100)
      expect(script.outputTokens).toBeLessThanOrEqual(600)
    }
    expect(new Set(p.streams.map((st) => st.script.ttftMs)).size).toBeGreaterThan(30)
  })

  it('fixed timing gives the fixed script', () => {
    const fixed = plan(scenario({ provider: { timing: { ttftMs: 50, tokensPerSecond: 100, tokensPerEvent: 2, outputTokens: 300 } }, load: { streams: 3 } }), { runId: 'r' })
    for (const stream of fixed.streams) {
      expect(stream.script).toEqual({ ttftMs: 50, tokensPerSecond: 100, tokensPerEvent: 2, outputTokens: 300 })
      expect(stream.prompt).toContain(`[cb:${stream.id} ttftMs=50 tokensPerSecond=100 tokensPerEvent=2 outputTokens=300]`)
    }
  })
})

describe('plan: load shape', () => {
  it('open loop: sendAtMs = index * 1000 / rate', () => {
    const p = plan(scenario({ load: { streams: 30, arrivalRatePerSec: 3 } }), { runId: 'r' })
    p.streams.forEach((stream, i) => {
      expect(stream.sendAtMs).not.toBeNull()
      expect(stream.sendAtMs!).toBeCloseTo((i * 1000) / 3, 2)
    })
    expect(p.streams[0]!.sendAtMs).toBe(0)
    expect(p.streams[3]!.sendAtMs).toBe(1000)
  })

  it('closed loop (concurrency, or neither given): sendAtMs is null', () => {
    for (const load of [{ streams: 10, concurrency: 4 }, { streams: 10 }]) {
      for (const stream of plan(scenario({ load }), { runId: 'r' }).streams) expect(stream.sendAtMs).toBeNull()
    }
  })
})

describe('plan: independent random streams', () => {
  const base = { provider: DRAWN_TIMING, load: { streams: 200 } }

  it('changing the cancel settings does not change the scripts', () => {
    const a = plan(scenario({ ...base, cancel: { fraction: 0.5 } }), { seed: 5, runId: 'r' })
    for (const cancel of [
      { fraction: 1 },
      { fraction: 0 },
      { fraction: 0.2, after: { ms: { dist: 'lognormal', median: 300, sigma: 1 } } },
      { fraction: 0.7, after: { firstByte: true }, mode: ['abort', 'fin', 'rst'] },
    ]) {
      expect(scriptsOf(plan(scenario({ ...base, cancel }), { seed: 5, runId: 'r' }))).toEqual(scriptsOf(a))
    }
  })

  it('changing the provider timing does not change the abort decisions', () => {
    const a = plan(scenario({ ...base, cancel: { fraction: 0.5 } }), { seed: 5, runId: 'r' })
    const b = plan(scenario({ provider: { timing: { ttftMs: 10, outputTokens: { dist: 'normal', mean: 50, stddev: 20 } } }, load: { streams: 200 }, cancel: { fraction: 0.5 } }), { seed: 5, runId: 'r' })
    expect(abortsOf(b)).toEqual(abortsOf(a))
    expect(scriptsOf(b)).not.toEqual(scriptsOf(a))
  })

  it('changing the abort point keeps which streams are aborted', () => {
    const tokens = plan(scenario({ ...base, cancel: { fraction: 0.4 } }), { seed: 9, runId: 'r' })
    const ms = plan(scenario({ ...base, cancel: { fraction: 0.4, after: { ms: 100 } } }), { seed: 9, runId: 'r' })
    expect(ms.streams.map((s) => s.abort !== null)).toEqual(tokens.streams.map((s) => s.abort !== null))
  })
})
