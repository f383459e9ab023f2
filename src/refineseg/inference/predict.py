"""Segment files, folders, globs and videos and write the results, one failure never stopping the run.

Each image gives ``NAME.png`` (palette-mode labels, lossless, the input's size), ``NAME_overlay.jpg``
(colours blended over the image) and optionally ``NAME_probs.npy`` (float16 ``CxHxW``); each video
gives ``NAME_overlay.mp4`` and optionally ``NAME_labels/NNNNNN.png`` per frame. ``NAME`` is the
file's name without suffix, or its path inside a folder given as input. Every file is written
atomically, and an output that would replace an input is refused.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write
from ..constants import IMAGE_SUFFIXES as DATASET_IMAGE_SUFFIXES
from .images import ImageReadError, read_image_file
from .segmenter import Segmenter

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "InputItem",
    "PredictionReport",
    "collect_inputs",
    "predict_paths",
]

# what a dataset folder may hold, and the formats people also segment one by one
IMAGE_SUFFIXES = (*DATASET_IMAGE_SUFFIXES, ".gif", ".ppm", ".pgm")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


@dataclass(frozen=True)
class InputItem:
    path: Path
    name: str  # output name without suffix, relative to the output folder
    is_video: bool


@dataclass
class PredictionReport:
    images: int = 0
    videos: int = 0
    frames: int = 0
    written: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def collect_inputs(
    inputs: Sequence[str | os.PathLike[str]], *, exclude: Path | None = None
) -> tuple[list[InputItem], list[str]]:
    """Expand files, folders (recursively: their images and videos) and glob patterns.

    Returns the items in order, without duplicates, and one error line per input that names
    nothing. Files under ``exclude`` (the output folder) are skipped when folders are scanned.
    """
    items: list[InputItem] = []
    errors: list[str] = []
    seen: set[Path] = set()
    excluded = exclude.resolve() if exclude is not None else None

    def add(path: Path, name: str) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            items.append(InputItem(path, name, _is_video(path)))

    for raw in inputs:
        path = Path(raw)
        if path.is_file():
            add(path, path.stem)
        elif path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES
                and not (excluded is not None and p.resolve().is_relative_to(excluded))
            )
            if not found:
                errors.append(f"{path}: no images or videos in this folder")
            for p in found:
                add(p, p.relative_to(path).with_suffix("").as_posix())
        elif glob.has_magic(str(raw)):
            matches = sorted(Path(m) for m in glob.glob(str(raw), recursive=True) if Path(m).is_file())
            if not matches:
                errors.append(f"{raw}: no files match this pattern")
            for p in matches:
                add(p, p.stem)
        else:
            errors.append(f"{path}: no such file or directory")
    return items, errors


def _outputs(item: InputItem, output: Path, *, overlay: bool, probabilities: bool, video_labels: bool) -> list[Path]:
    if item.is_video:
        paths = [output / f"{item.name}_overlay.mp4"]
        return [*paths, output / f"{item.name}_labels"] if video_labels else paths
    paths = [output / f"{item.name}.png"]
    if overlay:
        paths.append(output / f"{item.name}_overlay.jpg")
    if probabilities:
        paths.append(output / f"{item.name}_probs.npy")
    return paths


def predict_paths(
    segmenter: Segmenter,
    inputs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    batch_size: int = 4,
    overlay: bool = True,
    alpha: float = 0.5,
    probabilities: bool = False,
    video_labels: bool = False,
    progress: bool = True,
    on_error: Callable[[str], None] | None = None,
) -> PredictionReport:
    """Segment every input and write the results under ``output``; failures are collected, not raised."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--output {out}: exists and is not a directory")
    report = PredictionReport()

    def fail(message: str) -> None:
        report.errors.append(message)
        if on_error is not None:
            on_error(message)

    items, errors = collect_inputs(inputs, exclude=out)
    for message in errors:
        fail(message)
    input_files = {item.path.resolve() for item in items}
    planned: dict[Path, InputItem] = {}
    runnable: list[InputItem] = []
    for item in items:
        targets = _outputs(item, out, overlay=overlay, probabilities=probabilities, video_labels=video_labels)
        clash = next((t for t in targets if t.resolve() in input_files), None)
        if clash is not None:
            fail(f"{item.path}: its output {clash} would overwrite an input; choose another --output")
            continue
        other = next((planned[t.resolve()] for t in targets if t.resolve() in planned), None)
        if other is not None:
            fail(f"{item.path}: its outputs would have the same names as those of {other.path}; segment it separately")
            continue
        planned.update({t.resolve(): item for t in targets})
        runnable.append(item)

    bar = _progress(len(runnable), progress)
    batch: list[tuple[InputItem, np.ndarray]] = []

    def flush() -> None:
        if not batch:
            return
        probs = segmenter.batch_probabilities([rgb for _, rgb in batch])
        labels = segmenter.labels_from_probabilities(probs)
        for (item, rgb), label, prob in zip(batch, labels, probs, strict=True):
            try:
                report.written += _write_image_outputs(
                    segmenter, item, out, rgb, label, prob.cpu().numpy() if probabilities else None, overlay, alpha
                )
                report.images += 1
            except OSError as exc:
                fail(f"{item.path}: could not write its outputs ({exc})")
            bar.update(1)
        batch.clear()

    for item in runnable:
        if item.is_video:
            flush()
            try:
                frames, written = _predict_video(
                    segmenter, item, out, batch_size=batch_size, alpha=alpha, labels=video_labels, progress=progress
                )
                report.videos += 1
                report.frames += frames
                report.written += written
            except (ImageReadError, OSError, ValueError, ImportError) as exc:
                fail(str(exc) if str(item.path) in str(exc) else f"{item.path}: {exc}")
            bar.update(1)
            continue
        try:
            rgb = read_image_file(item.path, max_pixels=segmenter.max_pixels)
        except ImageReadError as exc:
            fail(str(exc))
            bar.update(1)
            continue
        if batch and (rgb.shape != batch[0][1].shape or len(batch) >= batch_size):
            flush()
        batch.append((item, rgb))
    flush()
    bar.close()
    return report


def _write_image_outputs(
    segmenter: Segmenter,
    item: InputItem,
    out: Path,
    rgb: np.ndarray,
    labels: np.ndarray,
    probs: np.ndarray | None,
    overlay: bool,
    alpha: float,
) -> list[Path]:
    written = [_save_label_png(segmenter, labels, out / f"{item.name}.png")]
    if overlay:
        blended = segmenter.overlay(rgb, labels, alpha=alpha)
        written.append(
            atomic_write(out / f"{item.name}_overlay.jpg", lambda tmp: blended.save(tmp, format="JPEG", quality=90))
        )
    if probs is not None:
        values = probs.astype(np.float16)

        def save_npy(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.save(f, values)

        written.append(atomic_write(out / f"{item.name}_probs.npy", save_npy))
    return written


def _save_label_png(segmenter: Segmenter, labels: np.ndarray, path: Path) -> Path:
    image = segmenter.label_image(labels)
    return atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))


def _predict_video(
    segmenter: Segmenter,
    item: InputItem,
    out: Path,
    *,
    batch_size: int,
    alpha: float,
    labels: bool,
    progress: bool,
) -> tuple[int, list[Path]]:
    """Overlay every frame of a video into an H.264 MP4 (and optionally lossless label PNGs per frame)."""
    try:
        import av
    except ImportError:
        raise ImportError("reading videos needs PyAV: pip install 'refineseg[video]'") from None

    target = out / f"{item.name}_overlay.mp4"
    labels_dir = out / f"{item.name}_labels"
    written: list[Path] = []
    count = 0

    def encode(tmp: str) -> None:
        nonlocal count
        try:
            source = av.open(str(item.path))
        except av.FFmpegError as exc:
            raise ImageReadError(f"{item.path}: not a readable video ({exc})") from None
        with source:
            if not source.streams.video:
                raise ImageReadError(f"{item.path}: has no video stream")
            stream = source.streams.video[0]
            rate = stream.average_rate or 25
            total = stream.frames or None
            bar = _progress(total, progress, desc=item.path.name, unit="frame", leave=False)
            with av.open(tmp, mode="w", format="mp4") as sink:
                codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
                video: Any = sink.add_stream(codec, rate=rate)
                video.pix_fmt = "yuv420p"
                pending: list[np.ndarray] = []

                def flush() -> None:
                    nonlocal count
                    if not pending:
                        return
                    for rgb, lab in zip(pending, segmenter.predict_batch(pending, batch_size=batch_size), strict=True):
                        if count == 0:
                            video.width, video.height = _even(rgb.shape[1]), _even(rgb.shape[0])
                        frame = av.VideoFrame.from_ndarray(
                            _pad_even(np.asarray(segmenter.overlay(rgb, lab, alpha=alpha)))
                        )
                        for packet in video.encode(frame):
                            sink.mux(packet)
                        if labels:
                            path = labels_dir / f"{count:06d}.png"
                            written.append(_save_label_png(segmenter, lab, path))
                        count += 1
                        bar.update(1)
                    pending.clear()

                try:
                    for frame in source.decode(stream):
                        rgb = frame.to_ndarray(format="rgb24")
                        if pending and (len(pending) >= batch_size or rgb.shape != pending[0].shape):
                            flush()
                        pending.append(rgb)
                    flush()
                except av.FFmpegError as exc:
                    raise ImageReadError(f"{item.path}: the video could not be decoded ({exc})") from None
                if count == 0:
                    raise ImageReadError(f"{item.path}: the video has no frames")
                for packet in video.encode(None):
                    sink.mux(packet)
            bar.close()

    written.insert(0, atomic_write(target, encode))
    return count, written


def _even(n: int) -> int:
    return n + (n % 2)


def _pad_even(rgb: np.ndarray) -> np.ndarray:
    """yuv420p needs even sides: repeat the last row/column when one is odd."""
    h, w = rgb.shape[:2]
    return np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge") if h % 2 or w % 2 else rgb


def _progress(total: int | None, enabled: bool, **kwargs: Any) -> Any:
    from tqdm.auto import tqdm

    kwargs = {"unit": "file", "desc": "segmenting", **kwargs}
    return tqdm(total=total, disable=not enabled, **kwargs)
