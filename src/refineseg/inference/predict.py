"""Segment files, folders, globs and videos and write the results, one failure never stopping the run.

Finding the inputs lives in :mod:`.inputs`, naming and writing the outputs in :mod:`.outputs`,
videos in :mod:`.video`; this module is the loop that batches images of one size and collects
what went wrong.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._progress import progress_bar
from .images import ImageReadError, read_image_file
from .inputs import IMAGE_SUFFIXES, VIDEO_SUFFIXES, InputItem, collect_inputs
from .outputs import OutputOptions, plan_outputs, write_image_outputs
from .segmenter import Segmenter
from .video import predict_video

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "InputItem",
    "PredictionReport",
    "collect_inputs",
    "plan_inputs",
    "predict_paths",
]


@dataclass
class PredictionReport:
    """What a prediction run did.

    Attributes:
        images: Images segmented and written.
        videos: Videos segmented and written.
        frames: Video frames segmented.
        written: Every file written.
        errors: One line per input that failed, naming it.
    """

    images: int = 0
    videos: int = 0
    frames: int = 0
    written: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def plan_inputs(
    inputs: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str], options: OutputOptions
) -> tuple[list[InputItem], list[str]]:
    """The inputs a prediction run will segment, and one error line for each input it will not.

    Cheap (files are listed, none is read): ``refineseg predict`` calls it before loading the
    model, to fail at once when nothing would run.

    Args:
        inputs: Files, folders (searched recursively) and glob patterns.
        output: The output folder, whose files are never inputs.
        options: Which files are written for each input.

    Returns:
        The runnable inputs in order, and the errors: inputs that name nothing, and inputs
        whose outputs would overwrite an input or another input's outputs.
    """
    out = Path(output)
    items, errors = collect_inputs(inputs, exclude=out)
    runnable, refused = plan_outputs(items, out, options)
    return runnable, errors + refused


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
    part: tuple[int, int] = (0, 1),
) -> PredictionReport:
    """Segment every input and write the results under ``output``; failures are collected, not raised.

    Args:
        segmenter: What segments the images.
        inputs: Files, folders (searched recursively) and glob patterns.
        output: The output folder (created when missing).
        batch_size: Images of one size segmented together.
        overlay: Also write ``NAME_overlay.jpg``.
        alpha: The overlay colours' opacity, 0..1.
        probabilities: Also write ``NAME_probs.npy`` (float16 ``CxHxW``).
        video_labels: Also write a label PNG per video frame.
        progress: Show a progress bar.
        on_error: Called with each error line as it happens (the report keeps them too).
        part: ``(index, count)``: segment only every ``count``-th runnable input from the
            ``index``-th, as process ``index`` of ``count`` does in a distributed run; inputs
            that name nothing are reported by part 0 alone.

    Returns:
        What was segmented and written, and what failed.

    Raises:
        ValueError: ``batch_size`` is below 1, or ``output`` is an existing file.
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    index, count = part
    if not 0 <= index < count:
        raise ValueError(f"part must be (index, count) with 0 <= index < count, got {part}")
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--output {out}: exists and is not a directory")
    options = OutputOptions(overlay=overlay, alpha=alpha, probabilities=probabilities, video_labels=video_labels)
    report = PredictionReport()

    def fail(message: str) -> None:
        report.errors.append(message)
        if on_error is not None:
            on_error(message)

    runnable, problems = plan_inputs(inputs, out, options)  # planned in full: names clash across parts too
    runnable = runnable[index::count]
    for message in problems if index == 0 else []:
        fail(message)

    bar = progress_bar(total=len(runnable), show=progress, unit="file", desc="segmenting")
    # decoding the next images and encoding the last outputs overlap the model (threads: PIL and
    # zlib release the GIL); both queues are bounded, so memory stays a few batches
    lookahead = 2 * batch_size
    pending: deque[tuple[InputItem, Future[list[Path]]]] = deque()

    def settle(keep: int) -> None:
        while len(pending) > keep:
            item, written = pending.popleft()
            try:
                report.written += written.result()
                report.images += 1
            except OSError as exc:
                fail(f"{item.path}: could not write its outputs ({exc})")
            bar.update(1)

    batch: list[tuple[InputItem, np.ndarray]] = []

    def flush() -> None:
        if not batch:
            return
        arrays = [rgb for _, rgb in batch]
        if probabilities:
            probs = segmenter.batch_probabilities(arrays)
            labels, kept = segmenter.labels_from_probabilities(probs), [p.cpu().numpy() for p in probs]
        else:
            labels, kept = segmenter.batch_labels(arrays), [None] * len(batch)
        for (item, rgb), label, prob in zip(batch, labels, kept, strict=True):
            pending.append((item, writer.submit(write_image_outputs, segmenter, item, out, rgb, label, prob, options)))
        batch.clear()
        settle(keep=lookahead)

    def read(item: InputItem) -> np.ndarray:
        return read_image_file(item.path, max_pixels=segmenter.max_pixels)

    with (
        ThreadPoolExecutor(1, thread_name_prefix="read") as reader,
        ThreadPoolExecutor(1, thread_name_prefix="write") as writer,
    ):
        reads: deque[Future[np.ndarray]] = deque()
        images = iter([item for item in runnable if not item.is_video])
        for item in itertools.islice(images, lookahead):
            reads.append(reader.submit(read, item))
        for item in runnable:
            if item.is_video:
                flush()
                settle(keep=0)
                try:
                    frames, written = predict_video(
                        segmenter, item, out, options, batch_size=batch_size, progress=progress
                    )
                    report.videos += 1
                    report.frames += frames
                    report.written += written
                except (ImageReadError, OSError, ValueError, ImportError) as exc:
                    fail(str(exc) if str(item.path) in str(exc) else f"{item.path}: {exc}")
                bar.update(1)
                continue
            future = reads.popleft()
            following = next(images, None)
            if following is not None:
                reads.append(reader.submit(read, following))
            try:
                rgb = future.result()
            except ImageReadError as exc:
                fail(str(exc))
                bar.update(1)
                continue
            if batch and (rgb.shape != batch[0][1].shape or len(batch) >= batch_size):
                flush()
            batch.append((item, rgb))
        flush()
        settle(keep=0)
    bar.close()
    return report
