import { mkdir, readFile, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { measureReport, resolveWhatIfInput, type Measured, type WhatIfFlags } from '../cost/whatif-input.ts'
import { renderWhatIfText } from '../cost/whatif-text.ts'
import { projectWhatIf } from '../cost/whatif.ts'
import { InputError } from '../errors.ts'
import { ExitCode } from '../exit-codes.ts'
import { renderFiles } from '../report/summary-text.ts'
import { writeWhatIfRenders } from '../report/write.ts'

export type { WhatIfFlags } from '../cost/whatif-input.ts'

/**
 * `cancelbench whatif`: what Stop saves (and leaks lose) over a period, from flags or a run's report.json.
 * read report -> measure -> flags on top -> project -> print (and, with --out, write it in every format).
 * @example await whatifCommand({ requests: 1_000_000, stopRate: 1, avgOutputTokens: 500, stopAtTokens: 100, priceOut: 15 }, io)
 */
export async function whatifCommand(flags: WhatIfFlags, io: { out: (text: string) => void; err: (text: string) => void }): Promise<number> {
  const measured = flags.fromReport === undefined ? undefined : await readReport(flags.fromReport)
  const result = projectWhatIf(resolveWhatIfInput(flags, measured))
  const text = renderWhatIfText(result)
  if (flags.out !== undefined) {
    const dir = resolve(flags.out)
    await mkdir(dir, { recursive: true })
    const written = await writeWhatIfRenders(dir, result)
    io.out(flags.json ? JSON.stringify(result, null, 2) : `${text}\n\n${renderFiles(dir, written)}`)
  } else {
    io.out(flags.json ? JSON.stringify(result, null, 2) : text)
  }
  return ExitCode.Ok
}

/** report.json, or a run directory holding one, measured; InputError naming --from-report otherwise. */
async function readReport(path: string): Promise<Measured> {
  let file = resolve(path)
  try {
    if ((await stat(file)).isDirectory()) file = join(file, 'report.json')
  } catch (error) {
    throw new InputError(`--from-report: cannot read ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (error as Error).message}`)
  }
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT'
    throw new InputError(`--from-report: cannot read ${file}: ${missing ? 'no report.json there (give a run directory or its report.json)' : (error as Error).message}`)
  }
  let report: unknown
  try {
    report = JSON.parse(text)
  } catch (error) {
    throw new InputError(`--from-report: ${file} is not valid JSON: ${(error as Error).message}`)
  }
  return measureReport(report, file)
}
