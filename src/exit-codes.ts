/**
 * Every exit code cancelbench uses, in one place (k6 keeps its codes the same way). `--help` prints
 * this table; tests and CI scripts compare against it.
 */
export const ExitCode = {
  /** Everything ran and every threshold passed. */
  Ok: 0,
  /** The run completed but at least one threshold failed. */
  ThresholdFailed: 1,
  /** Bad input: scenario file, config file or flags. Nothing was run. */
  InvalidInput: 2,
  /** The run could not be carried out: target did not start or died, port taken, provider unreachable. */
  RunFailed: 3,
  /** A bug in cancelbench ("should never happen"). */
  InternalError: 4,
  /** Stopped by Ctrl-C / SIGTERM (128 + SIGINT). */
  Interrupted: 130,
} as const

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

export const EXIT_CODE_HELP = `Exit codes:
  0    ok: every threshold passed
  1    a threshold failed
  2    invalid input (scenario, config file or flags)
  3    the run could not be carried out (target did not start or died, port taken, provider unreachable)
  4    internal error (a bug: please report it)
  130  interrupted (Ctrl-C)`
