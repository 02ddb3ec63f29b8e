/**
 * sse-good: the right pattern. A client that leaves aborts the provider stream at once (res.on('close')
 * -> AbortController -> the SDK's `signal`), and a `: keepalive` comment every KEEPALIVE_MS keeps
 * proxies from cutting the stream while the model is silent.
 *
 *   ANTHROPIC_BASE_URL=http://127.0.0.1:8787 PORT=3000 node examples/node/sse-good.ts
 *
 * Expected cancelbench verdict: the provider stops within a few tokens of the client's disconnect.
 */
import { DEFAULT_KEEPALIVE_MS, isMain, runMain, type TargetOptions } from './common.ts'
import { createSseTarget } from './sse-app.ts'

export function createTarget(options: TargetOptions = {}) {
  return createSseTarget({ ...options, propagateCancel: true, keepaliveMs: options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS })
}

if (isMain(import.meta)) runMain(createTarget)
