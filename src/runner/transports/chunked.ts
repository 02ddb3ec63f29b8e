import type { Agent } from 'node:http'
import type { Transport } from '../../scenario/schema.ts'
import type { StreamRecorder } from '../recorder.ts'
import { fillTemplate } from '../template.ts'
import { runHttpStream } from './http-stream.ts'

type ChunkedTransport = Extract<Transport, { type: 'chunked' }>

/**
 * Plain chunked bodies: NDJSON (each non-empty line is a token) or raw chunks (each chunk is one).
 * The end of the body is the only "done" such a stream has.
 */
export function runChunked(recorder: StreamRecorder, transport: ChunkedTransport, baseUrl: string, agent: Agent): void {
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
    agent,
    (chunk) => {
      if (transport.split === 'chunk') return recorder.onToken()
      const lines = (partial + decoder.decode(chunk, { stream: true })).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) if (line.trim()) recorder.onToken()
    },
  )
}
