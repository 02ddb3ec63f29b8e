import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'

export type ApiName = 'anthropic' | 'openai-chat' | 'openai-responses'
export type StopReason = 'completed' | 'max_tokens' | 'client_disconnected' | 'error'

/**
 * One generation, as billed. Times are ms on the provider's monotonic clock (`clockEpochMs + t` = Unix ms).
 * `billedOutputTokens` counts tokens generated, whether or not they reached the client;
 * `emittedOutputTokens` counts tokens written into the response before the client went away.
 */
export interface LedgerRecord {
  /** Generation id, also the message/response id the API returned (e.g. msg_..., chatcmpl-..., resp_...). */
  id: string
  /** Position in arrival order since the last reset. */
  seq: number
  correlationId: string | null
  api: ApiName
  model: string
  stream: boolean
  seed: number
  inputTokens: number
  plannedOutputTokens: number
  emittedOutputTokens: number
  billedOutputTokens: number
  receivedAtMs: number
  firstTokenAtMs: number | null
  lastTokenAtMs: number | null
  disconnectObservedAtMs: number | null
  stoppedAtMs: number | null
  stopReason: StopReason | null
  /** The plan's timing and policy, so a reader can tell what the provider was asked to do. */
  plan: { ttftMs: number; tokensPerSecond: number; tokensPerEvent: number; stopLagMs: number; ignoreDisconnect: boolean; fault: string | null }
  error: string | null
  clockEpochMs: number
}

export interface LedgerQuery {
  correlationId?: string | undefined
  /** Only records that stopped at or after this clock time (ms). */
  sinceMs?: number | undefined
}

/**
 * The record of every generation. Finished records are kept in memory and, when a file is given,
 * appended to it as JSON lines with one synchronous write each: a process killed mid-run loses only
 * generations that had not finished, never one already recorded.
 */
export class Ledger {
  private records: LedgerRecord[] = []
  private readonly listeners = new Set<(record: LedgerRecord) => void>()
  private fd: number | undefined
  readonly file: string | undefined

  constructor(file?: string) {
    this.file = file
    if (file) {
      mkdirSync(dirname(file), { recursive: true })
      this.fd = openSync(file, 'a')
    }
  }

  /** Adds a finished record, writes it through to the file and tells listeners. */
  append(record: LedgerRecord): void {
    this.records.push(record)
    if (this.fd !== undefined) writeSync(this.fd, JSON.stringify(record) + '\n')
    for (const listener of this.listeners) listener(record)
  }

  /**
   * @example ledger.query({ correlationId: 'run1-7' })
   */
  query(filter: LedgerQuery = {}): LedgerRecord[] {
    return this.records.filter(
      (r) =>
        (filter.correlationId === undefined || r.correlationId === filter.correlationId) &&
        (filter.sinceMs === undefined || (r.stoppedAtMs ?? Number.POSITIVE_INFINITY) >= filter.sinceMs),
    )
  }

  get size(): number {
    return this.records.length
  }

  /** Subscribes to finished records; returns the unsubscribe function. */
  onRecord(listener: (record: LedgerRecord) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /**
   * Resolves with the first record matching `predicate`, already present or yet to come.
   * Rejects when `signal` aborts.
   */
  waitFor(predicate: (record: LedgerRecord) => boolean, signal?: AbortSignal): Promise<LedgerRecord> {
    const existing = this.records.find(predicate)
    if (existing) return Promise.resolve(existing)
    // A listener added to an already-aborted signal never fires.
    if (signal?.aborted) return Promise.reject(signal.reason ?? new Error('aborted'))
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        off()
        reject(signal?.reason ?? new Error('aborted'))
      }
      const off = this.onRecord((record) => {
        if (!predicate(record)) return
        off()
        signal?.removeEventListener('abort', onAbort)
        resolve(record)
      })
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** Forgets in-memory records; the file, if any, keeps its history. */
  clear(): void {
    this.records = []
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }
}
