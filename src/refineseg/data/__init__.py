"""Datasets in their distributed on-disk layouts."""

from .ade20k import ADE20K, ADE20K_LABELS
from .builtin import generic
from .cityscapes import CITYSCAPES_LABELS, Cityscapes
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
from .nyudv2 import NYUDV2_LABELS, NYUDV2_ONE_BASED_LABELS, NYUDv2
from .pascal_context import PASCAL_CONTEXT_LABELS, PascalContext
from .person_part import PERSON_PART_LABELS, PersonPart
from .registry import DatasetSpec, get_dataset, list_datasets, register_dataset
from .sunrgbd import SUNRGBD, SUNRGBD_LABELS
from .transforms import RandomScale, eval_transforms, train_transforms
from .voc import VOC_LABELS, PascalVOC

__all__ = [
    "ADE20K",
    "ADE20K_LABELS",
    "CAMVID_LABELS",
    "CITYSCAPES_LABELS",
    "IGNORE_INDEX",
    "NYUDV2_LABELS",
    "NYUDV2_ONE_BASED_LABELS",
    "PASCAL_CONTEXT_LABELS",
    "PERSON_PART_LABELS",
    "SUNRGBD",
    "SUNRGBD_LABELS",
    "VOC_LABELS",
    "CamVid",
    "Cityscapes",
    "DatasetError",
    "DatasetSpec",
    "FolderDataset",
    "LabelSpace",
    "ListDataset",
    "NYUDv2",
    "PascalContext",
    "PascalVOC",
    "PersonPart",
    "RandomScale",
    "SegmentationDataset",
    "default_palette",
    "eval_transforms",
    "generic",
    "get_dataset",
    "list_datasets",
    "read_label_space",
    "register_dataset",
    "train_transforms",
]
