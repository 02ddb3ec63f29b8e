import { execFileSync } from 'node:child_process'
import os from 'node:os'

export interface MachineInfo {
  cpuModel: string
  cores: number
  totalMemGiB: number
  node: string
  kernel: string
  /** 1-minute load average at the start of the run: a busy machine makes every figure worse. */
  loadAvg1: number
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus()
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    totalMemGiB: os.totalmem() / 2 ** 30,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    loadAvg1: os.loadavg()[0] ?? Number.NaN,
  }
}

export interface FdLimit {
  soft: number
  hard: number
  /** What was done about it, for the report. */
  note: string
}

/**
 * Open-file limit of this process (each stream holds one socket here and one in the provider, which
 * inherits the limit). Node cannot call setrlimit itself, but util-linux `prlimit` can raise the soft
 * limit of a running process up to its hard limit: tried when the soft limit is below `needed` (default:
 * always, up to the hard limit) before a bench caps its sweep.
 */
export function ensureFdLimit(needed = Number.POSITIVE_INFINITY): FdLimit {
  const read = (): { soft: number; hard: number } => {
    // A child shell inherits our limits, so it reports them.
    const out = execFileSync('sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' }).trim().split('\n')
    const parse = (s: string | undefined) => (s === undefined || s.trim() === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s))
    return { soft: parse(out[0]), hard: parse(out[1]) }
  }
  let limit: { soft: number; hard: number }
  try {
    limit = read()
  } catch {
    return { soft: Number.NaN, hard: Number.NaN, note: 'could not read ulimit -n' }
  }
  if (limit.soft >= needed) return { ...limit, note: `ulimit -n ${limit.soft} (enough for ${needed} descriptors)` }
  if (limit.soft >= limit.hard) return { ...limit, note: `ulimit -n ${limit.soft} (soft = hard)` }
  const target = Number.isFinite(limit.hard) ? String(limit.hard) : 'unlimited'
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${target}:${target}`], { stdio: 'ignore' })
    const before = limit.soft
    limit = read()
    return { ...limit, note: `raised soft ulimit -n from ${before} to ${limit.soft} with prlimit` }
  } catch {
    return { ...limit, note: `soft ulimit -n ${limit.soft} < hard ${limit.hard} and prlimit failed: run \`ulimit -n ${target}\` first` }
  }
}
