import { mix32 } from './random.ts'

/**
 * Deterministic output text and token counting.
 *
 * Output: token `i` of a generation is a pure function of the generation's seed and `i`, so any token can
 * be produced without generating the ones before it, and a test can rebuild the exact text a stream
 * carried from the ledger's `seed` and `emittedOutputTokens`. One piece is exactly one output token, so
 * output token counts are exact by construction.
 *
 * Input: token counts are approximated as ceil(characters / 4) over all prompt text, the common rule of
 * thumb for English with BPE tokenizers. It is not the providers' tokenizer; tests compare the mock's
 * usage with the mock's ledger, never with a real model's counts.
 */
const WORDS = (
  'the of and to in is it that for on with as was at by this be from are or an have not which one ' +
  'you all were can there their has more if will about out so what up when them some could into time ' +
  'only other new than then now look people may way these two first over its after also like made back ' +
  'use most our any work well should because each way even many those through down must before such ' +
  'stream token model cancel request server client stop budget latency provider signal abort socket ' +
  'ledger message answer question reason plan test measure network cost value result bench'
).split(' ')

/** The text of output token `index` (0-based) of the generation seeded with `seed`. */
export function tokenText(seed: number, index: number): string {
  const h = mix32(seed, index)
  const word = WORDS[h % WORDS.length] as string
  if (index === 0) return word[0]!.toUpperCase() + word.slice(1)
  // About one token in twelve ends a sentence, so long outputs read as sentences.
  const end = (h >>> 16) % 12 === 0 ? '.' : ''
  return ' ' + word + end
}

/** The text of tokens [from, to) of a generation. */
export function textOf(seed: number, from: number, to: number): string {
  let text = ''
  for (let i = from; i < to; i++) text += tokenText(seed, i)
  return text
}

/** Approximate input tokens: ceil(characters / 4), at least 1 for a non-empty prompt. */
export function countInputTokens(text: string): number {
  return text.length === 0 ? 0 : Math.max(1, Math.ceil(text.length / 4))
}
