"""Activation images: what each level, block and pooling stage of a RefineNet computes for one image.

:func:`visualize` runs a model once on an image with forward hooks and draws, as PNGs for a
reader of the paper:

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
and enlarged with nearest-neighbour sampling aligned to its stride, so one feature cell is
one visible block and cells line up with the image across levels. Nothing about the model
changes: hooks are removed afterwards and the training flag is restored.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor, nn

from .._io import atomic_write
from ..blocks import ChainedResidualPooling
from ..inference.images import ImageLike, load_image
from ..models.base import SegmentationModel
from .hooks import removing_hooks

__all__ = [
    "OUTPUT_FILES",
    "Activations",
    "BlockActivations",
    "activation_norm",
    "capture_activations",
    "check_not_overwriting",
    "colorize_norm",
    "visualize",
]

OUTPUT_FILES = ("levels.png", "blocks.png", "pooling.png", "summary.json")

# viridis sampled at ten evenly spaced points: perceptually uniform and readable in grey scale
_VIRIDIS_ANCHORS = (
    (0x44, 0x01, 0x54),
    (0x48, 0x28, 0x78),
    (0x3E, 0x4A, 0x89),
    (0x31, 0x68, 0x8E),
    (0x26, 0x82, 0x8E),
    (0x1F, 0x9E, 0x89),
    (0x35, 0xB7, 0x79),
    (0x6D, 0xCD, 0x59),
    (0xB4, 0xDE, 0x2C),
    (0xFD, 0xE7, 0x25),
)


def _colour_table(anchors: Sequence[tuple[int, int, int]]) -> np.ndarray:
    points = np.linspace(0.0, 1.0, len(anchors))
    values = np.linspace(0.0, 1.0, 256)
    table = np.stack([np.interp(values, points, [a[c] for a in anchors]) for c in range(3)], axis=1)
    return np.round(table).astype(np.uint8)


COLOUR_TABLE = _colour_table(_VIRIDIS_ANCHORS)

# the top of each map's colour scale: a percentile, not the maximum, so that a few outlier
# cells (common at image borders) do not turn the rest of the map dark
DISPLAY_PERCENTILE = 99.0
DEFAULT_PANEL_SIDE = 256


# -- capturing ------------------------------------------------------------------------------------


@dataclass
class BlockActivations:
    """What one RefineNet block saw and made (``1xCxHxW`` tensors).

    ``inputs``: the lateral features listed for the block, then the previous block's output;
    ``fused``: after multi-resolution fusion (``None`` for a single-input block);
    ``pool_input``: the chained residual pooling's input after its activation;
    ``stages``: what each pooling stage adds to the sum; ``pool_output``: the sum.
    """

    inputs: list[Tensor] = field(default_factory=list)
    fused: Tensor | None = None
    pool_input: Tensor | None = None
    stages: list[Tensor] = field(default_factory=list)
    pool_output: Tensor | None = None
    output: Tensor | None = None


@dataclass
class Activations:
    """Every activation :func:`visualize` draws, from one forward pass."""

    encoder: list[Tensor]
    blocks: list[BlockActivations]
    logits: Tensor


def _keep(t: Tensor) -> Tensor:
    # a copy: an optimised model's in-place activations would otherwise change it later
    return t.detach().clone()


def capture_activations(model: SegmentationModel, x: Tensor) -> Activations:
    """Run ``model`` on the normalised ``1x3xHxW`` batch ``x`` and record its activations.

    Uses forward hooks only, removed before returning; the model runs in eval mode under
    ``torch.inference_mode`` and is left in the mode it was in.
    """
    if not isinstance(model, SegmentationModel):
        raise TypeError(f"visualizing needs a PyTorch SegmentationModel, got {type(model).__name__}")
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"expected a 1x3xHxW batch, got shape {tuple(x.shape)}")
    encoder: list[Tensor] = []
    blocks = [BlockActivations() for _ in model.decoder.blocks]

    def on_encoder(module: nn.Module, args: Any, output: Sequence[Tensor]) -> None:
        encoder.extend(_keep(f) for f in output)

    def on_block(record: BlockActivations) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any, output: Tensor) -> None:
            record.inputs = [_keep(t) for t in args[0]]
            record.output = _keep(output)

        return hook

    def on_fusion(record: BlockActivations) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any, output: Tensor) -> None:
            record.fused = _keep(output)

        return hook

    def on_pool_input(record: BlockActivations) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any, output: Tensor) -> None:
            record.pool_input = _keep(output)

        return hook

    def on_stage(record: BlockActivations, crp: ChainedResidualPooling, stage: int) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any, output: Tensor) -> None:
            # pool-conv: the convolution's output is what the stage adds; conv-pool: its pooled output
            # (recomputed here: the pooling module is shared by all stages, so it cannot tell them apart)
            top = output if crp.pool_first else crp.pool(output)
            record.stages[stage] = _keep(top)

        return hook

    def on_pool_output(record: BlockActivations) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any, output: Tensor) -> None:
            record.pool_output = _keep(output)

        return hook

    was_training = model.training
    with removing_hooks() as handles:
        handles.append(model.encoder.register_forward_hook(on_encoder))
        for block, record in zip(model.decoder.blocks, blocks, strict=True):
            handles.append(block.register_forward_hook(on_block(record)))
            fusion = getattr(block, "fusion", None)
            if isinstance(fusion, nn.Module):
                handles.append(fusion.register_forward_hook(on_fusion(record)))
            crp = getattr(block, "pool", None)
            if isinstance(crp, ChainedResidualPooling):
                record.stages = [torch.empty(0)] * len(crp.convs)
                handles.append(crp.activation.register_forward_hook(on_pool_input(record)))
                for i, layer in enumerate(crp.convs):
                    handles.append(layer.register_forward_hook(on_stage(record, crp, i)))
                handles.append(crp.register_forward_hook(on_pool_output(record)))
        try:
            model.eval()
            with torch.inference_mode():
                logits = model(x)
        finally:
            model.train(was_training)
    return Activations(encoder=encoder, blocks=blocks, logits=logits)


# -- turning activations into pictures ------------------------------------------------------------


def activation_norm(activation: Tensor) -> np.ndarray:
    """The per-pixel L2 norm over channels of a ``CxHxW`` or ``1xCxHxW`` activation, ``HxW`` float32."""
    t = activation.detach().float()
    if t.dim() == 4 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 3:
        raise ValueError(f"expected a CxHxW activation, got shape {tuple(activation.shape)}")
    return np.ascontiguousarray(torch.linalg.vector_norm(t, dim=0).cpu().numpy(), dtype=np.float32)


def display_range(norm: np.ndarray) -> tuple[float, float]:
    """The values mapped to the bottom and top of the colour scale: the minimum and the 99th percentile."""
    low = float(norm.min())
    high = float(np.percentile(norm, DISPLAY_PERCENTILE))
    return low, max(high, low)


def colorize_norm(norm: np.ndarray, low: float, high: float) -> np.ndarray:
    """``HxWx3`` uint8 colours (viridis) of ``norm`` scaled from ``low`` to ``high``; a flat map is dark."""
    scaled = (norm - low) / (high - low) if high > low else np.zeros_like(norm)
    index = np.clip(np.round(scaled * 255.0), 0, 255).astype(np.intp)
    return COLOUR_TABLE[index]


def _cell_index(display: int, image: int, cells: int, stride: float | None) -> np.ndarray:
    """Which feature cell each display pixel along one axis shows (nearest, stride-aligned)."""
    centres = (np.arange(display) + 0.5) * (image / display)  # in input-image pixels
    per_cell = stride if stride else image / cells
    return np.clip(np.floor(centres / per_cell), 0, cells - 1).astype(np.intp)


def enlarge(colours: np.ndarray, panel: tuple[int, int], image: tuple[int, int], stride: float | None) -> np.ndarray:
    """Resample an ``hxwx3`` feature-map picture to ``panel`` (height, width) pixels.

    Cell ``i`` of a map with output stride ``s`` covers input pixels ``[i*s, (i+1)*s)``; maps
    are drawn that way, so every level lines up with the input image (a last, partial cell
    is cut at the border) instead of being stretched to fit.
    """
    rows = _cell_index(panel[0], image[0], colours.shape[0], stride)
    cols = _cell_index(panel[1], image[1], colours.shape[1], stride)
    return colours[rows[:, None], cols[None, :]]


def _resize_rgb(rgb: np.ndarray, panel: tuple[int, int]) -> np.ndarray:
    height, width = panel
    if (height, width) == rgb.shape[:2]:
        return rgb
    # enlarging a small image shows its real pixels; shrinking one averages them
    resample = Image.Resampling.NEAREST if height >= rgb.shape[0] else Image.Resampling.LANCZOS
    return np.asarray(Image.fromarray(rgb).resize((width, height), resample))


def panel_shape(image: tuple[int, int], side: int | None = None) -> tuple[int, int]:
    """(height, width) of every panel: the image's aspect ratio, longer side ``side``.

    By default the image is shrunk by a whole factor to at most 256 pixels, or enlarged by
    one to nearly 256, so feature cells stay equally wide on screen.
    """
    longer = max(image)
    if side is None:
        side = (
            longer // math.ceil(longer / DEFAULT_PANEL_SIDE)
            if longer > DEFAULT_PANEL_SIDE
            else longer * max(1, DEFAULT_PANEL_SIDE // longer)
        )
    if side < 1:
        raise ValueError(f"the panel size must be a positive number of pixels, got {side}")
    scale = side / longer
    return max(1, round(image[0] * scale)), max(1, round(image[1] * scale))


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


# -- panels and figures ---------------------------------------------------------------------------


@dataclass
class _Panel:
    """One picture with a two-line caption, and its entry in summary.json."""

    title: str
    detail: str
    pixels: np.ndarray
    entry: dict[str, Any]


class _Painter:
    """Makes the panels of one figure: pictures at a common size, with captions and summary entries."""

    def __init__(self, file: str, image: tuple[int, int], panel: tuple[int, int]) -> None:
        self.file = file
        self.image = image
        self.panel = panel

    def activation(self, kind: str, title: str, t: Tensor, stride: float | None, **where: int) -> _Panel:
        norm = activation_norm(t)
        low, high = display_range(norm)
        channels, height, width = t.shape[-3:]
        norm_min, norm_max = float(norm.min()), float(norm.max())
        entry = {
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
        detail = f"{channels} ch, {height}x{width}, norm {norm_min:.3g}..{norm_max:.3g}"
        pixels = enlarge(colorize_norm(norm, low, high), self.panel, self.image, stride)
        return _Panel(title, detail, pixels, entry)

    def picture(self, kind: str, title: str, detail: str, rgb: np.ndarray) -> _Panel:
        entry = {"file": self.file, "name": title, "kind": kind, "level": "input", "shape": list(rgb.shape[:2])}
        return _Panel(title, detail, _resize_rgb(rgb, self.panel), entry)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: only the fixed-size bitmap font
        return ImageFont.load_default()


_MARGIN = 12
_GAP = 12


def _text_width(font: ImageFont.ImageFont | ImageFont.FreeTypeFont, text: str) -> int:
    box = font.getbbox(text)
    return math.ceil(box[2] - box[0])


def _compose(
    title: str,
    rows: Sequence[Sequence[_Panel | None]],
    notes: Sequence[str],
    legend: Sequence[tuple[tuple[int, int, int], str]] = (),
) -> Image.Image:
    """A white figure: title, a grid of captioned panels (``None`` leaves a cell empty), notes."""
    title_font, font = _font(16), _font(12)
    line = 16
    panels = [p for row in rows for p in row if p is not None]
    panel_h, panel_w = panels[0].pixels.shape[:2] if panels else (1, 1)
    cell_w = max([panel_w] + [_text_width(font, t) + 4 for p in panels for t in (p.title, p.detail)])
    cell_h = 2 * line + 4 + panel_h
    columns = max((len(row) for row in rows), default=1)
    grid_w = columns * cell_w + (columns - 1) * _GAP
    bar_h = line + 4
    width = 2 * _MARGIN + max([grid_w, _text_width(title_font, title)] + [_text_width(font, n) for n in notes])
    legend_rows = _legend_rows(font, legend, width - 2 * _MARGIN)
    height = _MARGIN + 24 + len(rows) * (cell_h + _GAP) + bar_h + len(legend_rows) * line + len(notes) * line + _MARGIN
    figure = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(figure)
    draw.text((_MARGIN, _MARGIN), title, fill="black", font=title_font)
    y = _MARGIN + 24
    for row in rows:
        for c, panel in enumerate(row):
            if panel is None:
                continue
            x = _MARGIN + c * (cell_w + _GAP)
            draw.text((x, y), panel.title, fill="black", font=font)
            draw.text((x, y + line), panel.detail, fill=(90, 90, 90), font=font)
            figure.paste(Image.fromarray(panel.pixels), (x, y + 2 * line + 4))
        y += cell_h + _GAP
    draw.text((_MARGIN, y), "low", fill="black", font=font)
    bar_x = _MARGIN + _text_width(font, "low") + 6
    figure.paste(Image.fromarray(np.repeat(COLOUR_TABLE[None], line - 4, axis=0)), (bar_x, y + 2))
    draw.text((bar_x + len(COLOUR_TABLE) + 6, y), "high", fill="black", font=font)
    y += bar_h
    for note in notes:
        draw.text((_MARGIN, y), note, fill=(60, 60, 60), font=font)
        y += line
    for items in legend_rows:
        x = _MARGIN
        for colour, name in items:
            draw.rectangle((x, y + 2, x + 11, y + 13), fill=colour, outline="black")
            draw.text((x + 16, y), name, fill="black", font=font)
            x += 16 + _text_width(font, name) + 14
        y += line
    return figure


def _legend_rows(
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont, legend: Sequence[tuple[tuple[int, int, int], str]], width: int
) -> list[list[tuple[tuple[int, int, int], str]]]:
    rows: list[list[tuple[tuple[int, int, int], str]]] = []
    x = width  # forces a first row
    for colour, name in legend:
        item = 16 + _text_width(font, name) + 14
        if x + item > width and (not rows or rows[-1]):
            rows.append([])
            x = 0
        rows[-1].append((colour, name))
        x += item
    return rows


def _palette(model: SegmentationModel) -> list[tuple[int, int, int]]:
    if model.meta.palette:
        return [(int(c[0]), int(c[1]), int(c[2])) for c in model.meta.palette]
    from ..data.datasets import default_palette

    return list(default_palette(model.num_classes))


def _png_writer(figure: Image.Image) -> Callable[[str], None]:
    def write(tmp: str) -> None:
        figure.save(tmp, format="PNG")  # the temporary name has no .png suffix to infer it from

    return write


# -- the figures ---------------------------------------------------------------------------------

_NORM_NOTE = (
    "Each map: the L2 norm over channels at each pixel, coloured from its minimum to its 99th percentile;"
    " sizes are height x width."
)


def _levels_figure(
    model: SegmentationModel, acts: Activations, rgb: np.ndarray, panel: tuple[int, int]
) -> tuple[Image.Image, list[_Panel], dict[str, float]]:
    """The input, the encoder features from fine to coarse, and the prediction; also the class shares."""
    paint = _Painter("levels.png", (rgb.shape[0], rgb.shape[1]), panel)
    labels = acts.logits[0].argmax(0).cpu().numpy()
    palette = np.asarray(_palette(model), dtype=np.uint8)
    overlay = np.clip(rgb * 0.5 + palette[labels] * 0.5 + 0.5, 0, 255).astype(np.uint8)
    names = list(model.meta.class_names or [f"class {i}" for i in range(model.num_classes)])
    counts = np.bincount(labels.ravel(), minlength=model.num_classes)
    order = [int(i) for i in np.argsort(-counts, kind="stable") if counts[i]]
    shares = {names[i]: float(counts[i] / labels.size) for i in order}

    panels = [paint.picture("image", "input image", f"RGB, {rgb.shape[0]}x{rgb.shape[1]}", rgb)]
    for i, (feature, stride) in enumerate(zip(acts.encoder, model.encoder.strides, strict=True)):
        panels.append(
            paint.activation("encoder", f"encoder {_level(stride)}, feature {i + 1}", feature, stride, feature=i + 1)
        )
    panels.append(paint.picture("prediction", "prediction", f"{model.num_classes} classes, overlaid", overlay))
    rows = [panels[i : i + 4] for i in range(0, len(panels), 4)]
    legend = [((int(palette[i][0]), int(palette[i][1]), int(palette[i][2])), names[i]) for i in order]
    figure = _compose(
        f"{model.arch or type(model).__name__}: encoder features per level, fine to coarse",
        rows,
        [
            _NORM_NOTE,
            "Captions: the level (output stride), channels, map size and the norm's range. Classes predicted:",
        ],
        legend=legend,
    )
    return figure, panels, shares


def _block_figures(
    model: SegmentationModel, acts: Activations, image: tuple[int, int], panel: tuple[int, int]
) -> tuple[Image.Image, Image.Image, list[_Panel]]:
    """blocks.png and pooling.png: one row per block, coarse to fine."""
    paint_blocks = _Painter("blocks.png", image, panel)
    paint_pool = _Painter("pooling.png", image, panel)
    strides = model.encoder.strides
    block_rows: list[list[_Panel | None]] = []
    pool_rows: list[list[_Panel | None]] = []
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
        row: list[_Panel | None] = [
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
        pool_row: list[_Panel | None] = [
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
    blocks = _compose(
        f"{arch}: RefineNet blocks, coarse to fine, one row each",
        block_rows,
        [
            "Left: a block's inputs (encoder features after their lateral convolution, then the previous block's",
            "output); then their multi-resolution fusion at the finest input's size; right: the block's output,",
            "which the next row takes as its last input. Down the right-hand column, detail is added: refinement.",
            _NORM_NOTE,
        ],
    )
    pooling = _compose(
        f"{arch}: chained residual pooling in each block, coarse to fine",
        pool_rows,
        [
            "Left: the pooling chain's input after its activation; then what each stage adds to the sum (a stage",
            f"max-pools and convolves the previous stage's output, {order}), so later stages draw on ever wider",
            "context; right: the sum of the input and every stage, the chain's output.",
            _NORM_NOTE,
        ],
    )
    panels = [p for row in block_rows + pool_rows for p in row if p is not None]
    return blocks, pooling, panels


def check_not_overwriting(image: str | os.PathLike[str], output_dir: str | os.PathLike[str]) -> None:
    """Refuse an output folder in which one of the files written would be the input image."""
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

    ``size`` is the longer side of every panel in pixels (by default near 256); ``max_side``
    shrinks a larger image to that longer side before the model sees it. ``source`` names the
    image in summary.json (a path given as ``image`` names itself). Returns the files written.
    """
    output = Path(output_dir)
    if isinstance(image, str | os.PathLike):
        check_not_overwriting(image, output)
        source = source or str(image)
    if output.exists() and not output.is_dir():
        raise NotADirectoryError(f"{output}: not a folder")
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be a positive number of pixels, got {max_side}")
    original = load_image(image)
    rgb = _shrink(original, max_side)
    hw = (rgb.shape[0], rgb.shape[1])
    panel = panel_shape(hw, size)

    device = next(model.parameters()).device
    x = torch.from_numpy(rgb.copy()).to(device).permute(2, 0, 1)[None].float().div_(255.0)
    mean = torch.tensor(model.meta.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(model.meta.std, device=device).view(1, 3, 1, 1)
    acts = capture_activations(model, (x - mean) / std)

    levels, level_panels, shares = _levels_figure(model, acts, rgb, panel)
    blocks, pooling, block_panels = _block_figures(model, acts, hw, panel)
    summary = {
        "image": source,
        "image_size": list(original.shape[:2]),
        "input_size": list(hw),
        "model": model.arch or type(model).__name__,
        "class_names": list(model.meta.class_names or []),
        "predicted_shares": shares,
        "colour": "viridis of the per-pixel L2 norm over channels, from display_range[0] to display_range[1]",
        "panel_size": list(panel),
        "panels": [p.entry for p in level_panels + block_panels],
    }
    written = [
        atomic_write(output / name, _png_writer(figure))
        for name, figure in (("levels.png", levels), ("blocks.png", blocks), ("pooling.png", pooling))
    ]
    text = json.dumps(summary, indent=2) + "\n"
    written.append(atomic_write(output / "summary.json", lambda tmp: Path(tmp).write_text(text, encoding="utf-8")))
    return written
