/**
 * The FastAPI reference targets (examples/python/fastapi_good.py and fastapi_leaky.py) against the HTTP
 * mock provider: the good one stops the provider's generation when its client aborts, the leaky one
 * keeps paying for all of it. Both speak the target contract (SSE token/done/error, keepalive comments).
 *
 * Each target is a real uvicorn process started with .venv/bin/python (made by scripts/python-env.sh),
 * in its own process group so that afterAll can end it and anything it started.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMockProvider, textOf, type LedgerRecord, type MockProvider } from '../../mock-provider/index.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const python = `${root}.venv/bin/python`

/** 100 tokens/s, one token per text delta: a token every 10 ms; 300 tokens take 3 s. */
const TOKEN_MS = 10
const PLANNED = 300
/** The client aborts after this many token events. */
const ABORT_AFTER = 10
/**
 * Tokens the good target may be billed beyond the ones its client received. Between the provider
 * generating token 10 and seeing the target's connection close, the token crosses two hops (provider ->
 * Python -> Node), the client aborts, and the close crosses back (Node -> uvicorn -> Starlette cancels the
 * body -> the SDK closes the provider response). On loopback that takes a few ms (1-3 tokens); 25 tokens
 * = 250 ms absorbs a descheduled Python on a busy 2-core machine while still failing any target that
 * kept reading (the plan is 300 tokens = 3 s).
 */
const IN_FLIGHT_ALLOWANCE = 25
/** Long enough for Python to import FastAPI and the SDK on a loaded machine (~1-2 s normally). */
const START_TIMEOUT_MS = 20_000
const RECORD_TIMEOUT_MS = 10_000
/** Keepalive interval given to both targets, so the tests also see comments interleaved with tokens. */
const KEEPALIVE_MS = 200

interface Target {
  name: string
  url: string
  child: ChildProcess
  stderr: () => string
}

let provider: MockProvider | undefined
const starting = new Map<string, Promise<Target>>()
const children: ChildProcess[] = []

/**
 * Never skip: without the venv each test fails with the fix. Checked in the tests rather than in
 * beforeAll, whose failure vitest reports as skipped tests, not failed ones.
 */
function requirePython(): void {
  if (!existsSync(python)) {
    throw new Error(`${python} not found: run \`bash scripts/python-env.sh\` (npm test does) to create the Python venv for these tests`)
  }
}

function started(): MockProvider {
  if (!provider) throw new Error('the mock provider did not start (see beforeAll)')
  return provider
}

/**
 * Spawns examples/python/<script> with PORT=0 and resolves with the URL from its `listening on` line:
 * the target binds a free port itself and prints the real one, so there is no window in which another
 * process could take a port picked for it.
 */
function spawnTarget(script: string, providerUrl: string): Promise<Target> {
  const env: NodeJS.ProcessEnv = { ...process.env }
  // The contract's variables come from here only, whatever the developer's shell has set.
  for (const key of ['PORT', 'HOST', 'MODEL', 'MAX_TOKENS', 'KEEPALIVE_MS', 'ANTHROPIC_AUTH_TOKEN']) delete env[key]
  Object.assign(env, {
    PORT: '0',
    HOST: '127.0.0.1',
    ANTHROPIC_BASE_URL: providerUrl,
    ANTHROPIC_API_KEY: 'test-key',
    KEEPALIVE_MS: String(KEEPALIVE_MS),
    // A proxy from the environment must not swallow loopback traffic (httpx honours *_PROXY).
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
    PYTHONUNBUFFERED: '1',
    // No __pycache__/ next to the examples (common.py is imported, so Python would cache it there).
    PYTHONDONTWRITEBYTECODE: '1',
  })
  const child = spawn(python, [`${root}examples/python/${script}`], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: afterAll signals the group, so nothing the target started survives the test.
    detached: true,
  })
  children.push(child)
  let stdout = ''
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  return new Promise<Target>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer)
      reject(new Error(`${script} ${why}\nstdout:\n${stdout}\nstderr:\n${stderr}`))
    }
    const timer = setTimeout(() => fail(`printed no "listening on" line within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS)
    child.on('error', (error) => fail(`could not be started: ${error.message}`))
    child.on('exit', (code, signal) => fail(`exited (code ${code}, signal ${signal}) before listening`))
    // Keep reading stdout after the line too: a full pipe would block the target.
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      const match = /^listening on (http:\/\/\S+)$/m.exec(stdout)
      if (!match) return
      clearTimeout(timer)
      resolve({ name: script, url: match[1]!, child, stderr: () => stderr })
    })
  })
}

/** The running target (started once, in beforeAll, so both start in parallel). */
async function target(script: string): Promise<Target> {
  requirePython()
  const promise = starting.get(script)
  if (!promise) throw new Error(`${script} was not started in beforeAll`)
  return promise
}

beforeAll(async () => {
  provider = await createMockProvider({ timing: { ttftMs: 20, tokensPerSecond: 100, tokensPerEvent: 1, outputTokens: PLANNED } })
  if (!existsSync(python)) return // each test fails with the fix (requirePython)
  for (const script of ['fastapi_good.py', 'fastapi_leaky.py']) {
    const promise = spawnTarget(script, provider.url)
    promise.catch(() => {}) // reported by the tests that await it, not as an unhandled rejection
    starting.set(script, promise)
  }
})

afterAll(async () => {
  await Promise.all(children.map(stopGroup))
  await provider?.close()
})

/** SIGTERM to the target's process group (uvicorn shuts down gracefully), SIGKILL if it is still alive after 3 s. */
async function stopGroup(child: ChildProcess): Promise<void> {
  const pid = child.pid
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error // ESRCH: already gone
    }
  }
  signalGroup('SIGTERM')
  const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 3000))])
  if (timedOut) {
    signalGroup('SIGKILL')
    await exited
  }
}

// ---------------------------------------------------------------------------------------------------
// A strict client for the target contract's SSE
// ---------------------------------------------------------------------------------------------------

type Frame = { kind: 'keepalive' } | { kind: 'token'; text: string } | { kind: 'done' } | { kind: 'error'; message: string }

/** Parses one frame exactly as the contract writes it; anything else fails the test. */
function parseFrame(raw: string): Frame {
  if (raw === ': keepalive') return { kind: 'keepalive' }
  const match = /^event: (token|done|error)\ndata: (.*)$/.exec(raw)
  if (!match) throw new Error(`not a contract SSE frame: ${JSON.stringify(raw)}`)
  const data = JSON.parse(match[2]!) as Record<string, unknown>
  if (match[1] === 'token') {
    if (typeof data.text !== 'string') throw new Error(`token frame without a text: ${raw}`)
    return { kind: 'token', text: data.text }
  }
  if (match[1] === 'error') return { kind: 'error', message: String(data.message) }
  return { kind: 'done' }
}

interface ChatResult {
  frames: Frame[]
  tokens: string[]
  /** performance.now() just before the abort (the provider's clock: it runs in this process); null if not aborted. */
  abortedAtMs: number | null
}

/**
 * POSTs `prompt` to the target's /chat and reads its SSE until the end, or until `abortAfterTokens`
 * token frames have been read: then it aborts the request, as a browser's "Stop generating" does.
 */
async function chat(url: string, prompt: string, abortAfterTokens?: number): Promise<ChatResult> {
  const controller = new AbortController()
  const response = await fetch(`${url}/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt }),
    signal: controller.signal,
  })
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
  const frames: Frame[] = []
  const tokens: string[] = []
  let abortedAtMs: number | null = null
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      buffer += value
      let end: number
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const frame = parseFrame(buffer.slice(0, end))
        buffer = buffer.slice(end + 2)
        frames.push(frame)
        if (frame.kind !== 'token') continue
        tokens.push(frame.text)
        if (tokens.length === abortAfterTokens) {
          abortedAtMs = performance.now()
          controller.abort()
          return { frames, tokens, abortedAtMs }
        }
      }
    }
  } catch (error) {
    if (abortedAtMs === null) throw error
  }
  expect(buffer).toBe('') // nothing after the last frame
  return { frames, tokens, abortedAtMs }
}

/** The single generation carrying `correlationId` (a second one would mean the target or the SDK retried). */
async function recordOf(correlationId: string): Promise<LedgerRecord> {
  const { ledger } = started()
  const record = await ledger.waitFor((r) => r.correlationId === correlationId, AbortSignal.timeout(RECORD_TIMEOUT_MS))
  expect(ledger.query({ correlationId })).toHaveLength(1)
  return record
}

// ---------------------------------------------------------------------------------------------------

describe('FastAPI reference targets against the HTTP mock provider', () => {
  it.each(['fastapi_good.py', 'fastapi_leaky.py'])('%s: a full stream carries the provider text, then event: done', async (script) => {
    const { url } = await target(script)
    const id = `full-${script}`
    const result = await chat(url, `Tell me a story. [cb:${id} outputTokens=40]`)
    const record = await recordOf(id)

    expect(record.stopReason).toBe('completed')
    expect(record.billedOutputTokens).toBe(40)
    expect(record.emittedOutputTokens).toBe(40)
    expect(result.tokens).toHaveLength(40)
    expect(result.tokens.join('')).toBe(textOf(record.seed, 0, record.billedOutputTokens))
    expect(result.frames.filter((f) => f.kind === 'error')).toEqual([])
    expect(result.frames.at(-1)).toEqual({ kind: 'done' })
    expect(result.frames.filter((f) => f.kind === 'done')).toHaveLength(1)
  })

  it.each(['fastapi_good.py', 'fastapi_leaky.py'])('%s: keepalive comments flow during the time to first token', async (script) => {
    const { url } = await target(script)
    const id = `keepalive-${script}`
    const result = await chat(url, `Think first. [cb:${id} ttftMs=1000 outputTokens=3]`)
    const record = await recordOf(id)

    const firstToken = result.frames.findIndex((f) => f.kind === 'token')
    expect(firstToken).toBeGreaterThan(0)
    const before = result.frames.slice(0, firstToken)
    // 1000 ms of silence from the provider with a comment every 200 ms: 4 expected (at 200, 400, 600,
    // 800 ms; the one at 1000 races the first token). At least 3 shows a schedule, not a one-off.
    expect(before.every((f) => f.kind === 'keepalive')).toBe(true)
    expect(before.length).toBeGreaterThanOrEqual(3)
    expect(result.tokens.join('')).toBe(textOf(record.seed, 0, 3))
    expect(result.frames.at(-1)).toEqual({ kind: 'done' })
  })

  it('fastapi_good.py: a client abort closes the provider stream, and billing stops', async () => {
    const { url } = await target('fastapi_good.py')
    const id = 'abort-good'
    const result = await chat(url, `Write a lot. [cb:${id}]`, ABORT_AFTER)
    const record = await recordOf(id)
    const abortedAt = result.abortedAtMs!

    expect(result.tokens).toHaveLength(ABORT_AFTER)
    expect(record.plannedOutputTokens).toBe(PLANNED)
    expect(record.stopReason).toBe('client_disconnected')
    expect(record.disconnectObservedAtMs).not.toBeNull()
    const disconnectAt = record.disconnectObservedAtMs!
    // The provider saw the close after the client's abort (nothing else closed it), and within the
    // in-flight allowance of it.
    expect(disconnectAt).toBeGreaterThanOrEqual(abortedAt)
    expect(disconnectAt - abortedAt).toBeLessThan(IN_FLIGHT_ALLOWANCE * TOKEN_MS)
    // Billed: what the client received, plus what was in flight, and far from the plan.
    expect(record.emittedOutputTokens).toBeGreaterThanOrEqual(ABORT_AFTER)
    expect(record.billedOutputTokens).toBeGreaterThanOrEqual(record.emittedOutputTokens)
    expect(record.billedOutputTokens).toBeLessThanOrEqual(ABORT_AFTER + IN_FLIGHT_ALLOWANCE)
    // stopLagMs 0: nothing generated after the disconnect was observed.
    expect(record.lastTokenAtMs!).toBeLessThanOrEqual(disconnectAt)
    expect(record.stoppedAtMs).toBe(disconnectAt)
  })

  it('fastapi_leaky.py: a client abort does not reach the provider, which generates and bills all of it', async () => {
    const { url } = await target('fastapi_leaky.py')
    const id = 'abort-leaky'
    const result = await chat(url, `Write a lot. [cb:${id}]`, ABORT_AFTER)
    const record = await recordOf(id)
    const abortedAt = result.abortedAtMs!

    expect(result.tokens).toHaveLength(ABORT_AFTER)
    expect(record.stopReason).toBe('completed')
    expect(record.billedOutputTokens).toBe(PLANNED)
    // The orphaned producer read every token: the provider never saw its client go.
    expect(record.emittedOutputTokens).toBe(PLANNED)
    expect(record.disconnectObservedAtMs).toBeNull()
    // And it ran long after the abort: ~290 tokens = ~2.9 s of generation nobody received. (Bound at 1 s,
    // not 2.9: a loaded machine may deliver the 10th token to this process late, which moves the abort.)
    expect(record.stoppedAtMs!).toBeGreaterThan(abortedAt + 1000)
  })
})
