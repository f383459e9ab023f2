"""Every failure a client can cause becomes ``{"error": "..."}`` in one sentence, with its status.

:class:`HTTPError` is what the server's own code raises. :func:`add_error_handlers` turns it and
Starlette's routing errors (404, 405 with ``Allow``) into JSON errors; :class:`CatchAll` answers anything unexpected with a 500 whose message points to the
log, and prints the traceback there, never to the client.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Mapping

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

from ._text import clip
from .middleware import HTTPMiddleware
from .responses import error_response

__all__ = ["CatchAll", "HTTPError", "add_error_handlers"]

_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class HTTPError(StarletteHTTPException):
    """A request the server refuses; sent to the client as ``{"error": message}`` with ``status``.

    Args:
        status: The HTTP status code.
        message: One sentence for the client.
        headers: Extra response headers (``Allow`` for a 405).
        close: Whether to end the connection after the answer (for a request whose body was
            left unread, which the next request on the connection would otherwise start with).
    """

    def __init__(
        self, status: int, message: str, headers: Mapping[str, str] | None = None, *, close: bool = False
    ) -> None:
        all_headers = dict(headers or {})
        if close:
            all_headers["Connection"] = "close"
        super().__init__(status, message, all_headers or None)
        self.message = message


def add_error_handlers(app: FastAPI) -> None:
    """Answer routing and :class:`HTTPError` failures of ``app`` with JSON errors.

    Args:
        app: The application.
    """
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    path = clip(request.url.path, 80)
    if isinstance(exc, HTTPError):
        return error_response(exc.status_code, exc.message, exc.headers)
    if exc.status_code == 404:
        return error_response(404, f"there is nothing at {path}; try GET / or POST /api/segment")
    if exc.status_code == 405:
        methods = _allowed_methods(request)
        return error_response(
            405,
            f"{request.method} is not allowed on {path}; use {' or '.join(methods)}",
            {"Allow": ", ".join(methods)},
        )
    text = str(exc.detail).rstrip(".")
    return error_response(exc.status_code, text[:1].lower() + text[1:], exc.headers)


def _allowed_methods(request: Request) -> list[str]:
    """The methods of the routes whose path matches the request's (the ``Allow`` header of a 405)."""
    found: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            found |= set(getattr(route, "methods", None) or ())
    return sorted(found, key=lambda m: (_METHOD_ORDER.index(m) if m in _METHOD_ORDER else len(_METHOD_ORDER), m))


class CatchAll(HTTPMiddleware):
    """ASGI middleware: an unexpected exception becomes a JSON 500; its traceback goes to stderr.

    Args:
        app: The application to wrap.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the wrapped app; answer 500 if it fails before it has answered.

        Args:
            scope: The ASGI connection scope.
            receive: The ASGI receive channel.
            send: The ASGI send channel.
        """
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            if started:
                raise  # too late for an answer: the server closes the connection
            traceback.print_exc(file=sys.stderr)
            response = error_response(500, "the server failed on this request; its log has the details")
            await response(scope, receive, send)
