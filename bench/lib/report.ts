import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

/**
 * A markdown table with padded columns, so the same text reads well on a terminal and renders on GitHub.
 * @example markdownTable(['a', 'b'], [['1', '2']])
 */
export function markdownTable(header: string[], rows: string[][], align: ('l' | 'r')[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length), 3))
  const cell = (text: string, i: number) => ((align[i] ?? 'r') === 'l' ? text.padEnd(widths[i]!) : text.padStart(widths[i]!))
  const line = (cells: string[]) => `| ${cells.map((c, i) => cell(c, i)).join(' | ')} |`
  const rule = `| ${widths.map((w, i) => ((align[i] ?? 'r') === 'l' ? '-'.repeat(w) : '-'.repeat(w - 1) + ':')).join(' | ')} |`
  return [line(header), rule, ...rows.map(line)].join('\n')
}

/**
 * Replaces the section between `<!-- bench:<name>:start -->` and `<!-- bench:<name>:end -->` in `file`
 * (appending it when absent, creating the file when missing), leaving other benches' sections alone.
 */
export function writeSection(file: string, name: string, body: string): void {
  const start = `<!-- bench:${name}:start -->`
  const end = `<!-- bench:${name}:end -->`
  const section = `${start}\n${body.trim()}\n${end}`
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\nFigures written by the scripts in `bench/`. Each section is replaced by its own script.\n'
  const from = text.indexOf(start)
  const to = text.indexOf(end)
  if (from >= 0 && to > from) text = text.slice(0, from) + section + text.slice(to + end.length)
  else text = `${text.trimEnd()}\n\n${section}\n`
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, text.endsWith('\n') ? text : text + '\n')
}
