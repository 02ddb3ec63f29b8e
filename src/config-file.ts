import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { InputError } from './errors.ts'

/**
 * Reads a YAML or JSON file into plain data. Errors name the file, the line and what to do.
 * @example await readConfigFile('scenarios/basic.yaml')
 */
export async function readConfigFile(path: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new InputError(code === 'ENOENT' ? `${path}: file not found` : `${path}: cannot read (${code ?? (error as Error).message})`)
  }
  if (extname(path).toLowerCase() === '.json') {
    try {
      return JSON.parse(text)
    } catch (error) {
      throw new InputError(`${path}: invalid JSON: ${(error as Error).message}`)
    }
  }
  try {
    // YAML is a superset of JSON, so .yaml/.yml and anything else go through the YAML parser.
    return parseYaml(text, { prettyErrors: true })
  } catch (error) {
    throw new InputError(`${path}: invalid YAML: ${(error as Error).message}`)
  }
}
