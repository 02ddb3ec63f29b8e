import * as z from 'zod'
import { scenarioSchema } from './schema.ts'

/**
 * The scenario's JSON Schema, generated from the zod schema (the input side: what a user may write, with
 * defaults shown). Editors pick it up through `# yaml-language-server: $schema=./schema.json`.
 */
export function scenarioJsonSchema(): string {
  const schema = z.toJSONSchema(scenarioSchema, { io: 'input', unrepresentable: 'any' })
  return JSON.stringify({ ...schema, $id: 'https://cancelbench.dev/schema/scenario.json', title: 'cancelbench scenario' }, null, 2) + '\n'
}
