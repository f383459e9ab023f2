"""NYU Depth v2, 40 classes (Gupta et al. 2013), on the 795/654 train/test split."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ._layout import check_split, shifted_labels
from .datasets import LabelSpace, SegmentationDataset, default_palette, images_in, require_dir
from .registry import register_dataset

__all__ = ["NYUDV2_CLASSES", "NYUDV2_LABELS", "NYUDV2_ONE_BASED_LABELS", "NYUDv2"]

# The 40-class names in train-id order, as in FCN's data/nyud/classes.txt.
NYUDV2_CLASSES = (
    "wall",
    "floor",
    "cabinet",
    "bed",
    "chair",
    "sofa",
    "table",
    "door",
    "window",
    "bookshelf",
    "picture",
    "counter",
    "blinds",
    "desk",
    "shelves",
    "curtain",
    "dresser",
    "pillow",
    "mirror",
    "floor mat",
    "clothes",
    "ceiling",
    "books",
    "refrigerator",
    "television",
    "paper",
    "towel",
    "shower curtain",
    "box",
    "whiteboard",
    "person",
    "night stand",
    "toilet",
    "sink",
    "lamp",
    "bathtub",
    "bag",
    "otherstructure",
    "otherfurniture",
    "otherprop",
)
# Light-Weight RefineNet's masks already hold train ids: 0..39, and 255 for void.
NYUDV2_LABELS = LabelSpace(NYUDV2_CLASSES, default_palette(len(NYUDV2_CLASSES)))
# Masks exported straight from the 40-class labels (labels40.mat, Gupta et al.'s .mat files): 0 void, 1..40.
NYUDV2_ONE_BASED_LABELS = LabelSpace(
    NYUDV2_CLASSES, default_palette(len(NYUDV2_CLASSES)), shifted_labels(len(NYUDV2_CLASSES))
)


class NYUDv2(SegmentationDataset):
    """NYUDv2-40 in Light-Weight RefineNet's layout (the archive its README links, listed by its
    ``data/train.nyu`` and ``data/val.nyu``): ``root/train_images/NNNNNN.png`` with
    ``root/train_labels/NNNNNN.png`` (795 images) and ``val_images/`` with ``val_labels/`` (654 images, the
    official test split: ``test`` names the same images). Its masks hold train ids 0..39 and 255 for void;
    pass ``one_based_labels=True`` for masks in the raw encoding (0 void, 1..40) instead.

    Args:
        root: The folder holding ``{train,val}_images/`` and ``{train,val}_labels/``.
        split: ``"train"``, ``"val"`` or ``"test"`` (the same images as ``"val"``).
        one_based_labels: Whether masks hold 0 for void and 1..40 for the classes.
        **kwargs: Passed to :class:`~refineseg.data.datasets.SegmentationDataset` (``transforms``).

    Raises:
        DatasetError: If ``split`` is unknown or a folder or file is missing.
    """

    SPLITS = ("train", "val", "test")

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        *,
        one_based_labels: bool = False,
        **kwargs: Any,
    ) -> None:
        check_split("NYUDv2", split, self.SPLITS)
        folder = "train" if split == "train" else "val"
        base = require_dir(Path(root), "NYUDv2 root")
        images = require_dir(base / f"{folder}_images", f"NYUDv2 {split} images")
        labels = require_dir(base / f"{folder}_labels", f"NYUDv2 {split} labels")
        pairs = [(p, labels / p.name) for p in images_in(images)]
        space = NYUDV2_ONE_BASED_LABELS if one_based_labels else NYUDV2_LABELS
        super().__init__(pairs, space, name=f"NYUDv2 {split} ({base})", **kwargs)


# the class is its own factory: Cls(root, split, **kwargs)
register_dataset(
    "nyudv2",
    splits=NYUDv2.SPLITS,
    description="NYUDv2 40 classes, Light-Weight RefineNet layout: {train,val}_images/ + {train,val}_labels/",
)(NYUDv2)
