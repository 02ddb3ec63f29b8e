import { describe, expect, it } from 'vitest'
import { countInputTokens, textOf, tokenText } from '../../mock-provider/words.ts'

describe('tokenText / textOf', () => {
  it('is a pure function of seed and index', () => {
    for (let i = 0; i < 100; i++) expect(tokenText(12345, i)).toBe(tokenText(12345, i))
    expect(textOf(99, 0, 200)).toBe(textOf(99, 0, 200))
  })

  it('gives different text for different seeds', () => {
    expect(textOf(1, 0, 50)).not.toBe(textOf(2, 0, 50))
  })

  it('capitalises the first token and gives it no leading space', () => {
    for (let seed = 0; seed < 200; seed++) {
      const first = tokenText(seed, 0)
      expect(first).toMatch(/^[A-Z][a-z]*$/)
    }
  })

  it('starts every later token with one space and a lowercase word, sometimes ending a sentence', () => {
    let sentenceEnds = 0
    for (let i = 1; i < 2000; i++) {
      const token = tokenText(7, i)
      expect(token).toMatch(/^ [a-z]+\.?$/)
      if (token.endsWith('.')) sentenceEnds++
    }
    // About one token in twelve ends a sentence.
    expect(sentenceEnds).toBeGreaterThan(2000 / 12 / 2)
    expect(sentenceEnds).toBeLessThan((2000 / 12) * 2)
  })

  it('gives random access equal to sequential generation', () => {
    const seed = 0xdeadbeef
    let sequential = ''
    for (let i = 0; i < 300; i++) sequential += tokenText(seed, i)
    expect(textOf(seed, 0, 300)).toBe(sequential)
    // Any split point: the parts concatenate to the whole.
    for (const cut of [0, 1, 17, 150, 299, 300]) expect(textOf(seed, 0, cut) + textOf(seed, cut, 300)).toBe(sequential)
    // A window out of the middle, generated without the tokens before it.
    expect(textOf(seed, 100, 103)).toBe(tokenText(seed, 100) + tokenText(seed, 101) + tokenText(seed, 102))
  })

  it('is empty for an empty range', () => {
    expect(textOf(1, 5, 5)).toBe('')
    expect(textOf(1, 0, 0)).toBe('')
  })
})

describe('countInputTokens', () => {
  it('is ceil(characters / 4)', () => {
    expect(countInputTokens('')).toBe(0)
    expect(countInputTokens('a')).toBe(1)
    expect(countInputTokens('abcd')).toBe(1)
    expect(countInputTokens('abcde')).toBe(2)
    expect(countInputTokens('abcdefgh')).toBe(2)
    expect(countInputTokens('x'.repeat(401))).toBe(101)
    for (let n = 1; n < 100; n++) expect(countInputTokens('y'.repeat(n))).toBe(Math.ceil(n / 4))
  })
})
