"""The responses the server sends and the headers every one of them carries.

JSON is written compactly (UTF-8, no spaces) with ``Cache-Control: no-store``; errors are
``{"error": "one sentence"}``. :class:`SecurityHeaders` adds ``X-Content-Type-Options: nosniff``
and ``Server: refineseg`` to every response, whichever part of the stack made it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from .middleware import HTTPMiddleware

__all__ = ["JSON_TYPE", "SecurityHeaders", "error_response", "json_response"]

JSON_TYPE = "application/json; charset=utf-8"


def json_response(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """``payload`` as compact UTF-8 JSON that no cache keeps.

    Args:
        payload: JSON-ready data.
        status: The HTTP status code.
        headers: Extra headers.

    Returns:
        The response.
    """
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(body, status, {"Cache-Control": "no-store", **(headers or {})}, media_type=JSON_TYPE)


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """``{"error": message}`` with ``status``.

    Args:
        status: The HTTP status code.
        message: One sentence for the client.
        headers: Extra headers (``Allow``, ``Connection: close``).

    Returns:
        The response.
    """
    return json_response({"error": message}, status, headers)


class SecurityHeaders(HTTPMiddleware):
    """ASGI middleware: ``X-Content-Type-Options: nosniff`` and ``Server: refineseg`` on every response.

    Args:
        app: The application to wrap.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the wrapped app, adding the headers to its response.

        Args:
            scope: The ASGI connection scope.
            receive: The ASGI receive channel.
            send: The ASGI send channel.
        """

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Server", "refineseg")
            await send(message)

        await self.app(scope, receive, send_with_headers)
