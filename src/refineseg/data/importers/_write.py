"""Writing the ``generic`` layout: :func:`write_dataset` draws each mask only when it is written, so a
large export is never held in memory as pixels. Everything is written into a sibling
``ROOT.partial-XXXXXXXX`` folder that is renamed to ``ROOT`` at the end, so ``ROOT`` either does
not exist or is complete: an interrupted or refused (``strict``) import leaves nothing behind.

A reader (one per annotation format) turns an export into a :class:`~refineseg.data.datasets.LabelSpace`
and a list of :class:`~refineseg.data.importers._samples.Sample` (``_samples``); the classes are
written by ``_classes``, the images and masks by ``_images``.
"""

from __future__ import annotations

import dataclasses
import os
import random
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..._io import atomic_write
from ..datasets import IGNORE_INDEX, DatasetError, LabelSpace, default_palette
from ._classes import class_tokens, classes_txt
from ._images import image_source, palette_png, save_png
from ._samples import Sample

__all__ = ["MAX_CLASSES", "AnnotationImportError", "ImportReport", "check_output", "split_names", "write_dataset"]

# the most classes an 8-bit mask holds when 255 means "ignore"
MAX_CLASSES = 255


@dataclass
class ImportReport:
    """What an import wrote: images per split, the classes, and every problem met (one line each).

    Attributes:
        format: The annotation format.
        output: The dataset folder.
        class_names: The classes, in train-id order.
        train: Images written to ``train``.
        val: Images written to ``val``.
        skipped: Annotated images that were not written (each has a problem line).
        problems: One line per problem.
        notes: One line per thing worth knowing that is not a problem (``strict`` ignores them),
            e.g. shapes without area that were left out.
        written: ``False`` when nothing was put at ``output``.
    """

    format: str
    output: Path
    class_names: tuple[str, ...]
    train: int = 0
    val: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    written: bool = False

    def summary(self) -> str:
        """One line: where, images per split, the classes and the number of problems.

        Returns:
            The line, without a newline.
        """
        where = f"wrote {self.output}" if self.written else f"nothing written to {self.output}"
        parts = [f"train {self.train} image{_s(self.train)}"]
        if self.val:
            parts.append(f"val {self.val} image{_s(self.val)}")
        names = ", ".join(self.class_names)
        return (
            f"{where}: {', '.join(parts)}; {len(self.class_names)} classes ({names}); "
            f"{len(self.problems)} problem{_s(len(self.problems))}"
            + (f", {self.skipped} image{_s(self.skipped)} skipped" if self.skipped else "")
        )


class AnnotationImportError(DatasetError):
    """An import that wrote nothing (``strict`` and problems, or no usable image).

    Args:
        message: The error message.
        report: The import's report, whose ``problems`` list why; kept as ``self.report``.
    """

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def check_output(output: Path) -> None:
    """Refuse an ``output`` that holds anything: an import never overwrites or merges.

    Args:
        output: The import's output folder.

    Raises:
        DatasetError: If ``output`` is a non-empty folder or exists and is not a folder.
    """
    if output.is_dir():
        if any(output.iterdir()):
            raise DatasetError(f"{output}: exists and is not empty; give a new --output (nothing is overwritten)")
    elif output.exists() or output.is_symlink():
        raise DatasetError(f"{output}: exists and is not a directory; give a new --output")


def split_names(names: Iterable[str], *, val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, val): a shuffle by ``seed`` of the sorted names, so the split depends on nothing else.

    Args:
        names: The image name stems.
        val_fraction: The share for ``val``: ``round(val_fraction * n)`` names, at least one
            when the fraction is above 0, and never all of them (training needs an image).
        seed: Seeds the shuffle.

    Returns:
        ``(train, val)``, each sorted.
    """
    order = sorted(names)
    random.Random(seed).shuffle(order)
    n = len(order)
    n_val = round(val_fraction * n)
    if val_fraction > 0:
        n_val = max(n_val, 1)
    n_val = min(n_val, max(n - 1, 0))
    return sorted(order[n_val:]), sorted(order[:n_val])


def write_dataset(
    *,
    fmt: str,
    samples: Iterable[Sample],
    labels: LabelSpace,
    output: Path,
    val_fraction: float,
    seed: int,
    strict: bool,
    problems: list[str],
    notes: list[str] | None = None,
    found_classes: bool = False,
) -> ImportReport:
    """Copy the images, draw the masks, split, and write ``classes.txt``, all in a ``.partial`` folder
    renamed to ``output`` at the end; on ``strict`` with problems, or when nothing could be written,
    the folder is removed and :class:`AnnotationImportError` carries the report.

    With ``found_classes`` (the reader collected the classes from the annotations rather than
    from a declaration), a class no written mask shows (its annotations are only in skipped
    files, or drew no pixel) is dropped and the masks renumbered, with a note.

    Args:
        fmt: The annotation format, for the report.
        samples: The reader's samples.
        labels: The reader's label space.
        output: The dataset folder to create.
        val_fraction: The share of images for ``val`` (see :func:`split_names`).
        seed: Seeds the split.
        strict: Whether any problem makes the import write nothing.
        problems: The reader's problem lines; this adds its own.
        notes: The reader's notes (lines that are not problems); this adds its own.
        found_classes: Whether classes 1.. were found in the annotations (not declared), so that
            those without a pixel in a written mask are dropped.

    Returns:
        The report, with ``written`` set.

    Raises:
        DatasetError: For more than 255 classes or an output that is not empty.
        AnnotationImportError: If nothing was written.
    """
    if labels.num_classes > MAX_CLASSES:
        raise DatasetError(f"{labels.num_classes} classes: an 8-bit mask holds at most {MAX_CLASSES} (255 is ignore)")
    # the names as classes.txt spells them, so the report says what the dataset will read back
    labels = dataclasses.replace(labels, class_names=class_tokens(labels.class_names))
    notes = [] if notes is None else notes
    report = ImportReport(fmt, output, labels.class_names, problems=problems, notes=notes)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f"{output.name}.partial-{secrets.token_hex(4)}")
    partial.mkdir()
    try:
        staged = partial / "train"
        written: dict[str, str] = {}  # mask stem -> image file name
        shown = np.zeros(256, dtype=bool)  # the mask values some written mask holds
        for sample in samples:
            name = _write_sample(sample, labels, staged, written, problems, shown)
            if name is None:
                report.skipped += 1
        if found_classes:
            labels = _drop_unshown(labels, shown, staged / "masks", written, notes)
            report.class_names = labels.class_names
        train, val = split_names(written, val_fraction=val_fraction, seed=seed)
        if val:
            for sub in ("images", "masks"):
                (partial / "val" / sub).mkdir(parents=True)
            for stem in val:
                os.replace(staged / "images" / written[stem], partial / "val" / "images" / written[stem])
                os.replace(staged / "masks" / f"{stem}.png", partial / "val" / "masks" / f"{stem}.png")
        report.train, report.val = len(train), len(val)
        text = classes_txt(labels)
        atomic_write(partial / "classes.txt", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        if strict and problems:
            n = len(problems)
            raise AnnotationImportError(f"{n} problem{_s(n)} in the annotations; nothing written (--strict)", report)
        if not written:
            raise AnnotationImportError("no image could be imported; nothing written", report)
        check_output(output)  # again: something may have appeared there meanwhile
        if output.is_dir():
            output.rmdir()
        os.rename(partial, output)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    report.written = True
    return report


def _drop_unshown(
    labels: LabelSpace, shown: np.ndarray, masks: Path, written: dict[str, str], notes: list[str]
) -> LabelSpace:
    """``labels`` without the classes (but background) that no written mask shows; the masks in
    ``masks`` renumbered to match (rewritten only when a class is dropped)."""
    keep = [0, *(i for i in range(1, labels.num_classes) if shown[i])]
    if len(keep) == labels.num_classes:
        return labels
    dropped = [name for i, name in enumerate(labels.class_names) if i not in keep]
    n = len(dropped)
    notes.append(
        f"{n} label{_s(n)} in no imported mask (only in skipped files, or drawing no pixel), so not "
        + ("a class: " if n == 1 else "classes: ")
        + ", ".join(repr(name) for name in dropped)
    )
    default = labels.palette == default_palette(labels.num_classes)
    palette = default_palette(len(keep)) if default else tuple(labels.palette[i] for i in keep)
    kept = LabelSpace(tuple(labels.class_names[i] for i in keep), palette)
    table = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    table[keep] = np.arange(len(keep), dtype=np.uint8)
    for stem in written:
        path = masks / f"{stem}.png"
        with Image.open(path) as im:
            values = table[np.asarray(im, dtype=np.uint8)]
        save_png(path, palette_png(values, kept.palette))
    return kept


def _write_sample(
    sample: Sample,
    labels: LabelSpace,
    staged: Path,
    written: dict[str, str],
    problems: list[str],
    shown: np.ndarray,
) -> str | None:
    """Copy one image and write its mask into ``staged``; the mask's stem, or None (with a problem) if
    skipped. The values the mask holds are marked in ``shown``."""
    found = image_source(sample, written, problems)
    if found is None:
        return None
    name, (width, height), copy = found
    stem = Path(name).stem
    if sample.size is not None and sample.size != (width, height):
        problems.append(
            f"{sample.source}: annotated for {sample.size[0]}x{sample.size[1]} but image {name} is "
            f"{width}x{height}; skipped"
        )
        return None
    mask = sample.draw(width, height)
    if mask is None:
        return None
    if mask.shape != (height, width):
        problems.append(
            f"{sample.source}: mask is {mask.shape[1]}x{mask.shape[0]} but image {name} is {width}x{height}; skipped"
        )
        return None
    atomic_write(staged / "images" / name, copy)
    shown |= np.bincount(mask.ravel(), minlength=256) > 0
    save_png(staged / "masks" / f"{stem}.png", palette_png(mask, labels.palette))
    written[stem] = name
    return stem
