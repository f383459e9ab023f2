"""A local web page and JSON/PNG API that segments uploaded images (``refineseg serve``).

A FastAPI application (:func:`create_app`) run on uvicorn (:func:`serve`), with one or more
worker processes. Both come with the ``[serve]`` extra: ``pip install 'refineseg[serve]'``.
"""

from __future__ import annotations

import importlib.util

# the server's own dependencies come with the [serve] extra: say so rather than fail deep inside an import
# (python-multipart is imported as python_multipart since 0.0.13, as multipart before)
_MISSING = [
    name
    for name, modules in (
        ("FastAPI", ["fastapi"]),
        ("uvicorn", ["uvicorn"]),
        ("python-multipart", ["python_multipart", "multipart"]),
    )
    if all(importlib.util.find_spec(module) is None for module in modules)
]
if _MISSING:
    raise ImportError(
        f"serving needs the [serve] extra ({', '.join(_MISSING)} missing): pip install 'refineseg[serve]'"
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
