import { InputError } from '../errors.ts'
import { ExitCode } from '../exit-codes.ts'
import { readConfigFile } from '../config-file.ts'
import { validateScenario } from '../scenario/load.ts'

/**
 * `cancelbench validate <file>`: checks a scenario without running it.
 * @example await validateCommand('scenarios/ci.yaml', { out: console.log, err: console.error })
 */
export async function validateCommand(file: string, io: { out: (s: string) => void; err: (s: string) => void }): Promise<number> {
  const result = validateScenario(await readConfigFile(file), file)
  for (const warning of result.warnings) io.err(`warning: ${warning}`)
  if (!result.value) throw new InputError(`${file}: invalid scenario:\n` + result.errors.map((e) => `  - ${e}`).join('\n'))
  const { scenario } = result.value
  io.out(`${file}: valid. ${scenario.load.streams} streams over ${scenario.transport.type}, ${Math.round(scenario.cancel.fraction * 100)}% aborted, ${scenario.thresholds.length} threshold(s).`)
  return ExitCode.Ok
}
