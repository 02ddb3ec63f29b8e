import { join } from 'node:path'
import { createMockProvider, type MockProvider } from '../../mock-provider/index.ts'
import type { LedgerRecord } from '../../mock-provider/ledger.ts'
import { CONTROL_TOKEN_HEADER } from '../../mock-provider/control.ts'
import { RunError } from '../errors.ts'
import type { Scenario } from '../scenario/schema.ts'

/** The provider side of a run, embedded or already running elsewhere. */
export interface ProviderSession {
  mode: 'embedded' | 'external'
  url: string
  /** provider clock = runner clock (performance.now()) + clockOffsetMs. */
  clockOffsetMs: number
  clockOffsetUncertaintyMs: number
  /** This run's generations, finished and still running (stopReason null). */
  records(isOurs: (correlationId: string) => boolean): Promise<LedgerRecord[]>
  close(): Promise<void>
}

/**
 * Starts the embedded provider (its ledger written through to `<runDir>/ledger.jsonl` as records land) or
 * connects to an external one and estimates the offset between its clock and ours.
 */
export async function openProvider(config: Scenario['provider'], runDir: string, shared?: MockProvider): Promise<ProviderSession> {
  const { url, controlToken, ...options } = config
  if (shared) return embeddedSession(shared, false)
  if (!url) {
    let provider: MockProvider
    try {
      provider = await createMockProvider({ ...options, ledgerFile: join(runDir, 'ledger.jsonl') })
    } catch (error) {
      throw new RunError(`could not start the embedded mock provider: ${(error as Error).message}`)
    }
    return embeddedSession(provider, true)
  }
  const base = url.replace(/\/+$/, '')
  const headers: Record<string, string> = controlToken ? { [CONTROL_TOKEN_HEADER]: controlToken } : {}
  const { offsetMs, uncertaintyMs, startMs } = await estimateClockOffset(base, headers)
  return {
    mode: 'external',
    url: base,
    clockOffsetMs: offsetMs,
    clockOffsetUncertaintyMs: uncertaintyMs,
    async records(isOurs) {
      const response = await fetchControl(`${base}/_cancelbench/ledger?active=1&since=${startMs}`, headers)
      const body = (await response.json()) as { records: LedgerRecord[]; active?: LedgerRecord[] }
      return [...body.records, ...(body.active ?? [])].filter((r) => r.correlationId !== null && isOurs(r.correlationId))
    },
    close: async () => {},
  }
}

/** A provider in this process; `owned` ones are closed with the session, shared ones are left running. */
function embeddedSession(provider: MockProvider, owned: boolean): ProviderSession {
  const ours = (isOurs: (id: string) => boolean) => (r: LedgerRecord) => r.correlationId !== null && isOurs(r.correlationId)
  return {
    mode: 'embedded',
    url: provider.url,
    // Same process, same performance.now(): no offset at all.
    clockOffsetMs: 0,
    clockOffsetUncertaintyMs: 0,
    records: async (isOurs) => [
      ...provider.ledger.query().filter(ours(isOurs)),
      ...[...provider.core.active.values()].map((g) => structuredClone(g.record)).filter(ours(isOurs)),
    ],
    close: owned ? () => provider.close() : async () => {},
  }
}

/**
 * NTP-style: several GET /_cancelbench/clock round trips; the one with the smallest round-trip time gives
 * the offset (its reading taken at the midpoint), with half that round trip as the uncertainty.
 */
async function estimateClockOffset(base: string, headers: Record<string, string>): Promise<{ offsetMs: number; uncertaintyMs: number; startMs: number }> {
  let best: { rtt: number; offset: number; serverNow: number } | undefined
  for (let i = 0; i < 7; i++) {
    const sent = performance.now()
    const response = await fetchControl(`${base}/_cancelbench/clock`, headers)
    const { nowMs } = (await response.json()) as { nowMs: number }
    const received = performance.now()
    const rtt = received - sent
    if (!best || rtt < best.rtt) best = { rtt, offset: nowMs - (sent + received) / 2, serverNow: nowMs }
  }
  return { offsetMs: best!.offset, uncertaintyMs: best!.rtt / 2, startMs: best!.serverNow }
}

async function fetchControl(url: string, headers: Record<string, string>): Promise<Response> {
  let response: Response
  try {
    response = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) })
  } catch (error) {
    throw new RunError(`provider ${new URL(url).origin} is unreachable (${(error as Error).message}): start it with \`cancelbench provider\`, or remove provider.url to use the embedded one`)
  }
  if (response.status === 401) throw new RunError(`provider ${new URL(url).origin} refused its control routes: set provider.controlToken to its --control-token`)
  if (!response.ok) throw new RunError(`provider ${new URL(url).origin} answered ${url} with HTTP ${response.status}: is it a cancelbench provider with control routes enabled?`)
  return response
}
