/**
 * ws-ignore-cancel: DELIBERATELY BROKEN. It has no cancel handler, and nothing aborts a generation when
 * its socket closes.
 *
 * A common way to get here: "Stop generating" is implemented in the UI alone (the page stops rendering
 * tokens for that id, or closes the socket) and the server was written for the happy path, one
 * `for await` over the provider stream per generate message. Over HTTP the framework at least tells you
 * the connection closed; over a WebSocket a cancel is just another message, and unless the server
 * looks up that generation and aborts it, the provider keeps generating, and billing, to the end:
 * tokens for a cancelled id keep arriving on an open socket, and after a close they go nowhere.
 * Compare the 'cancel' case and the 'close' handler in ws-app.ts.
 *
 * Expected cancelbench verdict: every stopped generation runs to completion (stop reason "completed").
 */
import { DEFAULT_KEEPALIVE_MS, isMain, runMain, type TargetOptions } from './common.ts'
import { createWsTarget } from './ws-app.ts'

export function createTarget(options: TargetOptions = {}) {
  return createWsTarget({ ...options, propagateCancel: false, keepaliveMs: options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS })
}

if (isMain(import.meta)) runMain(createTarget)
