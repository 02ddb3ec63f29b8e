"""Streams one message from an Anthropic-compatible endpoint with the official `anthropic` SDK.

cancelbench's Python check: run against the mock provider, it shows that a client which stops reading
(`break` out of the stream, the Python equivalent of "Stop generating") makes the SDK close the HTTP
response, which the provider records as a disconnect and stops billing.

    .venv/bin/python examples/python/stream_client.py --base-url http://127.0.0.1:8787 \
        --marker-id demo-1 --break-after 5

Prints one JSON line to stdout:
    {"deltas": n, "text": "...", "stop_reason": ..., "output_tokens": ...}
`stop_reason` and `output_tokens` come from the final message, so they are null when the script broke
out early (there is no final message then).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Optional

import anthropic

# How long the process stays alive after leaving the stream early. The provider must notice the
# disconnect while we linger: if it only noticed it at process exit, the disconnect would have come from
# the OS tearing down the socket, not from the SDK closing the stream, and a long-lived server (which
# does not exit after a cancel) would leak the generation. 0.3 s is far above the provider's reaction
# time (~1 ms on loopback) and short enough not to slow the tests down.
LINGER_AFTER_BREAK_S = 0.3


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--base-url",
        default=os.environ.get("ANTHROPIC_BASE_URL"),
        help="API base URL, e.g. http://127.0.0.1:8787 (default: $ANTHROPIC_BASE_URL)",
    )
    parser.add_argument(
        "--marker-id",
        required=True,
        help="correlation id: the prompt carries [cb:<id>] so the provider's ledger can find this stream",
    )
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="per-request override carried in the marker, e.g. outputTokens=30 (repeatable)",
    )
    parser.add_argument(
        "--break-after",
        type=int,
        default=None,
        metavar="N",
        help="stop reading after N text deltas (simulates 'Stop generating'); default: read to the end",
    )
    # Any model name works against the mock; this one is not on the SDK's deprecation list (no warning).
    parser.add_argument("--model", default="claude-haiku-4-5")
    parser.add_argument("--max-tokens", type=int, default=1024)
    args = parser.parse_args(argv)
    if not args.base_url:
        parser.error("--base-url is required (or set ANTHROPIC_BASE_URL)")
    if args.break_after is not None and args.break_after < 1:
        parser.error("--break-after must be >= 1")
    for pair in args.override:
        # Spaces or "]" would end the marker early and the provider would silently ignore the rest.
        if "=" not in pair or any(c.isspace() or c == "]" for c in pair):
            parser.error(f"--override {pair!r} must look like KEY=VALUE, without spaces or ']'")
    return args


def marker(correlation_id: str, overrides: list[str]) -> str:
    """The correlation marker, e.g. [cb:run1-7 outputTokens=30]."""
    return "[cb:" + " ".join([correlation_id, *overrides]) + "]"


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    client = anthropic.Anthropic(
        base_url=args.base_url,
        # The mock provider accepts any key but rejects a missing one, like the real API.
        api_key=os.environ.get("ANTHROPIC_API_KEY") or "test-key",
        # One request, one generation: a silent retry would put a second generation in the ledger and
        # hide the failure that caused it.
        max_retries=0,
        timeout=30.0,
    )

    deltas = 0
    chunks: list[str] = []
    broke = False
    final = None
    # Leaving the `with` block, by `break` or otherwise, closes the HTTP response. That close is what a
    # server sees as the client going away; merely not reading any more would leave the socket open and
    # the generation (and its bill) running.
    with client.messages.stream(
        model=args.model,
        max_tokens=args.max_tokens,
        messages=[{"role": "user", "content": f"Say something long. {marker(args.marker_id, args.override)}"}],
    ) as stream:
        for text in stream.text_stream:
            deltas += 1
            chunks.append(text)
            if args.break_after is not None and deltas >= args.break_after:
                broke = True
                break
        if not broke:
            # The stream was read to its end, so this returns at once with the accumulated message.
            final = stream.get_final_message()

    result = {
        "deltas": deltas,
        "text": "".join(chunks),
        "stop_reason": final.stop_reason if final else None,
        "output_tokens": final.usage.output_tokens if final else None,
    }
    print(json.dumps(result), flush=True)

    if broke:
        # Stay alive so that the disconnect, if the provider saw one, was caused by the SDK's close above
        # and not by the process exiting (see LINGER_AFTER_BREAK_S).
        time.sleep(LINGER_AFTER_BREAK_S)
    return 0


if __name__ == "__main__":
    sys.exit(main())
