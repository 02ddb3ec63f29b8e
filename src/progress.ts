/**
 * One self-rewriting status line on a terminal; nothing when stderr is not a TTY or in CI, so logs stay
 * clean. Throttled: redrawing on every stream end would cost more than the streams at high rates.
 */
export function createProgress(stream: NodeJS.WriteStream = process.stderr): { update(done: number, total: number, line: string): void; finish(): void } {
  const enabled = stream.isTTY === true && !process.env.CI
  let last = 0
  let shown = false
  return {
    update(done, total, line) {
      if (!enabled) return
      const now = performance.now()
      if (done < total && now - last < 100) return
      last = now
      const width = 24
      const filled = Math.round((done / total) * width)
      stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} streams  ${line}\x1b[K`)
      shown = true
    },
    finish() {
      if (shown) stream.write('\r\x1b[K')
    },
  }
}
