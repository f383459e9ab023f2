"""The upload limit, enforced before and while a request body is read (ASGI middleware).

A ``Content-Length`` above the limit is refused with 413 at once, before a byte of the body is
read: uvicorn sends ``100 Continue`` only when the application starts reading, so a client that
asks first (``Expect: 100-continue``, as curl does for large files) gets the refusal instead
and never sends the body. A body without ``Content-Length`` (``Transfer-Encoding: chunked``)
is counted as it streams in and cut with 413 as soon as it passes the limit, so no more than
the limit is ever held. A body that stalls for :data:`READ_TIMEOUT_S` is answered with 408.
Each refusal ends the connection, since the rest of the body was not read (any answer sent
before the body was read in full says ``Connection: close``: a 404, 405, 400 for a bad
``format=``, a refused Host, Origin or key, a 503); a client that is still sending gets the
whole answer first, and its body is read and thrown away for up to
:data:`DISCARD_S` before the connection ends, so that it can read the answer (closing a socket
with unread data resets the connection).
"""

from __future__ import annotations

import anyio
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._text import too_large
from .errors import HTTPError
from .middleware import HTTPMiddleware
from .responses import error_response

__all__ = ["DISCARD_S", "READ_TIMEOUT_S", "UploadLimits"]

# a slow or stalled client is answered with 408 after waiting this long for the next part of its body
READ_TIMEOUT_S = 60.0
# after refusing a body that is still coming, how long its rest is read and thrown away, so that
# closing the connection does not reset it before the client has read the answer
DISCARD_S = 2.0


class UploadLimits(HTTPMiddleware):
    """ASGI middleware refusing request bodies over ``max_bytes`` (413) and stalled ones (408).

    The refusal of a streamed body is raised as an :class:`~refineseg.serve.errors.HTTPError`
    from ``receive``, inside whatever reads the body, and answered by the app's error handlers.

    Args:
        app: The application to wrap.
        max_bytes: The largest request body accepted.
        read_timeout_s: How long to wait for each part of a body.

    Raises:
        ValueError: If ``max_bytes`` or ``read_timeout_s`` is not positive.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, read_timeout_s: float = READ_TIMEOUT_S) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        if read_timeout_s <= 0:
            raise ValueError(f"read_timeout_s must be positive, got {read_timeout_s}")
        super().__init__(app)
        self.max_bytes = int(max_bytes)
        self.read_timeout_s = float(read_timeout_s)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse an announced oversized body at once, else run the app with a counting ``receive``.

        Args:
            scope: The ASGI connection scope.
            receive: The ASGI receive channel.
            send: The ASGI send channel.
        """
        headers = Headers(scope=scope)
        # a client that asked "Expect: 100-continue" sends its body only once the app starts reading
        waits_for_continue = headers.get("expect", "").strip().lower() == "100-continue"
        length = headers.get("content-length", "").strip()
        has_body = "transfer-encoding" in headers or (length.isdigit() and int(length) > 0)
        received = 0
        complete = False
        reading = False

        async def limited_receive() -> Message:
            nonlocal received, complete, reading
            reading = True
            if complete:  # the body is in: later calls only wait for a disconnect
                return await receive()
            try:
                with anyio.fail_after(self.read_timeout_s):
                    message = await receive()
            except TimeoutError:
                raise HTTPError(
                    408, "the upload was too slow; the server stopped waiting for the image", close=True
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if received > self.max_bytes:
                    raise HTTPError(413, too_large(self.max_bytes), close=True)
            elif message["type"] == "http.disconnect":
                complete = True
            return message

        async def discard_rest() -> None:
            nonlocal complete
            with anyio.move_on_after(DISCARD_S):
                while not complete:
                    message = await receive()
                    complete = message["type"] != "http.request" or not message.get("more_body", False)

        closing = False

        async def send_then_discard(message: Message) -> None:
            # An answer that ends the connection while the client is still sending its body: closing
            # the socket on unread data resets the connection, and the client may lose the answer
            # before reading it. So the answer goes out whole, then the rest of the body is read
            # and thrown away (for DISCARD_S at most), then the connection ends.
            nonlocal closing
            if message["type"] == "http.response.start":
                closing = any(k.lower() == b"connection" and v.lower() == b"close" for k, v in message["headers"])
                if has_body and not complete and not closing:
                    # an answer before the body was read (a refusal): the connection cannot carry
                    # another request, whose start would be lost in the rest of this body
                    closing = True
                    message = {**message, "headers": [*message["headers"], (b"connection", b"close")]}
            sending = not complete and (reading or not waits_for_continue)
            if message["type"] == "http.response.body" and not message.get("more_body") and closing and sending:
                await send({**message, "more_body": True})
                await discard_rest()
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        if length.isdigit() and int(length) > self.max_bytes:
            response = error_response(413, too_large(self.max_bytes, int(length)), {"Connection": "close"})
            await response(scope, receive, send_then_discard)
            return
        await self.app(scope, limited_receive, send_then_discard)
