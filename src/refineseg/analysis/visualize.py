"""Activation images: what each level, block and pooling stage of a RefineNet computes for one image.

:func:`visualize` runs a model once on an image with forward hooks
(:mod:`refineseg.analysis.capture`) and draws, with matplotlib
(:mod:`refineseg.analysis.figures`), PNGs for a reader of the paper:

* ``levels.png``: the input, the encoder's feature maps from fine (1/4) to coarse (1/32), and
  the final prediction;
* ``blocks.png``: per RefineNet block, coarse to fine, its inputs, their fusion and its
  output, so the coarse semantic map can be seen gaining the finer levels' detail;
* ``pooling.png``: per block, the chained residual pooling's input, what each pooling stage
  adds to the sum, and the sum;
* ``summary.json``: every panel with its level, channels, map size and value range.

An activation ``CxHxW`` is shown as its per-pixel L2 norm over channels: sign and channel
identity carry no meaning a reader can see, the strength of the response does. Each map is
coloured on its own scale (so weak late stages stay visible; the captions give the scale)
and drawn aligned to its stride, so one feature cell is one visible block and cells line up
with the image across levels. This module decides what is shown; capturing and drawing are
the other two modules' jobs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from .._io import atomic_write
from ..blocks import ChainedResidualPooling
from ..inference.images import ImageLike, load_image
from ..models.base import SegmentationModel
from ..palette import class_names_or_default, palette_or_default
from .capture import Activations, BlockActivations, capture_activations
from .figures import MapPanel, Panel, PicturePanel, grid_figure, panel_shape, require_matplotlib, save_png

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "OUTPUT_FILES",
    "ActivationFigures",
    "Activations",
    "BlockActivations",
    "activation_figures",
    "activation_norm",
    "capture_activations",
    "check_not_overwriting",
    "display_range",
    "visualize",
]

OUTPUT_FILES = ("levels.png", "blocks.png", "pooling.png", "summary.json")

# the top of each map's colour scale: a percentile, not the maximum, so that a few outlier
# cells (common at image borders) do not turn the rest of the map dark
DISPLAY_PERCENTILE = 99.0

_NEEDS = "drawing activations"  # what the missing-matplotlib error names


def activation_norm(activation: Tensor) -> np.ndarray:
    """The per-pixel L2 norm over channels of a ``CxHxW`` or ``1xCxHxW`` activation.

    Args:
        activation: The activation tensor, on any device and of any float type.

    Returns:
        The ``HxW`` float32 norm.

    Raises:
        ValueError: If ``activation`` is not one ``CxHxW`` map.
    """
    t = activation.detach().float()
    if t.dim() == 4 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 3:
        raise ValueError(f"expected a CxHxW activation, got shape {tuple(activation.shape)}")
    return np.ascontiguousarray(torch.linalg.vector_norm(t, dim=0).cpu().numpy(), dtype=np.float32)


def display_range(norm: np.ndarray) -> tuple[float, float]:
    """The values mapped to the bottom and top of the colour scale: the minimum and the 99th percentile.

    Args:
        norm: A map of values, such as :func:`activation_norm` returns.

    Returns:
        (low, high), with ``high >= low``.
    """
    low = float(norm.min())
    high = float(np.percentile(norm, DISPLAY_PERCENTILE))
    return low, max(high, low)


def _level(stride: float | None) -> str:
    if stride is None:
        return "input"
    return f"1/{stride:g}"


def _shrink(rgb: np.ndarray, max_side: int | None) -> np.ndarray:
    if max_side is None or max(rgb.shape[:2]) <= max_side:
        return rgb
    scale = max_side / max(rgb.shape[:2])
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


class _Panels:
    """The panels of one figure, and their entries in summary.json, in drawing order."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.entries: list[dict[str, Any]] = []

    def activation(self, kind: str, title: str, t: Tensor, stride: float | None, **where: int) -> MapPanel:
        norm = activation_norm(t)
        low, high = display_range(norm)
        channels, height, width = t.shape[-3:]
        norm_min, norm_max = float(norm.min()), float(norm.max())
        self.entries.append(
            {
                "file": self.file,
                "name": title,
                "kind": kind,
                **where,
                "level": _level(stride),
                "stride": stride,
                "channels": channels,
                "shape": [height, width],
                "norm_min": norm_min,
                "norm_max": norm_max,
                "display_range": [low, high],
            }
        )
        detail = f"{channels} ch, {height}x{width}, norm {norm_min:.3g}..{norm_max:.3g}"
        return MapPanel(title, detail, norm, low, high, stride)

    def picture(self, kind: str, title: str, detail: str, rgb: np.ndarray) -> PicturePanel:
        self.entries.append(
            {"file": self.file, "name": title, "kind": kind, "level": "input", "shape": list(rgb.shape[:2])}
        )
        return PicturePanel(title, detail, rgb)


_NORM_NOTE = (
    "Each map: the L2 norm over channels at each pixel, coloured from its minimum (low) to its"
    f" {DISPLAY_PERCENTILE:g}th percentile (high); sizes are height x width."
)
_SCALE = ("minimum", f"{DISPLAY_PERCENTILE:g}th percentile")


def _levels_figure(
    model: SegmentationModel, acts: Activations, rgb: np.ndarray, panel: tuple[int, int]
) -> tuple[Figure, list[dict[str, Any]], dict[str, float]]:
    """The input, the encoder features from fine to coarse, and the prediction; also the class shares."""
    paint = _Panels("levels.png")
    labels = acts.logits[0].argmax(0).cpu().numpy()
    palette = np.asarray(palette_or_default(model.meta.palette, model.num_classes), dtype=np.uint8)
    overlay = np.clip(rgb * 0.5 + palette[labels] * 0.5 + 0.5, 0, 255).astype(np.uint8)
    names = class_names_or_default(model.meta.class_names, model.num_classes)
    counts = np.bincount(labels.ravel(), minlength=model.num_classes)
    order = [int(i) for i in np.argsort(-counts, kind="stable") if counts[i]]
    shares = {names[i]: float(counts[i] / labels.size) for i in order}

    panels: list[Panel] = [paint.picture("image", "input image", f"RGB, {rgb.shape[0]}x{rgb.shape[1]}", rgb)]
    for i, (feature, stride) in enumerate(zip(acts.encoder, model.encoder.strides, strict=True)):
        panels.append(
            paint.activation("encoder", f"encoder {_level(stride)}, feature {i + 1}", feature, stride, feature=i + 1)
        )
    panels.append(paint.picture("prediction", "prediction", f"{model.num_classes} classes, overlaid", overlay))
    legend = [((int(palette[i][0]), int(palette[i][1]), int(palette[i][2])), names[i]) for i in order]
    figure = grid_figure(
        f"{model.arch or type(model).__name__}: encoder features per level, fine to coarse",
        [panels[i : i + 4] for i in range(0, len(panels), 4)],
        image=(rgb.shape[0], rgb.shape[1]),
        panel=panel,
        notes=[
            _NORM_NOTE,
            "Above each panel: the level (output stride); below: channels, map size and the norm's range."
            " Classes predicted, most pixels first:",
        ],
        legend=legend,
        scale=_SCALE,
    )
    return figure, paint.entries, shares


def _block_figures(
    model: SegmentationModel, acts: Activations, image: tuple[int, int], panel: tuple[int, int]
) -> tuple[Figure, Figure, list[dict[str, Any]]]:
    """blocks.png and pooling.png: one row per block, coarse to fine."""
    paint_blocks = _Panels("blocks.png")
    paint_pool = _Panels("pooling.png")
    strides = model.encoder.strides
    block_rows: list[list[Panel | None]] = []
    pool_rows: list[list[Panel | None]] = []
    columns = max((len(b.inputs) for b in acts.blocks), default=0)
    previous: float | None = None
    order = "pool then conv"
    for k, (indices, module, record) in enumerate(
        zip(model.decoder.cascade, model.decoder.blocks, acts.blocks, strict=True), start=1
    ):
        sources = [(f"feature {i + 1}", strides[i]) for i in indices]
        if previous is not None:
            sources.append((f"block {k - 1} out", previous))
        stride = previous = min(s for _, s in sources)
        level = _level(stride)
        row: list[Panel | None] = [
            paint_blocks.activation("block_input", f"block {k} in: {what}, {_level(s)}", t, s, block=k, input=j)
            for j, (t, (what, s)) in enumerate(zip(record.inputs, sources, strict=True), start=1)
        ]
        row += [None] * (columns - len(row))
        fused = record.fused
        row.append(
            None
            if fused is None
            else paint_blocks.activation("block_fused", f"block {k} fused", fused, stride, block=k)
        )
        assert record.output is not None
        row.append(paint_blocks.activation("block_output", f"block {k} out, {level}", record.output, stride, block=k))
        block_rows.append(row)

        crp = getattr(module, "pool", None)
        if not isinstance(crp, ChainedResidualPooling) or record.pool_input is None or record.pool_output is None:
            continue
        if not crp.pool_first:
            order = "conv then pool"
        act = type(crp.activation).__name__
        pool_row: list[Panel | None] = [
            paint_pool.activation(
                "pool_input", f"block {k} CRP in, {level} ({act})", record.pool_input, stride, block=k
            )
        ]
        pool_row += [
            paint_pool.activation("pool_stage", f"block {k} CRP stage {s}", t, stride, block=k, stage=s)
            for s, t in enumerate(record.stages, start=1)
        ]
        pool_row.append(paint_pool.activation("pool_sum", f"block {k} CRP sum", record.pool_output, stride, block=k))
        pool_rows.append(pool_row)

    arch = model.arch or type(model).__name__
    blocks = grid_figure(
        f"{arch}: RefineNet blocks, coarse to fine, one row each",
        block_rows,
        image=image,
        panel=panel,
        notes=[
            "Left: a block's inputs (encoder features after their lateral convolution, then the previous block's"
            " output); then their multi-resolution fusion at the finest input's size; right: the block's output,"
            " which the next row takes as its last input. Down the right-hand column, detail is added: refinement.",
            _NORM_NOTE,
        ],
        scale=_SCALE,
    )
    pooling = grid_figure(
        f"{arch}: chained residual pooling in each block, coarse to fine",
        pool_rows,
        image=image,
        panel=panel,
        notes=[
            "Left: the pooling chain's input after its activation; then what each stage adds to the sum (a stage"
            f" max-pools and convolves the previous stage's output, {order}), so later stages draw on ever wider"
            " context; right: the sum of the input and every stage, the chain's output.",
            _NORM_NOTE,
        ],
        scale=_SCALE,
    )
    return blocks, pooling, paint_blocks.entries + paint_pool.entries


@dataclass
class ActivationFigures:
    """The figures :func:`visualize` writes, by file name, and the summary of their panels.

    Attributes:
        figures: ``levels.png``, ``blocks.png`` and ``pooling.png``, by file name.
        summary: The panels and the model's prediction, as summary.json holds them (but the
            image's name and original size).
    """

    figures: dict[str, Figure]
    summary: dict[str, Any]


def activation_figures(model: SegmentationModel, rgb: np.ndarray, *, size: int | None = None) -> ActivationFigures:
    """Run ``model`` once on an image and draw its activations, without writing anything.

    Args:
        model: A PyTorch RefineNet; left unchanged (see :func:`capture_activations`).
        rgb: The ``HxWx3`` uint8 image, at the size the model is to see.
        size: The longer side of every panel in pixels (by default near 256).

    Returns:
        The three figures and the summary: everything :func:`visualize` writes to summary.json
        but the image's name and original size.

    Raises:
        ImportError: If matplotlib is not installed.
    """
    require_matplotlib(_NEEDS)
    hw = (rgb.shape[0], rgb.shape[1])
    panel = panel_shape(hw, size)
    device = next(model.parameters()).device
    x = torch.from_numpy(rgb.copy()).to(device).permute(2, 0, 1)[None].float().div_(255.0)
    mean = torch.tensor(model.meta.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(model.meta.std, device=device).view(1, 3, 1, 1)
    acts = capture_activations(model, (x - mean) / std)

    levels, level_entries, shares = _levels_figure(model, acts, rgb, panel)
    blocks, pooling, block_entries = _block_figures(model, acts, hw, panel)
    summary = {
        "input_size": list(hw),
        "model": model.arch or type(model).__name__,
        "class_names": list(model.meta.class_names or []),
        "predicted_shares": shares,
        "colour": "viridis of the per-pixel L2 norm over channels, from display_range[0] to display_range[1]",
        "panel_size": list(panel),
        "panels": level_entries + block_entries,
    }
    return ActivationFigures({"levels.png": levels, "blocks.png": blocks, "pooling.png": pooling}, summary)


def check_not_overwriting(image: str | os.PathLike[str], output_dir: str | os.PathLike[str]) -> None:
    """Refuse an output folder in which one of the files written would be the input image.

    Args:
        image: The input image file.
        output_dir: The folder :func:`visualize` is to write into.

    Raises:
        ValueError: If one of :data:`OUTPUT_FILES` in ``output_dir`` is ``image``.
    """
    source = Path(image)
    for name in OUTPUT_FILES:
        target = Path(output_dir) / name
        same = target.resolve() == source.resolve()
        if not same and target.exists() and source.exists():
            same = os.path.samefile(target, source)
        if same:
            raise ValueError(f"{image}: the input image would be overwritten by {target}; choose another output folder")


def visualize(
    model: SegmentationModel,
    image: ImageLike,
    output_dir: str | os.PathLike[str],
    *,
    size: int | None = None,
    max_side: int | None = None,
    source: str | None = None,
) -> list[Path]:
    """Write levels.png, blocks.png, pooling.png and summary.json for ``image`` into ``output_dir``.

    Needs matplotlib (``pip install 'refineseg[plot]'``).

    Args:
        model: A PyTorch RefineNet; left unchanged (see :func:`capture_activations`).
        image: A file name or an ``HxWx3`` uint8 array.
        output_dir: The folder to write into, created if needed.
        size: The longer side of every panel in pixels (by default near 256).
        max_side: Shrink a larger image to this longer side before the model sees it.
        source: The image's name in summary.json (a path given as ``image`` names itself).

    Returns:
        The files written, in the order of :data:`OUTPUT_FILES`.

    Raises:
        ImportError: If matplotlib is not installed.
        ValueError: If a file written would be the input image, or ``max_side`` is below 1.
        NotADirectoryError: If ``output_dir`` is a file.
    """
    require_matplotlib(_NEEDS)  # before any work: a missing extra fails at once
    output = Path(output_dir)
    if isinstance(image, str | os.PathLike):
        check_not_overwriting(image, output)
        source = source or str(image)
    if output.exists() and not output.is_dir():
        raise NotADirectoryError(f"{output}: not a folder")
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be a positive number of pixels, got {max_side}")
    original = load_image(image)
    drawn = activation_figures(model, _shrink(original, max_side), size=size)
    summary = {"image": source, "image_size": list(original.shape[:2]), **drawn.summary}
    written = [save_png(figure, output / name) for name, figure in drawn.figures.items()]
    text = json.dumps(summary, indent=2) + "\n"
    written.append(atomic_write(output / "summary.json", lambda tmp: Path(tmp).write_text(text, encoding="utf-8")))
    return written
