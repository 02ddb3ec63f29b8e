/**
 * The correlation marker: how a runner ties a client stream to the generations it caused.
 *
 * Format: `[cb:<id>]` or `[cb:<id> key=value key=value ...]`, anywhere in the system prompt, the
 * instructions, or any message's text. `<id>` is 1-128 of `A-Z a-z 0-9 . _ : -`. The optional
 * key=value pairs are per-request overrides (see overrides.ts), so a scenario can script one stream
 * through a target server that forwards only the prompt. The first marker found wins, searching the
 * system prompt / instructions first, then messages in order.
 */
const MARKER = /\[cb:([A-Za-z0-9][A-Za-z0-9._:-]{0,127})((?:\s+[A-Za-z][A-Za-z0-9_]*=[^\s\]]+)*)\s*\]/

export interface Marker {
  correlationId: string
  /** Raw key=value pairs from the marker, unvalidated. */
  params: Record<string, string>
}

/**
 * Finds the first marker in the given texts.
 * @example findMarker(['hi [cb:run1-42 outputTokens=300]']) // { correlationId: 'run1-42', params: { outputTokens: '300' } }
 */
export function findMarker(texts: Iterable<string>): Marker | undefined {
  for (const text of texts) {
    const match = MARKER.exec(text)
    if (!match) continue
    const params: Record<string, string> = {}
    for (const pair of (match[2] ?? '').trim().split(/\s+/)) {
      if (!pair) continue
      const eq = pair.indexOf('=')
      params[pair.slice(0, eq)] = pair.slice(eq + 1)
    }
    return { correlationId: match[1]!, params }
  }
  return undefined
}

/** Builds a marker string; the inverse of findMarker. */
export function formatMarker(correlationId: string, params: Record<string, string | number | boolean> = {}): string {
  const extra = Object.entries(params).map(([k, v]) => ` ${k}=${v}`).join('')
  return `[cb:${correlationId}${extra}]`
}
