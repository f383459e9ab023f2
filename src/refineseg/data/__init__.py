"""Datasets in their distributed on-disk layouts."""

from .builtin import camvid, generic
from .datasets import (
    CAMVID_LABELS,
    IGNORE_INDEX,
    CamVid,
    DatasetError,
    FolderDataset,
    LabelSpace,
    ListDataset,
    SegmentationDataset,
    default_palette,
    read_label_space,
)
from .registry import DatasetSpec, get_dataset, list_datasets, register_dataset
from .transforms import RandomScale, eval_transforms, train_transforms

__all__ = [
    "CAMVID_LABELS",
    "IGNORE_INDEX",
    "CamVid",
    "DatasetError",
    "DatasetSpec",
    "FolderDataset",
    "LabelSpace",
    "ListDataset",
    "RandomScale",
    "SegmentationDataset",
    "camvid",
    "default_palette",
    "eval_transforms",
    "generic",
    "get_dataset",
    "list_datasets",
    "read_label_space",
    "register_dataset",
    "train_transforms",
]
