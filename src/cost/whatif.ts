import { add, decimal, mul, nanoToUsd, sub, toNano, toNumber, whole, type Decimal } from './money.ts'
import type { WhatIfInput, WhatIfResult } from './types.ts'

/** Where users stop, as shares of the average output, for the sensitivity view: 0%, 10%, ..., 100%. */
export const STOP_POINT_TENTHS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
/** Propagation rates for the sensitivity view (the input's own rate is added). */
export const PROPAGATION_RATES = [0, 0.5, 0.9, 0.99, 1]

/**
 * Projects a period of traffic. Pure. With in/out the prices per token:
 *
 *   per response          = avgInputTokens x in + avgOutputTokens x out
 *   per stopped response  = avgInputTokens x in + stopAtTokens x out
 *   saved per stop        = (avgOutputTokens - stopAtTokens) x out
 *   stops per period      = requests x stopRate
 *   baseline              = requests x per response                 (nobody stops, or no stop propagates)
 *   full savings          = stops per period x saved per stop       (every stop reaches the provider)
 *   saved                 = full savings x propagationRate
 *   lost to leaks         = full savings - saved                     (= full savings x (1 - propagationRate))
 *   billed                = baseline - saved
 *
 * Each money figure is computed exactly from the inputs (as decimals, in nano-dollars) and rounded once
 * to the nano-dollar, half away from zero; `lost to leaks` and `billed` are differences of rounded
 * figures so saved + lost = full savings and billed + saved = baseline hold exactly.
 *
 * @example projectWhatIf({ requestsPerPeriod: 1_000_000, stopRate: 1, avgOutputTokens: 500, avgInputTokens: 0, stopAtTokens: 100,
 *   propagationRate: 1, prices: { inputPerMTok: 0, outputPerMTok: 15 }, period: 'month' }).savedUsd // 6000
 */
export function projectWhatIf(input: WhatIfInput): WhatIfResult {
  const problem = whatIfInputProblem(input)
  if (problem) throw new RangeError(`projectWhatIf: ${problem}`)
  const perToken = (usdPerMTok: number) => mul(decimal(usdPerMTok), whole(1000n)) // nano-dollars per token
  const inNano = perToken(input.prices.inputPerMTok)
  const outNano = perToken(input.prices.outputPerMTok)
  const requests = decimal(input.requestsPerPeriod)
  const stopRate = decimal(input.stopRate)
  const avgOut = decimal(input.avgOutputTokens)
  const inputCost = mul(decimal(input.avgInputTokens), inNano)
  const stopAt = decimal(input.stopAtTokens)

  /** Saved and lost over the period for a stop point and a propagation rate. */
  const outcome = (at: Decimal, rate: Decimal) => {
    const full = mul(requests, stopRate, sub(avgOut, at), outNano)
    const saved = toNano(mul(full, rate))
    return { saved, lost: toNano(full) - saved }
  }

  const perResponse = add(inputCost, mul(avgOut, outNano))
  const baseline = toNano(mul(requests, perResponse))
  const { saved, lost } = outcome(stopAt, decimal(input.propagationRate))
  const rates = [...new Set([...PROPAGATION_RATES, input.propagationRate])].sort((a, b) => a - b)
  return {
    input,
    perResponseUsd: nanoToUsd(toNano(perResponse)),
    perStoppedResponseUsd: nanoToUsd(toNano(add(inputCost, mul(stopAt, outNano)))),
    savedPerStopUsd: nanoToUsd(toNano(mul(sub(avgOut, stopAt), outNano))),
    stopsPerPeriod: toNumber(mul(requests, stopRate)),
    baselineUsd: nanoToUsd(baseline),
    billedUsd: nanoToUsd(baseline - saved),
    savedUsd: nanoToUsd(saved),
    lostToLeaksUsd: nanoToUsd(lost),
    byStopPoint: STOP_POINT_TENTHS.map((tenths) => {
      const at = mul(avgOut, { coef: BigInt(tenths), scale: 1 })
      const o = outcome(at, decimal(input.propagationRate))
      return { stopAtFraction: tenths / 10, stopAtTokens: toNumber(at), savedUsd: nanoToUsd(o.saved), lostToLeaksUsd: nanoToUsd(o.lost) }
    }),
    byPropagationRate: rates.map((rate) => {
      const o = outcome(stopAt, decimal(rate))
      return { propagationRate: rate, savedUsd: nanoToUsd(o.saved), lostToLeaksUsd: nanoToUsd(o.lost) }
    }),
  }
}

/**
 * What is wrong with a projection's input, by field name, or null. (The what-if command checks its flags
 * first and names them; this guards library callers.)
 */
export function whatIfInputProblem(input: WhatIfInput): string | null {
  const finite = (v: number) => typeof v === 'number' && Number.isFinite(v)
  const checks: [boolean, string][] = [
    [finite(input.requestsPerPeriod) && input.requestsPerPeriod >= 0, `requestsPerPeriod must be >= 0, got ${input.requestsPerPeriod}`],
    [finite(input.stopRate) && input.stopRate >= 0 && input.stopRate <= 1, `stopRate must be from 0 to 1, got ${input.stopRate}`],
    [finite(input.propagationRate) && input.propagationRate >= 0 && input.propagationRate <= 1, `propagationRate must be from 0 to 1, got ${input.propagationRate}`],
    [finite(input.avgOutputTokens) && input.avgOutputTokens >= 0, `avgOutputTokens must be >= 0, got ${input.avgOutputTokens}`],
    [finite(input.avgInputTokens) && input.avgInputTokens >= 0, `avgInputTokens must be >= 0, got ${input.avgInputTokens}`],
    [
      finite(input.stopAtTokens) && input.stopAtTokens >= 0 && input.stopAtTokens <= input.avgOutputTokens,
      `stopAtTokens must be from 0 to avgOutputTokens (${input.avgOutputTokens}), got ${input.stopAtTokens}`,
    ],
    [finite(input.prices?.inputPerMTok) && input.prices.inputPerMTok >= 0, `prices.inputPerMTok must be >= 0, got ${input.prices?.inputPerMTok}`],
    [finite(input.prices?.outputPerMTok) && input.prices.outputPerMTok >= 0, `prices.outputPerMTok must be >= 0, got ${input.prices?.outputPerMTok}`],
  ]
  return checks.find(([ok]) => !ok)?.[1] ?? null
}
