import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { delimiter, dirname, join, resolve } from 'node:path'
import { RunError } from '../errors.ts'
import type { Scenario } from '../scenario/schema.ts'

export interface RunningTarget {
  /** Base URL with the port filled in. */
  url: string
  pid: number | null
  /** Resolves if the target exits before `stop()`; the run treats that as a failure. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  stop(): Promise<void>
}

/**
 * Starts the target's command, if it has one, in its own process group with the provider's URLs in its
 * environment, waits until it accepts connections, and stops the whole group at the end: also on Ctrl-C
 * (the run's `finally`) and on a crash (a synchronous kill in the process's 'exit' handler).
 */
export async function startTarget(target: Scenario['target'], options: { providerUrl: string; runDir: string; baseDir: string }): Promise<RunningTarget> {
  if (!target.command) {
    await waitForPort(target.url, 3_000).catch(() => {
      throw new RunError(`target ${target.url} is not accepting connections: start it first, or give target.command so cancelbench starts it`)
    })
    return { url: target.url, pid: null, exited: new Promise(() => {}), stop: async () => {} }
  }
  const port = target.url.includes('{{port}}') ? await freePort() : Number(new URL(target.url).port || 80)
  const url = target.url.replaceAll('{{port}}', String(port))
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ANTHROPIC_API_KEY: process.env.ANTHROPIC_API_KEY ?? 'cancelbench-placeholder-key',
    OPENAI_API_KEY: process.env.OPENAI_API_KEY ?? 'cancelbench-placeholder-key',
    ...target.env,
    // `node` in a target command means the Node running cancelbench (in a checkout: the pinned Node 24).
    PATH: [dirname(process.execPath), target.env.PATH ?? process.env.PATH ?? ''].join(delimiter),
    ANTHROPIC_BASE_URL: options.providerUrl,
    OPENAI_BASE_URL: `${options.providerUrl}/v1`,
    PORT: String(port),
  }
  const stdoutPath = join(options.runDir, 'target.stdout.log')
  const stderrPath = join(options.runDir, 'target.stderr.log')
  const out = openSync(stdoutPath, 'a')
  const err = openSync(stderrPath, 'a')
  const cwd = resolve(options.baseDir, target.cwd ?? '.')
  let child: ChildProcess
  try {
    child = Array.isArray(target.command)
      ? spawn(target.command[0]!, target.command.slice(1), { cwd, env, detached: true, stdio: ['ignore', out, err] })
      : spawn(target.command, { cwd, env, detached: true, shell: true, stdio: ['ignore', out, err] })
  } finally {
    closeSync(out)
    closeSync(err)
  }
  const pid = child.pid ?? null
  const killGroup = (signal: NodeJS.Signals) => {
    if (pid === null) return
    try {
      process.kill(-pid, signal)
    } catch {
      // Already gone.
    }
  }
  const onExit = () => killGroup('SIGKILL')
  process.on('exit', onExit)
  let stopping = false
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit({ code, signal }))
    child.once('error', () => resolveExit({ code: null, signal: null }))
  })
  const describeExit = (e: { code: number | null; signal: NodeJS.Signals | null }) =>
    `target command exited (${e.signal ?? `code ${e.code}`}) before accepting connections: ${commandText(target.command!)}\n` +
    `  stderr (${stderrPath}):\n${tail(stderrPath)}`

  const stop = async () => {
    if (stopping) return
    stopping = true
    killGroup('SIGTERM')
    const timer = setTimeout(() => killGroup('SIGKILL'), 3_000)
    await exited
    clearTimeout(timer)
    // Children the target left behind in its group.
    killGroup('SIGKILL')
    process.off('exit', onExit)
  }

  const ready = new AbortController()
  try {
    await Promise.race([
      waitForPort(url, target.readyTimeoutMs, ready.signal),
      exited.then((e) => Promise.reject(new RunError(describeExit(e)))),
    ])
  } catch (error) {
    ready.abort()
    await stop()
    if (error instanceof RunError) throw error
    throw new RunError(
      `target did not accept connections on ${url} within ${target.readyTimeoutMs} ms: ${commandText(target.command)}\n` +
        `  Does it listen on $PORT (${port})? Raise target.readyTimeoutMs if it starts slowly.\n  stderr (${stderrPath}):\n${tail(stderrPath)}`,
    )
  }
  return { url, pid, exited: exited.then((e) => (stopping ? new Promise<never>(() => {}) : e)), stop }
}

function commandText(command: string | string[]): string {
  return Array.isArray(command) ? command.join(' ') : command
}

/** The last lines of a log, indented, for error messages. */
export function tail(path: string, lines = 15): string {
  try {
    const text = readFileSync(path, 'utf8').trimEnd()
    return text ? text.split('\n').slice(-lines).map((l) => `    ${l}`).join('\n') : '    (empty)'
  } catch {
    return '    (unreadable)'
  }
}

/** Polls a TCP connect to the URL's host and port until it succeeds or time runs out. */
async function waitForPort(url: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const { hostname, port, protocol } = new URL(url)
  const host = hostname.replace(/^\[|\]$/g, '')
  const portNumber = Number(port || (protocol === 'https:' ? 443 : 80))
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolveConnect) => {
      const socket = connect({ host, port: portNumber })
      socket.once('connect', () => {
        socket.destroy()
        resolveConnect(true)
      })
      socket.once('error', () => resolveConnect(false))
    })
    if (ok) return
    if (performance.now() > deadline || signal?.aborted) throw new Error('timeout')
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** A port free right now on loopback (the target binds it a moment later; collisions are unlikely). */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as { port: number }
  await new Promise<void>((r) => server.close(() => r()))
  return port
}
