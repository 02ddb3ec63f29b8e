"""FastAPI chat endpoint whose "Stop generating" really stops the model, and the bill.

    ANTHROPIC_BASE_URL=http://127.0.0.1:8787 ANTHROPIC_API_KEY=placeholder \\
        .venv/bin/python examples/python/fastapi_good.py

POST /chat {"prompt": "..."} relays one Anthropic message as Server-Sent Events:
`event: token` per text delta, then `event: done` (or `event: error`), and a `: keepalive` comment every
KEEPALIVE_MS. When the browser aborts the request, the provider's stream is closed within milliseconds,
which is the only thing that stops a real provider generating (and billing) tokens nobody will read.

How the disconnect reaches the provider, on the two kinds of ASGI server:

1. ASGI spec_version < 2.4, which is what uvicorn announces today (2.3; it announced 2.4 only in
   0.27-0.32.0): Starlette's StreamingResponse runs a listener beside the body that waits for
   `http.disconnect` and then CANCELS the task iterating `relay()`. The CancelledError surfaces at the
   await `relay()` is in (waiting for the next provider event), unwinds through the `async with`, and
   the SDK's exit closes the HTTP response to the provider. Nothing in `relay()` has to do anything,
   except not get in the way: never swallow CancelledError (`except Exception` does not catch it;
   a bare `except:` or `except BaseException:` would) and keep the provider stream in this task, inside
   this `async with`, so that unwinding this task is what closes it.
2. ASGI spec_version >= 2.4 (uvicorn 0.27-0.32.0, and any server that promises to raise on a send to a
   gone client): Starlette starts no listener. The body is only stopped when a send fails, and uvicorn
   does not even fail sends to a closed socket: it drops them. So `relay()` asks at every provider
   event: `await request.is_disconnected()`, and leaves the `async with` when the client is gone.

Both paths end in the same place: leaving `async with client.messages.stream(...)`, which closes the
provider connection (the mock provider records that as a disconnect and stops billing at once).
"""

from __future__ import annotations

import logging
from typing import AsyncIterator

import anthropic
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from common import (
    KEEPALIVE,
    KEEPALIVE_COMMENT,
    SSE_HEADERS,
    Settings,
    aclosing,
    anthropic_client,
    serve,
    sse,
    with_keepalive,
)

settings = Settings.from_env()
log = logging.getLogger("fastapi_good")

# One client for the process (it owns the connection pool); it reads ANTHROPIC_BASE_URL from the
# environment, so pointing it at the mock provider needs no code change. See common.anthropic_client.
client = anthropic_client()

app = FastAPI()


class ChatRequest(BaseModel):
    prompt: str


@app.post("/chat")
async def chat(body: ChatRequest, request: Request) -> StreamingResponse:
    # The generator runs after this function has returned, while Starlette sends the response; it gets
    # the Request so that it can ask whether the client is still there.
    return StreamingResponse(relay(body.prompt, request), media_type="text/event-stream", headers=SSE_HEADERS)


async def relay(prompt: str, request: Request) -> AsyncIterator[str]:
    try:
        async with client.messages.stream(
            model=settings.model,
            max_tokens=settings.max_tokens,
            # Verbatim: the prompt carries cancelbench's correlation marker ([cb:<id> ...]), and the
            # provider's ledger can only tie the generation to the client's stream if it arrives intact.
            messages=[{"role": "user", "content": prompt}],
        ) as stream:
            # aclosing: a `return` out of the loop must close the keepalive merger at once (it cancels
            # the provider read it may have pending), before the `async with` above closes the stream.
            async with aclosing(with_keepalive(stream, settings.keepalive_s)) as events:
                async for event in events:
                    # Checked on every event, keepalive ticks included, so that a client that leaves
                    # during a long time to first token is noticed too. Cheap: it does not block (it
                    # peeks at the ASGI receive channel with an already-cancelled scope).
                    if await request.is_disconnected():
                        # THE line. Leaving both `async with` blocks closes the provider's HTTP
                        # response: the connection is dropped, the provider stops generating and
                        # billing. (A `break` would do the same; `return` also skips `event: done`,
                        # which nobody would receive.)
                        return
                    if event is KEEPALIVE:
                        yield KEEPALIVE_COMMENT
                    elif event.type == "text":  # the SDK's convenience event: one per text delta
                        yield sse("token", {"text": event.text})
    except Exception as error:  # noqa: BLE001 - CancelledError is a BaseException: cancellation passes
        # Any failure of the provider call (an API error such as 429 or 529, a dropped connection)
        # ends the stream with an error event the UI can show, not with a truncated body.
        log.warning("provider call failed: %r", error)
        message = error.message if isinstance(error, anthropic.APIError) else str(error)
        yield sse("error", {"message": message})
        return
    yield sse("done", {})


if __name__ == "__main__":
    serve(app, settings)
