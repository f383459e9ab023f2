"""What ``refineseg predict`` writes for each input, under which names, and the refusal to
overwrite an input or let two inputs write the same file.

Each image gives ``NAME.png`` (palette-mode labels, lossless, the input's size), ``NAME_overlay.jpg``
(colours blended over the image) and optionally ``NAME_probs.npy`` (float16 ``CxHxW``); each video
gives ``NAME_overlay.mp4`` and optionally ``NAME_labels/NNNNNN.png`` per frame. Every file is
written atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._io import atomic_write
from .inputs import InputItem
from .segmenter import Segmenter

__all__ = [
    "PNG_COMPRESS_LEVEL",
    "OutputOptions",
    "output_paths",
    "plan_outputs",
    "save_label_png",
    "write_image_outputs",
]

# zlib's fastest level: outputs are written while the model runs, on the same cores, and at
# PIL's default level 6 the PNGs cost several times as much CPU for slightly smaller files
PNG_COMPRESS_LEVEL = 1


@dataclass(frozen=True)
class OutputOptions:
    """Which files each input gives.

    Attributes:
        overlay: Write ``NAME_overlay.jpg`` for images.
        alpha: The overlay colours' opacity, 0..1.
        probabilities: Write ``NAME_probs.npy`` for images.
        video_labels: Write ``NAME_labels/NNNNNN.png`` for each video frame.
    """

    overlay: bool = True
    alpha: float = 0.5
    probabilities: bool = False
    video_labels: bool = False


def output_paths(item: InputItem, output: Path, options: OutputOptions) -> list[Path]:
    """The files (and, for video labels, the folder) that ``item`` will write.

    Args:
        item: An input.
        output: The output folder.
        options: Which files to write.

    Returns:
        Their paths, the label PNG (or the overlay video) first.
    """
    if item.is_video:
        paths = [output / f"{item.name}_overlay.mp4"]
        return [*paths, output / f"{item.name}_labels"] if options.video_labels else paths
    paths = [output / f"{item.name}.png"]
    if options.overlay:
        paths.append(output / f"{item.name}_overlay.jpg")
    if options.probabilities:
        paths.append(output / f"{item.name}_probs.npy")
    return paths


def plan_outputs(items: Sequence[InputItem], output: Path, options: OutputOptions) -> tuple[list[InputItem], list[str]]:
    """Keep the inputs whose outputs neither replace an input nor collide with another's.

    Args:
        items: The inputs, in order.
        output: The output folder.
        options: Which files to write.

    Returns:
        The inputs that may run, and one error line for each one refused.
    """
    input_files = {item.path.resolve() for item in items}
    planned: dict[Path, InputItem] = {}
    runnable: list[InputItem] = []
    errors: list[str] = []
    for item in items:
        targets = output_paths(item, output, options)
        clash = next((t for t in targets if t.resolve() in input_files), None)
        if clash is not None:
            errors.append(f"{item.path}: its output {clash} would overwrite an input; choose another --output")
            continue
        other = next((planned[t.resolve()] for t in targets if t.resolve() in planned), None)
        if other is not None:
            errors.append(
                f"{item.path}: its outputs would have the same names as those of {other.path}; segment it separately"
            )
            continue
        planned.update({t.resolve(): item for t in targets})
        runnable.append(item)
    return runnable, errors


def write_image_outputs(
    segmenter: Segmenter,
    item: InputItem,
    output: Path,
    rgb: np.ndarray,
    labels: np.ndarray,
    probs: np.ndarray | None,
    options: OutputOptions,
) -> list[Path]:
    """Write one image's label PNG, overlay and probabilities, each atomically.

    Args:
        segmenter: What segmented it (its palette colours the PNG and the overlay).
        item: The input.
        output: The output folder.
        rgb: The image, ``HxWx3`` uint8.
        labels: Its class indices, ``HxW``.
        probs: Its class probabilities, ``CxHxW``, or ``None`` when not written.
        options: Which files to write.

    Returns:
        The files written.
    """
    written = [save_label_png(segmenter, labels, output / f"{item.name}.png")]
    if options.overlay:
        blended = segmenter.overlay(rgb, labels, alpha=options.alpha)
        target = output / f"{item.name}_overlay.jpg"
        written.append(atomic_write(target, lambda tmp: blended.save(tmp, format="JPEG", quality=90)))
    if probs is not None:
        values = probs.astype(np.float16)

        def save_npy(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.save(f, values)

        written.append(atomic_write(output / f"{item.name}_probs.npy", save_npy))
    return written


def save_label_png(segmenter: Segmenter, labels: np.ndarray, path: Path) -> Path:
    """Write class indices as a palette-mode PNG (lossless; viewers show the palette's colours).

    Args:
        segmenter: Whose palette colours the PNG.
        labels: Class indices, ``HxW``.
        path: The PNG to write atomically.

    Returns:
        ``path``.
    """
    image = segmenter.label_image(labels)
    return atomic_write(path, lambda tmp: image.save(tmp, format="PNG", compress_level=PNG_COMPRESS_LEVEL))
