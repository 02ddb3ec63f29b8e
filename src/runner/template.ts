/**
 * `{{prompt}}` and `{{id}}` substitution in request bodies and WebSocket messages.
 * Object templates are filled value by value and then serialised, so the prompt is always valid JSON;
 * in string templates the values are JSON-escaped (without quotes), since string templates are JSON text.
 */
export function fillTemplate(template: string | Record<string, unknown>, values: Record<string, string>): string {
  if (typeof template === 'string') {
    return template.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => (key in values ? JSON.stringify(values[key]).slice(1, -1) : whole))
  }
  return JSON.stringify(fillValue(template, values))
}

function fillValue(value: unknown, values: Record<string, string>): unknown {
  if (typeof value === 'string') {
    const exact = /^\{\{(\w+)\}\}$/.exec(value)
    if (exact && exact[1]! in values) return values[exact[1]!]
    return value.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => values[key] ?? whole)
  }
  if (Array.isArray(value)) return value.map((v) => fillValue(v, values))
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillValue(v, values)]))
  return value
}

/** True when every field of `match` equals the message's. */
export function matches(message: unknown, match: Record<string, string | number | boolean>): boolean {
  if (!message || typeof message !== 'object') return false
  const record = message as Record<string, unknown>
  return Object.entries(match).every(([key, value]) => record[key] === value)
}
