import { ExitCode } from './exit-codes.ts'

/**
 * An error meant for the user: the message says what failed, why, and how to fix it, and the exit code
 * says which kind it was. The CLI prints `message` without a stack trace.
 */
export class CancelbenchError extends Error {
  readonly exitCode: ExitCode
  constructor(message: string, exitCode: ExitCode, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'CancelbenchError'
    this.exitCode = exitCode
  }
}

/** Bad scenario, config or flag: exit 2. */
export class InputError extends CancelbenchError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.InvalidInput, options)
    this.name = 'InputError'
  }
}

/** The run could not be carried out: exit 3. */
export class RunError extends CancelbenchError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.RunFailed, options)
    this.name = 'RunError'
  }
}

/** Should never happen: exit 4, printed with its stack so it can be reported. */
export class InternalError extends CancelbenchError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.InternalError, options)
    this.name = 'InternalError'
  }
}
