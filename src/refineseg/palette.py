"""Class names and colours for models and datasets that bring none: the one home of the fallback.

Pure Python: inference needs it without the dataset modules, and any layer may import it.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["class_names_or_default", "default_class_names", "default_palette", "palette_or_default"]

Colour = tuple[int, int, int]


def default_palette(n: int) -> tuple[Colour, ...]:
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


def default_class_names(n: int) -> tuple[str, ...]:
    """Names for classes that have none: ``class_0``, ``class_1``, ...

    Args:
        n: Number of classes.

    Returns:
        ``n`` names, ``class_<i>`` for class ``i``.
    """
    return tuple(f"class_{i}" for i in range(n))


def class_names_or_default(names: Sequence[str] | None, n: int) -> list[str]:
    """``names`` when there are any, else :func:`default_class_names`.

    Args:
        names: The class names a model or dataset brings, or ``None`` (or empty) when it has none.
        n: Number of classes.

    Returns:
        The names, as a new list.
    """
    return list(names) if names else list(default_class_names(n))


def palette_or_default(palette: Sequence[Sequence[int]] | None, n: int) -> list[Colour]:
    """``palette`` when there is one, else :func:`default_palette`.

    Args:
        palette: The RGB colours a model or dataset brings, or ``None`` (or empty) when it has none.
        n: Number of classes.

    Returns:
        One ``(r, g, b)`` tuple of ints per colour, as a new list.
    """
    if palette:
        return [(int(c[0]), int(c[1]), int(c[2])) for c in palette]
    return list(default_palette(n))
