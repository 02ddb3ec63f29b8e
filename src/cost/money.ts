/**
 * Exact money arithmetic for the cost model.
 *
 * Amounts are integer **nano-dollars** (1 nano-dollar = 1e-9 USD) held in `bigint`. A price in USD per
 * million tokens times 1000 is nano-dollars per token, and prices are accepted with at most 3 decimals
 * ($0.001/MTok), so the price of one token is a whole number of nano-dollars and the cost of a run
 * (integer tokens x integer price) is exact with no rounding at all.
 *
 * Projections multiply by averages and rates (500.5 tokens, a stop rate of 0.37). Those factors are taken
 * as exact decimals (the shortest decimal that round-trips the JS number, i.e. what `String(x)` prints),
 * multiplied exactly, and rounded **once** to a whole nano-dollar, half away from zero (`toNano`).
 *
 * USD numbers (report.json, WhatIfResult) come from `nanoToUsd`, which returns the double nearest to the
 * exact decimal amount: full precision to 1e-9 USD. Display rounding is `formatUsd`'s job, and nothing
 * is ever computed from displayed figures.
 *
 * bigint rather than number: a month of traffic in nano-dollars passes 2^53 (about $9 million) easily.
 */

/** Nano-dollars (1e-9 USD) per USD. */
export const NANO_PER_USD = 1_000_000_000n

/** An exact decimal: `coef / 10^scale`. */
export interface Decimal {
  coef: bigint
  scale: number
}

/**
 * The exact decimal a JS number denotes as written (its shortest round-trip form): 0.1 -> 1/10, not the
 * binary double's 0.1000000000000000055...
 * @example decimal(287.35) // { coef: 28735n, scale: 2 }
 */
export function decimal(value: number): Decimal {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`)
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/.exec(String(value))
  if (!match) throw new RangeError(`cannot read ${value} as a decimal`)
  const [, sign, whole, fraction = '', exponent = '0'] = match
  let coef = BigInt(`${sign}${whole}${fraction}`)
  let scale = fraction.length - Number(exponent)
  if (scale < 0) {
    coef *= 10n ** BigInt(-scale)
    scale = 0
  }
  return { coef, scale }
}

/** Exact product of decimals. */
export function mul(...factors: Decimal[]): Decimal {
  return factors.reduce((a, b) => ({ coef: a.coef * b.coef, scale: a.scale + b.scale }), { coef: 1n, scale: 0 })
}

/** Exact difference a - b. */
export function sub(a: Decimal, b: Decimal): Decimal {
  const scale = Math.max(a.scale, b.scale)
  return { coef: a.coef * 10n ** BigInt(scale - a.scale) - b.coef * 10n ** BigInt(scale - b.scale), scale }
}

/** Exact sum. */
export function add(a: Decimal, b: Decimal): Decimal {
  return sub(a, { coef: -b.coef, scale: b.scale })
}

/** The double nearest to an exact decimal. */
export function toNumber(value: Decimal): number {
  const negative = value.coef < 0n
  const digits = String(negative ? -value.coef : value.coef).padStart(value.scale + 1, '0')
  const point = digits.length - value.scale
  return Number(`${negative ? '-' : ''}${digits.slice(0, point)}.${digits.slice(point) || '0'}`)
}

/** An exact decimal from a bigint. */
export function whole(value: bigint): Decimal {
  return { coef: value, scale: 0 }
}

/** `numerator / denominator` rounded to an integer, half away from zero. */
export function divRound(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new RangeError('division by zero')
  const negative = numerator < 0n !== denominator < 0n
  const n = numerator < 0n ? -numerator : numerator
  const d = denominator < 0n ? -denominator : denominator
  const rounded = (2n * n + d) / (2n * d)
  return negative ? -rounded : rounded
}

/**
 * An exact amount of nano-dollars rounded to a whole nano-dollar, half away from zero: the one rounding
 * a projected figure goes through.
 */
export function toNano(amount: Decimal): bigint {
  return divRound(amount.coef, 10n ** BigInt(amount.scale))
}

/** True when a USD-per-million-token price has at most 3 decimals (so one token is whole nano-dollars). */
export function isWholeNanoPrice(usdPerMTok: number): boolean {
  return Number.isFinite(usdPerMTok) && usdPerMTok >= 0 && decimal(usdPerMTok).scale <= 3
}

/**
 * Nano-dollars per token of a price in USD per million tokens: price x 1000 (1e9 nano per USD / 1e6
 * tokens per MTok). Throws RangeError for a price with more than 3 decimals; inputs are checked before.
 * @example nanoPerToken(15) // 15000n: $15/MTok is 15,000 nano-dollars a token
 */
export function nanoPerToken(usdPerMTok: number): bigint {
  if (!isWholeNanoPrice(usdPerMTok)) throw new RangeError(`price ${usdPerMTok} USD/MTok must be >= 0 with at most 3 decimals`)
  const { coef, scale } = decimal(usdPerMTok)
  return coef * 10n ** BigInt(3 - scale)
}

/**
 * Nano-dollars as a USD number: the double nearest to the exact amount (read from its decimal string, so
 * even amounts past 2^53 nano-dollars are rounded once, correctly).
 * @example nanoToUsd(7_500_000n) // 0.0075
 */
export function nanoToUsd(nano: bigint): number {
  const negative = nano < 0n
  const abs = negative ? -nano : nano
  return Number(`${negative ? '-' : ''}${abs / NANO_PER_USD}.${String(abs % NANO_PER_USD).padStart(9, '0')}`)
}

/**
 * A USD number written by `nanoToUsd` back to its nano-dollars, exactly (the double is within far less
 * than half a nano-dollar of the amount it stands for, up to about $4 million; beyond that, nearest).
 */
export function usdToNano(usd: number): bigint {
  return toNano(mul(decimal(usd), whole(NANO_PER_USD)))
}

/**
 * USD for people. Rules (applied to the exact nano-dollar amount, rounding half away from zero):
 * - $1 and more: cents, with thousands separators: `$6,000.00`, `$1.23`;
 * - under $1: 4 significant digits, trailing zeros dropped down to 2 decimals: `$0.0075`, `$0.006`,
 *   `$0.004217`, `$0.50`, `$0.000045` (so a leak of a few tokens never shows as $0); an amount that
 *   rounds up to $1 shows `$1.00`;
 * - zero: `$0.00`; negative amounts get a leading minus: `-$0.006`.
 * @example formatUsd(6000) // '$6,000.00'
 * @example formatUsd(0.006) // '$0.006'
 */
export function formatUsd(usd: number): string {
  return formatNano(usdToNano(usd))
}

/** `formatUsd` for nano-dollars. */
export function formatNano(nano: bigint): string {
  const sign = nano < 0n ? '-' : ''
  const abs = nano < 0n ? -nano : nano
  if (abs === 0n) return '$0.00'
  const unit = 10n ** BigInt(Math.max(0, String(abs).length - 4))
  const significant = abs >= NANO_PER_USD ? abs : divRound(abs, unit) * unit
  if (significant >= NANO_PER_USD) {
    const cents = divRound(significant, 10_000_000n)
    return `${sign}$${groupThousands(cents / 100n)}.${String(cents % 100n).padStart(2, '0')}`
  }
  return `${sign}$0.${String(significant).padStart(9, '0').replace(/0+$/, '').padEnd(2, '0')}`
}

function groupThousands(value: bigint): string {
  return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}
