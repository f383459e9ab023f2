"""What the rules read: the split being checked (:class:`SplitContext`) and what its masks hold
(:class:`SplitCounts`, tallied from the pairs the reader threads scanned)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..labels import IGNORE_INDEX, Colour, LabelSpace
from ..registry import DatasetSpec
from ..scan import PairScan, RawKey
from ._classes_txt import ClassLine, class_lines
from .report import Problem

__all__ = ["JPEG_SUFFIXES", "SplitContext", "SplitCounts"]

JPEG_SUFFIXES = (".jpg", ".jpeg")


@dataclass(frozen=True)
class SplitContext:
    """The split a rule looks at.

    Attributes:
        spec: The registered dataset.
        base: The dataset root.
        split: The split name.
    """

    spec: DatasetSpec
    base: Path
    split: str

    @property
    def generic(self) -> bool:
        """Whether the classes were declared by the user, in ``classes.txt`` (the ``generic`` layout)."""
        return self.spec.name == "generic"

    def problem(self, severity: str, check: str, message: str, fix: str, files: Iterable[Path | str] = ()) -> Problem:
        """A problem found in this split.

        Args:
            severity: ``"error"`` or ``"warning"``.
            check: The check id.
            message: What is wrong.
            fix: The one-line fix.
            files: Every file concerned.

        Returns:
            The problem, with the split and the files as strings.
        """
        return Problem(severity, check, message, fix, self.split, [str(f) for f in files])

    def class_lines(self, labels: LabelSpace) -> list[ClassLine] | None:
        """The generic dataset's class lines, when they are the classes of ``labels``.

        Args:
            labels: The split's label space.

        Returns:
            The lines, or ``None`` (no line-by-line fix is given) when ``classes.txt`` cannot be
            read or declares other classes.
        """
        try:
            lines = class_lines(self.base / "classes.txt")
        except (OSError, UnicodeDecodeError):
            return None
        return lines if tuple(line.name for line in lines) == labels.class_names else None


@dataclass
class SplitCounts:
    """What the masks of one split hold, and which files could not be used.

    Attributes:
        labels: The split's label space.
        raw_pixels: Pixels per raw value (or colour).
        raw_images: Masks per raw value (or colour).
        class_pixels: Pixels per train id.
        class_images: Masks per train id.
        ignored_pixels: Pixels that become ignore.
        ignored_images: Masks with ignored pixels.
        masks_read: Masks read and counted.
        bad_images: Unreadable images, each with the reader's error.
        bad_masks: Unreadable masks, each with the reader's error.
        colour_masks: RGB masks of a split whose classes are declared by value.
        colours: Pixels per colour of those masks.
        mismatched: ``(image, mask, image size, mask size)`` of pairs of different sizes.
        jpeg: The masks saved as JPEG.
    """

    labels: LabelSpace
    raw_pixels: Counter[RawKey] = field(default_factory=Counter)
    raw_images: Counter[RawKey] = field(default_factory=Counter)
    class_pixels: list[int] = field(default_factory=list)
    class_images: list[int] = field(default_factory=list)
    ignored_pixels: int = 0
    ignored_images: int = 0
    masks_read: int = 0
    bad_images: list[tuple[Path, str]] = field(default_factory=list)
    bad_masks: list[tuple[Path, str]] = field(default_factory=list)
    colour_masks: list[Path] = field(default_factory=list)
    colours: Counter[Colour] = field(default_factory=Counter)
    mismatched: list[tuple[Path, Path, tuple[int, int], tuple[int, int]]] = field(default_factory=list)
    jpeg: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.class_pixels:
            self.class_pixels = [0] * self.labels.num_classes
        if not self.class_images:
            self.class_images = [0] * self.labels.num_classes

    @property
    def total(self) -> int:
        """Mask pixels counted."""
        return sum(self.raw_pixels.values())

    def add(self, found: PairScan, image_path: Path, mask_path: Path) -> None:
        """Count one scanned pair.

        Args:
            found: What the reader found in the pair.
            image_path: The pair's image.
            mask_path: The pair's mask.
        """
        if found.image_error is not None:
            self.bad_images.append((image_path, found.image_error))
        if found.colours is not None:
            self.colour_masks.append(mask_path)
            self.colours.update(found.colours)
        elif found.mask_error is not None:
            self.bad_masks.append((mask_path, found.mask_error))
        if found.image_size and found.mask_size and found.image_size != found.mask_size:
            self.mismatched.append((image_path, mask_path, found.image_size, found.mask_size))
        if found.counts is None:
            return
        self.masks_read += 1
        present: set[int] = set()
        ignored_here = False
        for raw, pixels in found.counts.items():
            self.raw_pixels[raw] += pixels
            self.raw_images[raw] += 1
            train = self.labels.train_id(raw)
            if train == IGNORE_INDEX:
                self.ignored_pixels += pixels
                ignored_here = True
            else:
                self.class_pixels[train] += pixels
                present.add(train)
        for train in present:
            self.class_images[train] += 1
        self.ignored_images += ignored_here
