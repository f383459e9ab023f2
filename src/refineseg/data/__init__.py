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

__all__ = [
    "CAMVID_LABELS",
    "IGNORE_INDEX",
    "CamVid",
    "DatasetError",
    "FolderDataset",
    "LabelSpace",
    "ListDataset",
    "SegmentationDataset",
]
