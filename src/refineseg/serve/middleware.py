"""The base of refineseg's ASGI middlewares: each sees HTTP requests only, lifespan events pass through."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["HTTPMiddleware"]


class HTTPMiddleware:
    """Wrap an ASGI app; HTTP requests go to :meth:`handle`, every other scope straight to the app.

    Args:
        app: The application to wrap.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch one ASGI connection.

        Args:
            scope: The ASGI connection scope.
            receive: The ASGI receive channel.
            send: The ASGI send channel.
        """
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one HTTP request, usually by running ``self.app`` with wrapped channels.

        Args:
            scope: The ASGI HTTP scope.
            receive: The ASGI receive channel.
            send: The ASGI send channel.
        """
        raise NotImplementedError
