"""PASCAL VOC 2012 segmentation, with the SBD-augmented training set (``train_aug``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._extras import MissingExtraError, require
from ._layout import check_split, first_dir, first_file, locate, read_ids
from .datasets import DatasetError, LabelSpace, SegmentationDataset, default_palette
from .registry import register_dataset

__all__ = ["VOC_CLASSES", "VOC_LABELS", "PascalVOC", "read_sbd_mask"]

VOC_CLASSES = (
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)
# Mask values are the class ids; 255 marks object boundaries and "difficult" regions.
VOC_LABELS = LabelSpace(VOC_CLASSES, default_palette(len(VOC_CLASSES)))

# Where SBD's archive (benchmark.tgz) is looked for, relative to the folder holding VOCdevkit.
SBD_PLACES = ("benchmark_RELEASE/dataset", "SBD/benchmark_RELEASE/dataset", "SBD/dataset", "SBD")


class PascalVOC(SegmentationDataset):
    """PASCAL VOC 2012 as unpacked from ``VOCtrainval_11-May-2012.tar``.

    ``root`` is the folder holding ``VOCdevkit``, ``VOCdevkit`` itself, or ``VOC2012``; images are
    ``JPEGImages/ID.jpg``, masks ``SegmentationClass/ID.png`` (palette PNGs whose indices are class ids,
    255 void), splits ``ImageSets/Segmentation/{train,val,trainval}.txt`` (1,464 / 1,449 / 2,913 images).

    ``train_aug`` is the usual augmented training set: (SBD train + SBD val + VOC train) minus VOC val,
    10,582 images on the real data, read either

    * from ``VOC2012/SegmentationClassAug/ID.png`` with the list ``ImageSets/Segmentation/train_aug.txt``
      (DeepLab's name) or ``trainaug.txt`` (mmsegmentation's), as most codebases distribute it; or
    * from SBD's own ``benchmark_RELEASE/dataset`` (``img/ID.jpg``, ``cls/ID.mat`` with
      ``GTcls.Segmentation``, ``train.txt``, ``val.txt``) next to ``VOCdevkit`` or at ``sbd_root``; images
      in VOC train keep VOC's finer masks, the others use SBD's (read with scipy, only then needed).

    Args:
        root: The folder holding ``VOCdevkit``, ``VOCdevkit`` itself, or ``VOC2012``.
        split: ``"train"``, ``"val"``, ``"trainval"`` or ``"train_aug"``.
        sbd_root: SBD's folder, for ``train_aug`` when it is not next to ``VOCdevkit``.
        **kwargs: Passed to :class:`~refineseg.data.datasets.SegmentationDataset` (``transforms``).

    Raises:
        DatasetError: If ``split`` is unknown or a folder, list or file is missing.
    """

    SPLITS = ("train", "val", "trainval", "train_aug")

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        *,
        sbd_root: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        check_split("VOC", split, self.SPLITS)
        voc = locate(root, ("VOC2012", "VOCdevkit/VOC2012"), "JPEGImages", "PASCAL VOC 2012")
        if split == "train_aug":
            pairs = _train_aug_pairs(voc, Path(sbd_root) if sbd_root is not None else None)
        else:
            ids = read_ids(voc / "ImageSets" / "Segmentation" / f"{split}.txt", f"VOC {split}")
            pairs = [(voc / "JPEGImages" / f"{i}.jpg", voc / "SegmentationClass" / f"{i}.png") for i in ids]
        super().__init__(pairs, VOC_LABELS, name=f"VOC {split} ({voc})", **kwargs)

    def read_raw_mask(self, index: int) -> np.ndarray:
        """SBD's ``.mat`` class masks (train_aug) or VOC's palette PNGs.

        Args:
            index: The pair's index.

        Returns:
            HxW uint8 raw values.

        Raises:
            DatasetError: If the mask cannot be read.
        """
        mask_path = self.pairs[index][1]
        return read_sbd_mask(mask_path) if mask_path.suffix == ".mat" else super().read_raw_mask(index)


def _train_aug_pairs(voc: Path, sbd_root: Path | None) -> list[tuple[Path, Path]]:
    lists = voc / "ImageSets" / "Segmentation"
    aug_masks = voc / "SegmentationClassAug"
    aug_list = first_file([lists / "train_aug.txt", lists / "trainaug.txt"])
    if aug_masks.is_dir() and aug_list is not None:
        ids = read_ids(aug_list, "VOC train_aug")
        return [(voc / "JPEGImages" / f"{i}.jpg", aug_masks / f"{i}.png") for i in ids]
    sbd = _find_sbd(voc, sbd_root)
    voc_train = set(read_ids(lists / "train.txt", "VOC train"))
    sbd_ids = set(read_ids(sbd / "train.txt", "SBD train")) | set(read_ids(sbd / "val.txt", "SBD val"))
    ids = sorted((sbd_ids | voc_train) - set(read_ids(lists / "val.txt", "VOC val")))
    if aug_masks.is_dir():
        return [(voc / "JPEGImages" / f"{i}.jpg", aug_masks / f"{i}.png") for i in ids]
    return [
        (voc / "JPEGImages" / f"{i}.jpg", voc / "SegmentationClass" / f"{i}.png")
        if i in voc_train
        else (sbd / "img" / f"{i}.jpg", sbd / "cls" / f"{i}.mat")
        for i in ids
    ]


def _find_sbd(voc: Path, sbd_root: Path | None) -> Path:
    if sbd_root is not None:
        found = first_dir([sbd_root / rel / "cls" for rel in ("", "dataset", "benchmark_RELEASE/dataset")])
        if found is None:
            raise DatasetError(f"{sbd_root}: not the SBD root; expected cls/ or benchmark_RELEASE/dataset/cls/ in it")
        return found.parent
    bases = [voc.parent.parent, voc.parent] if voc.parent.name == "VOCdevkit" else [voc.parent]
    found = first_dir([base / rel / "cls" for base in bases for rel in SBD_PLACES])
    if found is None:
        raise DatasetError(
            f"{bases[0]}: VOC train_aug needs SBD's benchmark_RELEASE/dataset/ (img/, cls/, train.txt, val.txt) "
            f"here, or VOC2012/SegmentationClassAug/ with ImageSets/Segmentation/train_aug.txt"
        )
    return found.parent


def read_sbd_mask(path: Path) -> np.ndarray:
    """The class mask (``GTcls.Segmentation``, values 0..20) of an SBD ``cls/*.mat`` file.

    Needs scipy.

    Args:
        path: The ``.mat`` file.

    Returns:
        HxW uint8 class ids.

    Raises:
        DatasetError: Without scipy, or if the file is not an SBD class mask of ids 0..255.
    """
    try:
        loadmat = require("scipy.io", "sbd", purpose=f"{path}: reading SBD .mat masks", name="scipy").loadmat
    except MissingExtraError as exc:  # a dataset error, as every unreadable mask is
        raise DatasetError(f"{exc}; or use SegmentationClassAug PNGs with train_aug.txt") from None
    try:
        mask = np.asarray(loadmat(path)["GTcls"]["Segmentation"][0, 0])
    except Exception as exc:  # scipy's MatReadError, a missing field, a wrong shape...
        raise DatasetError(f"{path}: not an SBD class mask with GTcls.Segmentation ({exc})") from None
    if mask.ndim != 2 or mask.size == 0 or mask.min() < 0 or mask.max() > 255:
        raise DatasetError(f"{path}: GTcls.Segmentation must be a 2-D array of label ids 0..255")
    return mask.astype(np.uint8)


# the class is its own factory: Cls(root, split, **kwargs)
register_dataset(
    "voc",
    splits=PascalVOC.SPLITS,
    description="PASCAL VOC 2012, 21 classes: VOCdevkit/VOC2012; train_aug adds SBD (10,582 images)",
)(PascalVOC)
