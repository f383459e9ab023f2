"""matplotlib, optional and loaded only to draw: its guard, a figure free of pyplot, atomic PNGs.

Every figure refineseg draws (``visualize``, ``evaluate --confusion``, ``check-data --plot``)
starts and ends here, so the ``[plot]`` extra is named in one place, no figure touches pyplot's
global state (threads may draw at once), and a reader never sees half a PNG.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._extras import require
from ._io import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DPI", "new_figure", "require_matplotlib", "save_png"]

DPI = 100  # PNG pixels per figure inch: panel sizes are asked for in pixels


def require_matplotlib(purpose: str) -> None:
    """Raise a one-line error with the install command when matplotlib is missing.

    Args:
        purpose: What needs it, the start of the message (``"drawing activations"``).

    Raises:
        MissingExtraError: If matplotlib is not installed (an ``ImportError``; the ``[plot]`` extra).
    """
    require("matplotlib", "plot", purpose=purpose)


def new_figure(width: float, height: float) -> Figure:
    """An empty figure with constrained layout and a white background, on its own Agg canvas.

    Not pyplot: the figure is not registered anywhere, so threads may draw figures at once.

    Args:
        width: In inches (:data:`DPI` pixels each).
        height: In inches.

    Returns:
        The figure.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained", facecolor="white")
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``figure`` as an RGB PNG, atomically (a reader never sees half a file).

    Args:
        figure: The figure, at :data:`DPI` pixels per inch.
        path: The PNG file to write.

    Returns:
        ``path`` as a ``Path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    # a figure of pyplot's may have an interactive canvas: drawn on Agg all the same
    canvas = figure.canvas if isinstance(figure.canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
    # drawn once, then cut to what was drawn on: a figure's size is planned before its text is
    # measured, and what it did not fill would be a white margin (savefig's bbox_inches="tight"
    # does the same with a second drawing); saved by Pillow as RGB, the figure being opaque
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())
    box = figure.get_tightbbox().padded(0.1).transformed(figure.dpi_scale_trans)
    height, width = pixels.shape[:2]
    left, right = max(0, math.floor(box.x0)), min(width, math.ceil(box.x1))
    top, bottom = max(0, math.floor(height - box.y1)), min(height, math.ceil(height - box.y0))
    picture = Image.fromarray(pixels[top:bottom, left:right, :3])

    def write(tmp: str) -> None:
        picture.save(tmp, format="PNG")  # the temporary name has no .png suffix to infer it from

    return atomic_write(path, write)
