import type { ErrorKind } from './types.ts'

/** OpenAI's error shape: `{ error: { message, type, param, code } }`, shared by chat and responses. */
const OPENAI_ERRORS: Record<ErrorKind, [number, string, string | null]> = {
  invalid_request: [400, 'invalid_request_error', null],
  authentication: [401, 'invalid_request_error', 'invalid_api_key'],
  not_found: [404, 'invalid_request_error', 'model_not_found'],
  unknown_route: [404, 'invalid_request_error', null],
  request_too_large: [413, 'invalid_request_error', 'request_too_large'],
  rate_limit: [429, 'requests', 'rate_limit_exceeded'],
  // OpenAI has no 529; overload shows up as 503 "engine overloaded".
  overloaded: [503, 'server_error', 'overloaded'],
  api_error: [500, 'server_error', null],
}

export function openaiError(kind: ErrorKind, message: string): { status: number; body: unknown } {
  const [status, type, code] = OPENAI_ERRORS[kind]
  return { status, body: { error: { message, type, param: null, code } } }
}

export function openaiErrorObject(kind: ErrorKind, message: string) {
  const [, type, code] = OPENAI_ERRORS[kind]
  return { message, type, param: null, code }
}
