"""PASCAL Person-Part: human parts on PASCAL VOC images (Chen et al. 2014), 6 parts and background."""

from __future__ import annotations

import os
from typing import Any

from ._layout import check_split, first_dir, first_file, locate, read_ids
from .datasets import DatasetError, LabelSpace, SegmentationDataset, default_palette
from .registry import register_dataset

__all__ = ["PERSON_PART_CLASSES", "PERSON_PART_LABELS", "PersonPart"]

PERSON_PART_CLASSES = ("background", "head", "torso", "upper arms", "lower arms", "upper legs", "lower legs")
# Mask values are the class ids; the annotation has no void label, anything above 6 is ignored.
PERSON_PART_LABELS = LabelSpace(PERSON_PART_CLASSES, default_palette(len(PERSON_PART_CLASSES)))

# Where the VOC images are looked for, relative to the folder holding pascal_person_part/.
IMAGE_PLACES = (
    "pascal_person_part/JPEGImages",
    "JPEGImages",
    "VOCdevkit/VOC2012/JPEGImages",
    "VOCdevkit/VOC2010/JPEGImages",
    "VOC2012/JPEGImages",
    "VOC2010/JPEGImages",
)


class PersonPart(SegmentationDataset):
    """Person-Part as distributed with DeepLab (``pascal_person_part.zip``): ``pascal_person_part/
    pascal_person_part_gt/ID.png`` masks (values 0..6) and the lists ``pascal_person_part_trainval_list/
    {train,val}_id.txt`` (or DeepLab's ``{train,val}.txt`` image/mask pairs); 1,716 train and 1,817 val images.
    The images are VOC's, from ``JPEGImages/`` beside ``pascal_person_part/`` or in a ``VOCdevkit`` there;
    ``root`` is the folder holding ``pascal_person_part/`` or that folder itself.

    Args:
        root: The folder holding ``pascal_person_part/``, or that folder itself.
        split: ``"train"`` or ``"val"``.
        **kwargs: Passed to :class:`~refineseg.data.datasets.SegmentationDataset` (``transforms``).

    Raises:
        DatasetError: If ``split`` is unknown, the VOC images are not found or a file is missing.
    """

    SPLITS = ("train", "val")

    def __init__(self, root: str | os.PathLike[str], split: str = "train", **kwargs: Any) -> None:
        check_split("Person-Part", split, self.SPLITS)
        parts = locate(root, ("pascal_person_part",), "pascal_person_part_gt", "PASCAL Person-Part")
        base = parts.parent if parts.name == "pascal_person_part" else parts
        lists = parts / "pascal_person_part_trainval_list"
        list_file = first_file([lists / f"{split}_id.txt", lists / f"{split}.txt"])
        ids = read_ids(list_file or lists / f"{split}_id.txt", f"Person-Part {split}")
        images = first_dir([base / place for place in IMAGE_PLACES])
        if images is None:
            raise DatasetError(
                f"{base}: no VOC JPEGImages/ found for Person-Part (looked in {', '.join(IMAGE_PLACES)})"
            )
        masks = parts / "pascal_person_part_gt"
        pairs = [(images / f"{i}.jpg", masks / f"{i}.png") for i in ids]
        super().__init__(pairs, PERSON_PART_LABELS, name=f"Person-Part {split} ({parts})", **kwargs)


# the class is its own factory: Cls(root, split, **kwargs)
register_dataset(
    "person_part",
    splits=PersonPart.SPLITS,
    description="PASCAL Person-Part 7 classes: pascal_person_part/ (gt + lists) with VOC JPEGImages/",
)(PersonPart)
