"""DON'T COPY THIS ONE. A FastAPI chat endpoint that keeps the model generating (and billing) after
"Stop generating".

    ANTHROPIC_BASE_URL=http://127.0.0.1:8787 ANTHROPIC_API_KEY=placeholder \\
        .venv/bin/python examples/python/fastapi_leaky.py

Same contract and same output as fastapi_good.py: a client that reads to the end cannot tell them apart.
The difference shows only in the provider's bill, after the client has gone.

The leak: the provider call runs in its own task (`asyncio.create_task`), a "producer" that feeds an
`asyncio.Queue`; the response body only drains the queue. People write this for good-sounding reasons:
to save the whole reply to the chat history even if the user reloads the page, to fan one generation
out to several listeners, or to keep a slow client from stalling the provider read. But when the client
leaves, Starlette cancels the *response* task (see fastapi_good.py for how), and cancellation does not
travel to tasks that task created: nothing cancels the producer. It reads the provider stream to its
last token, and every one of those tokens is billed for a reader that is gone.

Why not the more obvious "a generator that never checks request.is_disconnected()"? Because on today's
uvicorn (ASGI spec 2.3) that one does not leak: Starlette's disconnect listener cancels the generator
anyway, and its `async with client.messages.stream(...)` closes the provider stream. It leaks only on a
server with spec >= 2.4 (uvicorn 0.27-0.32.0), where there is no listener. The leak here does not depend
on the server: the producer is outside the response task on every ASGI server.

The fix: hand the producer task to the response body and cancel it in a `finally:` there (cancelling
it unwinds its `async with`, which closes the provider stream). Better: no second task at all, as in
fastapi_good.py.
"""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator, Set, Tuple

import anthropic
from fastapi import FastAPI
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
log = logging.getLogger("fastapi_leaky")

client = anthropic_client()

app = FastAPI()

# The event loop keeps only weak references to tasks, so a fire-and-forget task needs a strong one
# somewhere or it can be garbage-collected mid-flight (the asyncio docs' own advice). This set is that
# reference, and it is what keeps the orphaned producer alive, reading and paying, after its client left.
_producers: Set[asyncio.Task[None]] = set()

# What the producer hands to the response body: ("token", text), ("done", ""), or ("error", message).
Item = Tuple[str, str]


class ChatRequest(BaseModel):
    prompt: str


@app.post("/chat")
async def chat(body: ChatRequest) -> StreamingResponse:
    queue: asyncio.Queue[Item] = asyncio.Queue()  # unbounded: the producer never waits for the client
    # The provider call starts here, in a task of its own that outlives this request if nobody stops it.
    producer = asyncio.create_task(produce(body.prompt, queue))
    _producers.add(producer)
    producer.add_done_callback(_producers.discard)
    return StreamingResponse(drain(queue), media_type="text/event-stream", headers=SSE_HEADERS)


async def produce(prompt: str, queue: asyncio.Queue[Item]) -> None:
    """Reads the whole provider stream into `queue`, whoever is (or is no longer) listening."""
    reply: list[str] = []
    try:
        async with client.messages.stream(
            model=settings.model,
            max_tokens=settings.max_tokens,
            messages=[{"role": "user", "content": prompt}],
        ) as stream:
            async for text in stream.text_stream:
                reply.append(text)
                queue.put_nowait(("token", text))
    except Exception as error:  # noqa: BLE001
        log.warning("provider call failed: %r", error)
        message = error.message if isinstance(error, anthropic.APIError) else str(error)
        queue.put_nowait(("error", message))
        return
    queue.put_nowait(("done", ""))
    # Here a real app would save "".join(reply) to the conversation: the very reason it was written this
    # way. The complete reply gets saved; it was also completely paid for.


async def drain(queue: asyncio.Queue[Item]) -> AsyncIterator[str]:
    """The response body. Cancelled by Starlette when the client leaves, and that is all it does:
    cancelling it cancels the `queue.get()` it is waiting in, not the producer that fills the queue."""

    async def items() -> AsyncIterator[Item]:
        while True:
            item = await queue.get()
            yield item
            if item[0] != "token":
                return

    async with aclosing(with_keepalive(items(), settings.keepalive_s)) as events:
        async for event in events:
            if event is KEEPALIVE:
                yield KEEPALIVE_COMMENT
                continue
            kind, value = event
            if kind == "token":
                yield sse("token", {"text": value})
            elif kind == "error":
                yield sse("error", {"message": value})
            else:
                yield sse("done", {})
    # THE BUG: nothing here (or anywhere) cancels the producer when this body stops early; it would
    # take `finally: producer.cancel()` around the loop above, with the task passed in.


if __name__ == "__main__":
    serve(app, settings)
