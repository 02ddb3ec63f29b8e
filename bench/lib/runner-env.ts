/** The machine the runner benchmark ran on, and the open-file limit it needs. */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { machineInfo, type MachineInfo } from './machine.ts'

export type { FdLimit } from './machine.ts'
export { ensureFdLimit } from './machine.ts'
export { writeSection } from './report.ts'

export interface Machine extends MachineInfo {
  /** CPU pressure (PSI some, avg60) at the start, %: time in which a runnable task had to wait for a core. */
  cpuPressure: number
  /** Node flags of this process (the runner's), e.g. the GC flags `cancelbench run` runs with. */
  nodeFlags: string
}

export function machine(): Machine {
  return { ...machineInfo(), cpuPressure: cpuPressure60(), nodeFlags: process.execArgv.join(' ') }
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

/**
 * The CPUs a thread may run on, as taskset prints them ("0-1", "0,2"), or undefined where taskset (Linux,
 * util-linux) is missing. A process id names its main thread.
 */
export function cpuAffinity(tid: number): string | undefined {
  try {
    const out = execFileSync('taskset', ['-p', '-c', String(tid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    return /affinity list:\s*(\S+)/.exec(out)?.[1]
  } catch {
    return undefined
  }
}

/**
 * Restricts a thread (`allThreads`: every thread the process has now, and so those they start later) to
 * `cpus`. Returns false where it cannot (no taskset, not allowed).
 */
export function setCpuAffinity(tid: number, cpus: string, allThreads = false): boolean {
  try {
    execFileSync('taskset', [...(allThreads ? ['-a'] : []), '-p', '-c', cpus, String(tid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
