"""Figures drawn with matplotlib: grids of captioned feature-map and picture panels, saved as PNGs.

Everything here takes numpy arrays, never tensors: :mod:`refineseg.analysis.visualize` decides
what to show, this module how. matplotlib is optional (``pip install 'refineseg[plot]'``) and
imported only inside the functions that draw, so importing refineseg or asking for ``--help``
never loads it. Figures are plain :class:`matplotlib.figure.Figure` objects on their own Agg
canvas, never pyplot: no global state, so several threads may draw at once.

Feature maps are coloured with matplotlib's ``viridis`` (perceptually uniform, readable in grey
scale) between a low and a high value given per map, and placed with ``imshow``'s ``extent`` in
input-image pixels: cell ``i`` of a map with output stride ``s`` covers pixels
``[i*s, (i+1)*s)``, so every level lines up with the image (a last, partial cell is cut at the
border) instead of being stretched to fit, and nearest-neighbour sampling keeps each cell one
flat block.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .._plot import DPI, new_figure, require_matplotlib, save_png

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "COLORMAP",
    "DPI",
    "MapPanel",
    "Panel",
    "PicturePanel",
    "grid_figure",
    "new_figure",
    "panel_shape",
    "require_matplotlib",
    "save_png",
]

COLORMAP = "viridis"
DEFAULT_PANEL_SIDE = 256

# sizes in points; the average character width and line height (in ems, for matplotlib's default
# DejaVu Sans) size the columns and the notes before anything is drawn, so that captions fit their
# column and the notes wrap to the figure's width
_FONT = 9.0
_TITLE_FONT = 12.0
_CHAR_EM = 0.6
_WRAP_EM = 0.58  # a little more than the average character: a wrapped line must not run off the figure
_LINE_EM = 1.3
# inches between panels: more across than constrained layout takes, so that a panel's height, not
# its width, is what the figure's size limits, and rows are as far apart as planned
_GAP = 0.3
_ROW_GAP = 0.12
_BAR = 0.12  # inches: the colour bar's height


@dataclass(frozen=True)
class MapPanel:
    """An ``hxw`` feature map coloured from ``low`` (bottom of the colormap) to ``high`` (top).

    A flat map (``high == low``) is drawn in the bottom colour.

    Attributes:
        title: The caption above the panel.
        detail: The caption below it.
        values: The ``hxw`` map.
        low: The value at the bottom of the colormap.
        high: The value at its top.
        stride: The map's output stride in input pixels; ``None`` stretches it over the image.
    """

    title: str
    detail: str
    values: np.ndarray
    low: float
    high: float
    stride: float | None


@dataclass(frozen=True)
class PicturePanel:
    """An ``HxWx3`` uint8 picture at the input image's size (the image, or a prediction over it).

    Attributes:
        title: The caption above the panel.
        detail: The caption below it.
        rgb: The ``HxWx3`` uint8 picture.
    """

    title: str
    detail: str
    rgb: np.ndarray


Panel = MapPanel | PicturePanel


def panel_shape(image: tuple[int, int], side: int | None = None) -> tuple[int, int]:
    """(height, width) in pixels of every panel: the image's aspect ratio, longer side ``side``.

    Args:
        image: The input image's (height, width).
        side: The panels' longer side in pixels. By default the image is shrunk by a whole
            factor to at most 256 pixels, or enlarged by one to nearly 256, so feature cells
            stay equally wide on screen.

    Returns:
        (height, width), each at least 1.

    Raises:
        ValueError: If ``side`` is below 1.
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


def _inches(text: str, size: float = _FONT) -> float:
    return len(text) * size * _CHAR_EM / 72


def _lines(count: float, size: float = _FONT) -> float:
    return count * size * _LINE_EM / 72


def _rgb(colour: tuple[int, int, int]) -> tuple[float, float, float]:
    return colour[0] / 255, colour[1] / 255, colour[2] / 255


def _show(ax: Axes, panel: Panel, image: tuple[int, int], pixels: tuple[int, int]) -> None:
    height, width = image
    if isinstance(panel, MapPanel):
        rows, cols = panel.values.shape
        if panel.stride:
            extent = (0.0, cols * panel.stride, rows * panel.stride, 0.0)
        else:
            extent = (0.0, float(width), float(height), 0.0)
        # nearest while enlarging: one cell, one flat block; matplotlib's default filter when
        # shrinking (a large image in a small panel), where nearest would drop cells
        enlarging = pixels[0] >= rows and pixels[1] >= cols
        ax.imshow(
            panel.values,
            cmap=COLORMAP,
            vmin=panel.low,
            vmax=panel.high,
            extent=extent,
            interpolation="nearest" if enlarging else None,
        )
    else:
        ax.imshow(panel.rgb, extent=(0.0, float(width), float(height), 0.0))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_anchor("W")  # left-aligned captions start where the picture does
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(panel.title, loc="left", fontsize=_FONT, pad=3)
    ax.set_xlabel(panel.detail, loc="left", fontsize=_FONT, color="0.35", labelpad=2)


def grid_figure(
    title: str,
    rows: Sequence[Sequence[Panel | None]],
    *,
    image: tuple[int, int],
    panel: tuple[int, int],
    notes: Sequence[str] = (),
    legend: Sequence[tuple[tuple[int, int, int], str]] = (),
    scale: tuple[str, str] = ("low", "high"),
) -> Figure:
    """A figure: a title, a grid of captioned panels, a colour bar for the maps, notes and a legend.

    Args:
        title: The figure's title.
        rows: The panels, row by row; ``None`` leaves a cell empty.
        image: The input image's (height, width) in pixels: the frame every panel is drawn in.
        panel: (height, width) in PNG pixels that each panel is planned at.
        notes: Paragraphs under the grid, wrapped to the figure's width.
        legend: (RGB colour, name) swatches after the notes, in reading order.
        scale: The labels of the colour bar's two ends.

    Returns:
        The figure, ready for :func:`save_png`.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.patches import Patch

    drawn = [p for row in rows for p in row if p is not None]
    columns = max((len(row) for row in rows), default=1)
    caption = max((_inches(t) for p in drawn for t in (p.title, p.detail)), default=0.0)
    cell_width = max(panel[1] / DPI, caption)
    width = max(columns * (cell_width + _GAP) + _GAP, _inches(title, _TITLE_FONT) + 0.4)

    # at most 150 characters a line: longer lines are hard to read
    chars = min(150, max(20, int((width - 0.3) * 72 / (_FONT * _WRAP_EM))))
    note_lines = [line for note in notes for line in textwrap.wrap(note, chars)]
    swatch = max((_inches(name) + 3 * _FONT / 72 for _, name in legend), default=1.0)
    legend_rows = math.ceil(len(legend) / max(1, int((width - 0.3) / swatch)))
    legend_columns = math.ceil(len(legend) / legend_rows) if legend else 1
    bottom = _lines(len(note_lines) + 1.4 * legend_rows) + 0.1

    panel_height = panel[0] / DPI
    caption_height = _lines(2) + 0.1
    bar_height = _BAR + _lines(1) + 0.15 if any(isinstance(p, MapPanel) for p in drawn) else 0.0
    height = 0.5 + len(rows) * (panel_height + caption_height + _ROW_GAP) + bar_height + bottom
    figure = new_figure(width, height)
    figure.suptitle(title, fontsize=_TITLE_FONT, x=0.01, ha="left")

    maps = any(isinstance(p, MapPanel) for p in drawn)
    ratios = [panel_height] * len(rows) + ([_BAR] if maps else [])
    grid = figure.add_gridspec(len(ratios), columns, height_ratios=ratios)
    for r, row in enumerate(rows):
        for c, item in enumerate(row):
            if item is not None:
                _show(figure.add_subplot(grid[r, c]), item, image, panel)
    if maps:
        # one bar for all maps (each has its own low and high, given in its caption), in a row of
        # its own under the grid: laid out like a panel, so it never pushes the panels aside
        host = figure.add_subplot(grid[len(rows), :])
        host.set_axis_off()
        length = min(1.0, 3.0 / width)
        cax = host.inset_axes((0.5 - length / 2, 0.0, length, 1.0))
        bar = figure.colorbar(
            ScalarMappable(Normalize(0.0, 1.0), cmap=COLORMAP), cax=cax, orientation="horizontal", ticks=[0.0, 1.0]
        )
        bar.ax.set_xticklabels(list(scale), fontsize=_FONT)
        bar.outline.set_visible(False)
    if note_lines or legend:
        # the notes are the title of a legend below the grid: constrained layout makes room for an
        # "outside" legend, and the swatches follow the notes' last line wherever it ends up
        n = len(legend)
        # matplotlib fills a legend column by column; this order reads row by row, largest first
        order = [k for c in range(legend_columns) for k in range(c, n, legend_columns)]
        handles = [Patch(facecolor=_rgb(legend[k][0]), edgecolor="black", label=legend[k][1]) for k in order]
        box = figure.legend(
            handles=handles,
            loc="outside lower left",
            ncols=legend_columns,
            title="\n".join(note_lines),
            title_fontproperties={"size": _FONT},
            alignment="left",
            frameon=False,
            fontsize=_FONT,
            handlelength=1.2,
            handletextpad=0.4,
            columnspacing=1.2,
        )
        box.get_title().set_color("0.25")
    return figure
