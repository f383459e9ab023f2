"""Index masks as PASCAL VOC distributes them (``SegmentationClass/*.png``) -> the generic layout.

A mask's pixel values are its class ids (255: border / ignore) and are kept as they are; values
beyond the class list are a problem and become ignore. Class names come from a ``--classes``
file, or are the 21 PASCAL VOC names when no mask uses an index above 20; colours come from the
first mask's palette (or the file), so the written masks look like the sources.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from ..datasets import IGNORE_INDEX, DatasetError, LabelSpace, default_palette, images_in, require_dir
from ..labels import Colour
from ..voc import VOC_CLASSES
from ._classes import read_class_file
from ._samples import ImageFinder, Sample

__all__ = ["read_voc"]


def read_voc(
    source: Path,
    *,
    images: Path | None,
    classes: Path | None,
    problems: list[str],
    notes: list[str] | None = None,
) -> tuple[LabelSpace, list[Sample]]:
    """The classes and one sample per ``.png`` mask in ``source`` (images matched by stem).

    Args:
        source: The folder of palette PNG masks (like VOC's ``SegmentationClass/``).
        images: The image folder (default: ``JPEGImages`` beside ``source``).
        classes: A class-name file (default: the PASCAL VOC classes), one name per mask index.
        problems: Problem lines are appended here.
        notes: Lines worth knowing that are not problems are appended here.

    Returns:
        ``(labels, samples)``.

    Raises:
        ValueError: If no image folder is found.
        DatasetError: If ``source`` holds no mask, only 0/255 binary masks, indices beyond the
            classes, or masks that are not palette or greyscale PNGs.
    """
    require_dir(source, "folder of VOC-style palette masks")
    masks = [p for p in images_in(source) if p.suffix.lower() == ".png"]
    if not masks:
        raise DatasetError(f"{source}: no .png masks (expected palette PNGs like VOC's SegmentationClass/)")
    if images is None:
        if not (source.parent / "JPEGImages").is_dir():
            raise ValueError(f"voc: no JPEGImages/ beside {source}; give --images DIR")
        images = source.parent / "JPEGImages"

    palette = _first_palette(masks)
    present = _values_present(masks)
    if present == {0, IGNORE_INDEX}:
        # VOC's 255 is the void border; here it is the whole foreground of binary masks
        raise DatasetError(
            f"{source}: the masks hold only 0 and 255: binary masks, not VOC class indices (where 255 is void); "
            "use them as they are in the generic layout, with 'NAME value=255' for the foreground in classes.txt"
        )
    if classes is not None:
        names, colours = read_class_file(classes)
    else:
        largest = max(present - {IGNORE_INDEX}, default=0)
        if largest >= len(VOC_CLASSES):
            raise DatasetError(
                f"{source}: masks use class index {largest}, more than the {len(VOC_CLASSES)} PASCAL VOC classes; "
                "give --classes FILE (one name per line)"
            )
        names, colours = list(VOC_CLASSES), None
    if colours is None:
        fallback = default_palette(len(names))
        colours = [palette[i] if palette and i < len(palette) else fallback[i] for i in range(len(names))]
    labels = LabelSpace(tuple(names), tuple(colours))

    finder = ImageFinder(images)
    samples = []
    for mask_path in masks:
        found = finder.by_stem(mask_path.stem)
        if len(found) != 1:
            what = "not found" if not found else f"ambiguous ({', '.join(p.name for p in found)})"
            problems.append(f"{mask_path}: image {mask_path.stem} {what} in {images}; skipped")
        draw = partial(_draw, mask_path, len(names), problems)
        samples.append(Sample(source=str(mask_path), image=found[0] if len(found) == 1 else None, draw=draw))
    return labels, samples


def _read(path: Path) -> tuple[np.ndarray, list[Colour] | None]:
    """The index values of a palette (P) or greyscale (L) PNG, and its palette; DatasetError otherwise."""
    try:
        with Image.open(path) as im:
            if im.mode not in ("P", "L"):
                raise DatasetError(
                    f"{path}: mode {im.mode}; voc expects palette or greyscale index PNGs (colour masks: use cvat)"
                )
            flat = im.getpalette() if im.mode == "P" else None
            values = np.asarray(im, dtype=np.uint8).copy()
    except DatasetError:
        raise
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable mask ({exc})") from None
    colours = [(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat) - 2, 3)] if flat else None
    return values, colours


def _first_palette(masks: list[Path]) -> list[Colour] | None:
    for path in masks:
        try:
            return _read(path)[1]
        except DatasetError:
            continue
    return None


def _values_present(masks: list[Path]) -> set[int]:
    """Every value any readable mask holds (unreadable ones are reported when drawn)."""
    present: set[int] = set()
    for path in masks:
        try:
            values = _read(path)[0]
        except DatasetError:
            continue
        present.update(np.flatnonzero(np.bincount(values.ravel(), minlength=256)).tolist())
    return present


def _draw(path: Path, num_classes: int, problems: list[str], width: int, height: int) -> np.ndarray | None:
    try:
        values = _read(path)[0]
    except DatasetError as exc:
        problems.append(f"{exc}; skipped")
        return None
    stray = np.unique(values[(values >= num_classes) & (values != IGNORE_INDEX)])
    if stray.size:
        shown = ", ".join(str(int(v)) for v in stray)
        problems.append(f"{path}: values {shown} are not class ids (there are {num_classes}); set to ignore (255)")
        values[(values >= num_classes) & (values != IGNORE_INDEX)] = IGNORE_INDEX
    return values
