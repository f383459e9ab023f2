"""One line on stderr per request, written when its answer has been sent (ASGI middleware).

The line: ``CLIENT HH:MM:SS "METHOD PATH HTTP/1.1" STATUS SIZE DURATION``, with what the client
sent clipped and its non-printable characters replaced, so a request cannot forge log lines.
"""

from __future__ import annotations

import sys
import time

from starlette.types import Message, Receive, Scope, Send

from ._text import clip, printable, size
from .middleware import HTTPMiddleware

__all__ = ["AccessLog"]


class AccessLog(HTTPMiddleware):
    """ASGI middleware writing one line per answered request to ``sys.stderr``.

    Args:
        app: The application to wrap.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the wrapped app, then log its answer.

        Args:
            scope: The ASGI connection scope.
            receive: The ASGI receive channel.
            send: The ASGI send channel.
        """
        started = time.monotonic()
        status: int | None = None
        sent = 0

        async def counting_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            if status is not None:
                print(_line(scope, status, sent, time.monotonic() - started), file=sys.stderr, flush=True)


def _line(scope: Scope, status: int, sent: int, seconds: float) -> str:
    client = scope.get("client")
    who = client[0] if client else "-"
    path = scope.get("raw_path") or scope.get("path", "").encode("utf-8")
    query = scope.get("query_string", b"")
    target = path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
    request = clip(printable(f"{scope['method']} {target} HTTP/{scope.get('http_version', '1.1')}"), 200)
    return f'{who} {time.strftime("%H:%M:%S")} "{request}" {status} {size(sent)} {seconds * 1000.0:.0f} ms'
