"""Registrations of the datasets defined in :mod:`.datasets`: CamVid and the generic layout."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .datasets import CamVid, DatasetError, FolderDataset, ListDataset, SegmentationDataset, read_label_space
from .registry import register_dataset
from .scan import silent_ignore_problem

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
def generic(
    root: str | os.PathLike[str], split: str, *, check_labels: bool = True, **kwargs: Any
) -> SegmentationDataset:
    """Your own data: ``classes.txt`` and either image/mask folders or a list file of pairs.

    ``classes.txt`` has one class per line (line order = train id), ``NAME [R G B]`` plus,
    where the masks do not store the train id, ``value=V`` or ``color=R,G,B`` (see
    :mod:`refineseg.data.labels`); mask value 255 is ignored unless declared otherwise. A
    declaration that would silently ignore a class's every pixel (a 0/255 export read as
    plain classes) is refused here, with the line to write.

    Args:
        root: The dataset folder, holding ``classes.txt``.
        split: Reads ``ROOT/SPLIT.txt`` if it exists, else ``ROOT/SPLIT/images/`` and ``ROOT/SPLIT/masks/``.
        check_labels: Whether to refuse a silently ignored class; ``False`` for
            ``refineseg check-data``, which reports it among the other problems.
        **kwargs: Passed to the dataset (``transforms``).

    Returns:
        A :class:`~refineseg.data.datasets.ListDataset` or :class:`~refineseg.data.datasets.FolderDataset`.

    Raises:
        DatasetError: If ``classes.txt`` or the split is missing or a class would be silently ignored.
    """
    base = Path(root)
    classes = base / "classes.txt"
    if not classes.is_file():
        raise DatasetError(f"{classes}: missing; the generic layout needs one class name per line")
    labels = read_label_space(classes)
    dataset: SegmentationDataset
    if (base / f"{split}.txt").is_file():
        dataset = ListDataset(base / f"{split}.txt", labels, root=base, **kwargs)
    elif (base / split / "images").is_dir():
        dataset = FolderDataset(base / split / "images", base / split / "masks", labels, **kwargs)
    else:
        raise DatasetError(f"{base}: expected {split}.txt or {split}/images/ with {split}/masks/")
    problem = silent_ignore_problem(dataset, split, str(classes)) if check_labels else None
    if problem is not None:
        raise DatasetError(problem)
    return dataset
