"""Annotation-tool exports (COCO, LabelMe, CVAT, Label Studio, VOC-style masks) -> refineseg's ``generic`` layout.

``import_annotations`` writes ``ROOT/classes.txt`` (``NAME R G B`` per line, line order = class
index, then ``@ignore value=255``: 255 is void on purpose), ``ROOT/train/images/`` (copies of the images; the sources are never changed),
``ROOT/train/masks/STEM.png`` (palette PNGs: pixel value = class index, 255 = ignore) and, with a
validation fraction, the same under ``ROOT/val/``; ``get_dataset("generic", ROOT, split)`` reads it.

Overlaps, where shapes or objects cover the same pixel (coco, labelme, cvat's XML, label-studio):

* LabelMe: shapes are painted in file order, later shapes on top, as LabelMe draws them.
* CVAT for images: shapes are painted by increasing ``z_order`` (file order where equal).
* Label Studio: the regions of a task's latest annotation (neither cancelled nor skipped) are
  painted in the order of its ``result``, later regions on top; predictions are never imported.
* COCO: annotations are painted in decreasing area, so a smaller object in front of a larger one
  stays visible; ``iscrowd`` regions are painted last, as ignore (255).

Classes: COCO's categories and CVAT's labels name them; VOC's come from a ``classes`` file (else
PASCAL VOC's 21); LabelMe and Label Studio use a ``classes`` file when given (its names and order),
else ``background`` then the labels that paint a pixel of an imported mask, sorted. Label Studio
leaves unpainted pixels as the background class when the classes have one (``background`` or
``_background_``), else as ignore (255).

Bad annotations (a missing image, a polygon a pixel or more outside the image (clipped; a vertex
less than a pixel over the border is clipped quietly), an unknown category or label,
an empty or degenerate polygon, an unknown colour, a malformed brush RLE, a region annotated for
another image size, an unreadable file) do not stop an import:
each becomes one line of ``ImportReport.problems`` naming the file. With ``strict=True`` any
problem makes the import write nothing and raise :class:`AnnotationImportError`; notes (e.g.
shapes without area left out) are not problems. ``ROOT`` must
not exist or be empty; it is assembled in a ``ROOT.partial-*`` folder and renamed at the end,
so it is never half-written.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..._registry import Registry
from ..datasets import DatasetError, LabelSpace
from ._samples import Sample
from ._write import AnnotationImportError, ImportReport, check_output, write_dataset
from .coco import read_coco
from .cvat import read_cvat
from .labelme import read_labelme
from .labelstudio import read_labelstudio
from .voc import read_voc

__all__ = ["FORMATS", "AnnotationImportError", "ImportReport", "import_annotations"]

Reader = Callable[..., tuple[LabelSpace, list[Sample]]]

# reader(source, *, images, classes, problems, notes) -> (labels, samples)
_READERS: Registry[Reader] = Registry("annotation format")
_READERS.add("coco", read_coco)
_READERS.add("labelme", read_labelme)
_READERS.add("cvat", read_cvat)
_READERS.add("voc", read_voc)
_READERS.add("label-studio", read_labelstudio)
FORMATS = tuple(_READERS)


def import_annotations(
    fmt: str,
    source: str | os.PathLike[str],
    *,
    images: str | os.PathLike[str] | None,
    output: str | os.PathLike[str],
    val_fraction: float = 0.0,
    seed: int = 0,
    classes: str | os.PathLike[str] | None = None,
    strict: bool = False,
) -> ImportReport:
    """Convert the ``fmt`` export at ``source`` into the generic layout at ``output``.

    Args:
        fmt: One of :data:`FORMATS`: ``"coco"``, ``"labelme"``, ``"cvat"``, ``"voc"`` or ``"label-studio"``.
        source: The export: a file or folder, as the format has it (cvat: a "CVAT for images 1.1"
            ``annotations.xml`` or its folder, or a "Segmentation mask 1.1" folder; label-studio:
            the project's "JSON" export file).
        images: The image folder (``None``: LabelMe's ``imagePath`` beside each JSON, CVAT's
            ``images/`` beside ``annotations.xml`` or ``SOURCE/JPEGImages``, VOC's ``JPEGImages``
            beside the mask folder; COCO and Label Studio need it: Label Studio's tasks are
            looked up there by the file name of their image URL, without the prefix Label Studio
            adds to an uploaded file's name).
        output: The new dataset folder; it must not exist or be empty.
        val_fraction: The share of the written images that go to ``val``, in [0, 1).
        seed: Seeds the shuffle of the sorted image names: the same inputs and seed give the
            same split.
        classes: A class-name file, for labelme, voc and label-studio, fixing the classes and
            their order (labelme and label-studio without it: ``background``, then the labels
            that paint a pixel of an imported mask, sorted; Label Studio's unpainted pixels are
            the background class when there is one, else ignore, 255).
        strict: Whether any problem makes the import write nothing.

    Returns:
        What was written, with every problem met.

    Raises:
        ValueError: For an unknown format or a ``val_fraction`` outside [0, 1).
        DatasetError: For an unusable source or a non-empty ``output``, before anything is written.
        AnnotationImportError: If nothing was written (``strict`` with problems, or no usable image).
    """
    if fmt not in _READERS:
        raise ValueError(f"unknown annotation format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    source_path, output_path = Path(source), Path(output)
    if not source_path.exists():
        raise DatasetError(f"{source_path}: no such file or directory ({fmt} annotations)")
    if images is not None and not Path(images).is_dir():
        raise DatasetError(f"{images}: no such directory (images)")
    if classes is not None and not Path(classes).is_file():
        raise DatasetError(f"{classes}: no such file (class names)")
    check_output(output_path)
    problems: list[str] = []
    notes: list[str] = []
    labels, samples = _READERS.get(fmt)(
        source_path,
        images=Path(images) if images is not None else None,
        classes=Path(classes) if classes is not None else None,
        problems=problems,
        notes=notes,
    )
    return write_dataset(
        fmt=fmt,
        samples=samples,
        labels=labels,
        output=output_path,
        val_fraction=val_fraction,
        seed=seed,
        strict=strict,
        problems=problems,
        notes=notes,
        # LabelMe or Label Studio without --classes: the classes are the labels found, so only those with pixels count
        found_classes=fmt in ("labelme", "label-studio") and classes is None,
    )
