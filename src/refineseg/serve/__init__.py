"""A local web page and JSON/PNG API that segments uploaded images (``refineseg serve``).

Standard library only (``http.server``), so serving a model needs nothing beyond what
``refineseg`` already depends on.
"""

from __future__ import annotations

from .app import (
    DEFAULT_HOST,
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_PORT,
    SegmentationServer,
    check_can_listen,
    make_server,
    serve,
)

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "DEFAULT_PORT",
    "SegmentationServer",
    "check_can_listen",
    "make_server",
    "serve",
]
