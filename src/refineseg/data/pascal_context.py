"""PASCAL-Context, the 59 most frequent classes plus background (60), on VOC 2010 images."""

from __future__ import annotations

import os
from typing import Any

from ._layout import check_split, locate, read_ids
from .datasets import LabelSpace, SegmentationDataset, default_palette, require_dir
from .registry import register_dataset

__all__ = ["PASCAL_CONTEXT_CLASSES", "PASCAL_CONTEXT_LABELS", "PascalContext"]

# Label order of mmsegmentation's converter: the 59 classes sorted by their id among the 459 labels of the
# full annotation, which is alphabetical; 0 is "background" (everything outside the 59).
PASCAL_CONTEXT_CLASSES = (
    "background", "aeroplane", "bag", "bed", "bedclothes", "bench", "bicycle", "bird", "boat", "book",
    "bottle", "building", "bus", "cabinet", "car", "cat", "ceiling", "chair", "cloth", "computer",
    "cow", "cup", "curtain", "dog", "door", "fence", "floor", "flower", "food", "grass",
    "ground", "horse", "keyboard", "light", "motorbike", "mountain", "mouse", "person", "plate", "platform",
    "pottedplant", "road", "rock", "sheep", "shelves", "sidewalk", "sign", "sky", "snow", "sofa",
    "table", "track", "train", "tree", "truck", "tvmonitor", "wall", "water", "window", "wood",
)  # fmt: skip
# Mask values are the class ids; values above 59 (none in the converted masks) are ignored.
PASCAL_CONTEXT_LABELS = LabelSpace(PASCAL_CONTEXT_CLASSES, default_palette(len(PASCAL_CONTEXT_CLASSES)))


class PascalContext(SegmentationDataset):
    """PASCAL-Context in the common layout made by mmsegmentation's ``pascal_context.py`` converter from
    ``trainval_merged.json``: ``VOCdevkit/VOC2010/JPEGImages/ID.jpg``, ``SegmentationClassContext/ID.png``
    and ``ImageSets/SegmentationContext/{train,val}.txt`` (4,996 train, 5,104 val images); ``root`` is the
    folder holding ``VOCdevkit``, ``VOCdevkit`` itself, or ``VOC2010``.

    Args:
        root: The folder holding ``VOCdevkit``, ``VOCdevkit`` itself, or ``VOC2010``.
        split: ``"train"`` or ``"val"``.
        **kwargs: Passed to :class:`~refineseg.data.datasets.SegmentationDataset` (``transforms``).

    Raises:
        DatasetError: If ``split`` is unknown or a folder, list or file is missing.
    """

    SPLITS = ("train", "val")

    def __init__(self, root: str | os.PathLike[str], split: str = "train", **kwargs: Any) -> None:
        check_split("PASCAL-Context", split, self.SPLITS)
        voc = locate(root, ("VOC2010", "VOCdevkit/VOC2010"), "JPEGImages", "PASCAL VOC 2010")
        masks = require_dir(voc / "SegmentationClassContext", "PASCAL-Context masks")
        ids = read_ids(voc / "ImageSets" / "SegmentationContext" / f"{split}.txt", f"PASCAL-Context {split}")
        pairs = [(voc / "JPEGImages" / f"{i}.jpg", masks / f"{i}.png") for i in ids]
        super().__init__(pairs, PASCAL_CONTEXT_LABELS, name=f"PASCAL-Context {split} ({voc})", **kwargs)


# the class is its own factory: Cls(root, split, **kwargs)
register_dataset(
    "pascal_context",
    splits=PascalContext.SPLITS,
    description="PASCAL-Context 60 classes: VOCdevkit/VOC2010 + SegmentationClassContext (mmseg layout)",
)(PascalContext)
