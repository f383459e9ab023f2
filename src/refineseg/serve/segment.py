"""The model the requests share, and the answers ``POST /api/segment`` and ``GET /api/info`` give.

Everything heavy runs off the event loop, so the server keeps accepting and answering other
requests while an image is segmented. All requests share one model, and one dedicated thread
runs it, one image at a time: on a CPU that is as fast as overlapping them (PyTorch already
uses every core for one image) and it bounds memory. Decoding the upload and encoding the
answer's PNGs run in worker threads (:func:`anyio.to_thread.run_sync`), so they overlap
another request's inference. At most :data:`DEFAULT_JOBS` requests are between decoding and
encoding at once (a capacity limiter): the others wait, without a thread, with only their
upload in memory. Requests are not batched.
"""

from __future__ import annotations

import asyncio
import base64
import io
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import numpy as np
from PIL import Image
from starlette.responses import Response

from .responses import json_response
from .uploads import decode_image

if TYPE_CHECKING:
    from ..inference.segmenter import Segmenter

__all__ = ["DEFAULT_JOBS", "FORMATS", "SegmentService"]

FORMATS = ("json", "png", "overlay")
# requests decoding, waiting for the model or encoding at once: each holds a decoded image
DEFAULT_JOBS = 4


class SegmentService:
    """One :class:`Segmenter` shared by all requests, with the thread that runs it and the limiter.

    Args:
        segmenter: The model and its preprocessing.
        max_upload_bytes: Larger uploads are refused with 413 (reported by :meth:`info`).
        max_pixels: Larger images are refused with 413.
        jobs: How many requests may be decoding, segmenting or encoding at once.

    Raises:
        ValueError: If a limit or ``jobs`` is not positive.
    """

    def __init__(
        self, segmenter: Segmenter, *, max_upload_bytes: int, max_pixels: int, jobs: int = DEFAULT_JOBS
    ) -> None:
        if max_upload_bytes <= 0:
            raise ValueError(f"max_upload_bytes must be positive, got {max_upload_bytes}")
        if max_pixels <= 0:
            raise ValueError(f"max_pixels must be positive, got {max_pixels}")
        if jobs <= 0:
            raise ValueError(f"jobs must be positive, got {jobs}")
        self.segmenter = segmenter
        self.max_upload_bytes = int(max_upload_bytes)
        self.max_pixels = int(max_pixels)
        self.model_name = str(getattr(segmenter.model, "arch", type(segmenter.model).__name__))
        # one thread runs every inference: one image at a time, and PyTorch's thread pool is
        # always driven from the same thread (alternating between threads leaves the last one's
        # idle pool spinning while the next one works: up to a third of the throughput lost in
        # benchmarks/serve_load.py on two cores)
        self._model_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="refineseg-model")
        self.jobs = int(jobs)
        self._limiter: anyio.CapacityLimiter | None = None  # made in the event loop (anyio 3 needs one)

    def info(self) -> dict[str, Any]:
        """What ``GET /api/info`` answers: the model, its classes and colours, and the upload limits.

        Returns:
            JSON-ready data: ``model``, ``precision``, ``num_classes``, ``classes``, ``limits``, ``formats``.
        """
        seg = self.segmenter
        return {
            "model": self.model_name,
            "precision": seg.precision,
            "num_classes": seg.num_classes,
            "classes": [{"name": n, "color": list(c)} for n, c in zip(seg.class_names, seg.palette, strict=True)],
            "limits": {"max_upload_bytes": self.max_upload_bytes, "max_pixels": self.max_pixels},
            "formats": list(FORMATS),
        }

    async def segment(self, data: bytes, fmt: str) -> Response:
        """Segment an uploaded image file, off the event loop.

        Decoding and encoding run in worker threads, inference in the model's own thread.

        Args:
            data: The image file's bytes.
            fmt: ``json``, ``png`` (the label image) or ``overlay``.

        Returns:
            The response (see :meth:`answer`).

        Raises:
            HTTPError: 400 or 413 for an upload that is not a readable image or too large a one.
            ValueError: If ``fmt`` is not one of :data:`FORMATS`.
        """
        if fmt not in FORMATS:
            raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.jobs)
        async with self._limiter:
            rgb = await anyio.to_thread.run_sync(decode_image, data, self.max_pixels)
            started = time.monotonic()
            labels = await asyncio.wrap_future(self._model_thread.submit(self.segmenter, rgb))
            elapsed_ms = round((time.monotonic() - started) * 1000.0, 1)
            return await anyio.to_thread.run_sync(self.answer, rgb, labels, fmt, elapsed_ms)

    def answer(self, rgb: np.ndarray, labels: np.ndarray, fmt: str, elapsed_ms: float) -> Response:
        """The response for an image and its labels, in ``fmt`` (run in a worker thread).

        Args:
            rgb: The decoded image.
            labels: Its class indices.
            fmt: ``json``, ``png`` (the label image) or ``overlay``.
            elapsed_ms: How long inference took, waiting for the model included.

        Returns:
            For ``png`` and ``overlay`` the PNG (``image/png``, inline); for ``json`` the result:
            ``width``, ``height``, ``model``, ``elapsed_ms``, ``classes`` (each class's ``name``,
            ``color``, ``pixels`` and ``share``, largest first) and the base64 PNGs
            ``overlay_png`` and ``labels_png``.
        """
        seg = self.segmenter
        if fmt == "png":
            return _png_response(_png(seg.label_image(labels)), "labels.png")
        if fmt == "overlay":
            return _png_response(_png(seg.overlay(rgb, labels), compress_level=3), "overlay.png")
        height, width = labels.shape
        colors = dict(zip(seg.class_names, seg.palette, strict=True))
        classes = [
            {"name": name, "color": list(colors[name]), "pixels": pixels, "share": pixels / labels.size}
            for name, pixels in seg.class_pixels(labels).items()
        ]
        result = {
            "width": width,
            "height": height,
            "model": self.model_name,
            "elapsed_ms": elapsed_ms,
            "classes": classes,
            "overlay_png": _b64(_png(seg.overlay(rgb, labels), compress_level=3)),
            "labels_png": _b64(_png(seg.label_image(labels))),
        }
        return json_response(result)


def _png_response(data: bytes, filename: str) -> Response:
    return Response(data, media_type="image/png", headers={"Content-Disposition": f'inline; filename="{filename}"'})


def _png(im: Image.Image, compress_level: int = 6) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
