import { readFileSync } from 'node:fs'
import { projectWhatIf } from '../../src/cost/whatif.ts'
import type { Report } from '../../src/report/report.ts'

/** A frozen report from test/fixtures (report.json: the demo's leaky side; report-good.json: its good side). */
export const loadReport = (name: string): Report => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as Report

/** The what-if drawn with the fixtures: a fifth of a million requests stopped, half of the stops leaking. */
export const fixtureWhatIf = projectWhatIf({
  requestsPerPeriod: 1_000_000,
  stopRate: 0.2,
  avgOutputTokens: 300,
  avgInputTokens: 0,
  stopAtTokens: 60,
  propagationRate: 0.5,
  prices: { inputPerMTok: 3, outputPerMTok: 15 },
  period: 'month',
})
