import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readConfigFile } from '../../src/config-file.ts'
import { InputError } from '../../src/errors.ts'
import { ExitCode } from '../../src/exit-codes.ts'
import { THRESHOLD_METRICS } from '../../src/runner/thresholds.ts'
import { scenarioJsonSchema } from '../../src/scenario/json-schema.ts'
import { loadScenario, validateScenario, type LoadedScenario } from '../../src/scenario/load.ts'

const TARGET = { url: 'http://127.0.0.1:3000' }
const SCENARIOS_DIR = fileURLToPath(new URL('../../scenarios/', import.meta.url))

function errorsOf(input: unknown): string[] {
  return validateScenario(input, 'x.yaml').errors
}

/** The single error for `input`; fails with the whole list when there is not exactly one. */
function onlyError(input: unknown): string {
  const errors = errorsOf(input)
  expect(errors, JSON.stringify(errors)).toHaveLength(1)
  return errors[0]!
}

function valid(input: Record<string, unknown>, file = 'x.yaml'): LoadedScenario {
  const result = validateScenario({ target: TARGET, ...input }, file)
  expect(result.errors).toEqual([])
  if (!result.value) throw new Error('expected a valid scenario')
  return result.value
}

/** Every error is one line a user can act on: it starts with a field path and has no embedded newline. */
function expectCompleteLines(errors: string[]): void {
  for (const error of errors) {
    expect(error).not.toContain('\n')
    expect(error).toMatch(/^[\w.$[\]()\s-]+: \S/)
  }
}

describe('validateScenario: defaults', () => {
  const { scenario, thresholds, warnings } = valid({})

  it('accepts the minimal scenario without errors or warnings', () => {
    expect(validateScenario({ target: TARGET }, 'inline')).toMatchObject({ errors: [], warnings: [] })
    expect(warnings).toEqual([])
  })

  it('fills the sse transport defaults', () => {
    expect(scenario.transport).toEqual({
      type: 'sse',
      path: '/chat',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: { prompt: '{{prompt}}' },
      tokenEvent: 'token',
      doneEvent: 'done',
      errorEvent: 'error',
    })
  })

  it('fills load, cancel, grace and threshold defaults', () => {
    expect(scenario.load.streams).toBe(20)
    expect(scenario.load.concurrency).toBeUndefined()
    expect(scenario.load.arrivalRatePerSec).toBeUndefined()
    expect(scenario.load.maxDurationMs).toBe(120_000)
    expect(scenario.load.streamTimeoutMs).toBe(60_000)
    expect(scenario.cancel.fraction).toBe(0.5)
    expect(scenario.cancel.after).toEqual({ tokens: { dist: 'uniform', min: 5, max: 40 } })
    expect(scenario.graceMs).toBe(1000)
    expect(scenario.seed).toBe(1)
    expect(scenario.thresholds).toEqual(['propagation_rate >= 0.99'])
    expect(thresholds).toEqual([{ expression: 'propagation_rate >= 0.99', metric: 'propagation_rate', operator: '>=', value: 0.99 }])
  })

  it('fills provider defaults (embedded provider)', () => {
    expect(scenario.provider.url).toBeUndefined()
    expect(scenario.provider.timing).toEqual({ ttftMs: 200, tokensPerSecond: 50, tokensPerEvent: 1, outputTokens: 200 })
    expect(scenario.provider.faults).toEqual({})
  })

  it('defaults cancel.mode by transport: abort for sse and chunked, ws-cancel for ws', () => {
    expect(scenario.cancel.mode).toBe('abort')
    expect(valid({ transport: { type: 'chunked' } }).scenario.cancel.mode).toBe('abort')
    const ws = valid({ transport: { type: 'ws' } }).scenario
    expect(ws.cancel.mode).toBe('ws-cancel')
    expect(ws.transport).toMatchObject({ type: 'ws', path: '/ws', token: { type: 'token' }, cancel: { type: 'cancel', message_id: '{{id}}' } })
  })

  it('keeps a list of modes as a list and a single mode as a single value', () => {
    expect(valid({ cancel: { mode: ['abort', 'rst', 'fin'] } }).scenario.cancel.mode).toEqual(['abort', 'rst', 'fin'])
    expect(valid({ cancel: { mode: 'rst' } }).scenario.cancel.mode).toBe('rst')
    expect(valid({ transport: { type: 'ws' }, cancel: { mode: ['ws-cancel', 'ws-close'] } }).scenario.cancel.mode).toEqual(['ws-cancel', 'ws-close'])
  })

  it('names the scenario after the file when it has no name', () => {
    expect(valid({}, 'some/dir/my-check.yaml').scenario.name).toBe('my-check')
    expect(valid({}, '').scenario.name).toBe('scenario')
    expect(valid({ name: 'given' }, 'some/dir/my-check.yaml').scenario.name).toBe('given')
  })

  it('resolves baseDir against the scenario file', () => {
    expect(valid({}, '/abs/dir/s.yaml').baseDir).toBe('/abs/dir')
    expect(valid({}, '').baseDir).toBe(process.cwd())
  })
})

describe('validateScenario: unknown fields', () => {
  const TOP = ['name', 'description', 'seed', 'prompt', 'target', 'transport', 'provider', 'load', 'cancel', 'graceMs', 'thresholds']

  it('top level: did you mean, and the allowed fields', () => {
    const error = onlyError({ target: TARGET, thresolds: ['propagation_rate >= 0.9'] })
    expect(error).toMatch(/^thresolds: unknown field/)
    expect(error).toContain('did you mean "thresholds"?')
    expect(error).toContain(`allowed: ${TOP.join(', ')}`)
    expect(error).not.toContain('$schema')
  })

  it('matches a case-only typo', () => {
    expect(onlyError({ target: TARGET, GraceMs: 10 })).toContain('did you mean "graceMs"?')
  })

  it('gives no suggestion for a field that is nothing like a known one, but still lists the allowed ones', () => {
    const error = onlyError({ target: TARGET, zzzzzzz: 1 })
    expect(error).toMatch(/^zzzzzzz: unknown field/)
    expect(error).not.toContain('did you mean')
    expect(error).toContain('allowed: name,')
  })

  it('nested: load.concurency', () => {
    const error = onlyError({ target: TARGET, load: { concurency: 5 } })
    expect(error).toMatch(/^load\.concurency: unknown field/)
    expect(error).toContain('did you mean "concurrency"?')
    expect(error).toContain('allowed: streams, concurrency, arrivalRatePerSec, maxDurationMs, streamTimeoutMs, settleTimeoutMs')
  })

  it('deeply nested: provider.timing.ttftMS', () => {
    const error = onlyError({ target: TARGET, provider: { timing: { ttftMS: 100 } } })
    expect(error).toMatch(/^provider\.timing\.ttftMS: unknown field/)
    expect(error).toContain('did you mean "ttftMs"?')
    expect(error).toContain('allowed: ttftMs, tokensPerSecond, tokensPerEvent, outputTokens')
  })

  it('inside a fault: provider.faults.overloaded.probabilty', () => {
    const error = onlyError({ target: TARGET, provider: { faults: { overloaded: { probabilty: 0.1 } } } })
    expect(error).toMatch(/^provider\.faults\.overloaded\.probabilty: unknown field/)
    expect(error).toContain('did you mean "probability"?')
  })

  it('in the target: target.comand', () => {
    const error = onlyError({ target: { ...TARGET, comand: 'node server.js' } })
    expect(error).toMatch(/^target\.comand: unknown field/)
    expect(error).toContain('did you mean "command"?')
    expect(error).toContain('allowed: url, command, cwd, env, readyTimeoutMs')
  })

  it('in a ws transport: transport.tokn lists the ws fields', () => {
    const error = onlyError({ target: TARGET, transport: { type: 'ws', tokn: { type: 'delta' } } })
    expect(error).toMatch(/^transport\.tokn: unknown field/)
    expect(error).toContain('did you mean "token"?')
    expect(error).toContain('allowed: type, path, send, token, done, error, cancelled, cancel')
  })

  it('in a chunked transport: the chunked fields are the allowed ones', () => {
    const error = onlyError({ target: TARGET, transport: { type: 'chunked', splitt: 'line' } })
    expect(error).toContain('did you mean "split"?')
    expect(error).toContain('allowed: type, path, method, headers, body, split')
  })

  it('does not offer provider fields the scenario does not allow (ledgerFile, control)', () => {
    const error = onlyError({ target: TARGET, provider: { ledgerFile: 'x.jsonl' } })
    expect(error).toMatch(/^provider\.ledgerFile: unknown field/)
    expect(error).toContain('url, controlToken')
    expect(error).not.toMatch(/allowed:.*\bledgerFile\b/)
    expect(error).not.toMatch(/allowed:.*\bcontrol\b/)
  })

  it('reports two unknown fields as two complete error lines', () => {
    // validateScenario documents "every problem becomes an error line naming the field".
    const errors = errorsOf({ target: TARGET, laod: {}, cancle: {} })
    expect(errors).toHaveLength(2)
    expectCompleteLines(errors)
    expect(errors.some((e) => e.startsWith('laod: ') && e.includes('did you mean "load"?'))).toBe(true)
    expect(errors.some((e) => e.startsWith('cancle: ') && e.includes('did you mean "cancel"?'))).toBe(true)
  })
})

describe('validateScenario: wrong values', () => {
  it('cancel.mode names the allowed modes', () => {
    const error = onlyError({ target: TARGET, cancel: { mode: 'kill' } })
    expect(error).toMatch(/^cancel\.mode: /)
    for (const mode of ['rst', 'fin', 'abort', 'ws-cancel', 'ws-close']) expect(error).toContain(mode)
    expect(error).toContain('list')
  })

  it('a bad mode inside a list is reported on cancel.mode with the allowed modes', () => {
    const error = onlyError({ target: TARGET, cancel: { mode: ['abort', 'kill'] } })
    expect(error).toMatch(/^cancel\.mode/)
    expect(error).toContain('ws-close')
  })

  it('transport.type names the value and the allowed types', () => {
    const error = onlyError({ target: TARGET, transport: { type: 'grpc' } })
    expect(error).toMatch(/^transport\.type: /)
    expect(error).toContain('"grpc"')
    expect(error).toContain('"sse", "chunked", "ws"')
  })

  it('sse method names the value and the allowed methods', () => {
    const error = onlyError({ target: TARGET, transport: { type: 'sse', method: 'PUT' } })
    expect(error).toMatch(/^transport\.method: /)
    expect(error).toContain('"PUT"')
    expect(error).toContain('"POST", "GET"')
  })

  it('cancel.after explains the three shapes', () => {
    const error = onlyError({ target: TARGET, cancel: { after: { tokenz: 5 } } })
    expect(error).toMatch(/^cancel\.after: /)
    expect(error).toContain('tokens')
    expect(error).toContain('ms')
    expect(error).toContain('firstByte')
  })

  it('out-of-range numbers name the field', () => {
    expect(onlyError({ target: TARGET, cancel: { fraction: 2 } })).toMatch(/^cancel\.fraction: .*1/)
    expect(onlyError({ target: TARGET, load: { streams: 0 } })).toMatch(/^load\.streams: .*1/)
  })

  it('a header name that is not an HTTP token, or a value with a line break, names the header', () => {
    const name = onlyError({ target: TARGET, transport: { type: 'sse', headers: { 'x api key': 'k' } } })
    expect(name).toMatch(/^transport\.headers\.x api key: a header name is letters, digits/)
    const value = onlyError({ target: TARGET, transport: { type: 'chunked', headers: { 'x-api-key': 'k\r\nx-injected: 1' } } })
    expect(value).toBe('transport.headers.x-api-key: a header value must not contain a line break')
    expect(errorsOf({ target: TARGET, transport: { type: 'sse', headers: { "x-a!#$%&'*+-.^_`|~9": 'any: value, "quoted" ok' } } })).toEqual([])
  })

  it('a missing target names target', () => {
    expect(onlyError({})).toMatch(/^target: /)
  })

  it('a non-object scenario is reported at the top level', () => {
    expect(onlyError(null)).toMatch(/^\(top level\): /)
  })

  it('never throws for bad input', () => {
    for (const input of [undefined, null, 42, 'text', [], { target: 'x' }, { target: { url: 5 } }]) {
      expect(() => validateScenario(input, 'x.yaml')).not.toThrow()
      expect(validateScenario(input, 'x.yaml').errors.length).toBeGreaterThan(0)
    }
  })
})

describe('validateScenario: cross-field rules', () => {
  it.each(['abort', 'fin', 'rst'] as const)('transport ws with mode %s: use ws-cancel or ws-close', (mode) => {
    const error = onlyError({ target: TARGET, transport: { type: 'ws' }, cancel: { mode } })
    expect(error).toMatch(/^cancel\.mode: /)
    expect(error).toContain(`"${mode}"`)
    expect(error).toContain('ws-cancel')
    expect(error).toContain('ws-close')
  })

  it('a list of modes gets one error per bad mode', () => {
    const errors = errorsOf({ target: TARGET, transport: { type: 'ws' }, cancel: { mode: ['abort', 'ws-close', 'rst'] } })
    expect(errors).toHaveLength(2)
    expect(errors[0]).toContain('"abort"')
    expect(errors[1]).toContain('"rst"')
  })

  it.each(['ws-cancel', 'ws-close'] as const)('transport sse with mode %s: needs ws, use abort/fin/rst', (mode) => {
    const error = onlyError({ target: TARGET, cancel: { mode } })
    expect(error).toMatch(/^cancel\.mode: /)
    expect(error).toContain(`"${mode}" needs transport ws`)
    expect(error).toContain('with transport sse use abort')
    expect(error).toContain('fin')
    expect(error).toContain('rst')
  })

  it('transport chunked with ws-cancel names chunked', () => {
    expect(onlyError({ target: TARGET, transport: { type: 'chunked' }, cancel: { mode: 'ws-cancel' } })).toContain('with transport chunked')
  })

  it('concurrency and arrivalRatePerSec together', () => {
    const error = onlyError({ target: TARGET, load: { concurrency: 5, arrivalRatePerSec: 10 } })
    expect(error).toMatch(/^load: /)
    expect(error).toContain('concurrency')
    expect(error).toContain('arrivalRatePerSec')
    expect(error).toContain('not both')
  })

  it('{{port}} without a command', () => {
    const error = onlyError({ target: { url: 'http://127.0.0.1:{{port}}' } })
    expect(error).toMatch(/^target\.url: /)
    expect(error).toContain('{{port}}')
    expect(error).toContain('target.command')
  })

  it('{{port}} with a command is fine', () => {
    expect(errorsOf({ target: { url: 'http://127.0.0.1:{{port}}', command: 'node server.js' } })).toEqual([])
  })

  it.each(['ftp://example.com', '127.0.0.1:3000', 'localhost:3000/chat'])('bad URL scheme: %s', (url) => {
    const error = onlyError({ target: { url } })
    expect(error).toMatch(/^target\.url: /)
    expect(error).toContain(`"${url}"`)
    expect(error).toContain('http://')
  })

  it('https URLs are fine', () => {
    expect(errorsOf({ target: { url: 'https://example.com' } })).toEqual([])
  })

  it.each(['ws://127.0.0.1:3000', 'wss://example.com'])('a %s target URL is rejected: the URL must be http(s), ws:// is derived from it', (url) => {
    // The error text itself says "must start with http:// or https:// (ws:// and wss:// are derived from it
    // for transport ws)", and the transports build ws(s):// from an http(s):// base (a wss:// base would
    // even be downgraded to ws:// by transports/ws.ts). A ws:// URL must not pass validation.
    const errors = errorsOf({ target: { url }, transport: { type: 'ws' } })
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/^target\.url: .*http:\/\//)
  })

  it('bad thresholds are reported with their index, and unknown metrics list the known ones', () => {
    const errors = errorsOf({ target: TARGET, thresholds: ['propagation_rate >= 0.99', 'propagation_speed <= 3', 'garbage'] })
    expect(errors).toHaveLength(2)
    expect(errors[0]).toMatch(/^thresholds\[1\]: /)
    expect(errors[0]).toContain('unknown metric "propagation_speed"')
    expect(errors[0]).toContain(`known: ${Object.keys(THRESHOLD_METRICS).join(', ')}`)
    expect(errors[1]).toMatch(/^thresholds\[2\]: /)
    expect(errors[1]).toContain('"garbage"')
    expect(errors[1]).toContain('<metric> <op> <number>')
  })

  it('good thresholds are parsed into the loaded scenario', () => {
    const { thresholds } = valid({ thresholds: ['propagation_ms.p95 <= 250', 'max_idle_gap_ms <= 15s', 'propagation_rate >= 99%'] })
    expect(thresholds.map((t) => [t.metric, t.operator, t.value])).toEqual([
      ['propagation_ms.p95', '<=', 250],
      ['max_idle_gap_ms', '<=', 15000],
      ['propagation_rate', '>=', 0.99],
    ])
  })

  it('reports every problem at once', () => {
    const errors = errorsOf({
      target: { url: 'http://127.0.0.1:{{port}}' },
      transport: { type: 'ws' },
      cancel: { mode: 'fin' },
      load: { concurrency: 2, arrivalRatePerSec: 2 },
      thresholds: ['nope'],
    })
    expect(errors).toHaveLength(4)
    expectCompleteLines(errors)
  })
})

describe('validateScenario: warnings', () => {
  it('an external provider with faults or rate limits', () => {
    for (const provider of [
      { url: 'http://127.0.0.1:8787', faults: { overloaded: { probability: 0.1 } } },
      { url: 'http://127.0.0.1:8787', rateLimits: { requestsPerMinute: 60 } },
    ]) {
      const result = validateScenario({ target: TARGET, provider }, 'x.yaml')
      expect(result.errors).toEqual([])
      expect(result.warnings).toHaveLength(1)
      expect(result.warnings[0]).toContain('provider.url')
      expect(result.warnings[0]).toContain('ignored')
      expect(result.value?.warnings).toEqual(result.warnings)
    }
  })

  it('an embedded provider with faults does not warn', () => {
    expect(validateScenario({ target: TARGET, provider: { faults: { overloaded: { probability: 0.1 } } } }, 'x.yaml').warnings).toEqual([])
  })

  it('a tiny graceMs', () => {
    const result = validateScenario({ target: TARGET, graceMs: 10 }, 'x.yaml')
    expect(result.errors).toEqual([])
    expect(result.warnings).toHaveLength(1)
    expect(result.warnings[0]).toMatch(/^graceMs: 10 ms/)
    expect(result.warnings[0]).toContain('leaked')
    expect(validateScenario({ target: TARGET, graceMs: 50 }, 'x.yaml').warnings).toEqual([])
  })

  it('chunked split: chunk with a tokens abort point', () => {
    const result = validateScenario({ target: TARGET, transport: { type: 'chunked', split: 'chunk' } }, 'x.yaml')
    expect(result.warnings).toHaveLength(1)
    expect(result.warnings[0]).toContain('split: line')
  })

  it('warnings survive alongside errors', () => {
    const result = validateScenario({ target: TARGET, graceMs: 0, thresholds: ['bad'] }, 'x.yaml')
    expect(result.value).toBeUndefined()
    expect(result.errors).toHaveLength(1)
    expect(result.warnings).toHaveLength(1)
  })
})

describe('loadScenario', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cancelbench-scenario-'))
  })
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  function write(name: string, text: string): string {
    const file = join(dir, name)
    writeFileSync(file, text)
    return file
  }

  async function loadError(file: string): Promise<InputError> {
    const error = await loadScenario(file).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(InputError)
    const input = error as InputError
    expect(input.exitCode).toBe(ExitCode.InvalidInput)
    expect(input.exitCode).toBe(2)
    expect(input.message.startsWith(`${file}: `)).toBe(true)
    return input
  }

  it('a YAML file with a typo: InputError, exit 2, message starting with the path and naming the field', async () => {
    const file = write('typo.yaml', 'target:\n  url: http://127.0.0.1:3000\nload:\n  concurency: 5\n')
    const error = await loadError(file)
    expect(error.message).toContain('invalid scenario')
    expect(error.message).toContain('\n  - load.concurency: unknown field (did you mean "concurrency"?)')
  })

  it('lists every problem on its own line', async () => {
    const file = write('many.yaml', 'target:\n  url: ftp://x\nthresholds: [nope]\n')
    const lines = (await loadError(file)).message.split('\n')
    expect(lines.filter((l) => l.startsWith('  - '))).toHaveLength(2)
  })

  it('a file that does not exist', async () => {
    const file = join(dir, 'missing.yaml')
    expect((await loadError(file)).message).toContain('not found')
  })

  it('invalid YAML syntax names the file and where', async () => {
    const file = write('broken.yaml', 'target: [\n  url: : x\n')
    const error = await loadError(file)
    expect(error.message).toContain('invalid YAML')
    expect(error.message).toMatch(/line \d+/)
  })

  it('invalid JSON syntax', async () => {
    const file = write('broken.json', '{ "target": ')
    expect((await loadError(file)).message).toContain('invalid JSON')
  })

  it('a valid JSON file loads, named after the file, with its directory as baseDir', async () => {
    const file = write('from-json.json', JSON.stringify({ target: TARGET, load: { streams: 3 } }))
    const loaded = await loadScenario(file)
    expect(loaded.scenario.name).toBe('from-json')
    expect(loaded.scenario.load.streams).toBe(3)
    expect(loaded.file).toBe(file)
    expect(loaded.baseDir).toBe(dir)
  })

  it('a valid YAML file loads', async () => {
    const file = write('ok.yaml', 'name: ok-scenario\ntarget:\n  url: http://127.0.0.1:3000\ncancel:\n  mode: [abort, rst]\n')
    const loaded = await loadScenario(file)
    expect(loaded.scenario.name).toBe('ok-scenario')
    expect(loaded.scenario.cancel.mode).toEqual(['abort', 'rst'])
  })
})

describe('the files in scenarios/', () => {
  it('schema.json is generated from the current zod schema', () => {
    const onDisk = readFileSync(join(SCENARIOS_DIR, 'schema.json'), 'utf8')
    expect(onDisk, 'scenarios/schema.json is stale: run `npm run schema` and commit the result').toBe(scenarioJsonSchema())
  })

  const files = readdirSync(SCENARIOS_DIR)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()

  it('there are scenario files to check', () => {
    expect(files.length).toBeGreaterThan(0)
  })

  it.each(files)('%s validates without errors', async (name) => {
    const file = join(SCENARIOS_DIR, name)
    const result = validateScenario(await readConfigFile(file), file)
    expect(result.errors).toEqual([])
    expect(result.value?.baseDir).toBe(dirname(file))
    expect(result.value?.scenario.name).toBeTruthy()
    expect(basename(file)).toBe(name)
  })
})
