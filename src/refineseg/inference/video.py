"""Segment a video frame by frame into an overlay MP4 (and optionally a label PNG per frame), with PyAV.

Frames are decoded, segmented in batches of one size, blended and encoded as they stream,
so a long video never sits in memory; the MP4 is written atomically.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .._extras import require
from .._io import atomic_write
from .._progress import progress_bar
from .images import ImageReadError
from .inputs import InputItem
from .outputs import OutputOptions, save_label_png
from .segmenter import Segmenter

__all__ = ["predict_video"]


def predict_video(
    segmenter: Segmenter,
    item: InputItem,
    output: Path,
    options: OutputOptions,
    *,
    batch_size: int = 4,
    progress: bool = True,
) -> tuple[int, list[Path]]:
    """Overlay every frame of a video into an H.264 MP4 (MPEG-4 where libx264 is missing).

    Args:
        segmenter: What segments the frames.
        item: The video input.
        output: The output folder.
        options: ``alpha`` and ``video_labels`` apply.
        batch_size: Frames segmented together.
        progress: Show a progress bar over the frames.

    Returns:
        The number of frames, and the files written (the MP4 first).

    Raises:
        ImportError: PyAV is missing (the message says what to install).
        ImageReadError: The file is not a readable video or has no frames.
    """
    av = require("av", "video", purpose="reading videos", name="PyAV")
    results: list[tuple[int, list[Path]]] = []
    target = atomic_write(
        output / f"{item.name}_overlay.mp4",
        lambda tmp: results.append(_encode(av, tmp, segmenter, item, output, options, batch_size, progress)),
    )
    count, labels = results[0]
    return count, [target, *labels]


def _encode(
    av: ModuleType,
    tmp: str,
    segmenter: Segmenter,
    item: InputItem,
    output: Path,
    options: OutputOptions,
    batch_size: int,
    progress: bool,
) -> tuple[int, list[Path]]:
    try:
        source = av.open(str(item.path))
    except av.FFmpegError as exc:
        raise ImageReadError(f"{item.path}: not a readable video ({exc})") from None
    written: list[Path] = []
    count = 0
    with source, av.open(tmp, mode="w", format="mp4") as sink:
        if not source.streams.video:
            raise ImageReadError(f"{item.path}: has no video stream")
        stream = source.streams.video[0]
        video: Any = None  # added at the first frame, whose size it takes
        bar = progress_bar(total=stream.frames or None, show=progress, desc=item.path.name, unit="frame", leave=False)
        frames = _decoded(av, source, stream, item.path)
        for rgb, labels in _segmented(segmenter, frames, batch_size):
            if video is None:
                video = sink.add_stream(
                    "libx264" if "libx264" in av.codecs_available else "mpeg4", rate=stream.average_rate or 25
                )
                video.pix_fmt = "yuv420p"
                video.width, video.height = _even(rgb.shape[1]), _even(rgb.shape[0])
            blended = _pad_even(np.asarray(segmenter.overlay(rgb, labels, alpha=options.alpha)))
            sink.mux(video.encode(av.VideoFrame.from_ndarray(blended)))
            if options.video_labels:
                written.append(save_label_png(segmenter, labels, output / f"{item.name}_labels" / f"{count:06d}.png"))
            count += 1
            bar.update(1)
        bar.close()
        if video is None:
            raise ImageReadError(f"{item.path}: the video has no frames")
        sink.mux(video.encode(None))  # flush the encoder
    return count, written


def _decoded(av: ModuleType, source: Any, stream: Any, path: Path) -> Iterator[np.ndarray]:
    """The video's frames as RGB arrays; a decoding error names the file."""
    try:
        for frame in source.decode(stream):
            yield frame.to_ndarray(format="rgb24")
    except av.FFmpegError as exc:
        raise ImageReadError(f"{path}: the video could not be decoded ({exc})") from None


def _segmented(
    segmenter: Segmenter, frames: Iterable[np.ndarray], batch_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Each frame with its labels, segmented in batches of consecutive frames of one size."""
    pending: list[np.ndarray] = []
    for rgb in frames:
        if pending and (len(pending) >= batch_size or rgb.shape != pending[0].shape):
            yield from zip(pending, segmenter.predict_batch(pending, batch_size=batch_size), strict=True)
            pending = []
        pending.append(rgb)
    if pending:
        yield from zip(pending, segmenter.predict_batch(pending, batch_size=batch_size), strict=True)


def _even(n: int) -> int:
    return n + (n % 2)


def _pad_even(rgb: np.ndarray) -> np.ndarray:
    """yuv420p needs even sides: repeat the last row/column when one is odd."""
    h, w = rgb.shape[:2]
    return np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge") if h % 2 or w % 2 else rgb
