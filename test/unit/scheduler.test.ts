import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Clock } from '../../mock-provider/clock.ts'
import { Scheduler, type Wakeable } from '../../mock-provider/scheduler.ts'

/** Reads the faked performance.now(), so the clock and the faked setTimeout move together. */
const clock: Clock = { nowMs: () => performance.now(), epochMs: 0 }

interface Wake {
  name: string
  at: number
  now: number
  /** The fake timeline when it woke. */
  clockAt: number
}

function recorder() {
  const wakes: Wake[] = []
  const item = (name: string, at: number, onWake?: (now: number) => void): Wakeable & { at: number } => ({
    at,
    wake(now) {
      wakes.push({ name, at, now, clockAt: performance.now() })
      onWake?.(now)
    },
  })
  return { wakes, item }
}

describe('Scheduler', () => {
  let scheduler: Scheduler
  let start: number

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
    scheduler = new Scheduler(clock)
    start = performance.now()
  })

  afterEach(() => {
    scheduler.clear()
    vi.useRealTimers()
  })

  it('wakes items in time order regardless of the order they were scheduled in', () => {
    const { wakes, item } = recorder()
    for (const [name, offset] of [['c', 30], ['a', 10], ['d', 40], ['b', 20]] as const) scheduler.schedule(item(name, start + offset), start + offset)
    vi.advanceTimersByTime(100)
    expect(wakes.map((w) => w.name)).toEqual(['a', 'b', 'c', 'd'])
    for (const w of wakes) expect(w.now).toBe(w.at) // fake timers fire exactly on the slot
  })

  it('never wakes an item early, and wakes it within its 1 ms slot', () => {
    const { wakes, item } = recorder()
    scheduler.schedule(item('x', start + 10.2), start + 10.2)
    vi.advanceTimersByTime(10)
    expect(wakes).toEqual([])
    vi.advanceTimersByTime(1)
    expect(wakes).toHaveLength(1)
    expect(wakes[0]!.now).toBeGreaterThanOrEqual(start + 10.2)
    expect(wakes[0]!.now).toBeLessThanOrEqual(start + 11)
  })

  it('passes each wake the clock reading of its tick', () => {
    const { wakes, item } = recorder()
    scheduler.schedule(item('x', start + 25), start + 25)
    vi.advanceTimersByTime(50)
    expect(wakes[0]!.now).toBe(wakes[0]!.clockAt)
  })

  it('wakes every item of the same 1 ms slot in one tick, in scheduling order', () => {
    const { wakes, item } = recorder()
    scheduler.schedule(item('p', start + 5.9), start + 5.9)
    scheduler.schedule(item('q', start + 5.1), start + 5.1)
    scheduler.schedule(item('r', start + 6), start + 6)
    scheduler.schedule(item('s', start + 5.5), start + 5.5)
    expect(scheduler.size).toBe(4)
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(5)
    expect(wakes).toEqual([])
    vi.advanceTimersByTime(1)
    expect(wakes.map((w) => w.name)).toEqual(['p', 'q', 'r', 's'])
    expect(new Set(wakes.map((w) => w.now)).size).toBe(1)
    expect(scheduler.size).toBe(0)
  })

  it('keeps one timer and re-arms it when an earlier item is scheduled', () => {
    const { wakes, item } = recorder()
    scheduler.schedule(item('late', start + 100), start + 100)
    expect(vi.getTimerCount()).toBe(1)
    scheduler.schedule(item('early', start + 10), start + 10)
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(10)
    expect(wakes.map((w) => w.name)).toEqual(['early'])
    expect(vi.getTimerCount()).toBe(1) // re-armed for the late one
    vi.advanceTimersByTime(89)
    expect(wakes.map((w) => w.name)).toEqual(['early'])
    vi.advanceTimersByTime(1)
    expect(wakes.map((w) => w.name)).toEqual(['early', 'late'])
    expect(vi.getTimerCount()).toBe(0)
  })

  it('does not re-arm for a later item', () => {
    const { wakes, item } = recorder()
    scheduler.schedule(item('first', start + 10), start + 10)
    scheduler.schedule(item('second', start + 50), start + 50)
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(10)
    expect(wakes.map((w) => w.name)).toEqual(['first'])
    vi.advanceTimersByTime(40)
    expect(wakes.map((w) => w.name)).toEqual(['first', 'second'])
  })

  it('wakes an item scheduled in the past on the next tick', () => {
    vi.advanceTimersByTime(100)
    const { wakes, item } = recorder()
    scheduler.schedule(item('overdue', start + 3), start + 3)
    expect(wakes).toEqual([])
    vi.advanceTimersByTime(0)
    expect(wakes.map((w) => w.name)).toEqual(['overdue'])
  })

  it('lets an item reschedule itself from its wake', () => {
    const { wakes, item } = recorder()
    const ticker = item('tick', 0, (now) => {
      if (wakes.length < 5) scheduler.schedule(ticker, now + 20)
    })
    scheduler.schedule(ticker, start + 20)
    vi.advanceTimersByTime(200)
    expect(wakes.map((w) => w.now - start)).toEqual([20, 40, 60, 80, 100])
  })

  it('returns from a tick when an item keeps rescheduling itself at a time already due', () => {
    // A wake that reschedules at <= now (e.g. a generation whose token count came out one short through float
    // error) must not be woken again inside the same tick: that loop never ends, as the tick's `now` never moves.
    const { wakes, item } = recorder()
    const stuck = item('stuck', 0, (now) => {
      if (wakes.length < 1000) scheduler.schedule(stuck, now) // bounded here so that this test fails rather than hangs
    })
    scheduler.schedule(stuck, start + 10)
    vi.advanceTimersToNextTimer() // runs exactly one timer callback: one tick
    expect(wakes.length).toBe(1)
    vi.advanceTimersToNextTimer() // the rescheduled wake-up comes on a later tick
    expect(wakes.length).toBe(2)
  })

  it('drops everything on clear()', () => {
    const { wakes, item } = recorder()
    for (let i = 1; i <= 5; i++) scheduler.schedule(item(`i${i}`, start + i * 10), start + i * 10)
    expect(scheduler.size).toBe(5)
    scheduler.clear()
    expect(scheduler.size).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(1000)
    expect(wakes).toEqual([])
    // Still usable afterwards.
    scheduler.schedule(item('after', performance.now() + 5), performance.now() + 5)
    vi.advanceTimersByTime(5)
    expect(wakes.map((w) => w.name)).toEqual(['after'])
  })

  it('keeps time order across many random items (heap order)', () => {
    const { wakes, item } = recorder()
    let seed = 12345
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    const times = Array.from({ length: 500 }, () => start + rand() * 1000)
    times.forEach((t, i) => scheduler.schedule(item(`n${i}`, t), t))
    vi.advanceTimersByTime(1001)
    expect(wakes).toHaveLength(500)
    for (let i = 1; i < wakes.length; i++) expect(Math.ceil(wakes[i]!.at)).toBeGreaterThanOrEqual(Math.ceil(wakes[i - 1]!.at))
    for (const w of wakes) {
      expect(w.now).toBeGreaterThanOrEqual(w.at)
      expect(w.now - w.at).toBeLessThan(1)
    }
  })

  it('does not keep the process alive on its own (unref)', () => {
    // The faked timer has unref(); the real one must too. Check the real timer here.
    vi.useRealTimers()
    const real = new Scheduler({ nowMs: () => performance.now(), epochMs: performance.timeOrigin })
    const spy = vi.spyOn(globalThis, 'setTimeout')
    real.schedule({ wake() {} }, performance.now() + 60_000)
    const timer = spy.mock.results[0]?.value as NodeJS.Timeout
    spy.mockRestore()
    expect(timer.hasRef()).toBe(false)
    real.clear()
  })
})
