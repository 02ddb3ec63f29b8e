import { mkdir, readdir, readFile, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { WhatIfResult } from '../cost/types.ts'
import { InputError } from '../errors.ts'
import { ExitCode } from '../exit-codes.ts'
import { REPORT_SCHEMA_VERSION, type Report } from '../report/report.ts'
import { writeRenders } from '../report/write.ts'

export interface ReportFlags {
  /** Where to write; default the run directory itself. */
  out?: string
}

/**
 * `cancelbench report <run-dir>`: renders a saved run's report.json again, in every format (summary.txt,
 * report.md, report.html, junit.xml, chart PNGs), into the run directory or `--out`. A `whatif.json` in
 * the run directory (`cancelbench whatif --from-report <run-dir> --out <run-dir>`) adds the what-if charts.
 * @example await reportCommand('reports/20261124-090000-ci', {}, io)
 */
export async function reportCommand(path: string, flags: ReportFlags, io: { out: (text: string) => void; err: (text: string) => void }): Promise<number> {
  const { report, dir } = await readRunReport(path)
  const whatIf = await readWhatIf(dir)
  const outDir = resolve(flags.out ?? dir)
  await mkdir(outDir, { recursive: true })
  const files = await writeRenders(outDir, report, { whatIf })
  const width = Math.max(...files.map((f) => f.path.length)) + 3
  io.out([`Rendered ${report.scenario.name} (${join(dir, 'report.json')}${whatIf ? ' and whatif.json' : ''}):`, ...files.map((f) => `  ${f.path.padEnd(width)}${f.what}`)].join('\n'))
  return ExitCode.Ok
}

/**
 * A run directory's report.json (or that file itself), checked to be a cancelbench report this version
 * can render. InputError (exit 2) with the path and the fix otherwise.
 */
export async function readRunReport(path: string): Promise<{ report: Report; dir: string }> {
  const given = resolve(path)
  let dir = given
  let file = join(given, 'report.json')
  try {
    if (!(await stat(given)).isDirectory()) {
      dir = resolve(given, '..')
      file = given
    }
  } catch {
    throw new InputError(`${path}: no such run directory (give the directory a run wrote, e.g. reports/<timestamp>-<scenario>, or its report.json)`)
  }
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch {
    const sides = await runDirsBelow(dir)
    const hint = sides.length ? `; it holds run directories: ${sides.map((s) => join(path, s)).join(', ')}` : ': is this the directory a run wrote?'
    throw new InputError(`${path}: no report.json there${hint}`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new InputError(`${file}: not valid JSON (${(error as Error).message})`)
  }
  const version = (parsed as { schemaVersion?: unknown } | null)?.schemaVersion
  if (version !== REPORT_SCHEMA_VERSION) {
    throw new InputError(
      `${file}: schemaVersion ${JSON.stringify(version ?? null)} is not one this cancelbench reads (${REPORT_SCHEMA_VERSION}); ` +
        (typeof version === 'number' && version > REPORT_SCHEMA_VERSION ? 'upgrade cancelbench to render it' : 'is it a cancelbench report.json?'),
    )
  }
  const r = parsed as Partial<Report>
  const missing = (['scenario', 'summary', 'thresholds', 'streams'] as const).filter((k) => typeof r[k] !== 'object' || r[k] === null)
  if (missing.length > 0) throw new InputError(`${file}: not a complete cancelbench report (missing ${missing.join(', ')})`)
  return { report: parsed as Report, dir }
}

/** The run's what-if projection, when `cancelbench whatif --out` wrote one beside it. */
async function readWhatIf(dir: string): Promise<WhatIfResult | null> {
  let text: string
  try {
    text = await readFile(join(dir, 'whatif.json'), 'utf8')
  } catch {
    return null
  }
  let parsed: Partial<WhatIfResult>
  try {
    parsed = JSON.parse(text) as Partial<WhatIfResult>
  } catch (error) {
    throw new InputError(`${join(dir, 'whatif.json')}: not valid JSON (${(error as Error).message}); write it again with cancelbench whatif --out, or delete it`)
  }
  if (!parsed.input || !Array.isArray(parsed.byStopPoint) || !Array.isArray(parsed.byPropagationRate)) {
    throw new InputError(`${join(dir, 'whatif.json')}: not a what-if projection; write it again with cancelbench whatif --out, or delete it`)
  }
  return parsed as WhatIfResult
}

/** Subdirectories holding a report.json: a demo writes one per side. */
async function runDirsBelow(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true })
    const found: string[] = []
    for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
      if (await stat(join(dir, entry.name, 'report.json')).then(() => true, () => false)) found.push(entry.name)
    }
    return found
  } catch {
    return []
  }
}
