/**
 * `cancelbench provider` end to end: the bin as a subprocess (URL lines, a real streaming request, SIGINT and
 * SIGTERM, exit codes 2 and 3 with messages that say what to fix), the same command in-process through
 * `main()`, and the Node version guard on the system Node.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { RUNTIME_FLAGS } from '../../bin/runtime-flags.js'
import { main, type CliIo } from '../../src/cli.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const NODE = join(ROOT, 'node_modules/.bin/node')
const BIN = join(ROOT, 'bin/cancelbench.js')
const SYSTEM_NODE = '/usr/bin/node'

/** How long a started or stopped CLI may take on a busy 2-core machine before the test calls it stuck. */
const STARTUP_MS = 20_000
const STOP_MS = 5_000

interface Cli {
  child: ChildProcess
  stdout(): string
  stderr(): string
  /** Resolves with the first stdout line matching `pattern`; rejects if the process exits or time runs out. */
  waitForLine(pattern: RegExp, ms?: number): Promise<RegExpMatchArray>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const running = new Set<ChildProcess>()

function cli(args: string[], node = NODE): Cli {
  const child = spawn(node, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } })
  running.add(child)
  let out = ''
  let err = ''
  const lineWaiters = new Set<() => void>()
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
    for (const notify of lineWaiters) notify()
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      running.delete(child)
      for (const notify of lineWaiters) notify()
      resolve({ code, signal })
    })
  })
  let closed = false
  void exited.then(() => (closed = true))
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForLine(pattern, ms = STARTUP_MS) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (const line of out.split('\n')) {
            const match = line.match(pattern)
            if (match) return finish(() => resolve(match))
          }
          if (closed || child.exitCode !== null) finish(() => reject(new Error(`exited before printing ${pattern}\nstdout:\n${out}\nstderr:\n${err}`)))
        }
        const timer = setTimeout(() => finish(() => reject(new Error(`no line matching ${pattern} within ${ms} ms\nstdout:\n${out}\nstderr:\n${err}`))), ms)
        const finish = (settle: () => void) => {
          clearTimeout(timer)
          lineWaiters.delete(check)
          settle()
        }
        lineWaiters.add(check)
        check()
      })
    },
  }
}

/** Exit of a process expected to end by itself; kills it (and fails) if it does not within `ms`. */
async function exitOf(c: Cli, ms = STARTUP_MS): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      c.child.kill('SIGKILL')
      reject(new Error(`did not exit within ${ms} ms\nstdout:\n${c.stdout()}\nstderr:\n${c.stderr()}`))
    }, ms)
  })
  try {
    return await Promise.race([c.exited, timeout])
  } finally {
    clearTimeout(timer)
  }
}

afterEach(() => {
  // A failed test must not leave a provider running.
  for (const child of running) child.kill('SIGKILL')
  running.clear()
})

/** A stack frame line, as printed by an uncaught error. */
const STACK_LINE = /^\s+at .+\(?.*:\d+:\d+\)?$/m

async function streamOnce(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': 'test-key', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hi [cb:cli-1]' }] }),
    signal: AbortSignal.timeout(10_000),
  })
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
  return response.text()
}

describe('cancelbench provider (subprocess)', () => {
  async function startProvider(extra: string[] = []) {
    const c = cli(['provider', '--port', '0', '--ttft-ms', '5', '--tokens-per-second', '1000', '--output-tokens', '6', ...extra])
    const [, url] = await c.waitForLine(/listening on (http:\/\/127\.0\.0\.1:\d+)\s*$/)
    // Every setup line is printed before the server is announced as ready.
    await c.waitForLine(/Press Ctrl-C to stop\./)
    return { c, url: url! }
  }

  it('prints the base URLs to export, serves a stream, and exits 0 with a summary on SIGINT', async () => {
    const { c, url } = await startProvider()
    const port = Number(new URL(url).port)
    expect(port).toBeGreaterThan(0)
    expect(c.stdout()).toContain(`  export ANTHROPIC_BASE_URL=http://127.0.0.1:${port}\n`)
    expect(c.stdout()).toContain(`  export OPENAI_BASE_URL=http://127.0.0.1:${port}/v1\n`)

    const body = await streamOnce(url)
    expect(body).toContain('event: message_start')
    expect(body).toContain('"output_tokens":6')
    expect(body.trimEnd().endsWith('data: {"type":"message_stop"}')).toBe(true)

    const sentAt = performance.now()
    c.child.kill('SIGINT')
    const { code, signal } = await exitOf(c, STOP_MS)
    expect(signal).toBeNull()
    expect(code).toBe(0)
    expect(performance.now() - sentAt).toBeLessThan(STOP_MS)
    expect(c.stdout()).toMatch(/SIGINT: stopped\. 1 generations, 0 stopped by a disconnect, 6 output tokens billed\./)
    expect(c.stderr()).not.toMatch(STACK_LINE)
  })

  // bin/runtime-flags.js: the provider replaces its own process with one that has the measured GC flags.
  it.runIf(existsSync('/proc/self/cmdline'))('runs in the same process with the GC flags measured for it, unless turned off', async () => {
    const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    const { c } = await startProvider()
    expect(cmdline(c.child.pid!)).toEqual(expect.arrayContaining([...RUNTIME_FLAGS.provider]))
    c.child.kill('SIGTERM')
    expect((await exitOf(c, STOP_MS)).code).toBe(0)

    process.env.CANCELBENCH_NODE_FLAGS = '0'
    try {
      const plain = await startProvider()
      expect(cmdline(plain.c.child.pid!).some((arg) => arg.startsWith('--max-semi-space-size'))).toBe(false)
      plain.c.child.kill('SIGTERM')
      expect((await exitOf(plain.c, STOP_MS)).code).toBe(0)
    } finally {
      delete process.env.CANCELBENCH_NODE_FLAGS
    }
  })

  it('exits 0 with a summary on SIGTERM', async () => {
    const { c } = await startProvider()
    c.child.kill('SIGTERM')
    const { code, signal } = await exitOf(c, STOP_MS)
    expect(signal).toBeNull()
    expect(code).toBe(0)
    expect(c.stdout()).toMatch(/SIGTERM: stopped\. 0 generations/)
  })

  it('exits promptly on SIGINT even with a stream still open', async () => {
    const { c, url } = await startProvider(['--output-tokens', '100000', '--tokens-per-second', '10'])
    const response = await fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': 'k', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', max_tokens: 100000, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    })
    const reader = response.body!.getReader()
    await reader.read() // headers and message_start are through: the generation is running
    c.child.kill('SIGINT')
    const { code } = await exitOf(c, STOP_MS)
    expect(code).toBe(0)
    expect(c.stdout()).toMatch(/SIGINT: stopped\./)
    await reader.cancel().catch(() => {})
  })

  describe('port already in use', () => {
    let blocker: Server
    let port: number

    beforeAll(async () => {
      blocker = createServer()
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
      port = (blocker.address() as { port: number }).port
    })
    afterAll(() => new Promise<void>((resolve) => blocker.close(() => resolve())))

    it('exits 3 naming the port and how to fix it, without a stack trace', async () => {
      const c = cli(['provider', '--port', String(port)])
      const { code } = await exitOf(c)
      expect(code).toBe(3)
      const err = c.stderr()
      expect(err).toContain(`port ${port}`)
      expect(err).toContain('already in use')
      expect(err).toContain('--port')
      expect(err).not.toMatch(STACK_LINE)
      expect(c.stdout()).not.toContain('listening on')
    })
  })

  it.each([
    [['--port', 'abc'], '--port', 'abc'],
    [['--port', '70000'], '--port', '70000'],
    [['--tokens-per-second', '0'], '--tokens-per-second', '0.001'],
    [['--output-tokens', '-1'], '--output-tokens', '-1'],
    [['--ttft-ms', 'soon'], '--ttft-ms', 'soon'],
  ])('exits 2 for a bad flag value %j, naming the flag', async (args, flag, detail) => {
    const c = cli(['provider', ...args])
    const { code } = await exitOf(c)
    expect(code).toBe(2)
    expect(c.stderr()).toContain(flag)
    expect(c.stderr()).toContain(detail)
    expect(c.stderr()).not.toMatch(STACK_LINE)
  })

  it('exits 2 for an unknown flag', async () => {
    const c = cli(['provider', '--tokens-per-secnd', '5'])
    const { code } = await exitOf(c)
    expect(code).toBe(2)
    expect(c.stderr()).toContain('--tokens-per-secnd')
  })

  describe('--config', () => {
    let dir: string
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'cancelbench-cli-'))
    })
    afterAll(() => rm(dir, { recursive: true, force: true }))

    it('exits 2 naming the file and the field path of a typo', async () => {
      const file = join(dir, 'typo.yaml')
      await writeFile(file, 'seed: 3\ntiming: { ttftMS: 5 }\n')
      const c = cli(['provider', '--port', '0', '--config', file])
      const { code } = await exitOf(c)
      expect(code).toBe(2)
      const err = c.stderr()
      expect(err).toContain(file)
      expect(err).toMatch(/timing\b.*ttftMS/)
      expect(err).not.toMatch(STACK_LINE)
      expect(c.stdout()).not.toContain('listening on')
    })

    it('exits 2 naming the field path of a bad nested value', async () => {
      const file = join(dir, 'bad-value.yaml')
      await writeFile(file, 'policy:\n  stopLagMs: -5\n')
      const c = cli(['provider', '--port', '0', '--config', file])
      const { code } = await exitOf(c)
      expect(code).toBe(2)
      expect(c.stderr()).toContain(file)
      expect(c.stderr()).toContain('policy.stopLagMs')
    })

    it('exits 2 naming a file that does not exist', async () => {
      const file = join(dir, 'missing.yaml')
      const c = cli(['provider', '--port', '0', '--config', file])
      const { code } = await exitOf(c)
      expect(code).toBe(2)
      expect(c.stderr()).toContain(file)
      expect(c.stderr()).toContain('not found')
      expect(c.stderr()).not.toMatch(STACK_LINE)
    })

    it('exits 2 naming the file for invalid YAML', async () => {
      const file = join(dir, 'broken.yaml')
      await writeFile(file, 'timing: { ttftMs: 5\n')
      const c = cli(['provider', '--port', '0', '--config', file])
      const { code } = await exitOf(c)
      expect(code).toBe(2)
      expect(c.stderr()).toContain(file)
      expect(c.stderr()).toContain('YAML')
    })

    it('starts with a valid config, flags overriding it', async () => {
      const file = join(dir, 'good.yaml')
      await writeFile(file, 'timing:\n  ttftMs: 5\n  tokensPerSecond: 1000\n  outputTokens: 50\n')
      const c = cli(['provider', '--port', '0', '--config', file, '--output-tokens', '3'])
      const [, url] = await c.waitForLine(/listening on (http:\/\/127\.0\.0\.1:\d+)\s*$/)
      const body = await streamOnce(url!)
      expect(body).toContain('"output_tokens":3')
      c.child.kill('SIGINT')
      expect((await exitOf(c, STOP_MS)).code).toBe(0)
    })
  })

  it('--help lists the exit codes and exits 0', async () => {
    const c = cli(['--help'])
    const { code } = await exitOf(c)
    expect(code).toBe(0)
    const out = c.stdout()
    expect(out).toContain('provider')
    expect(out).toContain('Exit codes:')
    for (const exitCode of ['0', '1', '2', '3', '4', '130']) expect(out).toMatch(new RegExp(`^\\s+${exitCode}\\s+\\S`, 'm'))
  })
})

describe('main() in-process', () => {
  function io(): CliIo & { lines: string[]; errors: string[]; stop(name: string): void } {
    const lines: string[] = []
    const errors: string[] = []
    const controller = new AbortController()
    let stop!: (name: string) => void
    const interrupted = new Promise<string>((resolve) => (stop = resolve))
    return {
      lines,
      errors,
      out: (line) => lines.push(...line.split('\n')),
      err: (line) => errors.push(...line.split('\n')),
      interrupted,
      signal: controller.signal,
      stop(name) {
        controller.abort()
        stop(name)
      },
    }
  }

  async function until<T>(probe: () => T | undefined, ms = 10_000): Promise<T> {
    const deadline = performance.now() + ms
    for (;;) {
      const value = probe()
      if (value !== undefined) return value
      if (performance.now() > deadline) throw new Error('timed out')
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  it('runs the provider until interrupted and returns 0, without a subprocess', async () => {
    const cliIo = io()
    const exit = main(['node', 'cancelbench', 'provider', '--port', '0', '--ttft-ms', '5', '--tokens-per-second', '1000', '--output-tokens', '4'], cliIo)
    const url = await until(() => cliIo.lines.map((l) => l.match(/listening on (http:\/\/\S+)/)?.[1]).find(Boolean))
    expect(cliIo.lines).toContain(`  export ANTHROPIC_BASE_URL=${url}`)
    expect(cliIo.lines).toContain(`  export OPENAI_BASE_URL=${url}/v1`)
    const body = await streamOnce(url)
    expect(body).toContain('"output_tokens":4')
    cliIo.stop('SIGINT')
    expect(await exit).toBe(0)
    expect(cliIo.lines.some((l) => /SIGINT: stopped\. 1 generations, 0 stopped by a disconnect, 4 output tokens billed\./.test(l))).toBe(true)
    // The port is released.
    await expect(fetch(`${url}/v1/models`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow()
  })

  it('returns 2 for a bad flag, naming it on err', async () => {
    const cliIo = io()
    expect(await main(['node', 'cancelbench', 'provider', '--port', 'abc'], cliIo)).toBe(2)
    expect(cliIo.errors.join('\n')).toContain('--port')
    expect(cliIo.lines).toEqual([])
  })

  it('returns 3 for a port in use, with one line saying how to fix it', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as { port: number }).port
    try {
      const cliIo = io()
      expect(await main(['node', 'cancelbench', 'provider', '--port', String(port)], cliIo)).toBe(3)
      expect(cliIo.errors).toHaveLength(1)
      expect(cliIo.errors[0]).toMatch(new RegExp(`^cancelbench: port ${port} .*already in use.*--port`))
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()))
    }
  })

  it('returns 0 for --help, printing the exit codes', async () => {
    const cliIo = io()
    expect(await main(['node', 'cancelbench', '--help'], cliIo)).toBe(0)
    expect(cliIo.lines.join('\n')).toContain('Exit codes:')
  })
})

describe('Node version guard', () => {
  it.skipIf(!existsSync(SYSTEM_NODE))('exits 2 on Node 20 with the "needs Node.js >= 22.12" message', async () => {
    const c = cli(['--help'], SYSTEM_NODE)
    const { code } = await exitOf(c)
    expect(code).toBe(2)
    expect(c.stderr()).toContain('needs Node.js >= 22.12')
    expect(c.stderr()).toMatch(/found \d+\.\d+\.\d+ at \/usr\/bin\/node/)
    expect(c.stdout()).toBe('')
  })
})
