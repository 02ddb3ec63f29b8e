"""Shared plumbing of the FastAPI reference targets (fastapi_good.py, fastapi_leaky.py).

Nothing in here decides whether a cancel reaches the provider: that is each target's own file, so the
two can be read side by side. This module holds what both need and what would only distract there:

- `Settings`: the environment contract every cancelbench target follows.
- `anthropic_client()`: the SDK client, configured the way a benchmark target needs it.
- `sse()` and `KEEPALIVE_COMMENT`: the Server-Sent Events wire format of the contract.
- `with_keepalive()`: merges a keepalive tick into any async iterator.
- `serve()`: runs uvicorn and prints the one `listening on ...` line the runner waits for.

Written for Python 3.9+ (the project's floor): no `aiter`/`anext` builtins, no `X | Y` annotations at
runtime.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from typing import Any, AsyncIterator, Optional, TypeVar, Union

import anthropic
import uvicorn

try:  # Python 3.10+
    from contextlib import aclosing
except ImportError:  # pragma: no cover - Python 3.9
    from contextlib import asynccontextmanager

    @asynccontextmanager  # type: ignore[no-redef]
    async def aclosing(thing: Any) -> AsyncIterator[Any]:
        try:
            yield thing
        finally:
            await thing.aclose()


__all__ = [
    "KEEPALIVE",
    "KEEPALIVE_COMMENT",
    "SSE_HEADERS",
    "Settings",
    "aclosing",
    "anthropic_client",
    "serve",
    "sse",
    "with_keepalive",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """The target contract's environment. ANTHROPIC_BASE_URL is not here: the `anthropic` SDK reads it
    itself, exactly as it would in production (ANTHROPIC_API_KEY: see anthropic_client())."""

    host: str
    port: int
    model: str
    max_tokens: int
    keepalive_s: float  # 0 = no keepalive comments

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            host=os.environ.get("HOST") or "127.0.0.1",
            port=_int_env("PORT", 3000, 0, 65535),  # 0 = any free port; the real one is printed
            model=os.environ.get("MODEL") or "claude-sonnet-4-6",
            max_tokens=_int_env("MAX_TOKENS", 4096, 1),
            # The WHATWG HTML spec suggests a comment about every 15 s; proxies commonly cut streams
            # that stay silent for 30-60 s, and a long time to first token is exactly such a silence.
            keepalive_s=_int_env("KEEPALIVE_MS", 15000, 0) / 1000,
        )


def _int_env(name: str, default: int, minimum: int, maximum: int = 2**53) -> int:
    """An integer variable within [minimum, maximum], `default` when unset; anything else stops the
    process with a message (a typo must not silently become a default)."""
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        value: Optional[int] = int(raw)
    except ValueError:
        value = None
    if value is None or not minimum <= value <= maximum:
        raise SystemExit(f"{name} must be an integer from {minimum} to {maximum}, got {raw!r}")
    return value


def anthropic_client() -> anthropic.AsyncAnthropic:
    """One AsyncAnthropic for the process (it owns the connection pool).

    - The base URL comes from ANTHROPIC_BASE_URL, which the SDK reads itself: pointing a target at the
      mock provider takes no code change.
    - The key falls back to a placeholder: these targets are meant for the mock provider, which accepts
      any key (the SDK would refuse to start without one).
    - max_retries=0: a retried request is a second generation under the same correlation id. The
      reference targets keep one client stream = one provider generation, so the ledger reads
      unambiguously (the Node targets do the same). A production app would usually keep the retries.
    """
    return anthropic.AsyncAnthropic(
        api_key=os.environ.get("ANTHROPIC_API_KEY") or "cancelbench-placeholder-key",
        max_retries=0,
    )


# ---------------------------------------------------------------------------------------------------
# Server-Sent Events
# ---------------------------------------------------------------------------------------------------

# no-cache: an SSE stream must never be served from a cache. X-Accel-Buffering: no tells nginx (and
# the proxies that copy its convention) not to buffer the body, or tokens would arrive in bursts.
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

# A comment line: EventSource and SSE parsers ignore it, but it is bytes on the wire, so idle-timeout
# proxies keep the connection open during a long time to first token.
KEEPALIVE_COMMENT = ": keepalive\n\n"


def sse(event: str, data: dict[str, Any]) -> str:
    """One SSE event. json.dumps escapes CR and LF inside strings, so `data` is always one line (a raw
    newline in a token would otherwise end the event early); compact separators match the contract's
    `{"text":"..."}`, and ensure_ascii=False sends UTF-8 as is rather than as \\uXXXX escapes."""
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event}\ndata: {payload}\n\n"


# ---------------------------------------------------------------------------------------------------
# Keepalive merging
# ---------------------------------------------------------------------------------------------------


class _Keepalive:
    """The type of KEEPALIVE, so `item is KEEPALIVE` narrows for type checkers."""

    def __repr__(self) -> str:
        return "KEEPALIVE"


KEEPALIVE = _Keepalive()


async def with_keepalive(source: AsyncIterator[T], interval_s: float) -> AsyncIterator[Union[T, _Keepalive]]:
    """Yields the items of `source` and, every `interval_s` seconds on a fixed schedule, `KEEPALIVE`.

    Use it under `aclosing(...)`: a `break` out of an `async for` does NOT close the async generator
    (Python leaves that to the garbage collector), and closing it is what cancels a read still pending.

    The next item is awaited in its own task, and a tick does not cancel that task: it stays pending
    across the tick. Cancelling a read on timeout (asyncio.wait_for) would be simpler and wrong: it
    throws CancelledError into the middle of the SDK's SSE parser and breaks the provider stream.
    """
    if interval_s <= 0:
        async for item in source:
            yield item
        return

    loop = asyncio.get_running_loop()
    iterator = source.__aiter__()
    next_tick = loop.time() + interval_s
    pending: Optional[asyncio.Future[T]] = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=max(0.0, next_tick - loop.time()))
            if not done:
                # Fixed schedule (every interval while open), not "after interval of silence": the
                # contract says every KEEPALIVE_MS, and a fixed schedule is the same with or without
                # traffic, so a reader can count on it. After a stall (a busy loop), skip the missed
                # ticks rather than send a burst of them.
                next_tick = max(next_tick + interval_s, loop.time())
                yield KEEPALIVE
                continue
            finished, pending = pending, None
            try:
                item = finished.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        if pending is not None and not pending.done():
            # The consumer left (break, return, error or cancellation) while a read was pending:
            # cancel it, and wait until it has unwound so that whoever closes `source` next (the
            # caller's `async with`) does not close it under a read still running in another task.
            pending.cancel()
            await asyncio.wait({pending})


# ---------------------------------------------------------------------------------------------------
# Serving
# ---------------------------------------------------------------------------------------------------


class _AnnouncingServer(uvicorn.Server):
    """uvicorn.Server that prints `listening on http://host:port` once its socket is accepting.

    Not from a FastAPI lifespan/startup hook: uvicorn runs the lifespan startup *before* it binds the
    socket, so a runner that connects on that line could be refused. And printing the bound port, not
    the requested one, makes PORT=0 (any free port) usable: no race between picking a port and binding it.
    """

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)
        if not self.started:  # a failed bind already logged its error and exited
            return
        host, port = self.servers[0].sockets[0].getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        print(f"listening on http://{shown}:{port}", flush=True)


# On SIGTERM/SIGINT uvicorn stops accepting and waits for open responses to finish; an LLM stream can
# take minutes (and never finishes with keepalives and a client that stays), so after this grace period it
# cancels them. For the good target that is one more client disconnect: its provider streams are closed.
SHUTDOWN_GRACE_S = 1


def serve(app: Any, settings: Settings) -> None:
    """Runs `app` until SIGINT/SIGTERM. log_level warning keeps stdout/stderr quiet (no access log)."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    _AnnouncingServer(config).run()
