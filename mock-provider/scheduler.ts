import type { Clock } from './clock.ts'

export interface Wakeable {
  /** Called at or after the time it was scheduled for; `nowMs` is the clock reading of this tick. */
  wake(nowMs: number): void
}

/**
 * One timer for every open stream: a timer wheel with 1 ms slots and a min-heap of occupied slots.
 *
 * Thousands of streams each emitting every 20 ms would mean thousands of live `setTimeout`s; Node keeps
 * them in per-duration lists and the per-timer cost dominates at that scale. Here scheduling is O(1) into a
 * slot plus O(log slots) when a slot is first used, and one `setTimeout` is armed for the earliest slot.
 * Items are never removed early: a finished generation ignores its stale wake-ups (lazy deletion).
 */
export class Scheduler {
  private readonly slots = new Map<number, Wakeable[]>()
  private readonly heap: number[] = []
  private timer: NodeJS.Timeout | undefined
  private timerSlot = Number.POSITIVE_INFINITY
  private readonly clock: Clock
  /** Late-by (ms) of the last tick, for self-observation. */
  lastLagMs = 0

  constructor(clock: Clock) {
    this.clock = clock
  }

  /** Runs `item.wake` at or after clock time `atMs`. */
  schedule(item: Wakeable, atMs: number): void {
    // Ceil: a wake-up is never early, so a token is never sent before its planned time.
    const slot = Math.ceil(atMs)
    const list = this.slots.get(slot)
    if (list) {
      list.push(item)
      return
    }
    this.slots.set(slot, [item])
    heapPush(this.heap, slot)
    if (slot < this.timerSlot) this.arm()
  }

  /** Number of scheduled wake-ups (including stale ones). */
  get size(): number {
    let n = 0
    for (const list of this.slots.values()) n += list.length
    return n
  }

  /** Drops every pending wake-up and the timer. */
  clear(): void {
    this.slots.clear()
    this.heap.length = 0
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.timerSlot = Number.POSITIVE_INFINITY
  }

  private arm(): void {
    const next = this.heap[0]
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.timerSlot = Number.POSITIVE_INFINITY
    if (next === undefined) return
    this.timerSlot = next
    this.timer = setTimeout(this.tick, Math.max(0, next - this.clock.nowMs()))
    // The timer alone must not keep a process alive: servers and tests hold their own handles.
    this.timer.unref()
  }

  private readonly tick = (): void => {
    this.timer = undefined
    this.timerSlot = Number.POSITIVE_INFINITY
    const now = this.clock.nowMs()
    if (this.heap.length > 0) this.lastLagMs = now - this.heap[0]!
    // Take every due slot out before waking anyone: an item that reschedules itself for a time already
    // due lands in a new slot for the next tick instead of spinning inside this one.
    const due: Wakeable[][] = []
    while (this.heap.length > 0 && this.heap[0]! <= now) {
      const slot = heapPop(this.heap)!
      const list = this.slots.get(slot)
      this.slots.delete(slot)
      if (list) due.push(list)
    }
    for (const list of due) for (const item of list) item.wake(now)
    this.arm()
  }
}

function heapPush(heap: number[], value: number): void {
  heap.push(value)
  let i = heap.length - 1
  while (i > 0) {
    const parent = (i - 1) >> 1
    if (heap[parent]! <= value) break
    heap[i] = heap[parent]!
    i = parent
  }
  heap[i] = value
}

function heapPop(heap: number[]): number | undefined {
  const top = heap[0]
  const last = heap.pop()
  if (heap.length === 0 || last === undefined) return top
  let i = 0
  for (;;) {
    const left = 2 * i + 1
    if (left >= heap.length) break
    const right = left + 1
    const child = right < heap.length && heap[right]! < heap[left]! ? right : left
    if (heap[child]! >= last) break
    heap[i] = heap[child]!
    i = child
  }
  heap[i] = last
  return top
}
