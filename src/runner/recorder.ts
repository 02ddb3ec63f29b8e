import type { AbortMode } from '../scenario/schema.ts'
import type { StreamPlan } from './plan.ts'
import { IdleGapMeter, type ClientSample } from './sample.ts'

export interface StreamContext {
  stream: StreamPlan
  /** Target base URL (http://host:port). */
  baseUrl: string
  /** The runner's clock (ms). */
  now: () => number
  /** Aborts when the run is stopped (Ctrl-C, duration cap): the stream ends as `interrupted`. */
  runSignal: AbortSignal
  /** No byte for this long: the stream ends as an error. */
  idleTimeoutMs: number
  /** After `ws-cancel`, how long to keep the socket open waiting for the target to finish or acknowledge. */
  graceMs: number
}

/**
 * The client side of one stream, independent of transport: it stamps every byte, token and end on the
 * runner's clock, fires the planned abort at its point (after N tokens, after T ms, at the first byte),
 * and ends exactly once. Transports feed it and give it two callbacks: how to abort and how to clean up.
 */
export class StreamRecorder {
  readonly sample: ClientSample
  readonly done: Promise<ClientSample>
  private readonly ctx: StreamContext
  private readonly idle: IdleGapMeter
  private resolve!: (sample: ClientSample) => void
  private aborter: ((mode: AbortMode) => void) | undefined
  private closer: (() => void) | undefined
  private readonly timers: NodeJS.Timeout[] = []
  private idleTimer: NodeJS.Timeout | undefined
  /** ctx.now() of the last bytes received (or of the start): what the idle timer measures silence from. */
  private lastActivityAt: number
  private ended = false

  constructor(ctx: StreamContext) {
    this.ctx = ctx
    const start = ctx.now()
    this.lastActivityAt = start
    this.idle = new IdleGapMeter(start)
    this.sample = {
      id: ctx.stream.id,
      index: ctx.stream.index,
      startedAtMs: start,
      responseAtMs: null,
      firstByteAtMs: null,
      tokenTimesMs: [],
      abortedAtMs: null,
      abortMode: null,
      endedAtMs: start,
      end: 'eof',
      httpStatus: null,
      bytes: 0,
      maxIdleGapMs: 0,
      error: null,
    }
    this.done = new Promise((resolve) => (this.resolve = resolve))
    const abort = ctx.stream.abort
    if (abort?.at.kind === 'ms') this.timers.push(setTimeout(() => this.abort(), abort.at.ms))
    this.armIdleTimer()
    if (ctx.runSignal.aborted) queueMicrotask(() => this.end('interrupted', 'run stopped'))
    else ctx.runSignal.addEventListener('abort', this.onRunAbort, { once: true })
  }

  /** The stream being recorded and its run context. */
  get context(): StreamContext {
    return this.ctx
  }

  get isEnded(): boolean {
    return this.ended
  }

  /** The abort mode this stream is planned to use, if it is to be aborted. */
  get plannedAbortMode(): AbortMode | undefined {
    return this.ctx.stream.abort?.mode
  }

  get isAborted(): boolean {
    return this.sample.abortedAtMs !== null
  }

  /** How to abort in the planned mode; called once, at the abort point. */
  setAborter(aborter: (mode: AbortMode) => void): void {
    this.aborter = aborter
  }

  /** Releases the connection; called once when the stream ends, however it ends. */
  setCloser(closer: () => void): void {
    this.closer = closer
  }

  onResponse(status: number): void {
    this.sample.responseAtMs = this.ctx.now()
    this.sample.httpStatus = status
  }

  onBytes(count: number): void {
    if (this.ended) return
    const now = this.ctx.now()
    if (this.sample.firstByteAtMs === null) this.sample.firstByteAtMs = now
    // After an abort we are no longer "listening": silence then is not the target's fault.
    if (!this.isAborted) this.idle.bytesAt(now)
    this.sample.bytes += count
    this.lastActivityAt = now
    if (this.ctx.stream.abort?.at.kind === 'firstByte') this.abort()
  }

  onToken(): void {
    if (this.ended) return
    this.sample.tokenTimesMs.push(this.ctx.now())
    const at = this.ctx.stream.abort?.at
    if (at?.kind === 'tokens' && this.sample.tokenTimesMs.length >= at.tokens) this.abort()
  }

  /** The target said the answer is complete (or, after ws-cancel, acknowledged the cancel). */
  onDone(): void {
    this.end(this.isAborted ? 'aborted' : 'done')
  }

  /** The connection ended without a done signal. */
  onEof(): void {
    this.end(this.isAborted ? 'aborted' : 'eof')
  }

  onError(message: string): void {
    this.end(this.isAborted ? 'aborted' : 'error', message)
  }

  /** Fires the planned abort now (idempotent; no-op for streams not planned to abort). */
  abort(): void {
    const plan = this.ctx.stream.abort
    if (!plan || this.ended || this.isAborted) return
    const now = this.ctx.now()
    this.idle.bytesAt(now)
    this.sample.abortedAtMs = now
    this.sample.abortMode = plan.mode
    clearTimeout(this.idleTimer)
    try {
      this.aborter?.(plan.mode)
    } catch (error) {
      // The abort could not be delivered the planned way (e.g. ws-cancel on a socket still connecting).
      this.end('aborted', `abort (${plan.mode}) failed: ${(error as Error).message}`)
      return
    }
    if (plan.mode === 'ws-cancel') {
      // The socket stays open: wait for the target to acknowledge or finish, at most the grace period.
      this.timers.push(setTimeout(() => this.end('aborted'), this.ctx.graceMs + 250))
      return
    }
    this.end('aborted')
  }

  end(kind: ClientSample['end'], error: string | null = null): void {
    if (this.ended) return
    this.ended = true
    const now = this.ctx.now()
    for (const timer of this.timers) clearTimeout(timer)
    clearTimeout(this.idleTimer)
    this.ctx.runSignal.removeEventListener('abort', this.onRunAbort)
    this.sample.endedAtMs = now
    this.sample.end = kind
    this.sample.error = error
    this.sample.maxIdleGapMs = this.idle.closeAt(this.isAborted ? this.sample.abortedAtMs! : now)
    try {
      this.closer?.()
    } finally {
      this.resolve(this.sample)
    }
  }

  /**
   * Ends the stream after idleTimeoutMs without data. Bytes only note their time; the timer, when it fires,
   * re-arms itself for whatever is left of the timeout since the last bytes. Re-arming a timer on every
   * chunk (refresh()) made Node's timer code about 3% of the runner's busy CPU in a profile at 2,000 streams.
   */
  private armIdleTimer(): void {
    const fire = () => {
      // After an abort silence is expected: the ws-cancel grace timer ends the stream.
      if (this.ended || this.isAborted) return
      const left = this.lastActivityAt + this.ctx.idleTimeoutMs - this.ctx.now()
      if (left > 0) this.idleTimer = setTimeout(fire, left)
      else this.end('error', `timeout: no data for ${this.ctx.idleTimeoutMs} ms`)
    }
    this.idleTimer = setTimeout(fire, this.ctx.idleTimeoutMs)
  }

  private readonly onRunAbort = () => this.end('interrupted', 'run stopped')
}
