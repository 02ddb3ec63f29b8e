/**
 * Number formatting and escaping shared by the renderers. Pure; English number formats whatever the
 * machine's locale, so the same report renders to the same bytes everywhere.
 */

/** `12.35 ms`, `1.23 s`, or `n/a`. */
export function fmtMs(value: number | null): string {
  if (value === null) return 'n/a'
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${round2(value)} ms`
}

/** `7,510`. */
export function fmtInt(value: number): string {
  return Math.round(value).toLocaleString('en-US')
}

/** Up to two decimals, `no data` for null: threshold actuals. */
export function fmtNumber(value: number | null): string {
  return value === null ? 'no data' : String(round2(value))
}

/** `99.5%` of a 0..1 share, or `n/a`. */
export function fmtPct(value: number | null): string {
  return value === null ? 'n/a' : `${round2(value * 100)}%`
}

/** USD the way every cancelbench output writes it (src/cost/money.ts): `$6,000.00`, `$0.1144`, `$0.00063`. */
export { formatUsd as fmtUsd } from '../cost/money.ts'

export function round2(value: number): number {
  return Math.round(value * 100) / 100
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Text or attribute value in HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!)
}

/**
 * Text or attribute value in XML 1.0. Characters XML cannot carry at all (most C0 controls, lone
 * surrogates) are replaced by U+FFFD: an error message from a target must not make the whole file invalid.
 */
export function escapeXml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/[&<>"']/g, (c) => (c === "'" ? '&apos;' : HTML_ESCAPES[c]!))
}

/** One cell of a Markdown table: no line breaks, pipes escaped, no raw HTML. */
export function escapeMdCell(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/[&<>]/g, (c) => HTML_ESCAPES[c]!).replace(/\|/g, '\\|')
}

/** Inline code in Markdown (table cells included): entities are not decoded there, so only pipes are escaped. */
export function mdCode(text: string): string {
  const flat = text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|')
  return flat.includes('`') ? `\`\` ${flat} \`\`` : `\`${flat}\``
}

/**
 * JSON that can sit inside `<script type="application/json">`: `<` is written as `\u003c`, so no string
 * in the report can close the element (`</script`) or open a comment (`<!--`). U+2028/9 likewise, for
 * anyone who pastes the block into JavaScript.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
}
