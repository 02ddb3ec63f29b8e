// V8 garbage-collector settings for the commands that carry load, and the re-exec that applies them.
// Plain JS, like bin/cancelbench.js, because it runs before the Node version is known to be new enough.
//
// Why: at thousands of streams, what limits the mock provider's and the runner's timing is not CPU but GC
// pauses. With Node's defaults the young generation grows to tens of MB, so a scavenge while hundreds of
// streams a second are being set up copies megabytes of their new objects (5-15 ms, every stream's next
// event waits), and the promoted objects soon trigger a mark-compact (8-20 ms). A small young generation
// keeps each scavenge short; a larger initial old generation puts the first mark-compact off until the
// heap reaches 256 MB. Measured in bench/ (docs/benchmarks.md): provider-side jitter p99 <= 5 ms went
// from 4,250-5,000 to 7,000 streams at 5 tokens/event, and the runner met its 1 ms bound at 2,000 streams.
// The runner process (run, demo) also hosts the embedded provider; its smaller young generation measured
// best for the runner's per-token timestamps, at some CPU cost the runner can afford.

const PROVIDER = ['--max-semi-space-size=8', '--initial-old-space-size=256']
const RUNNER = ['--max-semi-space-size=4', '--initial-old-space-size=256']

/** Node flags per CLI command; commands not listed run with Node's defaults. */
export const RUNTIME_FLAGS = { provider: PROVIDER, run: RUNNER, demo: RUNNER }

/** The flags of `flags` whose name is not already among `execArgv` (the user's own setting wins). */
export function missingFlags(flags, execArgv) {
  const name = (flag) => flag.split('=')[0]
  return flags.filter((flag) => !execArgv.some((arg) => name(arg) === name(flag)))
}

/**
 * Replaces this process with the same command plus `flags`, when some are missing and the platform can
 * (process.execve: Node >= 22.15 / 23.11, not on Windows). Same pid, so signals, process managers and
 * the pid a user noted keep working. Set CANCELBENCH_NODE_FLAGS=0 to run with Node's defaults.
 */
export function reexecWith(flags) {
  if (process.env.CANCELBENCH_NODE_FLAGS === '0' || typeof process.execve !== 'function') return
  const missing = missingFlags(flags, [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)])
  if (missing.length === 0) return
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...missing, ...process.argv.slice(1)], process.env)
}
