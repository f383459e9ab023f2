"""What a reader hands over: a :class:`Sample` per annotated image (its image found with an
:class:`ImageFinder`, or an :class:`EmbeddedImage`), and the checks of its vertices against the image."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..datasets import images_in

__all__ = ["SUBPIXEL", "EmbeddedImage", "ImageFinder", "Sample", "far_out_of_bounds", "out_of_bounds"]

# vertices less than this (pixels) outside the image are clipped without a problem: a click on the border
SUBPIXEL = 1.0


@dataclass(frozen=True)
class Sample:
    """One annotated image, its mask drawn only when it is written.

    Attributes:
        source: Names the annotation (file, and entry where a file holds many) in problem messages.
        image: The image file, or ``None`` when the reader could not find it (and has reported it).
        draw: ``draw(width, height)`` makes the HxW uint8 mask, or ``None`` when it cannot
            (having reported why).
        size: The ``(width, height)`` the annotation was made for, when the format records it;
            checked against the image before drawing.
        embedded: The image stored in the annotation, used when ``image`` is ``None``.
    """

    source: str
    image: Path | None
    draw: Callable[[int, int], np.ndarray | None]
    size: tuple[int, int] | None = None
    embedded: EmbeddedImage | None = None


@dataclass(frozen=True)
class EmbeddedImage:
    """An image stored inside the annotation file (LabelMe's ``imageData``), read when written.

    It is written as it is stored (the same bytes), named ``stem`` plus the suffix of its format.

    Attributes:
        stem: The name stem to write it under.
        read: Returns the image file's bytes; may raise ``OSError`` or ``ValueError``.
    """

    stem: str
    read: Callable[[], bytes]


def out_of_bounds(xs: Iterable[float], ys: Iterable[float], width: int, height: int) -> bool:
    """Whether any vertex lies outside the image's extent, [0, width] x [0, height] in pixel units.

    Args:
        xs: Vertex x coordinates.
        ys: Vertex y coordinates.
        width: Image width.
        height: Image height.

    Returns:
        ``True`` if a vertex lies outside.
    """
    return any(x < 0 or x > width for x in xs) or any(y < 0 or y > height for y in ys)


def far_out_of_bounds(xs: Iterable[float], ys: Iterable[float], width: int, height: int) -> bool:
    """Whether any vertex lies :data:`SUBPIXEL` (1 px) or more outside the image's extent: a shape
    that really reaches out of the image, not a click on its border that overshot by a fraction of a
    pixel (such vertices are clipped without a problem).

    Args:
        xs: Vertex x coordinates.
        ys: Vertex y coordinates.
        width: Image width.
        height: Image height.

    Returns:
        ``True`` if a vertex lies 1 px or more outside.
    """
    return any(x <= -SUBPIXEL or x >= width + SUBPIXEL for x in xs) or any(
        y <= -SUBPIXEL or y >= height + SUBPIXEL for y in ys
    )


class ImageFinder:
    """Finds images in one folder by relative file name or by stem; the folder is listed once, lazily.

    Args:
        folder: The image folder (it may not exist: then nothing is found).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._by_name: dict[str, Path] | None = None
        self._by_stem: dict[str, list[Path]] | None = None

    def _index(self) -> None:
        files = images_in(self.folder) if self.folder.is_dir() else []
        self._by_name = {p.name: p for p in files}
        self._by_stem = {}
        for p in files:
            self._by_stem.setdefault(p.stem, []).append(p)

    def by_name(self, name: str) -> Path | None:
        """``folder/name`` (``name`` may hold sub-folders), else a file of the same base name in ``folder``.

        Args:
            name: A relative file name, with ``/`` or ``\\`` separators.

        Returns:
            The image, or ``None``.
        """
        name = name.replace("\\", "/")
        direct = self.folder / name
        if direct.is_file():
            return direct
        if self._by_name is None:
            self._index()
        assert self._by_name is not None
        return self._by_name.get(Path(name).name)

    def by_stem(self, stem: str) -> list[Path]:
        """Every image whose name is ``stem`` plus an image suffix (``stem`` may hold sub-folders).

        Args:
            stem: A relative file name without suffix.

        Returns:
            The matching images (several when suffixes differ), possibly none.
        """
        rel = Path(stem.replace("\\", "/"))
        if rel.parent != Path("."):
            folder = self.folder / rel.parent
            found = [p for p in images_in(folder) if p.stem == rel.name] if folder.is_dir() else []
            if found:
                return found
        if self._by_stem is None:
            self._index()
        assert self._by_stem is not None
        return list(self._by_stem.get(rel.name, []))
