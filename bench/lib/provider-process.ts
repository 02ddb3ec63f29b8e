import { fork, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { ProviderHello, ProviderReply, ProviderRequest, ProviderStats } from './protocol.ts'

type Op = ProviderRequest['op']

/** The hello line, or undefined for any other line on the provider's stdout. */
function parseHello(line: string): ProviderHello | undefined {
  if (!line.startsWith('{')) return undefined
  try {
    const value = JSON.parse(line) as Partial<ProviderHello>
    return typeof value.url === 'string' && typeof value.pid === 'number' ? { url: value.url, pid: value.pid } : undefined
  } catch {
    return undefined
  }
}

/**
 * The provider process seen from the bench: started with `fork` (stdout for the hello line, IPC for
 * stats), and always stopped, whatever happens to the bench: `stop()` asks politely then kills, and
 * `killNow()` is safe to call from a synchronous 'exit' handler.
 */
export class ProviderProcess {
  readonly url: URL
  readonly pid: number
  private readonly child: ChildProcess
  private readonly pending = new Map<number, { resolve: (r: ProviderReply) => void; reject: (e: Error) => void }>()
  private nextId = 1
  private exited = false

  private constructor(child: ChildProcess, hello: ProviderHello) {
    this.child = child
    this.url = new URL(hello.url)
    this.pid = hello.pid
    child.on('message', (reply: ProviderReply) => {
      const waiter = this.pending.get(reply.id)
      if (!waiter) return
      this.pending.delete(reply.id)
      waiter.resolve(reply)
    })
    child.on('exit', (code, signal) => {
      this.exited = true
      const error = new Error(`provider process exited (code ${code}, signal ${signal})`)
      for (const waiter of this.pending.values()) waiter.reject(error)
      this.pending.clear()
    })
  }

  /**
   * @example const provider = await ProviderProcess.start({ nodeBin, script: 'bench/provider-server.ts', execArgv: [] })
   */
  static async start(options: { nodeBin: string; script: string; execArgv: string[]; timeoutMs?: number }): Promise<ProviderProcess> {
    const child = fork(options.script, [], {
      execPath: options.nodeBin,
      // Not the parent's flags: a profiler or inspector flag on the bench must not leak into the provider.
      execArgv: options.execArgv,
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    })
    try {
      const lines = createInterface({ input: child.stdout! })
      const hello = await new Promise<ProviderHello>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`provider process printed no URL within ${options.timeoutMs ?? 15_000} ms`)), options.timeoutMs ?? 15_000)
        let found = false
        lines.on('line', (line) => {
          if (!found) {
            const hello = parseHello(line)
            if (hello) {
              found = true
              clearTimeout(timer)
              resolve(hello)
              return
            }
          }
          // Anything else the provider prints (e.g. --trace-gc output) goes to our stderr, marked as its.
          process.stderr.write(`[provider] ${line}\n`)
        })
        child.once('exit', (code, signal) => {
          clearTimeout(timer)
          reject(new Error(`provider process exited before listening (code ${code}, signal ${signal})`))
        })
        child.once('error', (error) => {
          clearTimeout(timer)
          reject(error)
        })
      })
      return new ProviderProcess(child, hello)
    } catch (error) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      throw error
    }
  }

  async stats(): Promise<ProviderStats> {
    const reply = await this.request('stats')
    if (!reply.ok || !reply.stats) throw new Error(`provider stats failed: ${reply.ok ? 'no stats' : reply.error}`)
    return reply.stats
  }

  /** Starts a new measurement window for the event-loop and emission-timing figures. */
  async window(timingUnixMs?: { from: number; to: number }): Promise<void> {
    const reply = await this.request('window', 5_000, { timingUnixMs })
    if (!reply.ok) throw new Error(`provider window failed: ${reply.error}`)
  }

  /** A full GC in the provider (see the 'gc' op). */
  async gc(): Promise<void> {
    const reply = await this.request('gc', 10_000)
    if (!reply.ok) throw new Error(`provider gc failed: ${reply.error}`)
  }

  /** Asks the provider to close and exit; kills it if it has not exited within `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.exited) return
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()))
    try {
      await this.request('shutdown', 1_000)
    } catch {
      // Channel already gone or child stuck: the timeout below deals with it.
    }
    let timer: NodeJS.Timeout | undefined
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs))),
    ])
    clearTimeout(timer)
    if (timedOut) this.killNow()
  }

  /** Synchronous last resort, for process 'exit' handlers. Kills only this child, by its pid. */
  killNow(): void {
    if (!this.exited && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
  }

  private request(op: Op, timeoutMs = 5_000, extra: Record<string, unknown> = {}): Promise<ProviderReply> {
    if (this.exited || !this.child.connected) return Promise.reject(new Error('provider process is not running'))
    const id = this.nextId++
    return new Promise<ProviderReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`provider did not answer ${op} within ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer)
          resolve(r)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      })
      this.child.send({ ...extra, id, op } as ProviderRequest)
    })
  }
}
