"""Who may use the server: the Host it is addressed by, the page a request comes from, the API key.

:class:`AccessControl` (ASGI middleware) refuses, before anything is read or run:

* a request whose ``Host`` header is not one of the allowed host names (400): a web page on
  another site whose name an attacker points at this machine (DNS rebinding) sends its own
  name as the Host. The names are matched by Starlette's ``TrustedHostMiddleware``
  (``*.example.com`` allowed, ``*`` for any); by default the loopback names
  (:data:`~refineseg.serve.config.LOCAL_HOSTS`). A request without a Host header (HTTP/1.0) is not a browser's and passes;
* a state-changing request (``POST``...) whose ``Origin`` header is not the server's own
  origin, as its Host header names it (403): a page elsewhere can make a browser send a
  cross-site ``text/plain`` POST without asking, and would have it segment what it likes;
  the server's own page sends its own origin. Behind a reverse proxy, the proxy must pass the
  Host header through;
* with an API key, a request to ``/api/...`` that does not carry it (401), as
  ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``, compared in constant time. The page,
  its files, ``/healthz`` and ``/openapi.json`` stay open: they hold no data and cost nothing;
  the page asks for the key when the API answers 401 and sends it with each request.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._text import clip, printable
from .config import LOCAL_HOSTS
from .middleware import HTTPMiddleware
from .responses import error_response

__all__ = ["API_KEY_HEADER", "PROTECTED_PREFIX", "AccessControl", "host_pattern"]

# the paths an API key guards
PROTECTED_PREFIX = "/api/"
API_KEY_HEADER = "X-API-Key"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ALLOWED = "refineseg.host_allowed"  # set in the scope by the host check's inner app


def host_pattern(host: str) -> str:
    """A host name as ``TrustedHostMiddleware`` matches it: lower case, an IPv6 address in brackets.

    Args:
        host: A name (``example.com``, ``*.example.com``), an IPv4 or IPv6 address, or ``*``.

    Returns:
        The pattern.
    """
    host = host.strip().lower()
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


async def _mark_allowed(scope: Scope, receive: Receive, send: Send) -> None:
    scope[_ALLOWED] = True


async def _drop(message: Message) -> None:
    """Where the host check's own (plain-text) refusal goes: the refusal sent is JSON."""


class AccessControl(HTTPMiddleware):
    """ASGI middleware checking the Host, the Origin of state-changing requests and the API key.

    Args:
        app: The application to wrap.
        allowed_hosts: The host names the server answers to (patterns as Starlette's
            ``TrustedHostMiddleware`` takes them; ``*`` for any); ``None``: :data:`~refineseg.serve.config.LOCAL_HOSTS`.
        api_key: The key ``/api/...`` requests must carry; ``None``: no key.

    Raises:
        ValueError: If a host pattern is malformed or ``api_key`` is empty.
    """

    def __init__(self, app: ASGIApp, *, allowed_hosts: Sequence[str] | None = None, api_key: str | None = None) -> None:
        super().__init__(app)
        patterns = [host_pattern(h) for h in (LOCAL_HOSTS if allowed_hosts is None else allowed_hosts) if h.strip()]
        for pattern in patterns:
            if "*" in pattern[1:] or (pattern.startswith("*") and pattern != "*" and not pattern.startswith("*.")):
                raise ValueError(f"allowed host {pattern!r}: a wildcard must be the whole name or like *.example.com")
        if api_key is not None and not api_key:
            raise ValueError("api_key must not be empty")
        self.allowed_hosts = tuple(patterns)
        self._host_check = TrustedHostMiddleware(_mark_allowed, allowed_hosts=patterns, www_redirect=False)
        self._key = api_key.encode("utf-8") if api_key else None

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a refused request with its JSON error, or run the wrapped app.

        Args:
            scope: The ASGI connection scope.
            receive: The ASGI receive channel.
            send: The ASGI send channel.
        """
        headers = Headers(scope=scope)
        refusal = (
            await self._host_refusal(scope, receive, headers)
            or self._origin_refusal(scope, headers)
            or self._key_refusal(scope, headers)
        )
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, message, extra = refusal
        await error_response(status, message, {**extra, "Connection": "close"})(scope, receive, send)

    async def _host_refusal(self, scope: Scope, receive: Receive, headers: Headers) -> _Refusal | None:
        host = headers.get("host")
        if host is None:
            return None
        await self._host_check(scope, receive, _drop)
        if scope.pop(_ALLOWED, False):
            return None
        name = printable(clip(_split_host(host)[0], 80))
        return (
            400,
            f"this server does not answer to the host name {name!r} (the Host header); if that is its name, "
            f"start it with --allowed-hosts {name}",
            {},
        )

    def _origin_refusal(self, scope: Scope, headers: Headers) -> _Refusal | None:
        origin = headers.get("origin")
        if origin is None or scope["method"] in _SAFE_METHODS:
            return None
        if _same_origin(origin, headers.get("host")):
            return None
        shown = printable(clip(origin, 80))
        return (
            403,
            f"a {scope['method']} from a page at {shown} is refused: only this server's own page "
            "(or a client that sends no Origin header) may send one",
            {},
        )

    def _key_refusal(self, scope: Scope, headers: Headers) -> _Refusal | None:
        if self._key is None or not scope["path"].startswith(PROTECTED_PREFIX):
            return None
        given = headers.get(API_KEY_HEADER.lower())
        if given is None:
            scheme, _, token = headers.get("authorization", "").strip().partition(" ")
            given = token.strip() if scheme.lower() == "bearer" else None
        challenge = {"WWW-Authenticate": 'Bearer realm="refineseg"'}
        if given is None:
            return (
                401,
                f"this server needs an API key: send it as 'Authorization: Bearer KEY' or '{API_KEY_HEADER}: KEY'",
                challenge,
            )
        if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self._key):
            return 401, "the API key is wrong", challenge
        return None


_Refusal = tuple[int, str, dict[str, str]]


def _same_origin(origin: str, host: str | None) -> bool:
    """Whether ``origin`` (an Origin header) is the server itself as ``host`` (its Host header) names it."""
    if host is None:
        return False
    try:
        parts = urlsplit(origin.strip())
        origin_port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # a malformed port
        return False
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return False
    name, port = _split_host(host)
    return host_pattern(parts.hostname) == host_pattern(name) and origin_port == (port or _DEFAULT_PORTS[parts.scheme])


def _split_host(host: str) -> tuple[str, int | None]:
    """``(name, port)`` of a Host header (an IPv6 address without its brackets); the port ``None`` if absent or bad."""
    host = host.strip()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest.removeprefix(":")
    elif host.count(":") == 1:
        name, _, port = host.partition(":")
    else:
        name, port = host, ""
    return name, int(port) if port.isdigit() and port.isascii() else None
