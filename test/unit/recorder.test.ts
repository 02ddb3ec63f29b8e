import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { AbortAt, StreamPlan } from '../../src/runner/plan.ts'
import { StreamRecorder } from '../../src/runner/recorder.ts'
import type { AbortMode } from '../../src/scenario/schema.ts'

/*
 * The recorder gets a fake clock (`now: () => t`) and runs its timers on vitest's fake timers; `advance`
 * moves both together, so "ms on the clock" and "ms of timers" always agree.
 */
let t = 0
function advance(ms: number): void {
  t += ms
  vi.advanceTimersByTime(ms)
}
/** Moves the clock only (the time a byte arrives at), without firing timers. */
function at(ms: number): void {
  t = ms
}

const IDLE_TIMEOUT = 10_000
const GRACE = 1000

function stream(abort: { at: AbortAt; mode: AbortMode } | null = null): StreamPlan {
  return {
    index: 3,
    id: 'r1-3',
    prompt: 'hello [cb:r1-3]',
    sendAtMs: null,
    abort,
    script: { ttftMs: 100, tokensPerSecond: 100, tokensPerEvent: 1, outputTokens: 300 },
  }
}

interface Harness {
  recorder: StreamRecorder
  aborter: ReturnType<typeof vi.fn<(mode: AbortMode) => void>>
  closer: ReturnType<typeof vi.fn<() => void>>
  run: AbortController
}

function record(plan: StreamPlan, options: { idleTimeoutMs?: number; graceMs?: number; run?: AbortController } = {}): Harness {
  const run = options.run ?? new AbortController()
  const recorder = new StreamRecorder({
    stream: plan,
    baseUrl: 'http://127.0.0.1:3000',
    now: () => t,
    runSignal: run.signal,
    idleTimeoutMs: options.idleTimeoutMs ?? IDLE_TIMEOUT,
    graceMs: options.graceMs ?? GRACE,
  })
  const aborter = vi.fn<(mode: AbortMode) => void>()
  const closer = vi.fn<() => void>()
  recorder.setAborter(aborter)
  recorder.setCloser(closer)
  return { recorder, aborter, closer, run }
}

/** A token event: its bytes, then the token. */
function token(recorder: StreamRecorder, when: number): void {
  at(when)
  recorder.onBytes(20)
  recorder.onToken()
}

// Pure code on fake timers: a `done` that never resolves is a bug, not slowness; fail fast.
vi.setConfig({ testTimeout: 5_000 })

beforeEach(() => {
  t = 1000
  // Only timers: the recorder's queueMicrotask (pre-aborted run) and awaiting `done` stay real.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
})

afterEach(() => {
  vi.clearAllTimers()
  vi.useRealTimers()
})

describe('StreamRecorder: a stream that is not aborted', () => {
  it('records response, first byte, tokens and ends done', async () => {
    const { recorder, aborter, closer } = record(stream())
    at(1010)
    recorder.onResponse(200)
    token(recorder, 1100)
    token(recorder, 1150)
    at(1200)
    recorder.onDone()
    const sample = await recorder.done
    expect(sample).toMatchObject({
      id: 'r1-3',
      index: 3,
      startedAtMs: 1000,
      responseAtMs: 1010,
      httpStatus: 200,
      firstByteAtMs: 1100,
      tokenTimesMs: [1100, 1150],
      bytes: 40,
      abortedAtMs: null,
      abortMode: null,
      end: 'done',
      endedAtMs: 1200,
      error: null,
    })
    expect(aborter).not.toHaveBeenCalled()
    expect(closer).toHaveBeenCalledTimes(1)
  })

  it('ends eof without a done signal, and error with the message', async () => {
    const eof = record(stream())
    eof.recorder.onEof()
    expect((await eof.recorder.done).end).toBe('eof')
    const error = record(stream())
    error.recorder.onError('ECONNRESET')
    expect(await error.recorder.done).toMatchObject({ end: 'error', error: 'ECONNRESET' })
  })

  it('abort() is a no-op for a stream not planned to abort', () => {
    const { recorder, aborter } = record(stream())
    recorder.abort()
    expect(aborter).not.toHaveBeenCalled()
    expect(recorder.isAborted).toBe(false)
    expect(recorder.isEnded).toBe(false)
  })
})

describe('StreamRecorder: planned aborts', () => {
  it('after N tokens: calls the aborter once with the planned mode and ends aborted', async () => {
    const { recorder, aborter, closer } = record(stream({ at: { kind: 'tokens', tokens: 3 }, mode: 'rst' }))
    token(recorder, 1100)
    token(recorder, 1110)
    expect(aborter).not.toHaveBeenCalled()
    token(recorder, 1120)
    expect(aborter).toHaveBeenCalledTimes(1)
    expect(aborter).toHaveBeenCalledWith('rst')
    expect(recorder.isEnded).toBe(true)
    const sample = await recorder.done
    expect(sample).toMatchObject({ end: 'aborted', abortedAtMs: 1120, abortMode: 'rst', endedAtMs: 1120, tokenTimesMs: [1100, 1110, 1120] })
    expect(closer).toHaveBeenCalledTimes(1)
    // Later events are ignored; the aborter is not called again.
    token(recorder, 1130)
    recorder.abort()
    expect(aborter).toHaveBeenCalledTimes(1)
    expect(sample.tokenTimesMs).toHaveLength(3)
  })

  it('the aborter runs before the closer', async () => {
    const { recorder, aborter, closer } = record(stream({ at: { kind: 'tokens', tokens: 1 }, mode: 'fin' }))
    token(recorder, 1100)
    await recorder.done
    expect(aborter.mock.invocationCallOrder[0]!).toBeLessThan(closer.mock.invocationCallOrder[0]!)
  })

  it('ws-cancel: tokens after the abort are recorded, and the stream ends aborted on onDone', async () => {
    const { recorder, aborter, closer } = record(stream({ at: { kind: 'tokens', tokens: 2 }, mode: 'ws-cancel' }))
    token(recorder, 1100)
    token(recorder, 1110)
    expect(aborter).toHaveBeenCalledExactlyOnceWith('ws-cancel')
    expect(recorder.isAborted).toBe(true)
    expect(recorder.isEnded).toBe(false)
    expect(closer).not.toHaveBeenCalled()
    // Tokens in flight when the target got the cancel.
    token(recorder, 1120)
    token(recorder, 1130)
    expect(aborter).toHaveBeenCalledTimes(1)
    at(1150)
    recorder.onDone()
    const sample = await recorder.done
    expect(sample).toMatchObject({ end: 'aborted', abortedAtMs: 1110, abortMode: 'ws-cancel', endedAtMs: 1150, tokenTimesMs: [1100, 1110, 1120, 1130], bytes: 80 })
    expect(closer).toHaveBeenCalledTimes(1)
  })

  it('ws-cancel: without an acknowledgement the stream ends aborted after graceMs + 250', async () => {
    const { recorder } = record(stream({ at: { kind: 'tokens', tokens: 1 }, mode: 'ws-cancel' }))
    token(recorder, 1100)
    advance(GRACE + 249)
    expect(recorder.isEnded).toBe(false)
    advance(1)
    expect(recorder.isEnded).toBe(true)
    expect(await recorder.done).toMatchObject({ end: 'aborted', abortedAtMs: 1100, endedAtMs: 1100 + GRACE + 250 })
  })

  it('ws-cancel: silence after the abort is not a timeout; the stream ends aborted, not error', async () => {
    // After an abort the recorder is no longer "listening" (onBytes says so): a target that stops sending
    // and never acknowledges the cancel has done the right thing, and the stream must end aborted at the
    // end of the grace period rather than as a timeout error.
    const { recorder } = record(stream({ at: { kind: 'tokens', tokens: 1 }, mode: 'ws-cancel' }), { idleTimeoutMs: 500, graceMs: GRACE })
    token(recorder, 1100)
    advance(GRACE + 250)
    const sample = await recorder.done
    expect(sample.end).toBe('aborted')
    expect(sample.error).toBeNull()
  })

  it('errors and eof after an abort end the stream as aborted', async () => {
    const reset = record(stream({ at: { kind: 'tokens', tokens: 1 }, mode: 'ws-cancel' }))
    token(reset.recorder, 1100)
    reset.recorder.onError('socket hang up')
    expect((await reset.recorder.done).end).toBe('aborted')
    const closed = record(stream({ at: { kind: 'tokens', tokens: 1 }, mode: 'ws-cancel' }))
    token(closed.recorder, 1100)
    closed.recorder.onEof()
    expect((await closed.recorder.done).end).toBe('aborted')
  })

  it('firstByte: aborts on the first byte, before any token', async () => {
    const { recorder, aborter } = record(stream({ at: { kind: 'firstByte' }, mode: 'abort' }))
    at(1300)
    recorder.onBytes(5)
    expect(aborter).toHaveBeenCalledExactlyOnceWith('abort')
    const sample = await recorder.done
    expect(sample).toMatchObject({ end: 'aborted', firstByteAtMs: 1300, abortedAtMs: 1300, bytes: 5, tokenTimesMs: [], maxIdleGapMs: 300 })
  })

  it('ms: aborts by timer, measured from the start', async () => {
    const { recorder, aborter } = record(stream({ at: { kind: 'ms', ms: 250 }, mode: 'fin' }))
    advance(100)
    token(recorder, 1100)
    advance(149)
    expect(aborter).not.toHaveBeenCalled()
    advance(1)
    expect(aborter).toHaveBeenCalledExactlyOnceWith('fin')
    expect(await recorder.done).toMatchObject({ end: 'aborted', abortedAtMs: 1250, tokenTimesMs: [1100] })
  })

  it('ms: the timer does nothing once the stream has ended', async () => {
    const { recorder, aborter } = record(stream({ at: { kind: 'ms', ms: 250 }, mode: 'fin' }))
    at(1100)
    recorder.onDone()
    advance(1000)
    expect(aborter).not.toHaveBeenCalled()
    expect(await recorder.done).toMatchObject({ end: 'done', abortedAtMs: null })
  })

  it('a planned abort point never reached: the stream just completes', async () => {
    const { recorder, aborter } = record(stream({ at: { kind: 'tokens', tokens: 50 }, mode: 'abort' }))
    token(recorder, 1100)
    recorder.onDone()
    expect(aborter).not.toHaveBeenCalled()
    expect(await recorder.done).toMatchObject({ end: 'done', abortedAtMs: null, abortMode: null })
  })

  it('an aborter that throws (e.g. a WebSocket still connecting) does not escape the timer; the stream still ends', async () => {
    // transports/ws.ts sends the cancel message with socket.send(), which throws while the socket is
    // CONNECTING; with an `ms` abort point that throw happens inside the recorder's setTimeout, i.e. it is
    // an uncaught exception that takes the whole run down.
    const { recorder } = record(stream({ at: { kind: 'ms', ms: 50 }, mode: 'ws-cancel' }))
    recorder.setAborter(() => {
      throw new Error('WebSocket is not open: readyState 0 (CONNECTING)')
    })
    expect(() => advance(50 + GRACE + 250)).not.toThrow()
    expect(recorder.isEnded).toBe(true)
    expect(recorder.isAborted).toBe(true)
  })
})

describe('StreamRecorder: timeouts and interruption', () => {
  it('no byte for idleTimeoutMs: ends as an error naming the timeout', async () => {
    const { recorder, closer } = record(stream(), { idleTimeoutMs: 2000 })
    advance(1999)
    expect(recorder.isEnded).toBe(false)
    advance(1)
    const sample = await recorder.done
    expect(sample.end).toBe('error')
    expect(sample.error).toContain('timeout')
    expect(sample.error).toContain('2000 ms')
    expect(sample.endedAtMs).toBe(3000)
    expect(sample.maxIdleGapMs).toBe(2000)
    expect(closer).toHaveBeenCalledTimes(1)
  })

  it('every byte re-arms the idle timer', async () => {
    const { recorder } = record(stream(), { idleTimeoutMs: 2000 })
    for (let i = 0; i < 5; i++) {
      advance(1500)
      recorder.onBytes(1)
    }
    expect(recorder.isEnded).toBe(false)
    advance(2000)
    expect((await recorder.done).end).toBe('error')
  })

  it('the run signal aborting ends an open stream as interrupted', async () => {
    const { recorder, run, closer, aborter } = record(stream({ at: { kind: 'tokens', tokens: 10 }, mode: 'abort' }))
    token(recorder, 1100)
    at(1200)
    run.abort()
    const sample = await recorder.done
    expect(sample).toMatchObject({ end: 'interrupted', error: 'run stopped', endedAtMs: 1200 })
    expect(aborter).not.toHaveBeenCalled()
    expect(closer).toHaveBeenCalledTimes(1)
  })

  it('a run signal already aborted: the stream ends interrupted at once', async () => {
    const run = new AbortController()
    run.abort()
    const { recorder, closer } = record(stream(), { run })
    const sample = await recorder.done
    expect(sample.end).toBe('interrupted')
    expect(closer).toHaveBeenCalledTimes(1)
  })

  it('ending stops listening to the run signal and clears the timers', async () => {
    const { recorder, run, aborter } = record(stream({ at: { kind: 'ms', ms: 500 }, mode: 'abort' }), { idleTimeoutMs: 1000 })
    recorder.onDone()
    run.abort()
    advance(5000)
    const sample = await recorder.done
    expect(sample.end).toBe('done')
    expect(aborter).not.toHaveBeenCalled()
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('StreamRecorder: max idle gap', () => {
  it('counts from the start to the first byte', async () => {
    const { recorder } = record(stream())
    token(recorder, 1800)
    token(recorder, 1900)
    at(1950)
    recorder.onDone()
    expect((await recorder.done).maxIdleGapMs).toBe(800)
  })

  it('counts between bytes', async () => {
    const { recorder } = record(stream())
    token(recorder, 1100)
    token(recorder, 1200)
    token(recorder, 1800)
    token(recorder, 1900)
    at(1950)
    recorder.onDone()
    expect((await recorder.done).maxIdleGapMs).toBe(600)
  })

  it('counts the silence up to the end of a stream that was not aborted', async () => {
    const { recorder } = record(stream())
    token(recorder, 1100)
    at(2000)
    recorder.onEof()
    expect((await recorder.done).maxIdleGapMs).toBe(900)
  })

  it('does not count after the abort (abort mode: the stream ends there)', async () => {
    const { recorder } = record(stream({ at: { kind: 'tokens', tokens: 2 }, mode: 'abort' }))
    token(recorder, 1100)
    token(recorder, 1400)
    expect((await recorder.done).maxIdleGapMs).toBe(300)
  })

  it('does not count after the abort (ws-cancel: the socket stays open, silence and late bytes are ignored)', async () => {
    const { recorder } = record(stream({ at: { kind: 'tokens', tokens: 2 }, mode: 'ws-cancel' }))
    token(recorder, 1100)
    token(recorder, 1300)
    // A late token 900 ms after the abort, then the acknowledgement 100 ms later.
    token(recorder, 2200)
    at(2300)
    recorder.onDone()
    const sample = await recorder.done
    expect(sample.maxIdleGapMs).toBe(200)
    expect(sample.tokenTimesMs).toEqual([1100, 1300, 2200])
  })

  it('the silence from the last byte up to the abort counts', async () => {
    const { recorder } = record(stream({ at: { kind: 'ms', ms: 1500 }, mode: 'abort' }))
    advance(100)
    token(recorder, 1100)
    advance(1400)
    expect((await recorder.done).maxIdleGapMs).toBe(1400)
  })

  it('is rounded to microseconds', async () => {
    const { recorder } = record(stream())
    token(recorder, 1000.1234567)
    at(1000.2)
    recorder.onDone()
    expect((await recorder.done).maxIdleGapMs).toBe(0.123)
  })
})

describe('StreamRecorder: ends exactly once', () => {
  it('end is idempotent: the first end wins and the closer runs once', async () => {
    const { recorder, closer } = record(stream())
    at(1100)
    recorder.onDone()
    at(1200)
    recorder.onError('late error')
    recorder.onEof()
    recorder.end('interrupted', 'run stopped')
    recorder.onDone()
    const sample = await recorder.done
    expect(sample).toMatchObject({ end: 'done', endedAtMs: 1100, error: null })
    expect(closer).toHaveBeenCalledTimes(1)
  })

  it('bytes and tokens after the end are ignored', async () => {
    const { recorder } = record(stream())
    token(recorder, 1100)
    recorder.onDone()
    token(recorder, 1200)
    const sample = await recorder.done
    expect(sample.tokenTimesMs).toEqual([1100])
    expect(sample.bytes).toBe(20)
  })

  it('done resolves even when the closer throws', async () => {
    const { recorder } = record(stream())
    recorder.setCloser(() => {
      throw new Error('close failed')
    })
    try {
      recorder.onDone()
    } catch {
      // Whether the closer's error reaches the transport is not the point here.
    }
    expect((await recorder.done).end).toBe('done')
    expect(recorder.isEnded).toBe(true)
  })
})
