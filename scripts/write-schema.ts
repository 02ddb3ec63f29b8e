// Regenerates scenarios/schema.json from the zod schema: `npm run schema`. A test fails when it is stale.
import { writeFileSync } from 'node:fs'
import { scenarioJsonSchema } from '../src/scenario/json-schema.ts'

writeFileSync(new URL('../scenarios/schema.json', import.meta.url), scenarioJsonSchema())
console.log('wrote scenarios/schema.json')
