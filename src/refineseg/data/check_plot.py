"""The chart of ``refineseg check-data --plot``: per split, each class's pixel share and image share.

matplotlib is optional (``pip install 'refineseg[plot]'``) and imported only here, only when a
plot is asked for; the figure is drawn with the Agg canvas, without pyplot's global state.
"""

from __future__ import annotations

import os
from pathlib import Path

from .._io import atomic_write
from .._plot import new_figure, require_matplotlib
from .check import DataReport

__all__ = ["save_plot"]


def save_plot(report: DataReport, path: str | os.PathLike[str]) -> Path:
    """A PNG with one panel per split: horizontal bars of each class's share of the mask pixels and
    of the images that show it (ignored pixels as the last row), written atomically.

    Args:
        report: What :func:`~refineseg.data.check.check_dataset` returned.
        path: The PNG file to write.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ImportError: If matplotlib is not installed.
    """
    require_matplotlib("--plot")

    splits = report.splits
    names = [*report.class_names, "(ignored)"]
    height = max(3.0, 1.5 + 0.32 * len(names))
    fig = new_figure(1.5 + 4.5 * max(1, len(splits)), height)
    axes = fig.subplots(1, max(1, len(splits)), sharey=True, squeeze=False)[0]
    rows = list(range(len(names)))
    for ax, split in zip(axes, splits, strict=False):
        pixel = [100 * split.pixel_share(c.pixels) for c in split.classes]
        pixel.append(100 * split.pixel_share(split.ignored_pixels))
        image = [100 * split.image_share(c.images) for c in split.classes]
        image.append(100 * split.image_share(split.ignored_images))
        ax.barh([r - 0.2 for r in rows], pixel, height=0.4, label="pixel share", color="tab:blue")
        ax.barh([r + 0.2 for r in rows], image, height=0.4, label="image share", color="tab:orange")
        ax.set_title(f"{split.split} ({split.masks_read} masks)")
        ax.set_xlim(0, 100)
        ax.set_xlabel("% (of mask pixels / of images)")
        ax.grid(axis="x", alpha=0.3)
    if not splits:
        axes[0].text(0.5, 0.5, "no split could be read", ha="center", va="center", transform=axes[0].transAxes)
    axes[0].set_yticks(rows, names)
    axes[0].invert_yaxis()
    if splits:
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize="small")
    fig.suptitle(f"{report.dataset}: {report.root}", fontsize="medium")
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
