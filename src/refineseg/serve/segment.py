"""The model the requests share, and the answers ``POST /api/segment`` and ``GET /api/info`` give.

Everything heavy runs off the event loop, so the server keeps accepting and answering other
requests while an image is segmented. All requests share one model, and one dedicated thread
runs it, one image at a time: on a CPU that is as fast as overlapping them (PyTorch already
uses every core for one image) and it bounds memory. Decoding the upload and encoding the
answer's PNGs run in worker threads (:func:`anyio.to_thread.run_sync`), so they overlap
another request's inference. At most :data:`DEFAULT_JOBS` requests are between decoding and
encoding at once (a capacity limiter): the others wait, without a thread, with only their
upload in memory. Requests are not batched.

What one request may cost is bounded by configuration, not by what a client sends:

* the compute budget: an image above ``max_inference_pixels`` is decoded at a reduced size
  and segmented at most at that many pixels (:func:`~refineseg.serve.uploads.decode_image`);
  its labels are answered at the upload's own size (scaled up, nearest neighbour, which is
  cheap), its overlay at the size the model saw;
* the wait queue: besides the ``jobs`` being worked on, at most ``max_queue`` requests may
  be admitted (reading or holding their upload); one more is answered 503 with
  ``Retry-After`` at once, before its body is read (:meth:`SegmentService.admission`), so the
  uploads held in memory never exceed ``(jobs + max_queue) x max_upload_bytes``;
* a client that hangs up: its request is dropped before decoding and before inference, also
  while it waits for the model, and answered 499 in the log (inference already running on
  the model finishes, its answer is dropped).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import numpy as np
from PIL import Image
from starlette.responses import Response

from ..constants import DEFAULT_MAX_INFERENCE_PIXELS, DEFAULT_MAX_QUEUE
from ..inference.outputs import PNG_COMPRESS_LEVEL
from .errors import HTTPError
from .responses import json_response
from .uploads import decode_image

if TYPE_CHECKING:
    from ..inference.segmenter import Segmenter

__all__ = ["CLIENT_GONE", "DEFAULT_JOBS", "FORMATS", "SegmentService", "scaled_labels"]

FORMATS = ("json", "png", "overlay")
# requests decoding, waiting for the model or encoding at once: each holds a decoded image
DEFAULT_JOBS = 4
# the status logged for a request whose client hung up before its answer (nginx's "client closed request")
CLIENT_GONE = 499
# how often a request waiting for the model checks whether its client is still there
DISCONNECT_POLL_S = 0.1
# Retry-After of a 503 stays within these bounds (seconds)
RETRY_AFTER_S = (1, 60)

Disconnected = Callable[[], Awaitable[bool]]


class SegmentService:
    """One :class:`Segmenter` shared by all requests, with the thread that runs it and the limits.

    Args:
        segmenter: The model and its preprocessing.
        max_upload_bytes: Larger uploads are refused with 413 (reported by :meth:`info`).
        max_pixels: Larger images are refused with 413.
        jobs: How many requests may be decoding, segmenting or encoding at once.
        max_inference_pixels: The compute budget: larger images are shrunk to this many pixels
            before inference; ``None`` or 0 segments at full resolution (the segmenter's own
            sliding windows bound the memory then, not the time).
        max_queue: How many admitted requests may wait beyond the ``jobs`` being worked on;
            more are refused with 503.

    Raises:
        ValueError: If a limit or ``jobs`` is not positive, or ``max_queue`` is negative.

    Attributes:
        admitted: Requests admitted now (reading their upload, waiting or being worked on).
        refused: Requests answered 503 because the queue was full, since the start.
        skipped: Requests dropped because their client hung up, since the start.
        segmented: Images the model segmented, since the start.
    """

    def __init__(
        self,
        segmenter: Segmenter,
        *,
        max_upload_bytes: int,
        max_pixels: int,
        jobs: int = DEFAULT_JOBS,
        max_inference_pixels: int | None = DEFAULT_MAX_INFERENCE_PIXELS,
        max_queue: int = DEFAULT_MAX_QUEUE,
    ) -> None:
        if max_upload_bytes <= 0:
            raise ValueError(f"max_upload_bytes must be positive, got {max_upload_bytes}")
        if max_pixels <= 0:
            raise ValueError(f"max_pixels must be positive, got {max_pixels}")
        if jobs <= 0:
            raise ValueError(f"jobs must be positive, got {jobs}")
        if max_inference_pixels is not None and max_inference_pixels < 0:
            raise ValueError(f"max_inference_pixels must be positive (or 0 for none), got {max_inference_pixels}")
        if max_queue < 0:
            raise ValueError(f"max_queue must be 0 or more, got {max_queue}")
        self.segmenter = segmenter
        self.max_upload_bytes = int(max_upload_bytes)
        self.max_pixels = int(max_pixels)
        self.max_inference_pixels = int(max_inference_pixels) if max_inference_pixels else None
        self.max_queue = int(max_queue)
        self.model_name = str(getattr(segmenter.model, "arch", type(segmenter.model).__name__))
        # one thread runs every inference: one image at a time, and PyTorch's thread pool is
        # always driven from the same thread (alternating between threads leaves the last one's
        # idle pool spinning while the next one works: up to a third of the throughput lost in
        # benchmarks/serve_load.py on two cores)
        self._model_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="refineseg-model")
        self.jobs = int(jobs)
        self._limiter: anyio.CapacityLimiter | None = None  # made in the event loop (anyio 3 needs one)
        self.admitted = 0
        self.refused = 0
        self.skipped = 0
        self.segmented = 0
        self._inference_s = 1.0  # a running mean of the model's time per image, for Retry-After

    def info(self) -> dict[str, Any]:
        """What ``GET /api/info`` answers: the model, its classes and colours, and the upload limits.

        Returns:
            JSON-ready data: ``model``, ``precision``, ``backend``, ``num_classes``, ``classes``, ``limits``, ``formats``.
        """
        seg = self.segmenter
        return {
            "model": self.model_name,
            "precision": seg.precision,
            "backend": seg.backend,
            "num_classes": seg.num_classes,
            "classes": [{"name": n, "color": list(c)} for n, c in zip(seg.class_names, seg.palette, strict=True)],
            "limits": {
                "max_upload_bytes": self.max_upload_bytes,
                "max_pixels": self.max_pixels,
                "max_inference_pixels": self.max_inference_pixels,
            },
            "formats": list(FORMATS),
        }

    @contextlib.contextmanager
    def admission(self) -> Iterator[None]:
        """Admit one request for the duration of the block, or refuse it with 503 when the queue is full.

        Enter it before the upload is read: a refused request's body is never read.

        Yields:
            Nothing; the request counts in :attr:`admitted` until the block ends.

        Raises:
            HTTPError: 503 with ``Retry-After`` (and ``Connection: close``) when ``jobs +
                max_queue`` requests are admitted already.
        """
        if self.admitted >= self.jobs + self.max_queue:
            self.refused += 1
            low, high = RETRY_AFTER_S
            retry = min(high, max(low, math.ceil(self.admitted * self._inference_s)))
            raise HTTPError(
                503,
                f"the server is busy ({self.admitted} requests are waiting or being segmented); try again in {retry} s",
                {"Retry-After": str(retry)},
                close=True,
            )
        self.admitted += 1
        try:
            yield
        finally:
            self.admitted -= 1

    async def segment(self, data: bytes, fmt: str, disconnected: Disconnected | None = None) -> Response:
        """Segment an uploaded image file, off the event loop.

        Decoding and encoding run in worker threads, inference in the model's own thread.

        Args:
            data: The image file's bytes.
            fmt: ``json``, ``png`` (the label image) or ``overlay``.
            disconnected: Says whether the client has hung up (``Request.is_disconnected``);
                asked before decoding, before inference and while waiting for the model.

        Returns:
            The response (see :meth:`answer`).

        Raises:
            HTTPError: 400 or 413 for an upload that is not a readable image or too large a
                one; 499 when the client hung up and the work was dropped.
            ValueError: If ``fmt`` is not one of :data:`FORMATS`.
        """
        if fmt not in FORMATS:
            raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.jobs)
        async with self._limiter:
            await self._check_client(disconnected, "decoded")
            image = await anyio.to_thread.run_sync(decode_image, data, self.max_pixels, self.max_inference_pixels)
            await self._check_client(disconnected, "segmented")
            started = time.monotonic()
            labels = await self._infer(image.rgb, disconnected)
            elapsed_s = time.monotonic() - started
            self._inference_s = 0.8 * self._inference_s + 0.2 * elapsed_s
            size = (image.width, image.height)
            return await anyio.to_thread.run_sync(
                self.answer, image.rgb, labels, fmt, round(elapsed_s * 1000.0, 1), size
            )

    async def _check_client(self, disconnected: Disconnected | None, step: str) -> None:
        if disconnected is not None and await disconnected():
            self.skipped += 1
            raise HTTPError(CLIENT_GONE, f"the client hung up before its image was {step}", close=True)

    async def _infer(self, rgb: np.ndarray, disconnected: Disconnected | None) -> np.ndarray:
        """The labels of ``rgb`` from the model's thread; dropped from its queue if the client hangs up."""
        future = self._model_thread.submit(self._run_model, rgb)
        waiter = asyncio.wrap_future(future)
        while True:
            done, _ = await asyncio.wait({waiter}, timeout=DISCONNECT_POLL_S if disconnected is not None else None)
            if done:
                return waiter.result()
            if disconnected is not None and await disconnected():
                if future.cancel():  # still queued: the model never sees it
                    waiter.cancel()
                else:  # running: it finishes, its result is dropped
                    waiter.add_done_callback(lambda f: f.cancelled() or f.exception())
                self.skipped += 1
                raise HTTPError(CLIENT_GONE, "the client hung up before its image was segmented", close=True)

    def _run_model(self, rgb: np.ndarray) -> np.ndarray:
        labels = self.segmenter(rgb)
        self.segmented += 1
        return labels

    def answer(
        self,
        rgb: np.ndarray,
        labels: np.ndarray,
        fmt: str,
        elapsed_ms: float,
        size: tuple[int, int] | None = None,
    ) -> Response:
        """The response for an image and its labels, in ``fmt`` (run in a worker thread).

        Args:
            rgb: The image as the model saw it.
            labels: Its class indices, at the size of ``rgb``.
            fmt: ``json``, ``png`` (the label image) or ``overlay``.
            elapsed_ms: How long inference took, waiting for the model included.
            size: The upload's own ``(width, height)`` when the model saw it shrunk: the labels
                are scaled up to it (nearest neighbour); ``None``: the size of ``rgb``.

        Returns:
            For ``png`` the label image and for ``overlay`` the colour overlay (PNG, inline);
            for ``json`` the result: ``width``, ``height`` (the upload's), ``inference_width``,
            ``inference_height`` (what the model saw), ``model``, ``elapsed_ms``, ``classes``
            (each class's ``name``, ``color``, ``pixels`` and ``share``, largest first, counted
            at the upload's size) and the base64 PNGs ``overlay_png`` (at the model's size) and
            ``labels_png`` (at the upload's size).
        """
        seg = self.segmenter
        seen = labels  # at the model's size, as the overlay is drawn
        inference_height, inference_width = seen.shape
        if size is not None and size != (inference_width, inference_height):
            labels = scaled_labels(seen, size)
        if fmt == "png":
            return _png_response(_png(seg.label_image(labels)), "labels.png")
        overlay = _png(seg.overlay(rgb, seen))
        if fmt == "overlay":
            return _png_response(overlay, "overlay.png")
        height, width = labels.shape
        colors = dict(zip(seg.class_names, seg.palette, strict=True))
        classes = [
            {"name": name, "color": list(colors[name]), "pixels": pixels, "share": pixels / labels.size}
            for name, pixels in seg.class_pixels(labels).items()
        ]
        result = {
            "width": width,
            "height": height,
            "inference_width": inference_width,
            "inference_height": inference_height,
            "model": self.model_name,
            "elapsed_ms": elapsed_ms,
            "classes": classes,
            "overlay_png": _b64(overlay),
            "labels_png": _b64(_png(seg.label_image(labels))),
        }
        return json_response(result)


def scaled_labels(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``labels`` resized to ``(width, height)``, nearest neighbour (class indices are not blended).

    Args:
        labels: An ``HxW`` label array.
        size: The ``(width, height)`` wanted.

    Returns:
        The resized labels, of the same dtype.
    """
    return np.asarray(Image.fromarray(labels).resize(size, Image.Resampling.NEAREST)).astype(labels.dtype, copy=False)


def _png_response(data: bytes, filename: str) -> Response:
    return Response(data, media_type="image/png", headers={"Content-Disposition": f'inline; filename="{filename}"'})


def _png(im: Image.Image) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
