/** The machine the runner benchmark ran on, and the open-file limit it needs. */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname } from 'node:path'

export interface Machine {
  cpuModel: string
  cores: number
  memGiB: number
  node: string
  kernel: string
  /** 1-minute load average at the start: other work on the machine makes every figure worse. */
  loadAvg1: number
  /** CPU pressure (PSI some, avg60) at the start, %: time in which a runnable task had to wait for a core. */
  cpuPressure: number
}

export function machine(): Machine {
  const cpus = os.cpus()
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memGiB: os.totalmem() / 2 ** 30,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    loadAvg1: os.loadavg()[0] ?? Number.NaN,
    cpuPressure: cpuPressure60(),
  }
}

export interface FdLimit {
  soft: number
  hard: number
  note: string
}

/**
 * Each stream holds one socket in this process and one in the provider child (which inherits our limit
 * when forked), so the soft `ulimit -n` must exceed the largest level. Node cannot call setrlimit, but
 * util-linux `prlimit` can raise a running process's soft limit up to its hard limit: tried when needed.
 */
export function ensureFdLimit(needed: number): FdLimit {
  const read = () => {
    // A child shell inherits our limits, so it reports them.
    const [soft, hard] = execFileSync('sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((s) => (s.trim() === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s)))
    return { soft: soft ?? Number.NaN, hard: hard ?? Number.NaN }
  }
  let limit: { soft: number; hard: number }
  try {
    limit = read()
  } catch {
    return { soft: Number.NaN, hard: Number.NaN, note: 'could not read ulimit -n' }
  }
  if (limit.soft >= needed) return { ...limit, note: `ulimit -n ${limit.soft} (enough for ${needed} descriptors)` }
  if (limit.soft >= limit.hard) return { ...limit, note: `ulimit -n ${limit.soft} < ${needed} needed and the hard limit is no higher: levels above it are skipped` }
  const target = Number.isFinite(limit.hard) ? String(limit.hard) : 'unlimited'
  try {
    const before = limit.soft
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${target}:${target}`], { stdio: 'ignore' })
    limit = read()
    return { ...limit, note: `raised the soft ulimit -n from ${before} to ${limit.soft} with prlimit` }
  } catch {
    return { ...limit, note: `ulimit -n ${limit.soft} < ${needed} needed and prlimit failed: run \`ulimit -n ${target}\` first` }
  }
}

/**
 * Replaces the section between `<!-- bench:<name>:start -->` and `<!-- bench:<name>:end -->` of `file`
 * (appended when absent; the file is created with a short header when missing), leaving the other benches'
 * sections as they are. Read and written in one synchronous step so a concurrent bench's edit is not lost
 * in between.
 */
export function writeSection(file: string, name: string, body: string): void {
  const start = `<!-- bench:${name}:start -->`
  const end = `<!-- bench:${name}:end -->`
  const section = `${start}\n${body.trim()}\n${end}`
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\nFigures written by the scripts in `bench/`. Each section is replaced by its own script.\n'
  const from = text.indexOf(start)
  const to = text.indexOf(end)
  if (from >= 0 && to > from) text = text.slice(0, from) + section + text.slice(to + end.length)
  else text = `${text.trimEnd()}\n\n${section}\n`
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, text.endsWith('\n') ? text : text + '\n')
}

/**
 * Linux TcpExt ListenOverflows: connections dropped because a listener's accept queue was full (the client
 * retries its SYN after 1 s, then 3 s: multi-second request latencies). System-wide, so another process's
 * listener counts too. NaN where /proc/net/netstat is not available.
 */
export function listenOverflows(): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'))
    const names = lines[0]?.split(/\s+/) ?? []
    const values = lines[1]?.split(/\s+/) ?? []
    const i = names.indexOf('ListenOverflows')
    return i > 0 ? Number(values[i]) : Number.NaN
  } catch {
    return Number.NaN
  }
}

/**
 * Time this process's main thread has spent runnable but waiting for a CPU (Linux schedstat run_delay),
 * in ms. Over a window it says how much of the lateness was the machine (other processes holding the
 * cores), not the code. NaN where schedstat is not available.
 */
export function runQueueWaitMs(): number {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').trim().split(/\s+/)
    return Number(fields[1]) / 1e6
  } catch {
    return Number.NaN
  }
}

/** Linux PSI: share of the last 60 s in which some runnable task waited for a CPU, %; NaN if unavailable. */
export function cpuPressure60(): number {
  try {
    const match = /some avg10=[\d.]+ avg60=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))
    return match ? Number(match[1]) : Number.NaN
  } catch {
    return Number.NaN
  }
}
