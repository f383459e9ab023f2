"""Connections that hold nothing are closed: uvicorn's keep-alive timeout, also before the first request.

uvicorn closes a connection that sends nothing for ``timeout_keep_alive`` seconds after an
answer, but it starts that timer only once an answer has gone out: a connection that never
sends a request, or stops in the middle of its request head, stays open for ever, and a few
hundred such sockets use up the process's open files (then every client times out).
:class:`H11Protocol` is uvicorn's own h11 protocol with that one difference: the same timer,
with the same handler, also runs from the moment a connection is made, and a request head that
arrives in pieces does not restart it, so each connection must send a whole request head
within ``timeout_keep_alive`` seconds of opening or of its last answer. The size of a request
head stays bounded by h11 (``h11_max_incomplete_event_size``); a body that stalls is answered
408 by :class:`~refineseg.serve.limits.UploadLimits`; how many connections may be open is
uvicorn's ``limit_concurrency`` (more are answered 503).
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol as UvicornH11Protocol

__all__ = ["MAX_REQUEST_HEAD_BYTES", "H11Protocol"]

# the largest request head (request line and headers) h11 buffers; more is answered 400
MAX_REQUEST_HEAD_BYTES = 16 * 1024


class H11Protocol(UvicornH11Protocol):
    """uvicorn's h11 protocol whose keep-alive timer also covers a connection's first request head."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the connection, and its timer: a whole request head must come before it runs out.

        Args:
            transport: The connection's transport.
        """
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def data_received(self, data: bytes) -> None:
        """Take in bytes; the timer keeps running while the request head is incomplete.

        Args:
            data: What the client sent.
        """
        timer, self.timeout_keep_alive_task = self.timeout_keep_alive_task, None
        super().data_received(data)
        if timer is None:
            return
        head_incomplete = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
        if head_incomplete and self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = timer  # the same deadline: a trickled head does not extend it
        else:
            timer.cancel()
