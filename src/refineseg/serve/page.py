"""The page's files (``static/``): which names may be served, and the headers they are served with.

Only files directly inside the folder are served, by a name of letters, digits, ``_``, ``.``
and ``-`` that does not start with a dot: no sub-folders, no ``..``, no hidden files, whatever
percent-encoding a request uses. The HTML page carries a Content Security Policy that allows
nothing but the page's own files and the ``data:`` URLs of the results it shows.
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.responses import Response

from ._text import clip
from .errors import HTTPError

__all__ = ["PAGE_CSP", "STATIC_DIR", "static_file", "static_response"]

STATIC_DIR = Path(__file__).resolve().parent / "static"

PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
_STATIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


def static_file(name: str) -> Path | None:
    """The file ``name`` directly inside :data:`STATIC_DIR`, or ``None``.

    Args:
        name: The file's name, as the request gave it (percent-decoded).

    Returns:
        The path, or ``None`` for a name that is not allowed or not a file there.
    """
    if not _STATIC_NAME.match(name):
        return None
    path = STATIC_DIR / name
    try:
        if not path.is_file() or path.resolve().parent != STATIC_DIR:
            return None
    except OSError:
        return None
    return path


def static_response(name: str) -> Response:
    """The static file ``name`` with its content type; the HTML page with its security policy.

    Args:
        name: The file's name.

    Returns:
        The response (``Cache-Control: no-cache``, so an upgraded page is picked up).

    Raises:
        HTTPError: 404 for a name :func:`static_file` refuses.
    """
    path = static_file(name)
    if path is None:
        raise HTTPError(404, f"there is no static file {clip(name, 80)}")
    suffix = path.suffix.lower()
    headers = {"Cache-Control": "no-cache"}
    if suffix == ".html":
        headers |= {"Content-Security-Policy": PAGE_CSP, "Referrer-Policy": "no-referrer"}
    content_type = _CONTENT_TYPES.get(suffix, "application/octet-stream")
    return Response(path.read_bytes(), headers=headers, media_type=content_type)
