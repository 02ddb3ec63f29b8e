import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { providerCommand } from './commands/provider.ts'
import { demoCommand } from './commands/demo.ts'
import { runCommand, type RunIo } from './commands/run.ts'
import { reportCommand } from './commands/report.ts'
import { validateCommand } from './commands/validate.ts'
import { whatifCommand } from './commands/whatif.ts'
import { createProgress } from './progress.ts'
import { CancelbenchError } from './errors.ts'
import { EXIT_CODE_HELP, ExitCode } from './exit-codes.ts'
import { VERSION } from './version.ts'


/** Flag value parsers: their errors name the flag and what it accepts (commander adds the flag name). */
const number = (min: number) => (value: string) => {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < min) throw new InvalidArgumentError(`expected a number >= ${min}, got "${value}".`)
  return n
}
const integer = (min: number, max = Number.MAX_SAFE_INTEGER) => (value: string) => {
  const n = Number(value)
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got "${value}".`)
  return n
}
const list = (value: string) => value.split(',').map((s) => s.trim()).filter(Boolean)
/** Any number; the command checks its range and names the flag (so library callers get the same errors). */
const anyNumber = (value: string) => {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${value}".`)
  return n
}

export interface CliIo {
  out: (line: string) => void
  err: (line: string) => void
  /** Resolves with a signal name when the user interrupts (Ctrl-C / SIGTERM). */
  interrupted: Promise<string>
  /** The same interruption as an AbortSignal. */
  signal: AbortSignal
}

/** The command table. Each action calls an exported command function and stores its exit code. */
export function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command()
    .name('cancelbench')
    .description('Prove under load that "Stop generating" really stops the model and the bill.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', '\n' + EXIT_CODE_HELP)
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .exitOverride()

  program
    .command('provider')
    .description('Run the mock token-billing LLM provider (Anthropic Messages, OpenAI Chat Completions and Responses) over HTTP')
    .addOption(new Option('-p, --port <port>', 'port to listen on (0 = any free port)').default(8787).argParser(integer(0, 65535)))
    .addOption(new Option('--host <host>', 'address to bind; loopback by default').default('127.0.0.1'))
    .option('-c, --config <file>', 'provider options as YAML or JSON (flags override it)')
    .addOption(new Option('--seed <n>', 'seed for every generation plan').argParser(integer(-(2 ** 31), 2 ** 31 - 1)))
    .addOption(new Option('--ttft-ms <ms>', 'time to first token (default 200)').argParser(number(0)))
    .addOption(new Option('--tokens-per-second <n>', 'generation speed (default 50)').argParser(number(0.001)))
    .addOption(new Option('--tokens-per-event <n>', 'tokens per text delta event (default 1)').argParser(integer(1)))
    .addOption(new Option('--output-tokens <n>', 'planned output length (default 200)').argParser(integer(0)))
    .addOption(new Option('--stop-lag-ms <ms>', 'keep generating and billing this long after a disconnect (default 0)').argParser(number(0)))
    .option('--ignore-disconnect', 'never stop on disconnect: bill every planned token')
    .addOption(new Option('--ping-interval-ms <ms>', 'Anthropic ping interval, 0 = only the first (default 10000)').argParser(number(0)))
    .option('--ledger <file>', 'append each finished generation to this JSONL file')
    .addOption(new Option('--models <list>', 'comma-separated model names to serve; others get 404').argParser(list))
    .option('--control-token <token>', 'require header x-cancelbench-token on /_cancelbench/* and /metrics')
    .option('--no-control', 'do not serve /_cancelbench/* and /metrics')
    .addHelpText('after', '\nExamples:\n  cancelbench provider --port 8787\n  cancelbench provider --output-tokens 500 --stop-lag-ms 200 --ledger reports/ledger.jsonl\n')
    .action(async (flags) => {
      setExit(await providerCommand(flags, { out: io.out, stopped: io.interrupted }))
    })

  program
    .command('run')
    .description('Run a scenario: fire streams at the target, abort them, and judge whether generation and billing stopped')
    .argument('<scenario>', 'scenario file (YAML or JSON)')
    .addOption(new Option('--seed <n>', 'seed for the abort and provider plans (default: the scenario\'s)').argParser(integer(-(2 ** 31), 2 ** 31 - 1)))
    .option('-o, --out <dir>', 'run directory (default reports/<timestamp>-<scenario>/)')
    .option('--json', 'print report.json instead of the summary')
    .option('--dry-run', 'print the plan (every stream\'s abort point and provider script) and exit')
    .addOption(new Option('--streams <n>', 'override load.streams').argParser(integer(1)))
    .addOption(new Option('--concurrency <n>', 'override load.concurrency').argParser(integer(1)))
    .addOption(new Option('--price-in <usd>', 'input price, USD per million tokens, for every model (over the scenario\'s cost and the price table)').argParser(anyNumber))
    .addOption(new Option('--price-out <usd>', 'output price, USD per million tokens, for every model').argParser(anyNumber))
    .addHelpText('after', '\nExamples:\n  cancelbench run scenarios/node-good.yaml\n  cancelbench run scenarios/ci.yaml --seed 7 --json > report.json\n')
    .action(async (file: string, flags) => {
      const progress = createProgress()
      try {
        setExit(await runCommand(file, flags, runIo(io, progress)))
      } finally {
        progress.finish()
      }
    })

  program
    .command('demo')
    .description('Show the idea in one command: the embedded provider against a Node server that passes the cancel on and one that never does')
    .option('-o, --out <dir>', 'where to write the reports (default reports/<timestamp>-demo/)')
    .addOption(new Option('--seed <n>', 'seed for the plans').argParser(integer(-(2 ** 31), 2 ** 31 - 1)))
    .option('--json', 'print both reports as JSON')
    .action(async (flags) => {
      const progress = createProgress()
      try {
        setExit(await demoCommand(flags, runIo(io, progress)))
      } finally {
        progress.finish()
      }
    })

  program
    .command('whatif')
    .description('Project what Stop saves, and what leaked stops lose, over a period: from assumptions or from a run\'s report.json')
    .addOption(new Option('--requests <n>', 'requests per period (required)').argParser(anyNumber))
    .option('--period <name>', 'label of the period (default month)')
    .addOption(new Option('--stop-rate <0..1>', 'share of requests the user stops').argParser(anyNumber))
    .addOption(new Option('--avg-output-tokens <n>', 'average output tokens of an answer nobody stops').argParser(anyNumber))
    .addOption(new Option('--avg-input-tokens <n>', 'average input tokens a request, paid whatever happens (default 0)').argParser(anyNumber))
    .addOption(new Option('--stop-at-tokens <n>', 'where users stop, in output tokens').argParser(anyNumber))
    .addOption(new Option('--stop-at-fraction <0..1>', 'where users stop, as a share of the average output').argParser(anyNumber))
    .addOption(new Option('--propagation <0..1>', 'share of stops that reach the provider (default 1)').argParser(anyNumber))
    .option('--model <id>', 'take prices from the price table (docs/cost.md)')
    .addOption(new Option('--price-in <usd>', 'input price, USD per million tokens').argParser(anyNumber))
    .addOption(new Option('--price-out <usd>', 'output price, USD per million tokens').argParser(anyNumber))
    .option('--from-report <path>', 'measure stop rate, output length, stop point, propagation and prices from a run (report.json or its directory); flags override')
    .option('--json', 'print the projection as JSON')
    .option('-o, --out <dir>', 'also write the projection there in every format (json, txt, md, html, chart PNGs)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  cancelbench whatif --requests 1000000 --stop-rate 1 --avg-output-tokens 500 --stop-at-tokens 100 --price-out 15\n' +
        '  cancelbench whatif --requests 200000 --stop-rate 0.15 --avg-output-tokens 800 --stop-at-fraction 0.3 --propagation 0.9 --model claude-sonnet-4-5\n' +
        '  cancelbench whatif --from-report reports/20261124-090000-ci --requests 1000000 --out reports/whatif\n' +
        '\nsaved per stop = (avg output - stop point) x output price; saved = requests x stop rate x saved per stop x propagation.\n',
    )
    .action(async (flags) => setExit(await whatifCommand(flags, io)))

  program
    .command('report')
    .description('Render a saved run again, in every format: summary.txt, report.md, report.html, junit.xml and chart PNGs')
    .argument('<run-dir>', 'the directory a run wrote (or its report.json)')
    .option('-o, --out <dir>', 'write there instead of the run directory')
    .addHelpText('after', '\nExamples:\n  cancelbench report reports/20261124-090000-ci\n  cancelbench report reports/example/sse-leaky --out /tmp/rendered\n')
    .action(async (dir: string, flags) => setExit(await reportCommand(dir, flags, io)))

  program
    .command('validate')
    .description('Check a scenario file and print what it would run')
    .argument('<scenario>', 'scenario file (YAML or JSON)')
    .action(async (file: string) => setExit(await validateCommand(file, io)))

  return program
}

/** The run commands' io: the CLI's streams and interruption, plus a progress line. */
function runIo(io: CliIo, progress: ReturnType<typeof createProgress>): RunIo {
  let aborted = 0
  let errors = 0
  return {
    out: io.out,
    err: io.err,
    signal: io.signal,
    onProgress: (done, total, sample) => {
      if (sample.abortedAtMs !== null) aborted++
      if (sample.end === 'error') errors++
      progress.update(done, total, `aborted ${aborted}  errors ${errors}`)
    },
  }
}

/**
 * Runs the CLI and returns the exit code; never calls process.exit (the bin does).
 * @example const code = await main(['node', 'cancelbench', 'provider', '--port', '0'], io)
 */
export async function main(argv: string[], io: CliIo): Promise<number> {
  let exitCode: number = ExitCode.Ok
  const program = buildProgram(io, (code) => (exitCode = code))
  try {
    await program.parseAsync(argv)
    return exitCode
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end with exit code 0 through the same path.
      return error.exitCode === 0 ? ExitCode.Ok : ExitCode.InvalidInput
    }
    if (error instanceof CancelbenchError) {
      io.err(`cancelbench: ${error.message}`)
      if (error.exitCode === ExitCode.InternalError && error.stack) io.err(error.stack)
      return error.exitCode
    }
    io.err(`cancelbench: internal error: ${(error as Error)?.stack ?? String(error)}`)
    io.err('This is a bug in cancelbench; please report it with the command you ran.')
    return ExitCode.InternalError
  }
}

/** The process entry point used by bin/cancelbench.js. */
export async function run(): Promise<void> {
  const controller = new AbortController()
  const interrupted = new Promise<string>((resolve) => {
    const onSignal = (name: NodeJS.Signals) => {
      if (controller.signal.aborted) {
        // Second Ctrl-C: stop now. Target process groups are killed by their 'exit' handlers.
        console.error('cancelbench: interrupted again, exiting without a report')
        process.exit(ExitCode.Interrupted)
      }
      console.error(`\ncancelbench: ${name}: stopping (press Ctrl-C again to quit at once)`)
      controller.abort()
      resolve(name)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
  const code = await main(process.argv, { out: (s) => console.log(s), err: (s) => console.error(s), interrupted, signal: controller.signal })
  process.exitCode = code
}
