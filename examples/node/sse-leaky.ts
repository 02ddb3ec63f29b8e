/**
 * sse-leaky: DELIBERATELY BROKEN. Same server as sse-good, except for how it notices that the client left:
 *
 *   req.on('aborted', () => upstream.abort())        // what this one does: never fires mid-stream
 *   res.on('close', () => { if (!res.writableFinished) upstream.abort() })   // what it should do
 *
 * 'aborted' (deprecated) is only emitted when the connection drops while the request BODY is still being
 * received. By the time a chat handler calls the provider it has read the whole body, so a user who
 * clicks Stop changes nothing on the server: the loop keeps pulling every token from the provider,
 * `res.write()` on the closed response quietly returns false, and the reply is generated and billed to
 * the end. Nothing throws and no error is emitted: the leak only shows on the bill (and in cancelbench's
 * ledger).
 * See leakyDisconnectSignal() in sse-app.ts.
 *
 * Expected cancelbench verdict: every aborted stream runs to completion (stop reason "completed").
 */
import { DEFAULT_KEEPALIVE_MS, isMain, runMain, type TargetOptions } from './common.ts'
import { createSseTarget } from './sse-app.ts'

export function createTarget(options: TargetOptions = {}) {
  return createSseTarget({ ...options, propagateCancel: false, keepaliveMs: options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS })
}

if (isMain(import.meta)) runMain(createTarget)
