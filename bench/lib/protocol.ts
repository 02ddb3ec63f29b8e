import type { TimingSummary } from '../../mock-provider/timing.ts'

/**
 * The control channel between the benchmark (parent) and the provider process (child), over the IPC
 * channel `fork` opens. It is deliberately not an HTTP route: the provider's own routes are what is being
 * measured, and a stats request must not queue behind thousands of streams on the same sockets.
 */

export type ProviderRequest =
  | { id: number; op: 'stats' }
  /**
   * Starts a new measurement window: event-loop delay histogram, utilisation and emission timing restart
   * from zero. Emission timing counts only events due in `timingUnixMs` (Unix ms), when given.
   */
  | { id: number; op: 'window'; timingUnixMs?: { from: number; to: number } }
  /** A full garbage collection, so a step starts from a clean heap instead of collecting the previous step's garbage during its own window. */
  | { id: number; op: 'gc' }
  | { id: number; op: 'shutdown' }

export interface ProviderStats {
  /** process.cpuUsage() of the provider process, cumulative since it started (µs). */
  cpuUserUs: number
  cpuSystemUs: number
  rssBytes: number
  heapUsedBytes: number
  /** Generations in progress (ProviderCore.active). */
  active: number
  /** How late the scheduler's last timer tick ran (ms): the provider's own view of its lateness. */
  schedulerLagMs: number
  /** Event-loop delay since the last `window` request (ms). */
  loopDelay: { p50: number; p99: number; max: number }
  /** Share of wall time the event loop was busy since the last `window` request (0..1). */
  loopUtilization: number
  /** The provider's performance.timeOrigin (Unix ms), to put `gc` times on the bench's clock. */
  timeOrigin: number
  /** The provider's own record of how punctually it wrote events (see mock-provider/timing.ts), since the last `window`. */
  timing: TimingSummary
  /** Garbage-collection pauses since the last `window` request: start (provider performance.now() ms), duration ms, kind. */
  gc: GcPause[]
}

export interface GcPause {
  start: number
  duration: number
  kind: 'minor' | 'major' | 'incremental' | 'weakcb' | 'other'
}

export type ProviderReply = { id: number; ok: true; stats?: ProviderStats } | { id: number; ok: false; error: string }

/** First line the provider process prints on stdout once it listens. */
export interface ProviderHello {
  url: string
  pid: number
}
