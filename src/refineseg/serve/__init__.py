"""A local web page and JSON/PNG API that segments uploaded images (``refineseg serve``).

A FastAPI application (:func:`create_app`) run on uvicorn (:func:`serve`), with one or more
worker processes. Both come with the ``[serve]`` extra.

The names below are imported when first used: a worker process that unpickles its uvicorn
settings imports :mod:`refineseg.serve.connections` (whose protocol class they name) before it
can answer its supervisor's health check, and must not wait for PyTorch to load first.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .._extras import require_all

# the server's own dependencies come with the [serve] extra: say so rather than fail deep inside an import
# (python-multipart is imported as python_multipart since 0.0.13, as multipart before)
require_all(
    {"FastAPI": "fastapi", "uvicorn": "uvicorn", "python-multipart": ("python_multipart", "multipart")},
    "serve",
    purpose="serving",
)

from ..constants import DEFAULT_HOST, DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_PORT  # noqa: E402

if TYPE_CHECKING:
    from .app import create_app
    from .config import CONFIG_ENV, ServeConfig
    from .run import app_from_environment, bind, serve
    from .segment import FORMATS

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

_LAZY = {
    "CONFIG_ENV": ".config",
    "FORMATS": ".segment",
    "ServeConfig": ".config",
    "app_from_environment": ".run",
    "bind": ".run",
    "create_app": ".app",
    "serve": ".run",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value
