"""What :func:`~refineseg.data.check.check_dataset` returns: the report, per split and per class,
and the :class:`Problem` list, each problem with its stable check id (:data:`CHECKS`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..scan import RawKey
from ._text import count

__all__ = [
    "CHECKS",
    "ERROR",
    "WARNING",
    "ClassStats",
    "DataReport",
    "Problem",
    "RawValue",
    "SplitReport",
]

ERROR = "error"
WARNING = "warning"

CHECKS: dict[str, str] = {
    "no-split": "no split of the dataset was found under the root",
    "build": "a split cannot be built (missing files, a broken classes.txt, another layout)",
    "missing-mask": "images without a mask",
    "missing-image": "masks without an image (warning: not used)",
    "mask-not-png": "masks the generic layout does not read (not SPLIT/masks/STEM.png)",
    "unreadable-image": "images that cannot be read",
    "unreadable-mask": "masks that cannot be read",
    "size-mismatch": "a mask of another size than its image",
    "colour-masks": "RGB colour masks while the classes are declared by value",
    "jpeg-masks": "masks saved as JPEG",
    "silent-ignore": "ignored pixels (255) while a class has none (error); or a 0/255 export (warning)",
    "jpeg-like": "many rare undeclared values: JPEG compression or interpolation (warning)",
    "undeclared-values": "mask values or colours no class declares (warning: ignored)",
    "class-absent": "a class without pixels: in a training split an error, in an evaluation split a warning",
}
"""Every check id a :class:`Problem` can carry, with what it finds. The ids are stable (the JSON
report and the summary line name them); the messages are not."""


@dataclass
class Problem:
    """One thing wrong with the data.

    Attributes:
        severity: :data:`ERROR` or :data:`WARNING`.
        check: Its check id, a key of :data:`CHECKS` (``missing-mask``, ``silent-ignore``...).
        message: What is wrong, naming the first few files.
        fix: The one-line fix.
        split: The split it was found in, or ``None`` for the whole dataset.
        files: Every file concerned.
    """

    severity: str
    check: str
    message: str
    fix: str
    split: str | None = None
    files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict.

        Returns:
            One key per attribute.
        """
        return dataclasses.asdict(self)


@dataclass
class RawValue:
    """A raw mask value (or RGB colour), its pixels, the images holding it, and what it becomes.

    Attributes:
        value: The raw value, or an RGB colour for colour masks.
        pixels: Pixels holding it.
        images: Masks holding it.
        maps_to: What it becomes: a class name or how it is ignored.
    """

    value: RawKey
    pixels: int
    images: int
    maps_to: str


@dataclass
class ClassStats:
    """One class's pixels and images in a split.

    Attributes:
        name: The class name.
        train_id: Its train id.
        pixels: Pixels of the class.
        images: Masks that show it.
    """

    name: str
    train_id: int
    pixels: int
    images: int


@dataclass
class SplitReport:
    """What the masks of one split hold. Shares are of all mask pixels / of the masks read.

    Attributes:
        split: The split name.
        source: The dataset's own name for it, e.g. ``"folder ROOT/train/images"``.
        images: (image, mask) pairs listed.
        masks_read: Masks that could be read and counted.
        pixels: Mask pixels counted.
        raw_values: Every raw value (or colour) found.
        classes: Per class, in train-id order.
        ignored_pixels: Pixels that become ignore.
        ignored_images: Masks with ignored pixels.
    """

    split: str
    source: str
    images: int
    masks_read: int
    pixels: int
    raw_values: list[RawValue]
    classes: list[ClassStats]
    ignored_pixels: int
    ignored_images: int

    def pixel_share(self, pixels: int) -> float:
        """A pixel count as a share of all mask pixels counted.

        Args:
            pixels: A pixel count.

        Returns:
            The share in 0..1 (0.0 when no pixel was counted).
        """
        return pixels / self.pixels if self.pixels else 0.0

    def image_share(self, images: int) -> float:
        """A mask count as a share of the masks read.

        Args:
            images: A number of masks.

        Returns:
            The share in 0..1 (0.0 when no mask was read).
        """
        return images / self.masks_read if self.masks_read else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The split's report as JSON-ready data, with shares.

        Returns:
            A dict with the split's counts, ``raw_values``, ``classes`` and ``ignored``.
        """
        return {
            "split": self.split,
            "source": self.source,
            "images": self.images,
            "masks_read": self.masks_read,
            "pixels": self.pixels,
            "raw_values": [
                {
                    "value": list(v.value) if isinstance(v.value, tuple) else v.value,
                    "pixels": v.pixels,
                    "pixel_share": self.pixel_share(v.pixels),
                    "images": v.images,
                    "maps_to": v.maps_to,
                }
                for v in self.raw_values
            ],
            "classes": [
                {
                    "name": c.name,
                    "train_id": c.train_id,
                    "pixels": c.pixels,
                    "pixel_share": self.pixel_share(c.pixels),
                    "images": c.images,
                    "image_share": self.image_share(c.images),
                }
                for c in self.classes
            ],
            "ignored": {
                "pixels": self.ignored_pixels,
                "pixel_share": self.pixel_share(self.ignored_pixels),
                "images": self.ignored_images,
                "image_share": self.image_share(self.ignored_images),
            },
        }


@dataclass
class DataReport:
    """Everything :func:`~refineseg.data.check.check_dataset` found; ``ok`` when no problem is an error.

    Attributes:
        dataset: The dataset name.
        root: The dataset root.
        class_names: The declared classes (empty when no split could be built).
        colour_masks: Whether the classes are declared by mask colour.
        splits: One report per split read.
        skipped: Default splits not found under the root, and why.
        problems: Everything wrong, errors and warnings.
    """

    dataset: str
    root: str
    class_names: list[str] = field(default_factory=list)
    colour_masks: bool = False
    splits: list[SplitReport] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """The problems that are errors."""
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        """The problems that are warnings."""
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def ok(self) -> bool:
        """Whether no problem is an error (the data can train as declared)."""
        return not self.errors

    @property
    def num_images(self) -> int:
        """(image, mask) pairs over all splits read."""
        return sum(s.images for s in self.splits)

    def checks(self, severity: str | None = None) -> list[str]:
        """The check ids of the problems, in the order found, each once.

        Args:
            severity: Only the problems of this severity (:data:`ERROR` or :data:`WARNING`);
                ``None``: all of them.

        Returns:
            The ids, e.g. ``["missing-mask", "missing-image"]``.
        """
        return list(dict.fromkeys(p.check for p in self.problems if severity in (None, p.severity)))

    def summary(self) -> str:
        """The report's last line.

        Returns:
            ``OK: ... can train as declared`` or ``N errors, M warnings: ...``.
        """
        errors, warnings = len(self.errors), len(self.warnings)
        if errors:
            checks = ", ".join(self.checks(ERROR))
            return f"{count(errors, 'error')}, {count(warnings, 'warning')}: {checks}; fix the errors above to train"
        splits = ", ".join(s.split for s in self.splits)
        more = f" ({count(warnings, 'warning')} above)" if warnings else ""
        return f"OK: {count(self.num_images, 'image')} in {splits} can train as declared{more}"

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (what ``refineseg check-data --json`` writes).

        Returns:
            A dict with the splits, problems, counts of errors and warnings, ``ok`` and the summary.
        """
        return {
            "dataset": self.dataset,
            "root": self.root,
            "classes": self.class_names,
            "colour_masks": self.colour_masks,
            "splits": [s.as_dict() for s in self.splits],
            "skipped_splits": self.skipped,
            "problems": [p.as_dict() for p in self.problems],
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "ok": self.ok,
            "summary": self.summary(),
        }
