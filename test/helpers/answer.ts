/** A response read whole: status, headers, the text, and its JSON when it is JSON. */
export interface Answer {
  status: number
  headers: Headers
  body: unknown
  text: string
}

export async function readAnswer(res: Response): Promise<Answer> {
  const text = await res.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  return { status: res.status, headers: res.headers, body, text }
}
