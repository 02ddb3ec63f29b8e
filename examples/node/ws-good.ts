/**
 * ws-good: the right pattern over a WebSocket. A `{"type":"cancel","message_id":"<id>"}` aborts that one
 * provider stream and is acknowledged with `{"type":"cancelled","id":"<id>"}`; a socket that closes
 * aborts every generation it started. A ping every KEEPALIVE_MS finds dead peers and keeps proxies quiet.
 *
 *   ANTHROPIC_BASE_URL=http://127.0.0.1:8787 PORT=3000 node examples/node/ws-good.ts
 *
 * Expected cancelbench verdict: with abort mode ws-cancel and ws-close alike, the provider stops within a
 * few tokens of the client's stop.
 */
import { DEFAULT_KEEPALIVE_MS, isMain, runMain, type TargetOptions } from './common.ts'
import { createWsTarget } from './ws-app.ts'

export function createTarget(options: TargetOptions = {}) {
  return createWsTarget({ ...options, propagateCancel: true, keepaliveMs: options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS })
}

if (isMain(import.meta)) runMain(createTarget)
