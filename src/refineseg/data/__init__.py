"""Datasets in their distributed on-disk layouts."""

from .datasets import (
    CAMVID_LABELS,
    IGNORE_INDEX,
    CamVid,
    DatasetError,
    FolderDataset,
    LabelSpace,
    ListDataset,
    SegmentationDataset,
)
from .transforms import RandomScale, eval_transforms, train_transforms

__all__ = [
    "CAMVID_LABELS",
    "IGNORE_INDEX",
    "CamVid",
    "DatasetError",
    "FolderDataset",
    "LabelSpace",
    "ListDataset",
    "RandomScale",
    "SegmentationDataset",
    "eval_transforms",
    "train_transforms",
]
