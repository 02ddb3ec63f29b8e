/**
 * sse-no-keepalive: cancels correctly, but never sends a keepalive (KEEPALIVE_MS is ignored).
 *
 * Between the headers and the first token the connection carries no bytes at all, for as long as the
 * model's time to first token: seconds for a long prompt or a busy provider, minutes for a reasoning
 * model. A proxy or load balancer with an idle timeout shorter than that (nginx proxy_read_timeout 60 s,
 * AWS ALB 60 s, many corporate proxies 30 s) cuts the stream before the first token: the user sees an
 * error, and the generation they never got is still billed up to the cut. The fix is one timer: an SSE
 * comment (`: keepalive\n\n`) every ~15 s, which every SSE client ignores (see openTokenStream() in
 * sse-app.ts).
 *
 * Expected cancelbench verdict: cancellation passes; streams through an idle-timeout proxy with a long
 * time to first token fail.
 */
import { isMain, runMain, type TargetOptions } from './common.ts'
import { createSseTarget } from './sse-app.ts'

export function createTarget(options: TargetOptions = {}) {
  return createSseTarget({ ...options, propagateCancel: true, keepaliveMs: 0 })
}

if (isMain(import.meta)) runMain(createTarget)
