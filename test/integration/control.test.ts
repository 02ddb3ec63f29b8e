/**
 * Control and observability routes: GET /_cancelbench/ledger (filters, active generations),
 * POST /_cancelbench/reset, GET /_cancelbench/clock, GET /metrics (Prometheus text), control disabled or
 * guarded by a token; and the ledger file: JSON lines written as each generation finishes, so a process
 * killed with SIGKILL loses nothing already recorded.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createMockProvider, type ApiName, type LedgerRecord, type MockProvider, type ProviderOptionsInput } from '../../mock-provider/index.ts'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const NODE = join(REPO, 'node_modules/.bin/node')
const CHILD = join(REPO, 'test/fixtures/ledger-child.ts')

const timing = { ttftMs: 10, tokensPerSecond: 200, outputTokens: 20 }
const ANTHROPIC_HEADERS = { 'content-type': 'application/json', 'x-api-key': 'test-key', 'anthropic-version': '2023-06-01' }
const OPENAI_HEADERS = { 'content-type': 'application/json', authorization: 'Bearer test-key' }
const PATHS: Record<ApiName, string> = { anthropic: '/v1/messages', 'openai-chat': '/v1/chat/completions', 'openai-responses': '/v1/responses' }

function requestBody(api: ApiName, prompt: string, stream: boolean): Record<string, unknown> {
  if (api === 'anthropic') return { model: 'claude-sonnet-4-5', max_tokens: 100_000, stream, messages: [{ role: 'user', content: prompt }] }
  if (api === 'openai-chat') return { model: 'gpt-4o', stream, messages: [{ role: 'user', content: prompt }] }
  return { model: 'gpt-4o', stream, input: prompt }
}

/** Starts a generation; resolves with the Response once its headers arrive. */
function generate(base: string, api: ApiName, prompt: string, opts: { stream?: boolean; signal?: AbortSignal } = {}): Promise<Response> {
  return fetch(base + PATHS[api], {
    method: 'POST',
    headers: api === 'anthropic' ? ANTHROPIC_HEADERS : OPENAI_HEADERS,
    body: JSON.stringify(requestBody(api, prompt, opts.stream ?? false)),
    signal: opts.signal ?? AbortSignal.timeout(10_000),
  })
}

/** A whole generation, body read to the end. */
async function complete(base: string, api: ApiName, prompt: string, stream = false): Promise<string> {
  const res = await generate(base, api, prompt, { stream })
  expect(res.status).toBe(200)
  return res.text()
}

async function control(base: string, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(base + path, { signal: AbortSignal.timeout(5000), ...init })
}

interface ClockReading {
  nowMs: number
  epochMs: number
  wallMs: number
}
interface LedgerAnswer {
  clock: ClockReading
  records: LedgerRecord[]
  active?: LedgerRecord[]
}

async function ledger(base: string, query = '', headers: Record<string, string> = {}): Promise<LedgerAnswer> {
  const res = await control(base, `/_cancelbench/ledger${query}`, { headers })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/application\/json/)
  return (await res.json()) as LedgerAnswer
}

async function clock(base: string): Promise<ClockReading> {
  const res = await control(base, '/_cancelbench/clock')
  expect(res.status).toBe(200)
  return (await res.json()) as ClockReading
}

function waitRecord(provider: MockProvider, correlationId: string): Promise<LedgerRecord> {
  return provider.ledger.waitFor((r) => r.correlationId === correlationId, AbortSignal.timeout(5000))
}

/** Prometheus text -> map of "name{labels}" -> value. */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line)
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`)
    values.set(match[1]!, Number(match[2]))
  }
  return values
}

async function metrics(base: string, headers: Record<string, string> = {}): Promise<{ text: string; values: Map<string, number> }> {
  const res = await control(base, '/metrics', { headers })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
  const text = await res.text()
  return { text, values: parseMetrics(text) }
}

const sum = (records: LedgerRecord[], field: 'billedOutputTokens' | 'emittedOutputTokens' | 'inputTokens') => records.reduce((n, r) => n + r[field], 0)

const providers: MockProvider[] = []
async function start(options: ProviderOptionsInput = {}): Promise<MockProvider> {
  const provider = await createMockProvider({ timing, ...options })
  providers.push(provider)
  return provider
}
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close()))
})

describe('GET /_cancelbench/ledger', () => {
  it('lists every finished generation; filters by correlationId; unmarked requests have correlationId null', async () => {
    const provider = await start()
    await complete(provider.url, 'anthropic', 'hi [cb:led-a]', true)
    await complete(provider.url, 'openai-chat', 'hi [cb:led-b]')
    await complete(provider.url, 'openai-responses', 'no marker at all', true)
    await complete(provider.url, 'anthropic', 'again [cb:led-a]')

    const all = await ledger(provider.url)
    expect(all.records).toHaveLength(4)
    expect(all.active).toBeUndefined()
    expect(all.clock).toEqual({ nowMs: expect.any(Number), epochMs: expect.any(Number), wallMs: expect.any(Number) })
    // What the route returns is what the in-memory ledger holds.
    expect(all.records).toEqual(JSON.parse(JSON.stringify(provider.ledger.query())))

    const a = await ledger(provider.url, '?correlationId=led-a')
    expect(a.records).toHaveLength(2)
    expect(a.records.every((r) => r.correlationId === 'led-a' && r.api === 'anthropic')).toBe(true)
    expect(a.records.map((r) => r.stream)).toEqual([true, false])

    const b = await ledger(provider.url, '?correlationId=led-b')
    expect(b.records).toHaveLength(1)
    expect(b.records[0]).toMatchObject({ correlationId: 'led-b', api: 'openai-chat', stopReason: 'completed', billedOutputTokens: 20 })

    expect((await ledger(provider.url, '?correlationId=nobody')).records).toEqual([])

    const unmarked = all.records.filter((r) => r.api === 'openai-responses')
    expect(unmarked).toHaveLength(1)
    expect(unmarked[0]!.correlationId).toBeNull()
    expect(unmarked[0]!.stopReason).toBe('completed')
  })

  it('since=<clock ms> keeps only records that stopped at or after that time', async () => {
    const provider = await start()
    await complete(provider.url, 'anthropic', '[cb:since-old-1]')
    await complete(provider.url, 'openai-chat', '[cb:since-old-2]')
    const mark = (await clock(provider.url)).nowMs
    await complete(provider.url, 'anthropic', '[cb:since-new-1]', true)
    await complete(provider.url, 'openai-responses', '[cb:since-new-2]')

    const recent = await ledger(provider.url, `?since=${mark}`)
    expect(recent.records.map((r) => r.correlationId).sort()).toEqual(['since-new-1', 'since-new-2'])
    for (const r of recent.records) expect(r.stoppedAtMs!).toBeGreaterThanOrEqual(mark)

    // Combined with a correlation id filter.
    expect((await ledger(provider.url, `?since=${mark}&correlationId=since-new-1`)).records).toHaveLength(1)
    expect((await ledger(provider.url, `?since=${mark}&correlationId=since-old-1`)).records).toHaveLength(0)
    // since=0 is everything; a since in the future is nothing.
    expect((await ledger(provider.url, '?since=0')).records).toHaveLength(4)
    expect((await ledger(provider.url, `?since=${recent.clock.nowMs + 60_000}`)).records).toHaveLength(0)

    const bad = await control(provider.url, '/_cancelbench/ledger?since=yesterday')
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: string }).error).toContain('since')
  })

  it('active=1 shows generations in progress (stopReason null); once stopped they move to records', async () => {
    const provider = await start()
    const abort = new AbortController()
    const res = await generate(provider.url, 'anthropic', '[cb:act-long outputTokens=100000 tokensPerSecond=50]', { stream: true, signal: abort.signal })
    expect(res.status).toBe(200)
    await complete(provider.url, 'openai-chat', '[cb:act-done]')

    const view = await ledger(provider.url, '?active=1')
    expect(view.active).toHaveLength(1)
    expect(view.active![0]).toMatchObject({ correlationId: 'act-long', api: 'anthropic', stream: true, stopReason: null, stoppedAtMs: null })
    expect(view.records.map((r) => r.correlationId)).toEqual(['act-done'])
    // The active list honours the correlation id filter too.
    expect((await ledger(provider.url, '?active=1&correlationId=act-done')).active).toEqual([])
    expect((await ledger(provider.url, '?active=1&correlationId=act-long')).active).toHaveLength(1)

    abort.abort()
    const stopped = await waitRecord(provider, 'act-long')
    expect(stopped.stopReason).toBe('client_disconnected')
    const after = await ledger(provider.url, '?active=1')
    expect(after.active).toEqual([])
    expect(after.records.map((r) => r.correlationId).sort()).toEqual(['act-done', 'act-long'])
  })

  it('active=1 shows an in-progress generation as it stands: billed/emitted tokens so far, not zeros', async () => {
    const provider = await start()
    const abort = new AbortController()
    const res = await generate(provider.url, 'anthropic', '[cb:act-count outputTokens=100000 tokensPerSecond=200]', { stream: true, signal: abort.signal })
    try {
      // Read until this client has received at least 10 text deltas.
      const reader = res.body!.getReader()
      const decoder = new TextDecoder()
      let text = ''
      while ((text.match(/event: content_block_delta/g) ?? []).length < 10) {
        const { done, value } = await reader.read()
        if (done) throw new Error('stream ended early')
        text += decoder.decode(value, { stream: true })
      }
      const received = (text.match(/event: content_block_delta/g) ?? []).length
      const view = await ledger(provider.url, '?active=1&correlationId=act-count')
      const live = view.active?.[0]
      expect(live).toBeDefined()
      expect(live!.emittedOutputTokens, 'tokens already written to the client').toBeGreaterThanOrEqual(received)
      expect(live!.billedOutputTokens, 'tokens already generated').toBeGreaterThanOrEqual(received)
      expect(live!.firstTokenAtMs).not.toBeNull()
    } finally {
      abort.abort()
    }
    await waitRecord(provider, 'act-count')
  })
})

describe('POST /_cancelbench/reset and GET /_cancelbench/clock', () => {
  it('reset empties the ledger and zeroes the counters; a generation in progress carries on and is recorded', async () => {
    const provider = await start()
    await complete(provider.url, 'anthropic', '[cb:rs-1]')
    await complete(provider.url, 'openai-chat', '[cb:rs-2]', true)
    const abort = new AbortController()
    // Running across the reset, but billing nothing during the test (its first token is a minute away),
    // so the zeroed counters stay exactly zero.
    const running = await generate(provider.url, 'anthropic', '[cb:rs-running outputTokens=100000 ttftMs=60000]', { stream: true, signal: abort.signal })
    expect(running.status).toBe(200)
    expect((await ledger(provider.url)).records).toHaveLength(2)
    expect((await metrics(provider.url)).values.get('cancelbench_output_tokens_generated_total')).toBeGreaterThanOrEqual(40)

    const reset = await control(provider.url, '/_cancelbench/reset', { method: 'POST' })
    expect(reset.status).toBe(200)
    const body = (await reset.json()) as { ok: boolean; clock: ClockReading }
    expect(body.ok).toBe(true)
    expect(body.clock.nowMs).toEqual(expect.any(Number))

    expect((await ledger(provider.url)).records).toEqual([])
    expect(provider.ledger.size).toBe(0)
    const zeroed = (await metrics(provider.url)).values
    expect(zeroed.get('cancelbench_output_tokens_generated_total')).toBe(0)
    expect(zeroed.get('cancelbench_disconnects_total')).toBe(0)
    expect((await ledger(provider.url, '?active=1')).active).toHaveLength(1)

    abort.abort()
    expect(await waitRecord(provider, 'rs-running')).toMatchObject({ stopReason: 'client_disconnected', billedOutputTokens: 0 })
    // Counted after the reset: its disconnect.
    expect((await metrics(provider.url)).values.get('cancelbench_disconnects_total')).toBe(1)
    expect((await ledger(provider.url)).records.map((r) => r.correlationId)).toEqual(['rs-running'])
    await complete(provider.url, 'anthropic', '[cb:rs-3]')
    expect((await ledger(provider.url)).records.map((r) => r.correlationId)).toEqual(['rs-running', 'rs-3'])
  })

  it('clock: epochMs + nowMs is the wall clock; nowMs is the clock the ledger uses', async () => {
    const provider = await start()
    const before = Date.now()
    const c1 = await clock(provider.url)
    const after = Date.now()
    expect(c1.epochMs + c1.nowMs).toBeGreaterThanOrEqual(before - 1000)
    expect(c1.epochMs + c1.nowMs).toBeLessThanOrEqual(after + 1000)
    expect(c1.wallMs).toBeGreaterThanOrEqual(before)
    expect(c1.wallMs).toBeLessThanOrEqual(after)

    await complete(provider.url, 'anthropic', '[cb:clk-1]')
    const c2 = await clock(provider.url)
    expect(c2.nowMs).toBeGreaterThan(c1.nowMs)
    expect(c2.epochMs).toBe(c1.epochMs)
    const record = (await ledger(provider.url, '?correlationId=clk-1')).records[0]!
    // The record's times fall between the two clock readings, and its epoch is the clock's.
    expect(record.receivedAtMs).toBeGreaterThanOrEqual(c1.nowMs)
    expect(record.stoppedAtMs!).toBeLessThanOrEqual(c2.nowMs)
    expect(record.clockEpochMs).toBe(c1.epochMs)
  })
})

describe('GET /metrics', () => {
  it('Prometheus text with every metric, values matching the ledger after mixed traffic', async () => {
    const provider = await start()
    // Completed streams and non-streams in all three APIs.
    await complete(provider.url, 'anthropic', '[cb:m-1]', true)
    await complete(provider.url, 'anthropic', '[cb:m-2]')
    await complete(provider.url, 'openai-chat', '[cb:m-3]', true)
    await complete(provider.url, 'openai-responses', '[cb:m-4]')
    // A stream whose client goes away mid-generation.
    const abort = new AbortController()
    const res = await generate(provider.url, 'openai-chat', '[cb:m-5 outputTokens=100000 tokensPerSecond=100]', { stream: true, signal: abort.signal })
    const reader = res.body!.getReader()
    await reader.read()
    // Active while it runs.
    expect((await metrics(provider.url)).values.get('cancelbench_active_generations')).toBe(1)
    abort.abort()
    await waitRecord(provider, 'm-5')

    const { text, values } = await metrics(provider.url)
    for (const name of [
      'cancelbench_active_generations',
      'cancelbench_output_tokens_generated_total',
      'cancelbench_output_tokens_emitted_total',
      'cancelbench_input_tokens_billed_total',
      'cancelbench_disconnects_total',
      'cancelbench_generations_total',
      'cancelbench_stop_latency_seconds',
    ]) {
      expect(text).toContain(`# TYPE ${name} `)
      expect(text).toContain(`# HELP ${name} `)
    }
    expect(text).toContain('# TYPE cancelbench_stop_latency_seconds histogram')

    const records = provider.ledger.query()
    expect(records).toHaveLength(5)
    expect(values.get('cancelbench_active_generations')).toBe(0)
    expect(values.get('cancelbench_output_tokens_generated_total')).toBe(sum(records, 'billedOutputTokens'))
    expect(values.get('cancelbench_output_tokens_generated_total')).toBeGreaterThanOrEqual(80)
    expect(values.get('cancelbench_input_tokens_billed_total')).toBe(sum(records, 'inputTokens'))
    expect(values.get('cancelbench_disconnects_total')).toBe(1)

    // Generations by API and stop reason, as in the ledger.
    const byLabel = new Map<string, number>()
    for (const r of records) {
      const key = `cancelbench_generations_total{api="${r.api}",stop_reason="${r.stopReason}"}`
      byLabel.set(key, (byLabel.get(key) ?? 0) + 1)
    }
    for (const [key, n] of byLabel) expect(values.get(key), key).toBe(n)
    expect(byLabel.get('cancelbench_generations_total{api="openai-chat",stop_reason="client_disconnected"}')).toBe(1)

    // One disconnect -> one stop latency observation, in some bucket, +Inf counting it.
    expect(values.get('cancelbench_stop_latency_seconds_count')).toBe(1)
    expect(values.get('cancelbench_stop_latency_seconds_bucket{le="+Inf"}')).toBe(1)
    const latency = values.get('cancelbench_stop_latency_seconds_sum')!
    const stopped = records.find((r) => r.correlationId === 'm-5')!
    expect(latency).toBeCloseTo((stopped.stoppedAtMs! - stopped.disconnectObservedAtMs!) / 1000, 3)
    expect(values.get('cancelbench_stop_latency_seconds_bucket{le="60"}')).toBe(1)
  })

  it('emitted tokens in the metrics match the ledger, non-streaming responses included', async () => {
    const provider = await start()
    await complete(provider.url, 'anthropic', '[cb:em-1]', true)
    await complete(provider.url, 'anthropic', '[cb:em-2]')
    await complete(provider.url, 'openai-chat', '[cb:em-3]')
    await complete(provider.url, 'openai-responses', '[cb:em-4]', true)
    const records = provider.ledger.query()
    // Every token of a completed response reached its client, streamed or not.
    for (const r of records) expect(r.emittedOutputTokens, r.correlationId ?? '').toBe(20)
    const { values } = await metrics(provider.url)
    expect(values.get('cancelbench_output_tokens_emitted_total')).toBe(sum(records, 'emittedOutputTokens'))
  })
})

describe('control routes disabled or guarded', () => {
  const routes: [string, string][] = [
    ['GET', '/_cancelbench/ledger'],
    ['POST', '/_cancelbench/reset'],
    ['GET', '/_cancelbench/clock'],
    ['GET', '/metrics'],
  ]

  it('control.enabled false: every control route is 404; the API still serves and reset did nothing', async () => {
    const provider = await start({ control: { enabled: false } })
    await complete(provider.url, 'anthropic', '[cb:off-1]')
    for (const [method, path] of routes) {
      const res = await control(provider.url, path, { method })
      expect(res.status, `${method} ${path}`).toBe(404)
      expect(await res.text()).not.toContain('cancelbench_')
    }
    expect(provider.ledger.size).toBe(1)
    await complete(provider.url, 'openai-chat', '[cb:off-2]')
    expect(provider.ledger.size).toBe(2)
  })

  it('control.token: 401 without the header or with a wrong one, 200 with x-cancelbench-token; API routes need no token', async () => {
    const provider = await start({ control: { token: 's3cret-token' } })
    await complete(provider.url, 'anthropic', '[cb:tok-1]')
    for (const [method, path] of routes) {
      const none = await control(provider.url, path, { method })
      expect(none.status, `${method} ${path} without token`).toBe(401)
      expect(((await none.json()) as { error: string }).error).toContain('x-cancelbench-token')
      const wrong = await control(provider.url, path, { method, headers: { 'x-cancelbench-token': 's3cret-tokeN' } })
      expect(wrong.status, `${method} ${path} wrong token`).toBe(401)
      // The token is not accepted in other headers either.
      const elsewhere = await control(provider.url, path, { method, headers: { authorization: 'Bearer s3cret-token' } })
      expect(elsewhere.status).toBe(401)
    }
    // Nothing was reset by the refused POST.
    expect(provider.ledger.size).toBe(1)

    const auth = { 'x-cancelbench-token': 's3cret-token' }
    const led = await ledger(provider.url, '', auth)
    expect(led.records.map((r) => r.correlationId)).toEqual(['tok-1'])
    expect((await control(provider.url, '/_cancelbench/clock', { headers: auth })).status).toBe(200)
    expect((await metrics(provider.url, auth)).values.get('cancelbench_output_tokens_generated_total')).toBe(20)
    const reset = await control(provider.url, '/_cancelbench/reset', { method: 'POST', headers: auth })
    expect(reset.status).toBe(200)
    expect(provider.ledger.size).toBe(0)
  })
})

describe('ledgerFile', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cancelbench-ledger-'))
  })
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  const readLines = (file: string): LedgerRecord[] =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as LedgerRecord)

  it('each record is a JSON line in the file as soon as its generation finishes (before close)', async () => {
    const file = join(dir, 'nested', 'dir', 'ledger.jsonl')
    const provider = await start({ ledgerFile: file })
    expect(existsSync(file)).toBe(true)
    expect(readLines(file)).toEqual([])

    const steps: [ApiName, string, boolean][] = [
      ['anthropic', 'f-1', true],
      ['openai-chat', 'f-2', false],
      ['openai-responses', 'f-3', true],
    ]
    for (const [i, [api, id, stream]] of steps.entries()) {
      await complete(provider.url, api, `[cb:${id}]`, stream)
      const record = await waitRecord(provider, id)
      // Read right away: the line is already there, identical to the in-memory record.
      const lines = readLines(file)
      expect(lines).toHaveLength(i + 1)
      expect(lines.at(-1)).toEqual(JSON.parse(JSON.stringify(record)))
    }

    // A disconnected stream and a refused request are recorded too.
    const abort = new AbortController()
    const res = await generate(provider.url, 'anthropic', '[cb:f-4 outputTokens=100000]', { stream: true, signal: abort.signal })
    await res.body!.getReader().read()
    expect(readLines(file).map((r) => r.correlationId)).not.toContain('f-4')
    abort.abort()
    const stopped = await waitRecord(provider, 'f-4')
    expect(readLines(file).at(-1)).toEqual(JSON.parse(JSON.stringify(stopped)))
    expect(readLines(file).at(-1)!.stopReason).toBe('client_disconnected')

    // reset forgets the in-memory ledger; the file keeps its history.
    expect((await control(provider.url, '/_cancelbench/reset', { method: 'POST' })).status).toBe(200)
    expect(readLines(file)).toHaveLength(4)
  })

  it('appends to an existing file instead of truncating it', async () => {
    const file = join(dir, 'append.jsonl')
    writeFileSync(file, '{"earlier":"run"}\n')
    const provider = await start({ ledgerFile: file })
    await complete(provider.url, 'anthropic', '[cb:app-1]')
    await waitRecord(provider, 'app-1')
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean)
    expect(lines).toHaveLength(2)
    expect(JSON.parse(lines[0]!)).toEqual({ earlier: 'run' })
    expect((JSON.parse(lines[1]!) as LedgerRecord).correlationId).toBe('app-1')
  })

  it('SIGKILL loses nothing already recorded: every generation its client saw finish is in the file', async () => {
    const file = join(dir, 'killed.jsonl')
    const child = spawn(NODE, [CHILD, file], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
      child.once('exit', (code, signal) => resolveExit({ code, signal })),
    )
    try {
      const lines = createInterface({ input: child.stdout })
      const announced: string[] = []
      const waiters: (() => void)[] = []
      let url: string | undefined
      const urlReady = new Promise<string>((resolveUrl, reject) => {
        exited.then(({ code }) => reject(new Error(`child exited (${code}) before listening: ${stderr}`)))
        lines.on('line', (line) => {
          const message = JSON.parse(line) as { url?: string; finished?: string; correlationId?: string | null }
          if (message.url) {
            url = message.url
            resolveUrl(message.url)
          }
          if (message.correlationId) {
            announced.push(message.correlationId)
            for (const wake of waiters.splice(0)) wake()
          }
        })
      })
      const base = await Promise.race([urlReady, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`child did not start: ${stderr}`)), 15_000).unref())])
      expect(url).toBe(base)
      const announcedFor = (id: string) =>
        new Promise<void>((resolveAnnounced, reject) => {
          const timer = setTimeout(() => reject(new Error(`child never finished ${id}`)), 5000)
          const check = () => {
            if (announced.includes(id)) {
              clearTimeout(timer)
              resolveAnnounced()
            } else waiters.push(check)
          }
          check()
        })

      // A client that disconnects mid-stream: the child records it on its own schedule.
      const abort = new AbortController()
      const dropped = await generate(base, 'anthropic', '[cb:k-dropped outputTokens=100000 tokensPerSecond=100]', { stream: true, signal: abort.signal })
      await dropped.body!.getReader().read()
      abort.abort()
      await announcedFor('k-dropped')

      // Generations the client saw complete, in all three APIs, streamed and not.
      const finished: string[] = []
      const plan: [ApiName, boolean][] = [
        ['anthropic', true],
        ['anthropic', false],
        ['openai-chat', true],
        ['openai-chat', false],
        ['openai-responses', true],
        ['openai-responses', false],
      ]
      for (const [i, [api, stream]] of plan.entries()) {
        const id = `k-${i}`
        const text = await complete(base, api, `[cb:${id}]`, stream)
        expect(text.length).toBeGreaterThan(0)
        finished.push(id)
      }
      // One still running when the process dies: it never finished, so it is not in the file.
      const running = await generate(base, 'openai-chat', '[cb:k-running outputTokens=100000 tokensPerSecond=50]', { stream: true })
      await running.body!.getReader().read()

      // Kill right after the last client saw its response end: no waiting for announcements.
      child.kill('SIGKILL')
      const { signal } = await exited
      expect(signal).toBe('SIGKILL')

      const text = readFileSync(file, 'utf8')
      expect(text.endsWith('\n')).toBe(true)
      const records = text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as LedgerRecord)
      const ids = records.map((r) => r.correlationId)
      for (const id of [...finished, 'k-dropped']) expect(ids, id).toContain(id)
      // Everything the child announced as recorded is in the file, exactly once.
      for (const id of announced) expect(ids.filter((x) => x === id), id).toHaveLength(1)
      expect(ids).not.toContain('k-running')
      expect(records).toHaveLength(finished.length + 1)
      for (const r of records.filter((r) => r.correlationId !== 'k-dropped')) expect(r).toMatchObject({ stopReason: 'completed', billedOutputTokens: 20 })
      expect(records.find((r) => r.correlationId === 'k-dropped')!.stopReason).toBe('client_disconnected')
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    }
  })
})
