import type { LedgerRecord } from '../../mock-provider/ledger.ts'
import type { ProviderSession } from './provider-session.ts'

/**
 * Waits until none of this run's generations is still running, or `timeoutMs` passes, and returns the
 * run's ledger records. A leaking generation runs on after its client left; waiting for it makes its bill
 * (the leaked tokens) complete instead of a snapshot. One still running at the deadline is reported as it
 * stands, with stopReason null, and judged leaked.
 */
export async function settleLedger(provider: ProviderSession, isOurs: (id: string) => boolean, timeoutMs: number, signal: AbortSignal): Promise<LedgerRecord[]> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const records = await provider.records(isOurs)
    if (!records.some((r) => r.stopReason === null) || performance.now() >= deadline || signal.aborted) return records
    await new Promise((resolve) => setTimeout(resolve, provider.mode === 'embedded' ? 20 : 100))
  }
}
