"""CVAT exports -> class-index masks: "Segmentation mask 1.1" here, "CVAT for images 1.1" in :mod:`.cvat_xml`.

``SOURCE`` is an ``annotations.xml`` file or a folder holding one (without ``labelmap.txt``): CVAT
for images (:func:`.cvat_xml.read_cvat_xml`); otherwise a "Segmentation mask 1.1" folder.

That export holds ``labelmap.txt`` (``name:R,G,B:parts:actions`` per label), colour masks in
``SegmentationClass/`` and, optionally, id lists in ``ImageSets/Segmentation/`` and the images in
``JPEGImages/``. Each colour becomes its label's index in labelmap order, with ``background``
(black unless the labelmap says otherwise) as class 0; a colour the labelmap does not name is a
problem and its pixels become ignore (255). Class colours in ``classes.txt`` are the labelmap's.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from ..datasets import IGNORE_INDEX, DatasetError, LabelSpace, read_mask, require_dir
from ..labels import Colour
from ..scan import raw_counts
from ._samples import ImageFinder, Sample
from .cvat_xml import read_cvat_xml

__all__ = ["read_cvat", "read_labelmap"]


def read_cvat(
    source: Path,
    *,
    images: Path | None,
    classes: Path | None,
    problems: list[str],
    notes: list[str] | None = None,
) -> tuple[LabelSpace, list[Sample]]:
    """The classes and one sample per image of a CVAT export.

    "Segmentation mask 1.1": the labelmap's classes and one sample per mask (those the id lists
    name, when there are lists). "CVAT for images 1.1": see :func:`.cvat_xml.read_cvat_xml`.

    Args:
        source: The unpacked "Segmentation mask 1.1" export (``labelmap.txt``, ``SegmentationClass/``),
            or a "CVAT for images 1.1" ``annotations.xml`` or the folder holding it.
        images: The image folder (default: ``SOURCE/JPEGImages``; for CVAT for images ``images/``
            beside ``annotations.xml``).
        classes: Must be ``None``: the export names the classes.
        problems: Problem lines are appended here.
        notes: Lines worth knowing that are not problems are appended here.

    Returns:
        ``(labels, samples)``.

    Raises:
        ValueError: If ``classes`` is given or no image folder is found.
        ImportError: For CVAT for images without pycocotools (the ``[annotations]`` extra).
        DatasetError: If ``labelmap.txt``, the masks or ``annotations.xml`` are missing or malformed.
    """
    if classes is not None:
        raise ValueError("cvat: the export names the classes; --classes is for labelme and voc")
    xml = _xml_file(source)
    if xml is not None:
        return read_cvat_xml(xml, images=images, problems=problems, notes=[] if notes is None else notes)
    require_dir(source, "CVAT export folder ('Segmentation mask 1.1' or 'CVAT for images 1.1')")
    labels = read_labelmap(source / "labelmap.txt")
    masks_dir = require_dir(source / "SegmentationClass", "the export's colour masks")
    if images is None:
        if not (source / "JPEGImages").is_dir():
            raise ValueError(f"cvat: {source} has no JPEGImages/; give --images DIR")
        images = source / "JPEGImages"

    lists = sorted((source / "ImageSets" / "Segmentation").glob("*.txt"))
    if lists:
        ids: list[str] = []
        for list_file in lists:
            ids += [line.strip() for line in list_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        ids = list(dict.fromkeys(ids))
    else:
        ids = sorted(p.relative_to(masks_dir).with_suffix("").as_posix() for p in masks_dir.rglob("*.png"))
    if not ids:
        raise DatasetError(f"{masks_dir}: no .png masks (expected CVAT's SegmentationClass/ID.png)")

    # the labelmap as a colour-mask label space: its lookup table decodes every mask
    colours = LabelSpace(labels.class_names, labels.palette, mask_colors={c: i for i, c in enumerate(labels.palette)})
    finder = ImageFinder(images)
    samples = []
    for image_id in ids:
        mask_path = masks_dir / f"{image_id}.png"
        if not mask_path.is_file():
            problems.append(f"{mask_path}: missing, though {image_id} is listed in ImageSets/Segmentation; skipped")
            continue
        found = finder.by_stem(image_id)
        if len(found) != 1:
            what = "not found" if not found else f"ambiguous ({', '.join(p.name for p in found)})"
            problems.append(f"{mask_path}: image {image_id} {what} in {images}; skipped")
        draw = partial(_draw, mask_path, colours, problems)
        samples.append(Sample(source=str(mask_path), image=found[0] if len(found) == 1 else None, draw=draw))
    return labels, samples


def _xml_file(source: Path) -> Path | None:
    """The "CVAT for images 1.1" file ``source`` is or holds, or None for a "Segmentation mask 1.1" folder."""
    if source.is_file():
        if source.suffix.lower() == ".zip":
            raise DatasetError(f"{source}: a zip archive; unzip it and give the folder (or its annotations.xml)")
        if source.suffix.lower() != ".xml":
            raise DatasetError(f"{source}: expected CVAT's annotations.xml ('CVAT for images 1.1') or an export folder")
        return source
    if (source / "annotations.xml").is_file() and not (source / "labelmap.txt").is_file():
        return source / "annotations.xml"
    return None


def read_labelmap(path: Path) -> LabelSpace:
    """``labelmap.txt``'s labels in file order, ``background`` first (added in black when absent).

    Args:
        path: CVAT's ``labelmap.txt`` (``name:R,G,B:parts:actions`` lines).

    Returns:
        The classes with their mask colours.

    Raises:
        DatasetError: If the file is missing, a line is malformed or two labels share a colour.
    """
    if not path.is_file():
        raise DatasetError(f"{path}: missing (expected CVAT's 'Segmentation mask 1.1' export with labelmap.txt)")
    entries: list[tuple[str, Colour]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split(":")
        rgb = fields[1].split(",") if len(fields) >= 2 else []
        if len(rgb) != 3 or not all(c.strip().isdigit() and int(c) < 256 for c in rgb) or not fields[0]:
            raise DatasetError(f"{path}:{number}: expected 'name:R,G,B:parts:actions', found {line.strip()!r}")
        entries.append((fields[0], (int(rgb[0]), int(rgb[1]), int(rgb[2]))))
    background = [colour for name, colour in entries if name == "background"][:1] or [(0, 0, 0)]
    entries = [("background", background[0]), *(e for e in entries if e[0] != "background")]
    seen: dict[Colour, str] = {}
    for name, colour in entries:
        if colour in seen:
            raise DatasetError(f"{path}: labels {seen[colour]!r} and {name!r} have the same colour {colour}")
        seen[colour] = name
    return LabelSpace(tuple(n for n, _ in entries), tuple(c for _, c in entries))


def _draw(path: Path, labels: LabelSpace, problems: list[str], width: int, height: int) -> np.ndarray | None:
    """Class ids of the colour mask at ``path``; unknown colours become ignore (255) and a problem."""
    try:
        rgb = read_mask(path, colour=True)
    except DatasetError as exc:
        problems.append(f"{exc}; skipped")
        return None
    ids = labels.to_train_ids(rgb)
    if (ids == IGNORE_INDEX).any():
        unknown = raw_counts(rgb[ids == IGNORE_INDEX][:, None, :])
        shown = ", ".join(f"({r},{g},{b})" for r, g, b in list(unknown)[:5])  # type: ignore[misc]
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        pixels = sum(unknown.values())
        problems.append(f"{path}: {pixels} pixels of colours not in labelmap.txt: {shown}{more}; set to ignore (255)")
    return ids
