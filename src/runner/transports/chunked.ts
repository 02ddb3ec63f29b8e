import type { Transport } from '../../scenario/schema.ts'
import type { StreamRecorder } from '../recorder.ts'
import { fillTemplate } from '../template.ts'
import { runHttpStream, type OpenConnections } from './http-stream.ts'

type ChunkedTransport = Extract<Transport, { type: 'chunked' }>

/**
 * Plain chunked bodies: NDJSON (each non-empty line is a token, except an `{"error": ...}` line) or raw
 * chunks (each chunk is one).
 * The end of the body is the only "done" such a stream has.
 */
export function runChunked(recorder: StreamRecorder, transport: ChunkedTransport, baseUrl: string, connections: OpenConnections): void {
  const { stream } = recorder.context
  const decoder = new TextDecoder()
  let partial = ''
  runHttpStream(
    recorder,
    {
      url: new URL(transport.path, baseUrl).href,
      method: transport.method,
      headers: transport.headers,
      body: transport.method === 'GET' ? undefined : fillTemplate(transport.body, { prompt: stream.prompt, id: stream.id }),
    },
    connections,
    (chunk) => {
      if (transport.split === 'chunk') return recorder.onToken()
      const lines = (partial + decoder.decode(chunk, { stream: true })).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) {
        if (!line.trim()) continue
        const error = errorOf(line)
        if (error !== undefined) recorder.onError(`target sent an error line: ${error.slice(0, 300)}`)
        else recorder.onToken()
      }
    },
  )
}

/** An NDJSON line `{"error": ...}` is the target reporting a failure, not a token. */
function errorOf(line: string): string | undefined {
  if (!line.includes('"error"')) return undefined
  try {
    const value = JSON.parse(line) as { error?: unknown }
    return value && typeof value === 'object' && 'error' in value ? JSON.stringify(value.error) : undefined
  } catch {
    return undefined
  }
}
