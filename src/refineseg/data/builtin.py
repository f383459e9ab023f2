"""Registrations of the datasets defined in :mod:`.datasets`: CamVid and the generic layout."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .datasets import CamVid, DatasetError, FolderDataset, ListDataset, SegmentationDataset, read_label_space
from .registry import register_dataset

__all__ = ["generic"]


# the class is its own factory: Cls(root, split, **kwargs)
register_dataset(
    "camvid", splits=CamVid.SPLITS, description="CamVid 11 classes, SegNet layout (train/, trainannot/, ...)"
)(CamVid)


@register_dataset(
    "generic",
    splits=("train", "val", "test"),
    description="ROOT/classes.txt plus ROOT/SPLIT/images/ + ROOT/SPLIT/masks/, or a list file ROOT/SPLIT.txt",
)
def generic(root: str | os.PathLike[str], split: str, **kwargs: Any) -> SegmentationDataset:
    """Your own data: ``classes.txt`` (one ``NAME [R G B]`` per line, line order = label id;
    mask value 255 is ignored) and either image/mask folders or a list file of pairs."""
    base = Path(root)
    classes = base / "classes.txt"
    if not classes.is_file():
        raise DatasetError(f"{classes}: missing; the generic layout needs one class name per line")
    labels = read_label_space(classes)
    if (base / f"{split}.txt").is_file():
        return ListDataset(base / f"{split}.txt", labels, root=base, **kwargs)
    folder = base / split
    if not (folder / "images").is_dir():
        raise DatasetError(f"{base}: expected {split}.txt or {split}/images/ with {split}/masks/")
    return FolderDataset(folder / "images", folder / "masks", labels, **kwargs)
