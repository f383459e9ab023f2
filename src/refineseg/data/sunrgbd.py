"""SUN RGB-D 2D segmentation, 37 classes, on the 5,285/5,050 train/test split."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ._layout import check_split, locate, shifted_labels
from .datasets import DatasetError, LabelSpace, SegmentationDataset, default_palette, require_dir
from .registry import register_dataset

__all__ = ["SUNRGBD", "SUNRGBD_CLASSES", "SUNRGBD_LABELS"]

# seg37list of the SUN RGB-D toolbox, in label order (label 1 = wall).
SUNRGBD_CLASSES = (
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
    "floor_mat",
    "clothes",
    "ceiling",
    "books",
    "fridge",
    "tv",
    "paper",
    "towel",
    "shower_curtain",
    "box",
    "whiteboard",
    "person",
    "night_stand",
    "toilet",
    "sink",
    "lamp",
    "bathtub",
    "bag",
)
SUNRGBD_LABELS = LabelSpace(
    SUNRGBD_CLASSES, default_palette(len(SUNRGBD_CLASSES)), shifted_labels(len(SUNRGBD_CLASSES))
)

# The label archive numbers the 5,050 test images first, then the training images.
NUM_TEST = 5050


class SUNRGBD(SegmentationDataset):
    """SUN RGB-D in the layout of ankurhanda/sunrgbd-meta-data, the one most 2D segmentation code reads:
    ``root/SUNRGBD-train_images/img-NNNNNN.jpg`` (5,285, numbered from 1), ``SUNRGBD-test_images/`` (5,050),
    and ``sunrgbd_train_test_labels/img-NNNNNN.png`` from ``sunrgbd_train_test_labels.tar.gz``, where test
    image N has label N and train image N has label 5050 + N. Masks: 0 void, 1..37 the classes.

    Args:
        root: The folder holding the image folders and ``sunrgbd_train_test_labels/``, or the one
            holding ``SUNRGBD/``.
        split: ``"train"`` or ``"test"``.
        **kwargs: Passed to :class:`~refineseg.data.datasets.SegmentationDataset` (``transforms``).

    Raises:
        DatasetError: If ``split`` is unknown, an image is misnamed or a folder or file is missing.
    """

    SPLITS = ("train", "test")

    def __init__(self, root: str | os.PathLike[str], split: str = "train", **kwargs: Any) -> None:
        check_split("SUN RGB-D", split, self.SPLITS)
        base = locate(root, ("SUNRGBD", "sunrgbd"), "sunrgbd_train_test_labels", "SUN RGB-D")
        images = require_dir(base / f"SUNRGBD-{split}_images", f"SUN RGB-D {split} images")
        labels = base / "sunrgbd_train_test_labels"
        offset = NUM_TEST if split == "train" else 0
        pairs = [(p, labels / f"img-{_number(p) + offset:06d}.png") for p in sorted(images.glob("*.jpg"))]
        super().__init__(pairs, SUNRGBD_LABELS, name=f"SUN RGB-D {split} ({base})", **kwargs)


def _number(image: Path) -> int:
    prefix, _, digits = image.stem.partition("-")
    if prefix != "img" or not digits.isdigit():
        raise DatasetError(f"{image}: expected an image named img-NNNNNN.jpg")
    return int(digits)


# the class is its own factory: Cls(root, split, **kwargs)
register_dataset(
    "sunrgbd",
    splits=SUNRGBD.SPLITS,
    description="SUN RGB-D 37 classes: SUNRGBD-{train,test}_images/ + sunrgbd_train_test_labels/",
)(SUNRGBD)
