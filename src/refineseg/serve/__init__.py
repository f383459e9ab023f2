"""A local web page and JSON/PNG API that segments uploaded images (``refineseg serve``).

A FastAPI application (:func:`create_app`) run on uvicorn (:func:`serve`), with one or more
worker processes. Both come with the ``[serve]`` extra.
"""

from __future__ import annotations

from .._extras import require_all

# the server's own dependencies come with the [serve] extra: say so rather than fail deep inside an import
# (python-multipart is imported as python_multipart since 0.0.13, as multipart before)
require_all(
    {"FastAPI": "fastapi", "uvicorn": "uvicorn", "python-multipart": ("python_multipart", "multipart")},
    "serve",
    purpose="serving",
)

from ..constants import DEFAULT_HOST, DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_PORT  # noqa: E402
from .app import create_app  # noqa: E402
from .config import CONFIG_ENV, ServeConfig  # noqa: E402
from .run import app_from_environment, bind, serve  # noqa: E402
from .segment import FORMATS  # noqa: E402

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_HOST",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "DEFAULT_PORT",
    "FORMATS",
    "ServeConfig",
    "app_from_environment",
    "bind",
    "create_app",
    "serve",
]
