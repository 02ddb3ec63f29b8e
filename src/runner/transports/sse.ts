import { createParser } from 'eventsource-parser'
import type { Transport } from '../../scenario/schema.ts'
import type { StreamRecorder } from '../recorder.ts'
import { fillTemplate } from '../template.ts'
import { runHttpStream, type OpenConnections } from './http-stream.ts'

type SseTransport = Extract<Transport, { type: 'sse' }>

/**
 * Server-Sent Events: each event named `tokenEvent` is a token, `doneEvent` (or a `doneData` payload such
 * as "[DONE]") ends the answer, `errorEvent` is the target reporting a failure. Comment lines (keepalives)
 * count as bytes for the idle-gap check but not as tokens.
 */
export function runSse(recorder: StreamRecorder, transport: SseTransport, baseUrl: string, connections: OpenConnections): void {
  const { stream } = recorder.context
  const decoder = new TextDecoder()
  const parser = createParser({
    onEvent(event) {
      const name = event.event ?? 'message'
      if (transport.doneData !== undefined && event.data === transport.doneData) recorder.onDone()
      else if (name === transport.doneEvent) recorder.onDone()
      else if (name === transport.errorEvent) recorder.onError(`target sent an error event: ${event.data.slice(0, 300)}`)
      else if (name === transport.tokenEvent) recorder.onToken()
    },
  })
  runHttpStream(
    recorder,
    {
      url: new URL(transport.path, baseUrl).href,
      method: transport.method,
      headers: { accept: 'text/event-stream', ...transport.headers },
      body: transport.method === 'GET' ? undefined : fillTemplate(transport.body, { prompt: stream.prompt, id: stream.id }),
    },
    connections,
    (chunk) => parser.feed(decoder.decode(chunk, { stream: true })),
  )
}
