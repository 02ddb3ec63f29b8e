import { describe, expect, it } from 'vitest'
import { findMarker, formatMarker } from '../../mock-provider/correlation.ts'

describe('findMarker', () => {
  it('finds a bare marker anywhere in a text', () => {
    expect(findMarker(['Please answer. [cb:run1-42] Thanks'])).toEqual({ correlationId: 'run1-42', params: {} })
    expect(findMarker(['[cb:a]'])).toEqual({ correlationId: 'a', params: {} })
  })

  it('finds the marker in any of the texts', () => {
    expect(findMarker(['system prompt', 'first message', 'second [cb:third-text] message'])?.correlationId).toBe('third-text')
  })

  it('returns undefined when there is no marker', () => {
    expect(findMarker([])).toBeUndefined()
    expect(findMarker(['no marker here', '[cb:]', 'cb:abc', '[cb abc]'])).toBeUndefined()
  })

  it('takes the first marker: earlier texts first, then the first in a text', () => {
    expect(findMarker(['sys [cb:from-system]', 'user [cb:from-user]'])?.correlationId).toBe('from-system')
    expect(findMarker(['[cb:one] and [cb:two]'])?.correlationId).toBe('one')
    expect(findMarker(['nothing', '[cb:one] and [cb:two]', '[cb:three]'])?.correlationId).toBe('one')
  })

  it('parses key=value params', () => {
    expect(findMarker(['hi [cb:run1-42 outputTokens=300 ttftMs=50.5 ignoreDisconnect=true]'])).toEqual({
      correlationId: 'run1-42',
      params: { outputTokens: '300', ttftMs: '50.5', ignoreDisconnect: 'true' },
    })
    // Any whitespace between pairs; a trailing space before the bracket.
    expect(findMarker(['[cb:x  a=1\tb=2 ]'])).toEqual({ correlationId: 'x', params: { a: '1', b: '2' } })
    // Values may contain '=' and punctuation other than spaces and ']'.
    expect(findMarker(['[cb:x fault=mid_stream_error k=a=b]'])?.params).toEqual({ fault: 'mid_stream_error', k: 'a=b' })
  })

  it('accepts ids made of letters, digits and . _ : -', () => {
    for (const id of ['abc', 'ABC123', 'run.1_x:2-3', '0', 'a-b-c', 'run:7.stream_2']) {
      expect(findMarker([`x [cb:${id}] y`])?.correlationId).toBe(id)
    }
  })

  it('does not match ids with other characters', () => {
    for (const text of ['[cb:a/b]', '[cb:a b]', '[cb:a,b]', '[cb:-abc]', '[cb:.abc]', '[cb:héllo]', '[cb:a$b]', '[cb:a]b]x', '[cb:a\nb]']) {
      const found = findMarker([text])
      // '[cb:a]b]x' legitimately contains the marker [cb:a]; everything else must not match at all.
      if (text === '[cb:a]b]x') expect(found?.correlationId).toBe('a')
      else expect(found, text).toBeUndefined()
    }
  })

  it('does not match a marker whose params are not key=value', () => {
    expect(findMarker(['[cb:abc outputTokens]'])).toBeUndefined()
    expect(findMarker(['[cb:abc =5]'])).toBeUndefined()
    expect(findMarker(['[cb:abc 1x=5]'])).toBeUndefined()
  })

  it('accepts ids of 1 to 128 characters and no longer', () => {
    const max = 'a'.repeat(128)
    expect(findMarker([`[cb:${max}]`])?.correlationId).toBe(max)
    expect(findMarker([`[cb:${'a'.repeat(129)}]`])).toBeUndefined()
    expect(findMarker([`[cb:${'a'.repeat(129)}]`, '[cb:next]'])?.correlationId).toBe('next')
  })

  it('reads any iterable of texts', () => {
    function* texts() {
      yield 'nothing'
      yield 'here [cb:gen-1]'
    }
    expect(findMarker(texts())?.correlationId).toBe('gen-1')
  })
})

describe('formatMarker', () => {
  it('formats a bare marker', () => {
    expect(formatMarker('run1-7')).toBe('[cb:run1-7]')
  })

  it('round-trips through findMarker', () => {
    const params = { outputTokens: 300, ttftMs: 12.5, ignoreDisconnect: true, fault: 'overloaded' }
    const marker = formatMarker('run.1_x:2-3', params)
    expect(marker).toBe('[cb:run.1_x:2-3 outputTokens=300 ttftMs=12.5 ignoreDisconnect=true fault=overloaded]')
    expect(findMarker([`Tell me a story. ${marker} Go.`])).toEqual({
      correlationId: 'run.1_x:2-3',
      params: { outputTokens: '300', ttftMs: '12.5', ignoreDisconnect: 'true', fault: 'overloaded' },
    })
    expect(findMarker([formatMarker('bare')])).toEqual({ correlationId: 'bare', params: {} })
  })
})
