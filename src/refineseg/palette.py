"""Class colours for models and datasets that bring none (pure Python: inference needs it without
the dataset modules)."""

from __future__ import annotations

__all__ = ["default_palette"]


def default_palette(n: int) -> tuple[tuple[int, int, int], ...]:
    """The PASCAL VOC colour map: distinct colours for any number of classes.

    Args:
        n: Number of classes.

    Returns:
        ``n`` RGB colours; class 0 is black.
    """
    colours = []
    for index in range(n):
        r = g = b = 0
        c = index
        for bit in range(8):
            r |= ((c >> 0) & 1) << (7 - bit)
            g |= ((c >> 1) & 1) << (7 - bit)
            b |= ((c >> 2) & 1) << (7 - bit)
            c >>= 3
        colours.append((r, g, b))
    return tuple(colours)
