import { describe, expect, it } from 'vitest'
import { FAULT_KINDS, parseOverrideHeader, parseOverrides } from '../../mock-provider/overrides.ts'

function errorOf(params: Record<string, string>): string {
  const result = parseOverrides(params)
  if (result.ok) return expect.fail(`accepted ${JSON.stringify(params)}`)
  return result.error
}

describe('parseOverrides', () => {
  it('parses every known key', () => {
    expect(
      parseOverrides({
        ttftMs: '12.5',
        tokensPerSecond: '0.5',
        tokensPerEvent: '3',
        outputTokens: '0',
        stopLagMs: '200',
        ignoreDisconnect: 'true',
        fault: 'mid_stream_error',
        faultAfterTokens: '7',
      }),
    ).toEqual({
      ok: true,
      value: { ttftMs: 12.5, tokensPerSecond: 0.5, tokensPerEvent: 3, outputTokens: 0, stopLagMs: 200, ignoreDisconnect: true, fault: 'mid_stream_error', faultAfterTokens: 7 },
    })
    expect(parseOverrides({})).toEqual({ ok: true, value: {} })
  })

  it('reads ignoreDisconnect as true/false/1/0', () => {
    expect(parseOverrides({ ignoreDisconnect: '1' })).toEqual({ ok: true, value: { ignoreDisconnect: true } })
    expect(parseOverrides({ ignoreDisconnect: '0' })).toEqual({ ok: true, value: { ignoreDisconnect: false } })
    expect(parseOverrides({ ignoreDisconnect: 'false' })).toEqual({ ok: true, value: { ignoreDisconnect: false } })
  })

  it('accepts every fault kind', () => {
    for (const fault of FAULT_KINDS) expect(parseOverrides({ fault })).toEqual({ ok: true, value: { fault } })
  })

  it('names the key, the value and what an integer key accepts', () => {
    for (const raw of ['abc', '1.5', '-1', '', 'Infinity', 'NaN']) {
      const error = errorOf({ outputTokens: raw })
      expect(error).toContain(`outputTokens=${raw}`)
      expect(error).toContain('an integer >= 0')
    }
    expect(errorOf({ tokensPerEvent: '0' })).toContain('an integer >= 1')
    expect(errorOf({ faultAfterTokens: '2.5' })).toContain('faultAfterTokens')
  })

  it('names the key and the minimum of a number key', () => {
    const error = errorOf({ tokensPerSecond: '0' })
    expect(error).toContain('tokensPerSecond=0')
    expect(error).toContain('a number >= 0.001')
    expect(errorOf({ ttftMs: '-5' })).toContain('ttftMs=-5')
    expect(errorOf({ stopLagMs: 'soon' })).toMatch(/stopLagMs=soon.*a number >= 0/)
  })

  it('names the accepted values of ignoreDisconnect', () => {
    const error = errorOf({ ignoreDisconnect: 'yes' })
    expect(error).toContain('ignoreDisconnect=yes')
    expect(error).toContain('true or false')
  })

  it('names every accepted fault kind', () => {
    const error = errorOf({ fault: 'explode' })
    expect(error).toContain('fault=explode')
    for (const kind of FAULT_KINDS) expect(error).toContain(kind)
  })

  it('names an unknown key and lists the known keys', () => {
    const error = errorOf({ outputTokenz: '5' })
    expect(error).toContain('outputTokenz')
    for (const key of ['ttftMs', 'tokensPerSecond', 'tokensPerEvent', 'outputTokens', 'stopLagMs', 'faultAfterTokens', 'ignoreDisconnect', 'fault']) {
      expect(error).toContain(key)
    }
  })
})

describe('parseOverrideHeader', () => {
  it('is empty for a missing or empty header', () => {
    expect(parseOverrideHeader(null)).toEqual({})
    expect(parseOverrideHeader('')).toEqual({})
    expect(parseOverrideHeader('  , ; ')).toEqual({})
  })

  it('splits pairs on spaces, commas and semicolons', () => {
    const expected = { outputTokens: '300', ttftMs: '50', stopLagMs: '10', fault: 'overloaded' }
    expect(parseOverrideHeader('outputTokens=300 ttftMs=50 stopLagMs=10 fault=overloaded')).toEqual(expected)
    expect(parseOverrideHeader('outputTokens=300, ttftMs=50, stopLagMs=10, fault=overloaded')).toEqual(expected)
    expect(parseOverrideHeader('outputTokens=300;ttftMs=50;stopLagMs=10;fault=overloaded')).toEqual(expected)
    expect(parseOverrideHeader(' outputTokens=300 ,ttftMs=50;  stopLagMs=10\tfault=overloaded; ')).toEqual(expected)
  })

  it('keeps a key without a value so that validation can name it', () => {
    const params = parseOverrideHeader('ignoreDisconnect, outputTokens=5')
    expect(params).toEqual({ ignoreDisconnect: '', outputTokens: '5' })
    expect(errorOf(params)).toContain('ignoreDisconnect=')
  })

  it('feeds parseOverrides', () => {
    expect(parseOverrides(parseOverrideHeader('outputTokens=3, ignoreDisconnect=1'))).toEqual({ ok: true, value: { outputTokens: 3, ignoreDisconnect: true } })
  })
})
