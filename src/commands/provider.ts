import { createMockProvider, type MockProvider } from '../../mock-provider/index.ts'
import { ProviderOptionsError, resolveProviderOptions, type ProviderOptionsInput } from '../../mock-provider/options.ts'
import { readConfigFile } from '../config-file.ts'
import { InputError, RunError } from '../errors.ts'
import { ExitCode } from '../exit-codes.ts'

export interface ProviderCommandOptions {
  port: number
  host: string
  config?: string
  seed?: number
  ttftMs?: number
  tokensPerSecond?: number
  tokensPerEvent?: number
  outputTokens?: number
  stopLagMs?: number
  ignoreDisconnect?: boolean
  pingIntervalMs?: number
  ledger?: string
  models?: string[]
  controlToken?: string
  control?: boolean
}

export interface ProviderCommandIo {
  out: (line: string) => void
  /** Resolves when the provider should shut down (SIGINT/SIGTERM in the CLI; anything in tests). */
  stopped: Promise<string>
  /** Called once the provider is listening. */
  onListening?: (provider: MockProvider) => void
}

/**
 * `cancelbench provider`: runs the mock provider over HTTP until stopped.
 * @example await providerCommand({ port: 0, host: '127.0.0.1' }, { out: console.log, stopped })
 */
export async function providerCommand(flags: ProviderCommandOptions, io: ProviderCommandIo): Promise<number> {
  const options = await providerOptionsFrom(flags)
  let provider: MockProvider
  try {
    provider = await createMockProvider({ ...options, port: flags.port, host: flags.host })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EADDRINUSE') throw new RunError(`port ${flags.port} on ${flags.host} is already in use: pick another with --port, or stop the process holding it`)
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new InputError(`--host ${flags.host}: not an address of this machine`)
    throw new RunError(`could not start the mock provider: ${(error as Error).message}`, { cause: error })
  }
  const { url } = provider
  io.out(`cancelbench mock provider listening on ${url}`)
  io.out('')
  io.out('Point your app at it:')
  io.out(`  export ANTHROPIC_BASE_URL=${url}`)
  io.out(`  export OPENAI_BASE_URL=${url}/v1`)
  io.out('')
  io.out(`Ledger:  curl ${url}/_cancelbench/ledger${options.control?.token ? `  (header x-cancelbench-token)` : ''}`)
  io.out(`Metrics: curl ${url}/metrics`)
  if (options.ledgerFile) io.out(`Ledger file: ${options.ledgerFile}`)
  io.out('Press Ctrl-C to stop.')
  io.onListening?.(provider)

  const signal = await io.stopped
  const records = provider.ledger.query()
  const billed = records.reduce((sum, r) => sum + r.billedOutputTokens, 0)
  const disconnected = records.filter((r) => r.stopReason === 'client_disconnected').length
  await provider.close()
  io.out(`\n${signal}: stopped. ${records.length} generations, ${disconnected} stopped by a disconnect, ${billed} output tokens billed.`)
  return ExitCode.Ok
}

/** Config file first, flags on top; then one validation pass that names the offending field. */
async function providerOptionsFrom(flags: ProviderCommandOptions): Promise<ProviderOptionsInput> {
  const fromFile = flags.config ? await readConfigFile(flags.config) : {}
  if (fromFile === null || typeof fromFile !== 'object' || Array.isArray(fromFile)) {
    throw new InputError(`${flags.config}: expected a mapping of provider options at the top level`)
  }
  const merged = structuredClone(fromFile) as Record<string, any>
  const set = (section: string | undefined, key: string, value: unknown) => {
    if (value === undefined) return
    if (!section) merged[key] = value
    else merged[section] = { ...(merged[section] ?? {}), [key]: value }
  }
  set(undefined, 'seed', flags.seed)
  set('timing', 'ttftMs', flags.ttftMs)
  set('timing', 'tokensPerSecond', flags.tokensPerSecond)
  set('timing', 'tokensPerEvent', flags.tokensPerEvent)
  set('timing', 'outputTokens', flags.outputTokens)
  set('policy', 'stopLagMs', flags.stopLagMs)
  set('policy', 'ignoreDisconnect', flags.ignoreDisconnect)
  set(undefined, 'pingIntervalMs', flags.pingIntervalMs)
  set(undefined, 'ledgerFile', flags.ledger)
  set(undefined, 'models', flags.models)
  set('control', 'token', flags.controlToken)
  if (flags.control === false) set('control', 'enabled', false)
  try {
    resolveProviderOptions(merged, flags.config)
  } catch (error) {
    if (error instanceof ProviderOptionsError) throw new InputError(error.message)
    throw error
  }
  return merged
}
