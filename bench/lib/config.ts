import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { missingFlags, RUNTIME_FLAGS } from '../../bin/runtime-flags.js'
import type { Criterion } from './analyse.ts'

export interface DisconnectLevel {
  background: number
  tokensPerEvent: number
}

export interface BenchConfig {
  mode: 'quick' | 'full' | 'custom'
  ttftMs: number
  tokensPerSecond: number
  tokensPerEvent: number[]
  /** Concurrent-stream levels; each sweep stops at its first failing level. */
  steps: number[]
  /** Bisection steps between the last passing and first failing level. */
  refine: number
  /** Stream starts are spread over max(minStaggerMs, N / rampPerSecond). */
  minStaggerMs: number
  /**
   * New streams per second during a step's ramp. Accepting and parsing a request costs the provider far more
   * than one event, so the ramp rate, not only N, decides how loaded the provider is while streams start.
   */
  rampPerSecond: number
  /** How long every stream of a step is open at the same time (the steady window); streams are made that much longer than the ramp. */
  holdMs: number
  /** Which jitter decides pass/fail: gaps while all N streams are open ("steady"), or every gap including the ramp ("all"). */
  criterion: Criterion
  maxJitterP99Ms: number
  disconnectStreams: number
  disconnectAfterDeltas: number
  disconnectLevels: DisconnectLevel[]
  timeLimitMs: number
  write: boolean
  out: string
  cpuProfDir: string | undefined
  /** Extra node flags for the provider process (e.g. --trace-gc, --max-semi-space-size=64). */
  providerFlags: string[]
  /** Streams of the unreported warm-up step that lets both processes' JIT settle before the first level. */
  warmupStreams: number
  /** How the load generator speaks HTTP (see stream-client.ts). */
  transport: 'net' | 'http'
  /** Provider process script: bench/provider-server.ts, or a copy that serves a patched provider (A/B tests). */
  server: string
}

export const ROOT = resolve(import.meta.dirname, '../..')

type Defaults = Omit<BenchConfig, 'mode' | 'write' | 'out' | 'cpuProfDir' | 'server' | 'transport' | 'providerFlags' | 'criterion' | 'maxJitterP99Ms' | 'disconnectAfterDeltas'>

const FULL: Defaults = {
  ttftMs: 100,
  tokensPerSecond: 50,
  tokensPerEvent: [1, 5],
  steps: [500, 1000, 2000, 3000, 4000, 5000, 6000, 8000, 10000, 12000, 15000],
  refine: 2,
  minStaggerMs: 1000,
  // Measured: setting up a stream costs the provider ~0.4-0.7 ms of CPU, so 500/s keeps the ramp's setup work
  // at a third of a core and the sweep measures holding N streams more than accepting them.
  rampPerSecond: 500,
  holdMs: 3000,
  warmupStreams: 500,
  disconnectStreams: 200,
  disconnectLevels: [
    { background: 0, tokensPerEvent: 1 },
    { background: 1000, tokensPerEvent: 1 },
    { background: 5000, tokensPerEvent: 5 },
  ],
  timeLimitMs: 9 * 60_000,
}

const QUICK: Defaults = {
  ...FULL,
  steps: [100, 300],
  refine: 0,
  minStaggerMs: 500,
  holdMs: 1000,
  warmupStreams: 100,
  disconnectStreams: 50,
  disconnectLevels: [
    { background: 0, tokensPerEvent: 1 },
    { background: 300, tokensPerEvent: 5 },
  ],
  timeLimitMs: 60_000,
}

export const HELP = `usage: node bench/provider.ts [options]

  --quick                    tiny run (a few hundred streams, < 20 s); prints only unless --write
  --steps 500,1000,...       concurrent-stream levels of the sweep (each sweep stops at its first failure)
  --tpe 1,5                  tokens per event, one sweep each
  --refine N                 bisection steps between last pass and first failure (full: 2)
  --ramp-per-s N             new streams per second while a step starts its streams (500)
  --min-stagger-ms N         shortest spread of a step's stream starts (full: 1000)
  --hold-ms N                how long all N streams of a step are open together (full: 3000)
  --criterion provider|steady|all
                             jitter that decides pass/fail: the provider's own record of when it wrote
                             each event in the steady window (default); the load generator's arrival times
                             while all N are open; or its arrival times over every gap, ramp included
  --max-jitter-ms N          p99 inter-token jitter a step may have and still pass (5)
  --disconnect-streams N     cancelled streams per disconnect level (full: 200)
  --disconnect-levels L      background:tokensPerEvent pairs (full: 0:1,1000:1,5000:5)
  --time-limit-s N           the whole run stops (exit 3) after this long (full: 540)
  --write / --no-write       write docs/benchmarks.md (default: full writes, --quick does not)
  --out FILE                 markdown file to write (docs/benchmarks.md)
  --cpu-prof DIR             run the provider with --cpu-prof, profile written to DIR
  --client net|http          load generator's HTTP client: hand-written HTTP/1.1 on net sockets (default,
                             cheaper per event) or node:http
  --warmup N                 streams of the unreported warm-up step (full: 500, 0 = none)
  --provider-flags=F,...     node flags for the provider process, added to the GC flags \`cancelbench provider\`
                             runs with (bin/runtime-flags.js), e.g. --provider-flags=--trace-gc;
                             --provider-flags=none: Node's defaults instead of those GC flags
  --server FILE              provider process script (bench/provider-server.ts); a copy serving a patched
                             provider allows A/B tests of a provider change
`

export class UsageError extends Error {}

/** Parses argv into a config; throws UsageError on a bad flag. */
export function parseConfig(argv: string[]): BenchConfig | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      steps: { type: 'string' },
      tpe: { type: 'string' },
      refine: { type: 'string' },
      'ramp-per-s': { type: 'string' },
      'min-stagger-ms': { type: 'string' },
      'hold-ms': { type: 'string' },
      criterion: { type: 'string' },
      'max-jitter-ms': { type: 'string' },
      'disconnect-streams': { type: 'string' },
      'disconnect-levels': { type: 'string' },
      'time-limit-s': { type: 'string' },
      write: { type: 'boolean' },
      'no-write': { type: 'boolean' },
      out: { type: 'string' },
      'cpu-prof': { type: 'string' },
      server: { type: 'string' },
      client: { type: 'string' },
      warmup: { type: 'string' },
      'provider-flags': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  })
  if (values.help) return 'help'
  const base = values.quick ? QUICK : FULL
  const int = (name: string, raw: string | undefined, fallback: number, min: number): number => {
    if (raw === undefined) return fallback
    const n = Number(raw)
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} ${raw}: expected an integer >= ${min}`)
    return n
  }
  const list = (name: string, raw: string | undefined, fallback: number[], min: number): number[] =>
    raw === undefined ? fallback : raw.split(',').map((part) => int(name, part.trim(), 0, min))
  const criterion = values.criterion ?? 'provider'
  if (criterion !== 'steady' && criterion !== 'all' && criterion !== 'provider') throw new UsageError(`--criterion ${criterion}: expected steady, all or provider`)
  const maxJitter = values['max-jitter-ms'] === undefined ? 5 : Number(values['max-jitter-ms'])
  if (!(maxJitter > 0)) throw new UsageError(`--max-jitter-ms ${values['max-jitter-ms']}: expected a number > 0`)
  const transport = values.client ?? 'net'
  if (transport !== 'net' && transport !== 'http') throw new UsageError(`--client ${transport}: expected net or http`)
  const shapeFlags = ['provider-flags', 'warmup', 'client', 'server', 'steps', 'tpe', 'refine', 'ramp-per-s', 'min-stagger-ms', 'hold-ms', 'criterion', 'max-jitter-ms', 'disconnect-streams', 'disconnect-levels'] as const
  return {
    mode: shapeFlags.some((k) => values[k] !== undefined) ? 'custom' : values.quick ? 'quick' : 'full',
    ttftMs: base.ttftMs,
    tokensPerSecond: base.tokensPerSecond,
    tokensPerEvent: list('tpe', values.tpe, base.tokensPerEvent, 1),
    steps: list('steps', values.steps, base.steps, 1).sort((a, b) => a - b),
    refine: int('refine', values.refine, base.refine, 0),
    minStaggerMs: int('min-stagger-ms', values['min-stagger-ms'], base.minStaggerMs, 0),
    rampPerSecond: int('ramp-per-s', values['ramp-per-s'], base.rampPerSecond, 1),
    holdMs: int('hold-ms', values['hold-ms'], base.holdMs, 200),
    criterion,
    maxJitterP99Ms: maxJitter,
    disconnectStreams: int('disconnect-streams', values['disconnect-streams'], base.disconnectStreams, 0),
    disconnectAfterDeltas: 5,
    disconnectLevels:
      values['disconnect-levels'] === undefined
        ? base.disconnectLevels
        : values['disconnect-levels'].split(',').map((pair) => {
            const [bg, tpe] = pair.split(':')
            return { background: int('disconnect-levels', bg, 0, 0), tokensPerEvent: int('disconnect-levels', tpe ?? '1', 1, 1) }
          }),
    timeLimitMs: int('time-limit-s', values['time-limit-s'], base.timeLimitMs / 1000, 1) * 1000,
    write: values['no-write'] ? false : (values.write ?? !values.quick),
    out: resolve(ROOT, values.out ?? 'docs/benchmarks.md'),
    cpuProfDir: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']),
    server: resolve(values.server ?? resolve(ROOT, 'bench/provider-server.ts')),
    transport,
    providerFlags: providerFlags(values['provider-flags']),
    warmupStreams: int('warmup', values.warmup, base.warmupStreams, 0),
  }
}

/** Spread of the stream starts of a step with `streams` streams. */
export function staggerFor(config: BenchConfig, streams: number): number {
  return Math.max(config.minStaggerMs, Math.ceil((streams / config.rampPerSecond) * 1000))
}

/**
 * Output tokens that keep a stream open for `openMs` after its first token, rounded up to whole events.
 * The first stream's last token is then `openMs` after its first; the last stream starts `stagger` later,
 * so all streams overlap for openMs - stagger.
 */
export function outputTokensFor(config: BenchConfig, openMs: number, tokensPerEvent: number): number {
  const tokens = Math.ceil((openMs * config.tokensPerSecond) / 1000) + 1
  return Math.ceil(tokens / tokensPerEvent) * tokensPerEvent
}

/** Duration of a stream of `outputTokens` from request to last token. */
export function streamMs(config: BenchConfig, outputTokens: number): number {
  return config.ttftMs + ((outputTokens - 1) * 1000) / config.tokensPerSecond
}

/** The provider runs as `cancelbench provider` does, with its GC flags, plus any given; `none` drops the GC flags. */
function providerFlags(value: string | undefined): string[] {
  const given = (value ?? '').split(/[\s,]+/).filter(Boolean)
  if (given.includes('none')) return given.filter((flag) => flag !== 'none')
  return [...missingFlags(RUNTIME_FLAGS.provider, given), ...given]
}
